"""Money spent on a funded project, in whole KRW: above the funded amount it is kept, with a warning."""

from __future__ import annotations

import datetime as dt

import msgspec

from portal import clock
from portal.db import write_transaction
from portal.errors import InvalidInput, NotFoundError
from voting.services.delivery import delivery_row, funded_project, record_change
from voting.tables import DeliveryPayment


class SpendingResult(msgspec.Struct, frozen=True, kw_only=True):
    """The project's spending after a payment; ``over_by`` > 0 when above the funded amount (a warning)."""

    spent: int
    funded: int

    @property
    def over_by(self) -> int:
        return max(0, self.spent - self.funded)


async def add_payment(
    official_id: int, cycle_id: int, project_id: int, amount: int, paid_on: dt.date, note: str
) -> SpendingResult:
    """An official records money spent (KRW > 0, not in the future). Going above the funded amount is
    allowed (cost overruns happen and must be shown) and answered with a warning: ``over_by``."""
    project = await funded_project(cycle_id, project_id)
    note = " ".join(note.split())
    if amount <= 0:
        raise InvalidInput("Enter an amount above zero.", field="amount")
    if paid_on > clock.now().astimezone(clock.SEOUL).date():
        raise InvalidInput(
            "Record money already spent: the date cannot be in the future.", field="paid_on"
        )
    if len(note) > 200:
        raise InvalidInput("Keep it under %(n)s characters.", field="note", n=200)
    async with write_transaction(lock_key=f"pb-delivery-{project_id}"):
        row = await delivery_row(project)
        inserted = await DeliveryPayment.insert(
            DeliveryPayment(
                delivery=row["id"],
                amount=amount,
                paid_on=paid_on,
                note=note,
                source="official",
                entered_by=official_id,
                created_at=clock.now(),
            )
        )
        spent = await _spent(row["id"])
        await record_change(
            "pb.delivery.payment.added",
            project,
            official_id,
            "official",
            payment=inserted[0]["id"],
            amount=amount,
            paid_on=paid_on.isoformat(),
            note=note,
            spent=spent,
        )
    return SpendingResult(spent=spent, funded=project.funded)


async def remove_payment(official_id: int, cycle_id: int, project_id: int, payment_id: int) -> None:
    """An official removes a payment entered by mistake (audited with its amount)."""
    project = await funded_project(cycle_id, project_id)
    async with write_transaction(lock_key=f"pb-delivery-{project_id}"):
        row = (
            await DeliveryPayment.select()
            .where(
                (DeliveryPayment.id == payment_id)
                & (DeliveryPayment.delivery.project == project_id)
            )
            .first()
        )
        if row is None:
            raise NotFoundError("We could not find that payment.")
        await DeliveryPayment.delete().where(DeliveryPayment.id == payment_id)
        await record_change(
            "pb.delivery.payment.removed",
            project,
            official_id,
            "official",
            payment=payment_id,
            amount=row["amount"],
            source_of_payment=row["source"],
        )


async def _spent(delivery_id: int) -> int:
    rows = await DeliveryPayment.select(DeliveryPayment.amount).where(
        DeliveryPayment.delivery == delivery_id
    )
    return sum(r["amount"] for r in rows)
