"""Delivery tracking of funded projects: status, milestones, photos and spending, every change audited.

A funded project is one the official rule selected in an approved cycle (``funded_projects``). Its
``pb_delivery`` row is created at the first update; until then it is "planned" with nothing recorded, so
reading never writes. The status moves only through ``voting.compute.delivery.check_transition``, in
``move_status`` (the one place a status changes, for officials and the connector's pulls alike).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from portal import audit, clock
from portal.db import write_transaction
from portal.errors import InvalidInput, NotFoundError
from portal.notifications import announce
from voting.compute import delivery as machine
from voting.compute.rules import CITY_WIDE_CODE
from voting.projects import cycle_projects
from voting.services.cycles import get_cycle, pots_of
from voting.services.results import current_runs
from voting.tables import Delivery, DeliveryMilestone, DeliveryPayment, DeliveryPhoto

NOT_FUNDED = "We could not find that funded project."


class FundedProject(msgspec.Struct, frozen=True, kw_only=True):
    """A project the official rule selected in an approved cycle, as pushed to the city."""

    project_id: int
    cycle_id: int
    pot_id: int
    district_code: str | None  # None: the city-wide pot
    project_code: str  # the reference the allocation push used: PB-00012
    title: str
    summary: str
    category: str
    funded: int  # whole KRW
    votes: int
    rank: int


class Milestone(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    title: str
    due_on: dt.date
    done: bool
    source: str


class Photo(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    alt_text: str
    added_at: dt.datetime


class Payment(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    amount: int
    paid_on: dt.date
    note: str
    source: str


class ProjectDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """A funded project and everything recorded about carrying it out."""

    project: FundedProject
    status: str
    status_reason: str
    status_changed_at: dt.datetime | None
    milestones: list[Milestone]
    photos: list[Photo]
    payments: list[Payment]
    vote_closed_on: dt.date

    @property
    def spent(self) -> int:
        return sum(p.amount for p in self.payments)

    @property
    def spent_share(self) -> tuple[int, bool]:
        """(spent bar width in percent, capped at 100; over the funded amount)."""
        return machine.spending_share(self.project.funded, self.spent)

    @property
    def next_statuses(self) -> tuple[str, ...]:
        """What an official may choose: the next steps, or any other status as a correction."""
        if self.status in machine.FINAL:
            return tuple(s for s in machine.STATUSES if s != self.status)
        return machine.NEXT[self.status]


class MilestoneInput(msgspec.Struct, frozen=True, kw_only=True):
    title: str
    due_on: dt.date
    done: bool = False


# ----------------------------------------------------------------------------- reading


def vote_closed_on(cycle: dict[str, Any]) -> dt.date:
    """The (Seoul) day voting closed: no milestone of a funded project can come before it."""
    closed = cycle["closed_early_at"] or cycle["voting_close_at"]
    return closed.astimezone(clock.SEOUL).date()


async def approved_cycle(cycle_id: int) -> dict[str, Any]:
    """A cycle whose results two officials approved (404 otherwise: nothing is funded before)."""
    cycle = await get_cycle(cycle_id)
    if cycle["state"] != "approved":
        raise NotFoundError("Nothing is funded in this cycle yet: its results are not approved.")
    return cycle


async def funded_projects(cycle_id: int) -> list[FundedProject]:
    """Every project the official rule selected in an approved cycle, pot by pot, in rank order."""
    await approved_cycle(cycle_id)
    pots = {p["id"]: p for p in await pots_of(cycle_id)}
    projects = {p.id: p for p in await cycle_projects(cycle_id)}
    funded = []
    runs = sorted(
        (r for r in await current_runs(cycle_id) if r["official"]),
        key=lambda r: list(pots).index(r["pot"]) if r["pot"] in pots else 0,
    )
    for run in runs:
        outcome = {p["id"]: p for p in run["outcome"]["projects"]}
        for rank, pid in enumerate(run["outcome"]["selected"], start=1):
            project = projects.get(pid)
            funded.append(
                FundedProject(
                    project_id=pid,
                    cycle_id=cycle_id,
                    pot_id=run["pot"],
                    district_code=pots[run["pot"]]["district_code"],
                    project_code=project_code(pid),
                    title=project.title if project else f"PB-{pid}",
                    summary=project.summary if project else "",
                    category=project.category if project else "other",
                    funded=outcome[pid]["cost"],
                    votes=outcome[pid]["votes"],
                    rank=rank,
                )
            )
    return funded


def project_code(project_id: int) -> str:
    """The project's reference in the allocation push (voting.services.approvals)."""
    return f"PB-{project_id:05d}"


def pot_key(project: FundedProject) -> str:
    return project.district_code or CITY_WIDE_CODE


async def funded_project(cycle_id: int, project_id: int) -> FundedProject:
    for project in await funded_projects(cycle_id):
        if project.project_id == project_id:
            return project
    raise NotFoundError(NOT_FUNDED)


async def delivery_of(cycle_id: int, project_id: int) -> ProjectDelivery:
    """A funded project with its status, milestones (by date), photos and payments."""
    cycle = await approved_cycle(cycle_id)
    project = await funded_project(cycle_id, project_id)
    row = await Delivery.select().where(Delivery.project == project_id).first()
    milestones: list[Milestone] = []
    photos: list[Photo] = []
    payments: list[Payment] = []
    if row is not None:
        milestones = [
            Milestone(
                id=m["id"], title=m["title"], due_on=m["due_on"], done=m["done"], source=m["source"]
            )
            for m in await DeliveryMilestone.select()
            .where(DeliveryMilestone.delivery == row["id"])
            .order_by(DeliveryMilestone.due_on)
            .order_by(DeliveryMilestone.id)
        ]
        photos = [
            Photo(id=p["id"], alt_text=p["alt_text"], added_at=p["added_at"])
            for p in await DeliveryPhoto.select()
            .where(DeliveryPhoto.delivery == row["id"])
            .order_by(DeliveryPhoto.id)
        ]
        payments = [
            Payment(
                id=p["id"],
                amount=p["amount"],
                paid_on=p["paid_on"],
                note=p["note"],
                source=p["source"],
            )
            for p in await DeliveryPayment.select()
            .where(DeliveryPayment.delivery == row["id"])
            .order_by(DeliveryPayment.paid_on)
            .order_by(DeliveryPayment.id)
        ]
    return ProjectDelivery(
        project=project,
        status=row["status"] if row else "planned",
        status_reason=row["status_reason"] if row else "",
        status_changed_at=row["status_changed_at"] if row else None,
        milestones=milestones,
        photos=photos,
        payments=payments,
        vote_closed_on=vote_closed_on(cycle),
    )


# ----------------------------------------------------------------------------- writing


async def delivery_row(project: FundedProject) -> dict[str, Any]:
    """The project's delivery row, created as "planned" on its first update (inside a write transaction)."""
    row = await Delivery.select().where(Delivery.project == project.project_id).first()
    if row is not None:
        return row
    now = clock.now()
    await Delivery.insert(
        Delivery(
            cycle=project.cycle_id,
            pot=project.pot_id,
            project=project.project_id,
            project_code=project.project_code,
            status="planned",
            updated_at=now,
            created_at=now,
        )
    )
    return await Delivery.select().where(Delivery.project == project.project_id).first()


def _subject(project: FundedProject) -> str:
    return f"pb-project:{project.project_id}"


async def record_change(
    action: str, project: FundedProject, actor_id: int | None, source: str, **details: Any
) -> None:
    """Audit one change: the official's id, or no actor and ``source="connector"`` for a pull."""
    await audit.record(
        action,
        actor_id=actor_id,
        subject=_subject(project),
        cycle=project.cycle_id,
        source=source,
        **details,
    )


async def move_status(
    row: dict[str, Any],
    project: FundedProject,
    target: str,
    reason: str,
    actor_id: int | None,
    source: str,
) -> None:
    """THE place a delivery status changes (officials and connector pulls alike), audited.

    Followers of the project's proposal are told ("delivery-status", docs/notifications.md).
    """
    correction, refusal = machine.check_transition(row["status"], target, reason)
    if refusal is not None:
        raise InvalidInput(refusal.message, field=refusal.field, **refusal.params)
    now = clock.now()
    await Delivery.update(
        {
            Delivery.status: target,
            Delivery.status_reason: reason.strip()[:2000],
            Delivery.status_changed_at: now,
            Delivery.updated_at: now,
        }
    ).where(Delivery.id == row["id"])
    await record_change(
        "pb.delivery.status.corrected" if correction else "pb.delivery.status",
        project,
        actor_id,
        source,
        before=row["status"],
        after=target,
        reason=reason.strip()[:2000],
    )
    row["status"] = target
    # The proposal's followers hear of it in this transaction, once (docs/notifications.md).
    await announce(
        f"pb-project-{project.project_id}:delivery:{target}:{now:%Y%m%dT%H%M%S%f}",
        "delivery-status",
        'A project you follow, "%(title)s", is now: %(status)s.',
        targets=[("proposal", project.project_id)],
        params={"title": project.title, "status": {"message": machine.STATUS_LABELS[target], "params": {}}},
        link=f"/pb/cycles/{project.cycle_id}/delivery/projects/{project.project_id}",
    )


async def change_status(
    official_id: int, cycle_id: int, project_id: int, status: str, reason: str
) -> None:
    """An official moves a funded project's status (a reason for a cancellation or a correction)."""
    project = await funded_project(cycle_id, project_id)
    if len(reason) > 2000:
        raise InvalidInput("Keep it under %(n)s characters.", field="reason", n=2000)
    async with write_transaction(lock_key=f"pb-delivery-{project_id}"):
        row = await delivery_row(project)
        await move_status(row, project, status, reason, official_id, "official")


def checked_milestone(data: MilestoneInput, closed_on: dt.date) -> MilestoneInput:
    """A milestone's title and date, or the error beside the field."""
    title = " ".join(data.title.split())
    if not title:
        raise InvalidInput("Give the milestone a title.", field="title")
    if len(title) > 200:
        raise InvalidInput("Keep it under %(n)s characters.", field="title", n=200)
    if data.due_on < closed_on:
        raise InvalidInput(
            "A milestone cannot be dated before the vote closed on %(date)s.",
            field="due_on",
            date=closed_on.isoformat(),
        )
    if data.due_on.year > 2100:
        raise InvalidInput("Enter a date like 2027-03-31.", field="due_on")
    return MilestoneInput(title=title, due_on=data.due_on, done=data.done)


async def add_milestone(
    official_id: int, cycle_id: int, project_id: int, data: MilestoneInput
) -> int:
    """An official adds a dated milestone (not before the vote closed); returns its id."""
    cycle = await approved_cycle(cycle_id)
    project = await funded_project(cycle_id, project_id)
    data = checked_milestone(data, vote_closed_on(cycle))
    async with write_transaction(lock_key=f"pb-delivery-{project_id}"):
        row = await delivery_row(project)
        now = clock.now()
        inserted = await DeliveryMilestone.insert(
            DeliveryMilestone(
                delivery=row["id"],
                title=data.title,
                due_on=data.due_on,
                done=data.done,
                source="official",
                updated_at=now,
                created_at=now,
            )
        )
        milestone_id = inserted[0]["id"]
        await Delivery.update({Delivery.updated_at: now}).where(Delivery.id == row["id"])
        await record_change(
            "pb.delivery.milestone.added",
            project,
            official_id,
            "official",
            milestone=milestone_id,
            title=data.title,
            due_on=data.due_on.isoformat(),
            done=data.done,
        )
    return milestone_id


async def update_milestone(
    official_id: int, cycle_id: int, project_id: int, milestone_id: int, data: MilestoneInput
) -> None:
    """An official changes a milestone's title, date or whether it is done (old and new audited)."""
    cycle = await approved_cycle(cycle_id)
    project = await funded_project(cycle_id, project_id)
    data = checked_milestone(data, vote_closed_on(cycle))
    async with write_transaction(lock_key=f"pb-delivery-{project_id}"):
        before = (
            await DeliveryMilestone.select()
            .where(
                (DeliveryMilestone.id == milestone_id)
                & (DeliveryMilestone.delivery.project == project_id)
            )
            .first()
        )
        if before is None:
            raise NotFoundError("We could not find that milestone.")
        await DeliveryMilestone.update(
            {
                DeliveryMilestone.title: data.title,
                DeliveryMilestone.due_on: data.due_on,
                DeliveryMilestone.done: data.done,
                DeliveryMilestone.updated_at: clock.now(),
            }
        ).where(DeliveryMilestone.id == milestone_id)
        await record_change(
            "pb.delivery.milestone.changed",
            project,
            official_id,
            "official",
            milestone=milestone_id,
            before={
                "title": before["title"],
                "due_on": before["due_on"].isoformat(),
                "done": before["done"],
            },
            after={"title": data.title, "due_on": data.due_on.isoformat(), "done": data.done},
        )
