"""The support phase's shortlist rules and the plain-text comment pieces (pure)."""

from __future__ import annotations

import pytest

from proposals.compute.shortlist import Supported, shortlist
from proposals.compute.text import pieces

CITY, GANGNAM = 1, 2


def _pot(pot: int, counts: list[int], first_id: int) -> list[Supported]:
    return [Supported(first_id + i, pot, n) for i, n in enumerate(counts)]


def test_threshold_takes_exactly_the_proposals_at_or_above_it():
    proposals = _pot(CITY, [5, 3, 2, 0], 10)
    assert shortlist(proposals, "threshold", 3) == {10, 11}  # 3 is in, 2 is out
    assert shortlist(proposals, "threshold", 6) == set()
    assert shortlist(proposals, "threshold", 1) == {10, 11, 12}


def test_top_n_is_per_pot_and_takes_every_tie_at_the_boundary():
    proposals = _pot(CITY, [7, 4, 4, 4, 1], 10) + _pot(GANGNAM, [3, 2, 1], 20)
    assert shortlist(proposals, "top", 2) == {10, 11, 12, 13, 20, 21}
    assert shortlist(proposals, "top", 1) == {10, 20}
    assert shortlist(proposals, "top", 4) == {10, 11, 12, 13, 20, 21, 22}


def test_top_n_never_takes_proposals_without_support():
    assert shortlist(_pot(CITY, [2, 0, 0], 10), "top", 2) == {10}
    assert shortlist(_pot(CITY, [0, 0], 10), "top", 5) == set()
    assert shortlist([], "top", 3) == set()


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError):
        shortlist(_pot(CITY, [1], 1), "lottery", 1)


def test_only_http_addresses_become_links_and_text_comes_back_whole():
    body = "See https://news.seoul.go.kr/a?b=1&c=2. (Also http://x.kr/y) <script>alert(1)</script> javascript:alert(1)"
    found = pieces(body)
    assert "".join(p.text for p in found) == body
    assert [p.text for p in found if p.kind == "link"] == [
        "https://news.seoul.go.kr/a?b=1&c=2",
        "http://x.kr/y",
    ]
    assert all("script" not in p.text for p in found if p.kind == "link")


def test_the_support_phase_sits_between_intake_and_review_only_when_a_cycle_has_one():
    import datetime as dt

    from portal.errors import InvalidInput
    from voting.compute.rules import Schedule, states_between

    t0 = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    day = dt.timedelta(days=1)
    dates = [t0, t0 + 10 * day, t0 + 20 * day, t0 + 30 * day, t0 + 35 * day]
    with_support = Schedule(*dates, support_close_at=t0 + 15 * day)
    assert [with_support.phase(t0 + n * day) for n in (9, 10, 14, 15, 20)] == [
        "proposals", "support", "support", "review", "voting",
    ]
    assert Schedule(*dates).phase(t0 + 12 * day) == "review"
    assert states_between("proposals", "review", with_support=True) == ["support", "review"]
    assert states_between("proposals", "review") == ["review"]
    assert with_support.starts("review") == t0 + 15 * day
    with pytest.raises(InvalidInput):
        Schedule(*dates, support_close_at=t0 + 25 * day).check()  # after voting opens
