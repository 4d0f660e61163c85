"""Who is asking: the signed-in account and the per-request context, as every layer sees them.

Kept apart from the web plumbing and the guards so both can import it without importing each other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from portal import i18n


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in account as handlers see it."""

    id: int
    email: str
    display_name: str
    roles: frozenset[str]
    language: str
    district_code: str | None
    residency_verified: bool
    totp_enabled: bool
    birth_date: dt.date | None = None  # from phone verification (portal.phone_identity); None when unknown

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


@dataclass
class RequestContext:
    user: CurrentUser | None = None
    language: str = i18n.DEFAULT_LANGUAGE
    pending_totp_user_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
