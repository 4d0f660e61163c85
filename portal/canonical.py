"""Canonical JSON: the one encoding used wherever a value is hashed, signed or compared as text."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def canonical_json(value: object, *, default: Callable[[Any], Any] | None = None) -> str:
    """Sorted keys, no spaces, non-ASCII kept: the same value always gives the same text and hash.

    ``default`` converts what JSON cannot hold (the audit log passes ``str`` so dates and ids are
    kept as text); without it such a value raises ``TypeError``.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=default)
