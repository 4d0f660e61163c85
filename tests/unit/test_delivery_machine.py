"""The delivery status machine of funded projects, progress sums and chart geometry (pure)."""

from __future__ import annotations

import pytest

from voting.compute import delivery as machine

ALLOWED = {
    ("planned", "in-progress"),
    ("planned", "cancelled"),
    ("in-progress", "completed"),
    ("in-progress", "cancelled"),
}


@pytest.mark.parametrize("current", machine.STATUSES)
@pytest.mark.parametrize("target", machine.STATUSES)
def test_every_transition_without_a_reason(current: str, target: str) -> None:
    correction, refusal = machine.check_transition(current, target, "")
    if (current, target) in ALLOWED and target != "cancelled":
        assert refusal is None and not correction
    elif (current, target) in ALLOWED:  # cancelling needs a reason
        assert refusal is not None and refusal.field == "reason"
    elif current == target:
        assert refusal is not None and refusal.field == "status"
    elif current in machine.FINAL:  # only a correction, which needs a reason
        assert correction and refusal is not None and refusal.field == "reason"
    else:  # skipping ahead or going back
        assert refusal is not None and refusal.field == "status"


@pytest.mark.parametrize("current", machine.STATUSES)
@pytest.mark.parametrize("target", machine.STATUSES)
def test_with_a_reason_only_corrections_leave_final_statuses(current: str, target: str) -> None:
    correction, refusal = machine.check_transition(current, target, "Contractor went bankrupt")
    assert correction == (current in machine.FINAL and current != target)
    expected = current != target and ((current, target) in ALLOWED or current in machine.FINAL)
    assert (refusal is None) == expected


def test_unknown_status_is_refused() -> None:
    assert machine.check_transition("planned", "done", "x")[1].field == "status"


def test_forward_paths_for_the_connector() -> None:
    assert machine.forward_path("planned", "completed") == ["in-progress", "completed"]
    assert machine.forward_path("in-progress", "in-progress") == []
    assert machine.forward_path("in-progress", "cancelled") == ["cancelled"]
    assert machine.forward_path("in-progress", "planned") is None
    assert machine.forward_path("completed", "cancelled") is None
    assert machine.forward_path("cancelled", "completed") is None


def test_progress_by_group_sums_counts_and_money() -> None:
    projects = [
        machine.ProjectProgress(1, "11000", "climate", "completed", 100, 104),
        machine.ProjectProgress(2, "11000", "housing", "planned", 50, 0),
        machine.ProjectProgress(3, "11680", "climate", "in-progress", 200, 50),
    ]
    by_pot = machine.progress_by(projects, lambda p: p.pot_key)
    assert [(g.key, g.projects, g.funded, g.spent) for g in by_pot] == [
        ("11000", 2, 150, 104),
        ("11680", 1, 200, 50),
    ]
    assert by_pot[0].counts == {"planned": 1, "in-progress": 0, "completed": 1, "cancelled": 0}
    total = machine.totals(projects)
    assert (total.projects, total.funded, total.spent, total.spent_percent) == (3, 350, 154, 44)
    assert machine.totals([]).projects == 0


def test_spending_share_caps_the_bar_and_flags_overruns() -> None:
    assert machine.spending_share(100, 50) == (50, False)
    assert machine.spending_share(100, 104) == (100, True)
    assert machine.spending_share(0, 0) == (0, False)
    chart = machine.progress_chart(
        [
            machine.GroupProgress(
                "a", {"planned": 1, "in-progress": 2, "completed": 0, "cancelled": 0}, 100, 150
            )
        ],
        ["A"],
    )
    [row] = chart["rows"]
    assert row["over"] and row["spent_width"] == chart["chart_w"]
    assert [s["status"] for s in row["segments"]] == ["planned", "in-progress"]
    assert sum(s["width"] for s in row["segments"]) <= chart["chart_w"]
