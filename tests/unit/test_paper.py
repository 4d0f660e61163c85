"""Paper ballots, pure: double keying compared sheet by sheet, resolution, tally-sheet identities."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.canonical import canonical_json
from voting.compute import paper
from voting.compute.paper import StationCount, TallySheet

readings = st.dictionaries(st.integers(1, 8), st.integers(1, 3), max_size=5).map(paper.reading_of)
keyings = st.dictionaries(st.integers(1, 30), readings, max_size=12)


def test_reading_is_canonical_and_drops_zero_points():
    assert paper.reading_of([5, 3]) == ((3, 1), (5, 1))
    assert paper.reading_of({5: 2, 3: 0, 1: 1}) == ((1, 1), (5, 2))


def test_agreeing_keyings_have_no_mismatch():
    keying = {1: paper.reading_of([1, 2]), 2: paper.reading_of([3])}
    comparison = paper.compare_keyings(keying, dict(keying))
    assert comparison.agree and comparison.agreed == keying and comparison.sheets == 2


def test_every_differing_or_missing_sheet_is_a_mismatch_with_both_readings():
    first = {1: paper.reading_of([1]), 2: paper.reading_of([2]), 3: paper.reading_of([3])}
    second = {1: paper.reading_of([1]), 2: paper.reading_of([2, 4]), 4: paper.reading_of([4])}
    comparison = paper.compare_keyings(first, second)
    assert comparison.agreed == {1: ((1, 1),)}
    assert [(m.sheet, m.first, m.second) for m in comparison.mismatches] == [
        (2, ((2, 1),), ((2, 1), (4, 1))),
        (3, ((3, 1),), None),
        (4, None, ((4, 1),)),
    ]


def test_resolution_must_cover_exactly_the_mismatches():
    comparison = paper.compare_keyings({1: ((1, 1),), 2: ((2, 1),)}, {1: ((1, 1),), 2: ((3, 1),)})
    with pytest.raises(ValueError):
        paper.final_sheets(comparison, {})
    with pytest.raises(ValueError):
        paper.final_sheets(comparison, {1: ((1, 1),), 2: ((2, 1),)})
    assert paper.final_sheets(comparison, {2: ((3, 1),)}) == {1: ((1, 1),), 2: ((3, 1),)}
    assert paper.final_sheets(comparison, {2: None}) == {1: ((1, 1),)}


def test_choice_of_a_sheet_by_ballot_kind():
    assert paper.choice_of(((3, 1), (5, 1)), "approval").project_ids == (3, 5)
    assert paper.choice_of(((3, 2),), "cumulative").points == ((3, 2),)


def test_batch_state_machine():
    state = "open"
    for event in ("keyed", "differed", "resolved", "counted"):
        state = paper.next_batch_state(state, event)
    assert state == "counted"
    assert paper.next_batch_state("keyed-once", "agreed") == "keyed-twice"
    for state, event in (("open", "counted"), ("mismatch", "counted"), ("counted", "keyed"), ("keyed-twice", "keyed")):
        with pytest.raises(ValueError):
            paper.next_batch_state(state, event)
    assert set(paper.BATCH_STEPS.values()) | {"open"} == set(paper.BATCH_STATES)


def test_a_tally_that_adds_up_reconciles():
    result = paper.reconcile(TallySheet(10, 9, 1), StationCount(9, 8, 1, 0), 10, exact=True)
    assert result.reconciles and result.not_returned == 1


@pytest.mark.parametrize(
    ("tally", "count", "participations", "exact", "fields"),
    [
        (TallySheet(11, 9, 1), StationCount(9, 8, 1, 0), 10, True, ["handed_out"]),
        (TallySheet(9, 9, 1), StationCount(9, 8, 1, 0), 10, True, ["handed_out"]),
        (TallySheet(9, 9, 1), StationCount(9, 8, 1, 0), 10, False, []),  # others still open
        (TallySheet(11, 9, 1), StationCount(9, 8, 1, 0), 10, False, ["handed_out"]),
        (TallySheet(10, 10, 1), StationCount(9, 8, 1, 0), 10, True, ["returned"]),
        (TallySheet(10, 11, 1), StationCount(11, 10, 1, 0), 10, True, ["returned"]),
        (TallySheet(10, 9, 0), StationCount(9, 8, 1, 0), 10, True, ["spoiled"]),
        (TallySheet(10, 9, 1), StationCount(9, 8, 1, 2), 10, True, ["form"]),
    ],
)
def test_each_identity_that_fails_is_named(tally, count, participations, exact, fields):
    result = paper.reconcile(tally, count, participations, exact=exact)
    assert [g.field for g in result.gaps] == fields
    assert result.reconciles is (not fields)


@settings(max_examples=200, deadline=None)
@given(keyings, keyings)
def test_comparison_partitions_every_sheet(first, second):
    comparison = paper.compare_keyings(first, second)
    sheets = set(comparison.agreed) | {m.sheet for m in comparison.mismatches}
    assert sheets == set(first) | set(second)
    assert not set(comparison.agreed) & {m.sheet for m in comparison.mismatches}
    assert all(first[s] == second[s] == r for s, r in comparison.agreed.items())
    assert all(m.first != m.second for m in comparison.mismatches)
    assert comparison.agree == (first == second)
    swapped = paper.compare_keyings(second, first)
    assert [(m.sheet, m.second, m.first) for m in swapped.mismatches] == [
        (m.sheet, m.first, m.second) for m in comparison.mismatches
    ]


@settings(max_examples=200, deadline=None)
@given(keyings, keyings, st.booleans())
def test_resolving_with_one_side_gives_that_side(first, second, take_first):
    comparison = paper.compare_keyings(first, second)
    side = first if take_first else second
    resolution = {m.sheet: side.get(m.sheet) for m in comparison.mismatches}
    assert paper.final_sheets(comparison, resolution) == dict(sorted(side.items()))


@settings(max_examples=200, deadline=None)
@given(keyings)
def test_keying_survives_canonical_json(keying):
    data = json.loads(canonical_json(paper.keying_as_data(keying)))
    assert paper.keying_from_data(data) == keying


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 50), st.integers(0, 50), st.integers(0, 50), st.integers(0, 50), st.booleans()
)
def test_reconciles_exactly_when_the_identities_hold(valid, invalid, not_returned, extra, exact):
    handed_out = valid + invalid + not_returned
    count = StationCount(valid + invalid, valid, invalid, 0)
    participations = handed_out + (0 if exact else extra)
    good = paper.reconcile(TallySheet(handed_out, valid + invalid, invalid), count, participations, exact=exact)
    assert good.reconciles and good.not_returned == not_returned
    off = paper.reconcile(TallySheet(handed_out, valid + invalid, invalid + 1), count, participations, exact=exact)
    assert not off.reconciles
    more = paper.reconcile(TallySheet(participations + 1, valid + invalid, invalid), count, participations, exact=exact)
    assert not more.reconciles
