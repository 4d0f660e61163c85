"""Bids steer the assignment: eager pairs preferred, "not qualified" avoided unless unavoidable."""

from __future__ import annotations

import pytest

from judging.compute.assignment import (
    AssignmentInfeasible,
    Entry,
    Judge,
    assign_judges,
)


def _pool(n_entries: int, n_judges: int):
    return [Entry(e, "welfare") for e in range(n_entries)], [Judge(f"j{j}") for j in range(n_judges)]


def test_eager_bids_are_assigned_and_counted():
    entries, judges = _pool(6, 6)
    # Each judge is eager for exactly one entry (a perfect matching exists), willing for nothing else.
    bids = {(f"j{k}", (k * 5) % 6): "eager" for k in range(6)}
    result = assign_judges(entries, judges, reviews_per_entry=1, bids=bids, seed=3, require_connected=False)
    assert set(result.pairs) == set(bids)  # fails if the bids are ignored (the jitter would scatter them)
    assert result.bid_counts == {"eager": 6, "willing": 0, "not-qualified": 0, "none": 0}
    assert result.unqualified == ()


def test_not_qualified_is_avoided_when_possible():
    entries, judges = _pool(4, 4)
    bids = {(j.judge_id, e.entry_id): "not-qualified" for j in judges[:2] for e in entries[:2]}
    result = assign_judges(entries, judges, reviews_per_entry=1, bids=bids, seed=1, require_connected=False)
    assert not set(result.pairs) & set(bids)
    assert result.bid_counts["not-qualified"] == 0 and result.bid_counts["none"] == 4


def test_not_qualified_is_used_only_when_unavoidable_and_reported():
    entries, judges = _pool(2, 2)
    # Entry 0: judge j1 is conflicted, judge j0 said not qualified; with one judge per entry and
    # balanced loads j0 must take it.
    bids = {("j0", 0): "not-qualified", ("j0", 1): "eager"}
    result = assign_judges(
        entries, judges, conflicts=[("j1", 0)], reviews_per_entry=1, bids=bids, require_connected=False
    )
    assert ("j0", 0) in result.pairs
    assert result.unqualified == (("j0", 0),)
    assert result.bid_counts["not-qualified"] == 1


def test_eager_beats_willing_and_no_bid():
    entries, judges = _pool(1, 3)
    bids = {("j0", 0): "willing", ("j2", 0): "eager"}
    result = assign_judges(entries, judges, reviews_per_entry=1, bids=bids, require_connected=False)
    assert result.pairs == (("j2", 0),)


def test_unknown_bid_levels_are_refused():
    entries, judges = _pool(1, 1)
    with pytest.raises(AssignmentInfeasible):
        assign_judges(entries, judges, reviews_per_entry=1, bids={("j0", 0): "keen"})


def test_the_assign_command_reports_the_bid_levels(tmp_path, capsys):
    import json

    from judging.cli_assign import run_assign

    problem = {
        "reviews_per_entry": 1,
        "entries": [{"id": "E1", "category": "welfare"}, {"id": "E2", "category": "climate"}],
        "judges": [{"id": "J1"}, {"id": "J2", "expertise": ["welfare"]}],
        "bids": [{"judge": "J1", "entry": "E1", "level": "eager"}, {"judge": "J2", "entry": "E1", "level": "willing"}],
    }
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(problem))

    class Args:
        json = False

    Args.problem = str(path)
    assert run_assign(Args()) == 0
    out = capsys.readouterr().out
    assert "Bids: eager 1, willing 0, none 1, not-qualified 0" in out and "J1 -> E1" in out
    Args.problem = str(tmp_path / "missing.json")
    assert run_assign(Args()) == 2 and "no such file" in capsys.readouterr().err
