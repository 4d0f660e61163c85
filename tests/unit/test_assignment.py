"""Judge assignment: R judges per entry, balanced loads, conflicts, expertise, connectivity."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from judging.compute.assignment import (
    AssignmentInfeasible,
    Entry,
    Judge,
    assign_judges,
    assignment_problems,
    reassign_unfinished,
)
from judging.compute.calibration import calibrate

CATEGORIES = ("transportation", "welfare", "climate")


def _check_rules(assignment, entries, judges, conflicts, r):
    """The rules every assignment must meet."""
    pairs = assignment.pairs
    assert len(set(pairs)) == len(pairs)
    per_entry = Counter(e for _, e in pairs)
    assert all(per_entry[e.entry_id] == r for e in entries)
    loads = [assignment.loads[j.judge_id] for j in judges]
    assert max(loads) - min(loads) <= 1
    assert sum(loads) == len(entries) * r
    assert not set(pairs) & set(conflicts)


@st.composite
def pools(draw):
    r = draw(st.integers(2, 3))
    n_judges = draw(st.integers(r + 1, 8))
    n_entries = draw(st.integers(n_judges, 20))
    entries = [Entry(f"E{i:02d}", draw(st.sampled_from(CATEGORIES))) for i in range(n_entries)]
    judges = [
        Judge(f"J{j}", frozenset(draw(st.sets(st.sampled_from(CATEGORIES), max_size=2))))
        for j in range(n_judges)
    ]
    # At most one conflict per entry keeps a solution likely; infeasible draws must raise cleanly.
    conflicts = draw(
        st.lists(
            st.tuples(
                st.sampled_from([j.judge_id for j in judges]),
                st.sampled_from([e.entry_id for e in entries]),
            ),
            max_size=n_entries // 2,
            unique_by=lambda p: p[1],
        )
    )
    return entries, judges, conflicts, r, draw(st.integers(0, 5))


@settings(max_examples=60, deadline=None)
@given(pools())
def test_every_assignment_meets_the_rules(pool):
    entries, judges, conflicts, r, seed = pool
    try:
        assignment = assign_judges(entries, judges, conflicts, r, seed=seed)
    except AssignmentInfeasible as error:
        assert str(error)  # a reason, never a bare exception
        return
    _check_rules(assignment, entries, judges, conflicts, r)
    assert assignment.components == 1
    assert assignment_problems(assignment.pairs, entries, judges, conflicts, r) == []


def test_expertise_is_preferred_and_the_clusters_are_joined():
    # Four transportation experts and four welfare experts: an all-expert assignment exists but
    # splits the graph in two, so one load-preserving swap joins the halves (two non-expert pairs).
    entries = [Entry(f"T{i}", "transportation") for i in range(8)]
    entries += [Entry(f"W{i}", "welfare") for i in range(8)]
    judges = [Judge(f"JT{j}", frozenset({"transportation"})) for j in range(4)]
    judges += [Judge(f"JW{j}", frozenset({"welfare"})) for j in range(4)]
    assignment = assign_judges(entries, judges, reviews_per_entry=2, seed=1)
    _check_rules(assignment, entries, judges, [], 2)
    assert assignment.components == 1
    assert assignment.expert_matches == 32 - 2
    # Connected means one calibration scale: every judge gets an offset in one component.
    reviews = [(e, j, 5.0) for j, e in assignment.pairs]
    assert calibrate(reviews).components == 1


def test_all_expert_when_it_costs_no_connectivity():
    entries = [Entry(f"E{i}", CATEGORIES[i % 3]) for i in range(12)]
    judges = [Judge(f"J{j}", frozenset(CATEGORIES)) for j in range(3)]
    judges.append(Judge("J3", frozenset({"climate"})))
    assignment = assign_judges(entries, judges, reviews_per_entry=2, seed=0)
    _check_rules(assignment, entries, judges, [], 2)
    assert assignment.expert_matches == 4 * 6 - 2  # J3 takes 6 entries: 4 climate, 2 others


def test_conflicts_are_hard_blocks():
    entries = [Entry(f"E{i}", "welfare") for i in range(6)]
    judges = [Judge(f"J{j}", frozenset({"welfare"})) for j in range(5)]
    conflicts = [("J0", "E0"), ("J1", "E0"), ("J2", "E1")]
    assignment = assign_judges(entries, judges, conflicts, 3, seed=2)
    _check_rules(assignment, entries, judges, conflicts, 3)
    assert sorted(assignment.judges_of("E0")) == ["J2", "J3", "J4"]


def test_too_few_unconflicted_judges_names_the_entry():
    entries = [Entry("E0"), Entry("E1")]
    judges = [Judge(f"J{j}") for j in range(4)]
    with pytest.raises(AssignmentInfeasible, match="entry E1 needs 3 more but only 2 are free"):
        assign_judges(entries, judges, [("J0", "E1"), ("J1", "E1")], 3)


def test_pool_smaller_than_judges_per_entry_is_refused():
    with pytest.raises(AssignmentInfeasible, match="needs 3 judges but the pool has only 2"):
        assign_judges([Entry("E0")], [Judge("J0"), Judge("J1")], reviews_per_entry=3)


def test_balanced_loads_can_be_impossible_under_conflicts():
    # 4 entries x 2 = 8 reviews over 4 judges -> exactly 2 each, but J0 may only review E0.
    entries = [Entry(f"E{i}") for i in range(4)]
    judges = [Judge(f"J{j}") for j in range(4)]
    conflicts = [("J0", "E1"), ("J0", "E2"), ("J0", "E3")]
    with pytest.raises(AssignmentInfeasible, match="loads between 2 and 2"):
        assign_judges(entries, judges, conflicts, 2)


def test_a_graph_that_cannot_be_connected_is_reported():
    # 3 entries x 3 judges spread over 9 judges: every judge reviews one entry -> 3 pieces.
    entries = [Entry(f"E{i}") for i in range(3)]
    judges = [Judge(f"J{j}") for j in range(9)]
    with pytest.raises(AssignmentInfeasible, match="stays in 3 pieces"):
        assign_judges(entries, judges)
    loose = assign_judges(entries, judges, require_connected=False)
    assert loose.components == 3


def test_fixed_manual_assignments_are_kept():
    entries = [Entry(f"E{i}", "climate") for i in range(10)]
    judges = [Judge(f"J{j}") for j in range(6)]
    fixed = [("J5", "E0"), ("J5", "E1"), ("J4", "E0")]
    assignment = assign_judges(entries, judges, fixed=fixed, seed=3)
    assert set(fixed) <= set(assignment.pairs)
    _check_rules(assignment, entries, judges, [], 3)


@pytest.mark.parametrize(
    ("fixed", "conflicts", "message"),
    [
        ([("J0", "E0")], [("J0", "E0")], "is a conflict of interest"),
        ([("J9", "E0")], [], "unknown judge J9"),
        (
            [("J0", f"E{i}") for i in range(6)],
            [],
            "already has 6 fixed entries; balanced loads are 4-5",
        ),
    ],
)
def test_bad_fixed_assignments_are_refused(fixed, conflicts, message):
    entries = [Entry(f"E{i}") for i in range(6)]
    judges = [Judge(f"J{j}") for j in range(4)]
    with pytest.raises(AssignmentInfeasible, match=message):
        assign_judges(entries, judges, conflicts, 3, fixed=fixed)


def test_same_seed_same_assignment_whatever_the_input_order():
    entries = [Entry(f"E{i}", CATEGORIES[i % 3]) for i in range(30)]
    judges = [Judge(f"J{j}", frozenset({CATEGORIES[j % 3]})) for j in range(9)]
    first = assign_judges(entries, judges, seed=11)
    again = assign_judges(list(reversed(entries)), list(reversed(judges)), seed=11)
    assert first == again


def test_lagging_judge_work_moves_to_the_least_loaded_others():
    entries = [Entry(f"E{i:02d}", CATEGORIES[i % 3]) for i in range(20)]
    judges = [Judge(f"J{j}", frozenset({CATEGORIES[j % 3]})) for j in range(6)]
    conflicts = [("J1", "E00"), ("J2", "E01")]
    before = assign_judges(entries, judges, conflicts, seed=5)
    lagging = "J0"
    theirs = before.entries_of(lagging)
    finished = theirs[:3]
    after = reassign_unfinished(before.pairs, lagging, finished, entries, judges, conflicts, seed=5)
    assert sorted(after.entries_of(lagging)) == sorted(finished)
    untouched = [p for p in before.pairs if p[0] != lagging]
    assert set(untouched) <= set(after.pairs)
    moved = set(after.pairs) - set(before.pairs)
    assert len(moved) == len(theirs) - len(finished)
    assert not set(after.pairs) & set(conflicts)
    assert Counter(e for _, e in after.pairs) == Counter(e for _, e in before.pairs)
    others = [n for j, n in after.loads.items() if j != lagging]
    assert max(others) - min(others) <= 1
    assert after.components == 1


def test_reassigning_a_judge_with_nothing_unfinished_changes_nothing():
    entries = [Entry(f"E{i}") for i in range(6)]
    judges = [Judge(f"J{j}") for j in range(4)]
    before = assign_judges(entries, judges, seed=1)
    done = before.entries_of("J0")
    after = reassign_unfinished(before.pairs, "J0", done, entries, judges)
    assert after.pairs == before.pairs


def test_assignment_problems_reports_hand_edits_that_break_rules():
    entries = [Entry("E0"), Entry("E1")]
    judges = [Judge("J0"), Judge("J1"), Judge("J2")]
    pairs = [("J0", "E0"), ("J1", "E0"), ("J0", "E1"), ("J2", "E1")]
    assert assignment_problems(pairs, entries, judges, reviews_per_entry=2) == []
    problems = assignment_problems(
        [("J0", "E0"), ("J1", "E0"), ("J2", "E1")],
        entries,
        judges,
        conflicts=[("J1", "E0")],
        reviews_per_entry=2,
    )
    assert problems == [
        "judge J1 has a conflict with entry E0",
        "entry E1 has 1 judges, not 2",
        "the judge-entry graph is not connected, so calibration is per piece",
    ]


def test_column_generation_gives_the_same_answer_as_the_full_program(monkeypatch):
    import judging.compute.assignment_solver as solver_module

    # Single-expertise judges make the first restricted program miss pairs the optimum needs.
    entries = [Entry(f"E{i:03d}", CATEGORIES[i % 3]) for i in range(150)]
    judges = [Judge(f"J{j:02d}", frozenset({CATEGORIES[j % 3]})) for j in range(14)]
    judges.append(Judge("J99"))
    conflicts = [
        (f"J{j:02d}", f"E{i:03d}") for i in range(150) for j in range(14) if (i * 7 + j) % 23 == 0
    ]
    fast = assign_judges(entries, judges, conflicts, seed=9)
    monkeypatch.setattr(solver_module, "_START_OTHERS", len(judges))
    full = assign_judges(entries, judges, conflicts, seed=9)
    assert fast == full
