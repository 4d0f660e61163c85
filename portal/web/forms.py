"""The one set of form parsers (whole numbers, KRW amounts, Seoul date-times), the field-error map and
the answer to a submitted form (saved and sent on, or shown again with its errors).

Every form in every domain parses through here, so a typed value is read the same way everywhere and a
bad one is refused with the same translated message beside its field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.response import Redirect, Template

from portal import clock, i18n, money
from portal.errors import DomainError, InvalidInput
from portal.web.pages import back_to

MAX_WHOLE_NUMBER = 10**15 - 1  # 1,000조: far above any budget, and inside every integer column of both engines
_WHOLE_NUMBER = re.compile(r"[+-]?\d+")


def parse_whole_number(value: Any, field: str, *, optional: bool = False) -> int | None:
    """A whole number typed into a form (thousands separators allowed), or a 422 beside ``field``.

    The one place forms parse integers and amounts: "1000.5", "1e9" and letters are refused with a message,
    and so is a number too large to store (a 19-digit amount), instead of failing later in the database.
    """
    text = str(value if value is not None else "").replace(",", "").replace("_", "").strip()
    if not text:
        if optional:
            return None
        raise InvalidInput("Enter a whole number.", field=field)
    if not _WHOLE_NUMBER.fullmatch(text):
        raise InvalidInput("Enter a whole number.", field=field)
    number = int(text)
    if abs(number) > MAX_WHOLE_NUMBER:
        raise InvalidInput("This number is too large.", field=field)
    return number


def parse_row_id(value: Any) -> int:
    """A row id from a form or query; anything that is not a plausible id becomes 0, which matches no row."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return 0
    return number if 0 < number < 2**31 else 0


def parse_small_number(value: Any, field: str, default: int | None = None) -> int:
    """A whole number that fits a 32-bit column (counts, points, scores), or a 422 beside ``field``."""
    if (value is None or value == "") and default is not None:
        return default
    number = parse_whole_number(value, field) or 0
    if not -(2**31) < number < 2**31:
        raise InvalidInput("Enter a whole number.", field=field)
    return number


def krw_from_form(value: object, field: str, *, optional: bool = False) -> int | None:
    """A KRW form field as whole won ("250,000,000", "2억 5천만"), or a translated error beside ``field``."""
    text = value if isinstance(value, str) else ""
    if not text.strip():
        if optional:
            return None
        raise InvalidInput("Enter an amount in won, for example 250,000,000 or 2억 5천만.", field=field)
    try:
        amount = money.parse_krw(text)
    except ValueError:
        raise InvalidInput(
            "Enter an amount in won, for example 250,000,000 or 2억 5천만.", field=field
        ) from None
    if abs(amount) > money.MAX_KRW:
        raise InvalidInput("Enter an amount of at most %(max)s.", field=field, max=money.krw_text(money.MAX_KRW))
    return amount


def parse_seoul_datetime(value: str | None, field: str) -> dt.datetime:
    """A ``datetime-local`` value read as Seoul time, returned in UTC."""
    try:
        moment = dt.datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise InvalidInput("Enter a date and time like 2027-03-31 18:00.", field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock.SEOUL)
    return moment.astimezone(dt.UTC)


def parse_date(value: Any, field: str) -> dt.date:
    """A ``date`` input (``2027-03-31``), or a 422 beside ``field``."""
    text = value.strip() if isinstance(value, str) else ""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("Enter a date like 2027-03-31.", field=field) from None
    if not 2000 <= day.year <= 2100:
        raise InvalidInput("Enter a date like 2027-03-31.", field=field)
    return day


def seoul_datetime_input(moment: dt.datetime) -> str:
    """A UTC moment as the value of a ``datetime-local`` input, in Seoul time."""
    return moment.astimezone(clock.SEOUL).strftime("%Y-%m-%dT%H:%M")


def form_errors(exc: DomainError) -> dict[str, str]:
    """A domain error as ``{field: translated message}`` for re-rendering a form."""
    return {exc.field or "form": i18n.gettext(exc.message, **exc.params)}


async def saved_or_shown_again(
    request: Request,
    action: Awaitable[object],
    again: Callable[..., Awaitable[Template]],
    *,
    flash: str,
    then: str,
) -> Template | Redirect:
    """Run a form's action. Done: the browser goes to ``then``, which shows ``flash``. Refused (a
    domain error): the form's page again, ``again(request, status_code, errors=...)``."""
    try:
        await action
    except DomainError as exc:
        return await again(request, exc.status_code, errors=form_errors(exc))
    request.session["flash"] = flash
    return back_to(then)
