"""A person's age on a day of the Seoul calendar, from a verified birth date, and its ten-year band.

The bands are shared by PB participation statistics and the challenge's citizen panel draw."""

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


AGE_BANDS = ("-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+", "unknown")


def age_band(age: int | None) -> str:
    """The band of a whole age in years; ``unknown`` without one."""
    if age is None:
        return "unknown"
    if age < 20:
        return "-19"
    if age >= 70:
        return "70+"
    low = age // 10 * 10
    return f"{low}-{low + 9}"


def age_band_of(birth_date: dt.date | None, day: dt.date) -> str:
    """The band of a person born on ``birth_date`` on the Seoul calendar ``day``."""
    if birth_date is None:
        return "unknown"
    return age_band(age_on(birth_date, day))
