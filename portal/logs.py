"""Log hygiene: secrets never reach a log, whatever the level (A4, A7).

- Database drivers that log every SQL call with its parameters at DEBUG (aiosqlite does: receipts,
  ballot contents, session ids, TOTP secrets would follow) have their DEBUG records dropped by a filter
  on their logger, so even an operator who turns every logger to DEBUG does not get them.
- The access log redacts the one secret that travels in a URL path (the password-reset token) and the
  receipt searched on a results page (a receipt plus a client address would link a person to a ballot).
"""

from __future__ import annotations

import logging
import re

SQL_PARAMETER_LOGGERS = ("aiosqlite", "asyncpg")
ACCESS_LOGGERS = ("uvicorn.access",)
_SECRET_IN_URL = (
    (re.compile(r"(/password-reset/)[^/?\s\"]+"), r"\1[redacted]"),
    (re.compile(r"(/receipts\?(?:[^\s\"]*&)?q=)[^&\s\"]*"), r"\1[redacted]"),
    # The identity provider's answer: a one-time code and the state of a phone verification.
    (re.compile(r"(/account/identity/callback\?)[^\s\"]*"), r"\1[redacted]"),
    # An invitation to judge: the link's token grants the judge role to whoever holds the mailbox.
    (re.compile(r"(/judging/invitations/)[^/?\s\"]+"), r"\1[redacted]"),
)


_MARKERS = ("/password-reset/", "/receipts?", "/account/identity/callback?", "/judging/invitations/")


def redact(text: str) -> str:
    if not any(marker in text for marker in _MARKERS):  # every access line passes here: skip the regexes
        return text
    for pattern, replacement in _SECRET_IN_URL:
        text = pattern.sub(replacement, text)
    return text


class DropDebugRecords(logging.Filter):
    """Drops DEBUG records of a logger that writes query parameters at that level."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


class RedactSecretsInUrls(logging.Filter):
    """Rewrites reset tokens and searched receipts in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def _add_once(logger: logging.Logger, kind: type[logging.Filter]) -> None:
    if not any(isinstance(existing, kind) for existing in logger.filters):
        logger.addFilter(kind())


def install_log_hygiene() -> None:
    """Attach the filters (idempotent); the app factory and the command line call it."""
    for name in SQL_PARAMETER_LOGGERS:
        _add_once(logging.getLogger(name), DropDebugRecords)
    for name in ACCESS_LOGGERS:
        _add_once(logging.getLogger(name), RedactSecretsInUrls)
