"""Executions pulled from the city budget system, mapped onto funded projects (``pb.apply_executions``).

The connector (``portal.connector.executions``) fetches ``GET /v1/executions`` and hands the rows here
through the manifest's ``provides``. Rows map onto funded projects of approved cycles of that fiscal year by
the ``project_code`` the allocation push used. Applying the same rows twice changes nothing: statuses move
only forward through the one status machine, milestones and payments are matched by the city's keys. Rows
that cannot apply are reported, never raised. Every change is audited with no actor and
``source="connector"``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from portal import clock
from portal.connector.schemas import Execution
from portal.db import write_transaction
from portal.errors import DomainError
from voting.compute import delivery as machine
from voting.services import delivery
from voting.tables import Cycle, Delivery, DeliveryMilestone, DeliveryPayment

SOURCE = "connector"


class PullIssue(msgspec.Struct, frozen=True, kw_only=True):
    """A row (or part of one) not applied, and why, in English for the operator."""

    project_code: str
    problem: str


class PullReport(msgspec.Struct, kw_only=True):
    """What one pull did: rows seen, projects changed and the issues."""

    fiscal_year: int
    rows: int = 0
    changed: list[str] = msgspec.field(default_factory=list)
    unchanged: int = 0
    issues: list[PullIssue] = msgspec.field(default_factory=list)


async def funded_by_code(fiscal_year: int) -> dict[str, tuple[delivery.FundedProject, Any]]:
    """Funded projects of the fiscal year's approved cycles by project code, with their vote's close day."""
    found: dict[str, tuple[delivery.FundedProject, Any]] = {}
    cycles = await Cycle.select().where(
        (Cycle.fiscal_year == fiscal_year) & (Cycle.state == "approved")
    )
    for cycle in cycles:
        closed_on = delivery.vote_closed_on(cycle)
        for project in await delivery.funded_projects(cycle["id"]):
            found[project.project_code] = (project, closed_on)
    return found


async def apply_executions(fiscal_year: int, executions: list[Execution]) -> PullReport:
    """Apply the city's execution rows to funded projects; returns what changed and what did not apply."""
    report = PullReport(fiscal_year=fiscal_year, rows=len(executions))
    funded = await funded_by_code(fiscal_year)
    for execution in executions:
        if execution.project_code not in funded:
            report.issues.append(
                PullIssue(
                    project_code=execution.project_code,
                    problem=f"no project funded in fiscal year {fiscal_year} has this code",
                )
            )
            continue
        project, closed_on = funded[execution.project_code]
        issues: list[str] = []
        async with write_transaction(lock_key=f"pb-delivery-{project.project_id}"):
            changed = await _apply_one(project, closed_on, execution, issues)
        report.issues += [PullIssue(project_code=execution.project_code, problem=p) for p in issues]
        if changed:
            report.changed.append(execution.project_code)
        else:
            report.unchanged += 1
    return report


async def _apply_one(
    project: delivery.FundedProject, closed_on: Any, execution: Execution, issues: list[str]
) -> bool:
    row = await Delivery.select().where(Delivery.project == project.project_id).first()
    current = row["status"] if row else "planned"
    if (
        row is None
        and execution.status == "planned"
        and not execution.milestones
        and not execution.payments
    ):
        return False  # nothing to record: a funded project without a row is planned
    row = row or await delivery.delivery_row(project)
    changed = await _apply_status(row, project, current, execution, issues)
    changed |= await _apply_milestones(row, project, closed_on, execution, issues)
    changed |= await _apply_payments(row, project, execution)
    return changed


async def _apply_status(
    row: dict[str, Any],
    project: delivery.FundedProject,
    current: str,
    execution: Execution,
    issues: list[str],
) -> bool:
    path = machine.forward_path(current, execution.status)
    if path is None:
        issues.append(
            f"the city reports {execution.status} but the project is {current} here; "
            "an official must correct it on the project's delivery page"
        )
        return False
    for step in path:
        reason = execution.status_reason or (
            "cancelled by the city budget system" if step == "cancelled" else ""
        )
        try:
            await delivery.move_status(row, project, step, reason, None, SOURCE)
        except DomainError as exc:  # pragma: no cover - forward_path only gives allowed steps
            issues.append(f"status {step} refused: {exc.message}")
            return False
    return bool(path)


async def _apply_milestones(
    row: dict[str, Any],
    project: delivery.FundedProject,
    closed_on: Any,
    execution: Execution,
    issues: list[str],
) -> bool:
    held = {
        m["external_key"]: m
        for m in await DeliveryMilestone.select().where(
            (DeliveryMilestone.delivery == row["id"]) & (DeliveryMilestone.source == SOURCE)
        )
    }
    changed = False
    for milestone in execution.milestones:
        try:
            data = delivery.checked_milestone(
                delivery.MilestoneInput(
                    title=milestone.title, due_on=milestone.due_on, done=milestone.done
                ),
                closed_on,
            )
        except DomainError as exc:
            text = exc.message % exc.params if exc.params else exc.message
            issues.append(f"milestone {milestone.key} not applied: {text}")
            continue
        after = {"title": data.title, "due_on": data.due_on, "done": data.done}
        before = held.get(milestone.key)
        if before is not None and all(before[k] == v for k, v in after.items()):
            continue
        changed = True
        now = clock.now()
        if before is None:
            await DeliveryMilestone.insert(
                DeliveryMilestone(
                    delivery=row["id"],
                    source=SOURCE,
                    external_key=milestone.key,
                    updated_at=now,
                    created_at=now,
                    **after,
                )
            )
            action = "pb.delivery.milestone.added"
        else:
            await DeliveryMilestone.update({**after, "updated_at": now}).where(
                DeliveryMilestone.id == before["id"]
            )
            action = "pb.delivery.milestone.changed"
        await delivery.record_change(
            action,
            project,
            None,
            SOURCE,
            key=milestone.key,
            title=data.title,
            due_on=data.due_on.isoformat(),
            done=data.done,
        )
    return changed


async def _apply_payments(
    row: dict[str, Any], project: delivery.FundedProject, execution: Execution
) -> bool:
    held = {
        p["external_key"]: p
        for p in await DeliveryPayment.select().where(
            (DeliveryPayment.delivery == row["id"]) & (DeliveryPayment.source == SOURCE)
        )
    }
    changed = False
    for payment in execution.payments:
        after = {
            "amount": int(payment.amount),
            "paid_on": payment.paid_on,
            "note": " ".join(payment.note.split()),
        }
        before = held.get(payment.key)
        if before is not None and all(before[k] == v for k, v in after.items()):
            continue
        changed = True
        if before is None:
            await DeliveryPayment.insert(
                DeliveryPayment(
                    delivery=row["id"],
                    source=SOURCE,
                    external_key=payment.key,
                    created_at=clock.now(),
                    **after,
                )
            )
        else:
            await DeliveryPayment.update(after).where(DeliveryPayment.id == before["id"])
        await delivery.record_change(
            "pb.delivery.payment.pulled",
            project,
            None,
            SOURCE,
            key=payment.key,
            amount=after["amount"],
            paid_on=payment.paid_on.isoformat(),
        )
    return changed
