"""The form field macro writes each attribute apart (``requiredmaxlength`` lost maxlength and required)."""

from __future__ import annotations

import re

from portal.web.pages import JINJA_ENV

FIELD = JINJA_ENV.from_string(
    '{% import "_macros.html" as m %}'
    '{{ m.field("email", "Email", errors, {}, type="email", required=true, maxlength=254, autocomplete="email", hint="h") }}'
)


def _input(errors: dict[str, str]) -> str:
    return re.search(r"<input[^>]*>", FIELD.render(errors=errors, csrf_token=lambda: "")).group(0)


def test_required_maxlength_and_described_by_are_separate_attributes():
    tag = _input({"email": "Enter an email address."})
    assert ' required maxlength="254" autocomplete="email"' in tag
    assert 'aria-describedby="f-email-hint f-email-error" aria-invalid="true"' in tag
    assert 'aria-describedby="f-email-hint">' in _input({})
