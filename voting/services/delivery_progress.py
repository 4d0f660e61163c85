"""A cycle's delivery dashboard: every funded project's status and spending, by pot and by category."""

from __future__ import annotations

from typing import Any

import msgspec

from voting.compute import delivery as machine
from voting.services.delivery import FundedProject, approved_cycle, funded_projects, pot_key
from voting.tables import Delivery, DeliveryPayment


class DashboardRow(msgspec.Struct, frozen=True, kw_only=True):
    project: FundedProject
    status: str
    spent: int


class Dashboard(msgspec.Struct, kw_only=True):
    """Funded projects with status and spending; groups are ``machine.GroupProgress``."""

    cycle: dict[str, Any]
    rows: list[DashboardRow]
    by_pot: list[Any]
    by_category: list[Any]
    total: Any


async def dashboard(cycle_id: int) -> Dashboard:
    """Progress of an approved cycle's funded projects: counts per status, spent against funded."""
    cycle = await approved_cycle(cycle_id)
    funded = await funded_projects(cycle_id)
    deliveries = {
        r["project"]: r
        for r in await Delivery.select(Delivery.id, Delivery.project, Delivery.status).where(
            Delivery.cycle == cycle_id
        )
    }
    spent: dict[int, int] = {}
    if deliveries:
        ids = [r["id"] for r in deliveries.values()]
        for payment in await DeliveryPayment.select(
            DeliveryPayment.delivery, DeliveryPayment.amount
        ).where(DeliveryPayment.delivery.is_in(ids)):
            spent[payment["delivery"]] = spent.get(payment["delivery"], 0) + payment["amount"]
    rows = []
    for project in funded:
        row = deliveries.get(project.project_id)
        rows.append(
            DashboardRow(
                project=project,
                status=row["status"] if row else "planned",
                spent=spent.get(row["id"], 0) if row else 0,
            )
        )
    progress = [
        machine.ProjectProgress(
            project_id=r.project.project_id,
            pot_key=pot_key(r.project),
            category=r.project.category,
            status=r.status,
            funded=r.project.funded,
            spent=r.spent,
        )
        for r in rows
    ]
    return Dashboard(
        cycle=cycle,
        rows=rows,
        by_pot=machine.progress_by(progress, lambda p: p.pot_key),
        by_category=machine.progress_by(
            sorted(progress, key=lambda p: p.category), lambda p: p.category
        ),
        total=machine.totals(progress),
    )
