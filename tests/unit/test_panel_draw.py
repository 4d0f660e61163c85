"""The citizen panel draw: proportional by district and age band (largest remainder), reproducible."""

from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from judging.compute.panel_draw import (
    Eligible,
    PanelDrawError,
    allocate,
    draw_panel,
    eligible_csv,
    eligible_from_csv,
    panel_entries,
)

DISTRICTS = ("11110", "11140", "11680", "11710")
BANDS = ("-19", "20-29", "30-39", "70+", "unknown")

people = st.lists(
    st.tuples(st.sampled_from(DISTRICTS), st.sampled_from(BANDS)), min_size=1, max_size=80
).map(lambda rows: [Eligible(f"k{i:03d}", d, b) for i, (d, b) in enumerate(rows)])


@settings(max_examples=150, deadline=None)
@given(people, st.integers(min_value=1, max_value=80), st.integers(min_value=0, max_value=2**31 - 1))
def test_each_stratum_gets_its_quota_rounded_down_or_up(eligible, size, seed):
    size = min(size, len(eligible))
    seats = draw_panel(eligible, size, seed)
    assert len(seats) == size and len({s.key for s in seats}) == size
    sizes = Counter((p.district, p.age_band) for p in eligible)
    drawn = Counter((s.district, s.age_band) for s in seats)
    for stratum, n in sizes.items():
        quota = Fraction(size * n, len(eligible))
        assert int(quota) <= drawn[stratum] <= int(quota) + 1 <= n + 1
        assert drawn[stratum] <= n


@settings(max_examples=60, deadline=None)
@given(people, st.integers(min_value=0, max_value=1000))
def test_the_same_list_in_any_order_and_the_same_seed_draw_the_same_panel(eligible, seed):
    size = max(1, len(eligible) // 3)
    shuffled = list(eligible)
    random.Random(seed).shuffle(shuffled)
    assert draw_panel(shuffled, size, seed) == draw_panel(eligible, size, seed)


def test_the_published_list_replays_the_draw_and_another_seed_draws_otherwise():
    eligible = [Eligible(f"key{i}", DISTRICTS[i % 4], BANDS[i % 5]) for i in range(200)]
    published = eligible_csv(eligible)
    replayed = draw_panel(eligible_from_csv(published), 30, 2026)
    assert replayed == draw_panel(eligible, 30, 2026)
    assert {s.key for s in draw_panel(eligible, 30, 2027)} != {s.key for s in replayed}


def test_largest_remainder_gives_the_leftover_seats_to_the_largest_fractions():
    # quotas 10 x (5, 3, 2) / 10 = 5, 3, 2 exactly; then 7 x (5, 3, 2) / 10 = 3.5, 2.1, 1.4 -> 4, 2, 1
    sizes = {("a", "x"): 5, ("b", "x"): 3, ("c", "x"): 2}
    assert allocate(sizes, 10, 1) == {("a", "x"): 5, ("b", "x"): 3, ("c", "x"): 2}
    assert allocate(sizes, 7, 1) == {("a", "x"): 4, ("b", "x"): 2, ("c", "x"): 1}


def test_a_panel_larger_than_the_eligible_list_is_refused():
    with pytest.raises(PanelDrawError):
        draw_panel([Eligible("a", "11110", "20-29")], 2, 0)


def test_entries_are_spread_evenly_when_panelists_cannot_score_them_all():
    work = panel_entries([f"m{i}" for i in range(6)], list(range(1, 10)), 3)
    counts = Counter(e for entries in work.values() for e in entries)
    assert all(len(set(v)) == 3 for v in work.values())
    assert max(counts.values()) - min(counts.values()) <= 1
    assert panel_entries(["m"], [3, 1, 2], 5) == {"m": [1, 2, 3]}
