"""A person's age on a day of the Seoul calendar, from a verified birth date."""

from __future__ import annotations

import datetime as dt

from portal import clock


def seoul_date(moment: dt.datetime | None = None) -> dt.date:
    """The calendar day in Seoul at ``moment`` (now by default)."""
    return (moment or clock.now()).astimezone(clock.SEOUL).date()


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Completed years on ``day`` (만 나이); a 29 February birthday counts from 1 March in other years."""
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - (1 if before_birthday else 0)
