"""Ages on the Seoul calendar and the idp-sim's person page checks (pure)."""

from __future__ import annotations

import datetime as dt

from portal.ages import age_on, seoul_date
from portal.idp.app import read_person


def test_age_counts_completed_years_and_leap_day_birthdays():
    assert age_on(dt.date(2012, 6, 1), dt.date(2026, 5, 31)) == 13
    assert age_on(dt.date(2012, 6, 1), dt.date(2026, 6, 1)) == 14
    assert age_on(dt.date(2008, 2, 29), dt.date(2026, 2, 28)) == 17
    assert age_on(dt.date(2008, 2, 29), dt.date(2026, 3, 1)) == 18


def test_the_seoul_day_starts_nine_hours_before_utc():
    late_utc = dt.datetime(2026, 5, 31, 15, 30, tzinfo=dt.UTC)  # 00:30 on 1 June in Seoul
    assert seoul_date(late_utc) == dt.date(2026, 6, 1)


def test_the_person_page_normalises_the_phone_and_refuses_bad_input():
    person, errors = read_person({"name": " 김하늘 ", "birthdate": "1990-05-17", "phone": "010 2345 6789"}, dt.date(2026, 1, 1))
    assert errors == {} and person is not None
    assert person.name == "김하늘" and person.phone_number == "+821023456789"
    same, _ = read_person({"name": "김하늘", "birthdate": "1990-05-17", "phone": "+82-10-2345-6789"}, dt.date(2026, 1, 1))
    assert same is not None and same.person_key == person.person_key
    _, errors = read_person({"name": "", "birthdate": "2030-01-01", "phone": "02-123-4567"}, dt.date(2026, 1, 1))
    assert set(errors) == {"name", "birthdate", "phone"}
