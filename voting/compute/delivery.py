"""Delivery tracking, pure: the status machine of a funded project, progress sums and chart geometry.

No database, no clock: ``voting.services.delivery`` moves the state through ``check_transition`` and the
pages draw what ``progress_by`` and ``progress_chart`` return.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

STATUSES = ("planned", "in-progress", "completed", "cancelled")
FINAL = frozenset({"completed", "cancelled"})
# planned -> in progress -> completed; any open status -> cancelled (with a reason). Nothing leaves a
# final status except an official's correction (a reason required, audited as a correction).
NEXT: dict[str, tuple[str, ...]] = {
    "planned": ("in-progress", "cancelled"),
    "in-progress": ("completed", "cancelled"),
    "completed": (),
    "cancelled": (),
}
STATUS_LABELS = {
    "planned": "Planned",
    "in-progress": "In progress",
    "completed": "Completed",
    "cancelled": "Cancelled",
}
STATUS_COLOURS = {
    "planned": "#8a94a6",
    "in-progress": "#1f5fa8",
    "completed": "#1e7b34",
    "cancelled": "#b3261e",
}


@dataclass(frozen=True)
class Refusal:
    """Why a status change is refused: an English message id, its field and its parameters."""

    message: str
    field: str
    params: dict[str, str] = field(default_factory=dict)


def check_transition(current: str, target: str, reason: str) -> tuple[bool, Refusal | None]:
    """Whether ``current -> target`` is allowed; returns (is a correction, refusal or None).

    A change out of a final status is an official's correction and needs a reason; so does a cancellation.
    """
    if target not in STATUSES:
        return False, Refusal("Choose a status from the list.", "status")
    if target == current:
        return False, Refusal("The project is already at this status.", "status")
    correction = current in FINAL
    if not correction and target not in NEXT[current]:
        return False, Refusal(
            "This status cannot follow the current one: a project goes planned, in progress, completed.",
            "status",
        )
    if (correction or target == "cancelled") and not reason.strip():
        message = (
            "Say why the status is corrected: a completed or cancelled project changes only by a correction."
            if correction
            else "Say why the project is cancelled."
        )
        return correction, Refusal(message, "reason")
    return correction, None


def forward_path(current: str, target: str) -> list[str] | None:
    """The statuses entered going forward from ``current`` to ``target`` (the connector's pulls);
    [] when already there, None when the machine cannot get there (a backward move, a final status)."""
    if target == current:
        return []
    if target not in STATUSES or current in FINAL:
        return None
    if target == "cancelled":
        return ["cancelled"]
    order = ("planned", "in-progress", "completed")
    if order.index(target) < order.index(current):
        return None
    return list(order[order.index(current) + 1 : order.index(target) + 1])


# ----------------------------------------------------------------------------- progress


@dataclass(frozen=True)
class ProjectProgress:
    """One funded project as the dashboard sums it."""

    project_id: int
    pot_key: str  # "city" or a district code
    category: str
    status: str
    funded: int
    spent: int


@dataclass
class GroupProgress:
    """Projects of one pot or one category: how many per status, money funded and spent."""

    key: str
    counts: dict[str, int]
    funded: int = 0
    spent: int = 0

    @property
    def projects(self) -> int:
        return sum(self.counts.values())

    @property
    def spent_percent(self) -> int:
        return round(100 * self.spent / self.funded) if self.funded else 0


def progress_by(
    projects: Iterable[ProjectProgress], key: Callable[[ProjectProgress], str]
) -> list[GroupProgress]:
    """Group projects by ``key`` (in first-seen order) and sum counts per status, funded and spent."""
    groups: dict[str, GroupProgress] = {}
    for project in projects:
        group = groups.setdefault(
            key(project), GroupProgress(key(project), {status: 0 for status in STATUSES})
        )
        group.counts[project.status] += 1
        group.funded += project.funded
        group.spent += project.spent
    return list(groups.values())


def totals(projects: Sequence[ProjectProgress]) -> GroupProgress:
    """Every project together."""
    return (
        progress_by(projects, lambda _: "all")[0]
        if projects
        else GroupProgress("all", {status: 0 for status in STATUSES})
    )


def spending_share(funded: int, spent: int) -> tuple[int, bool]:
    """(width of the spent bar in whole percent of the funded amount, capped at 100; over the budget)."""
    if funded <= 0:
        return (100 if spent else 0), spent > 0
    return min(100, round(100 * spent / funded)), spent > funded


def progress_chart(groups: Sequence[GroupProgress], labels: Sequence[str]) -> dict[str, object]:
    """Geometry of a horizontal chart: per group, a stacked bar of project counts by status and,
    beneath it, the money spent against the money funded (the bar's full width)."""
    label_h, bar_h, gap, chart_w, width = 16, 12, 12, 290, 360
    row = label_h + 2 * bar_h + 4 + gap
    most = max((g.projects for g in groups), default=0) or 1
    rows = []
    for i, (group, label) in enumerate(zip(groups, labels, strict=True)):
        y = i * row
        x = 0
        segments = []
        for status in STATUSES:
            n = group.counts[status]
            if n:
                w = max(round(chart_w * n / most), 2)
                segments.append(
                    {
                        "x": x,
                        "width": w,
                        "status": status,
                        "count": n,
                        "colour": STATUS_COLOURS[status],
                    }
                )
                x += w
        share, over = spending_share(group.funded, group.spent)
        rows.append(
            {
                "label": label,
                "y": y,
                "count_y": y + label_h,
                "money_y": y + label_h + bar_h + 4,
                "segments": segments,
                "projects": group.projects,
                "spent_width": round(chart_w * share / 100),
                "spent_percent": group.spent_percent,
                "over": over,
            }
        )
    return {
        "rows": rows,
        "bar_h": bar_h,
        "chart_w": chart_w,
        "width": width,
        "height": max(len(rows), 1) * row,
    }
