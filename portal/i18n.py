"""Korean and English: message catalogs, the current language, and negotiation.

English strings are the message ids; Korean comes from Babel ``.po`` catalogs
under ``locale/ko/LC_MESSAGES/`` (one file per domain so each team owns its
own). Catalogs are read with Babel at startup, so no compiled ``.mo`` files
are kept in the repository.
"""

from __future__ import annotations

import contextvars
import functools
from typing import Any

from babel.messages.pofile import read_po

from portal.settings import LOCALE_DIR

LANGUAGES = ("ko", "en")
DEFAULT_LANGUAGE = "ko"

current_language: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_language", default=DEFAULT_LANGUAGE
)


@functools.cache
def _catalog(language: str) -> dict[str, str]:
    """All translations for one language, merged from every domain's ``.po`` file."""
    messages: dict[str, str] = {}
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    for po_path in sorted(folder.glob("*.po")):
        with po_path.open("rb") as handle:
            for message in read_po(handle, locale=language):
                if message.id and message.string and not message.fuzzy:
                    key = message.id if isinstance(message.id, str) else message.id[0]
                    value = message.string if isinstance(message.string, str) else message.string[0]
                    messages[key] = value
    return messages


def translate(message: str, language: str | None = None, **params: Any) -> str:
    """Translate ``message`` into ``language`` (default: the request's) and fill ``%(name)s`` params.

    Catalogs write a literal ``%`` as ``%%`` (templates %-format every string), so it is formatted here too.
    """
    text = _lookup(message, language or current_language.get())
    return text % params if params or "%%" in text else text


def _lookup(message: str, language: str) -> str:
    return message if language == "en" else _catalog(language).get(message, message)


def gettext(message: str, **params: Any) -> str:
    """The templates' ``_()``: without params the text is returned unformatted, since Jinja %-formats it."""
    if not params:
        return _lookup(message, current_language.get())
    return translate(message, **params)


def ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    params.setdefault("num", n)
    return translate(singular if n == 1 else plural, **params)


def negotiate(
    account_language: str | None, query_language: str | None, accept_language: str | None
) -> str:
    """Pick the language: the account's, then ``?lang=``, then Accept-Language."""
    if account_language in LANGUAGES:
        return account_language
    if query_language in LANGUAGES:
        return query_language
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE
