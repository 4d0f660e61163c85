"""Demo delivery data: the published cycle's funded projects carried out over the year since its vote.

Deterministic by rank: the first projects are completed (one slightly over its budget, to show the
warning), the next in progress, one cancelled with its reason, the rest planned with a first milestone.
Entered through the same services officials use, so every step is audited under the demo official.
"""

from __future__ import annotations

import datetime as dt

from portal import clock
from voting.services import delivery, delivery_spending

MILESTONES = (
    ("기본 및 실시 설계 완료", 30),
    ("공사 계약 체결", 75),
    ("착공", 110),
    ("준공 및 주민 개방", 260),
)


def _day(closed_on: dt.date, offset: int, today: dt.date) -> dt.date:
    return min(closed_on + dt.timedelta(days=offset), today)


async def _milestones(
    official: int, project: delivery.FundedProject, closed_on: dt.date, done: int
) -> None:
    for index, (title, offset) in enumerate(MILESTONES):
        await delivery.add_milestone(
            official,
            project.cycle_id,
            project.project_id,
            delivery.MilestoneInput(
                title=title, due_on=closed_on + dt.timedelta(days=offset), done=index < done
            ),
        )


async def _pay(
    official: int,
    project: delivery.FundedProject,
    parts: list[tuple[int, int, str]],
    today: dt.date,
    closed_on: dt.date,
) -> None:
    for percent, offset, note in parts:
        await delivery_spending.add_payment(
            official,
            project.cycle_id,
            project.project_id,
            project.funded * percent // 100,
            _day(closed_on, offset, today),
            note,
        )


async def load_delivery_demo(cycle_id: int, official: int) -> str:
    """Statuses, milestones and spending for the approved cycle's funded projects; returns a summary line."""
    cycle = await delivery.approved_cycle(cycle_id)
    closed_on = delivery.vote_closed_on(cycle)
    today = clock.now().astimezone(clock.SEOUL).date()
    funded = await delivery.funded_projects(cycle_id)
    counts = {status: 0 for status in ("planned", "in-progress", "completed", "cancelled")}
    for index, project in enumerate(funded):
        pid = project.project_id
        if index < 3:  # completed; the second spent a little more than funded
            await _milestones(official, project, closed_on, done=4)
            await delivery.change_status(official, cycle_id, pid, "in-progress", "")
            over = 104 if index == 1 else 96
            await _pay(
                official,
                project,
                [(30, 80, "착수금"), (over - 30, 270, "준공금")],
                today,
                closed_on,
            )
            await delivery.change_status(official, cycle_id, pid, "completed", "")
        elif index < 8:  # in progress
            await _milestones(official, project, closed_on, done=2 + index % 2)
            await delivery.change_status(official, cycle_id, pid, "in-progress", "")
            await _pay(
                official,
                project,
                [(30, 80, "착수금"), (10 + 10 * (index % 3), 200, "기성금")],
                today,
                closed_on,
            )
        elif index == 8:  # cancelled
            await _milestones(official, project, closed_on, done=1)
            await delivery.change_status(
                official,
                cycle_id,
                pid,
                "cancelled",
                "부지 소유자와 사용 협의가 끝내 이루어지지 않아 사업을 취소했습니다.",
            )
        else:  # planned: design under way
            await _milestones(official, project, closed_on, done=0)
        found = await delivery.delivery_of(cycle_id, pid)
        counts[found.status] += 1
    return (
        f"  delivery of the {len(funded)} funded projects: "
        + ", ".join(f"{n} {status}" for status, n in counts.items())
        + f" (/pb/cycles/{cycle_id}/delivery)"
    )
