"""The fraud screening report of a cycle: its flags, quarantines of flagged casts, the acknowledgement.

Flags come from ``voting.compute.screening`` over the keyed signals (``voting.services.signals``),
the stations' tally sheets and the verified identities' ages. Every write here is audited; no
address, key of a person, ballot tag or ballot content reaches the audit log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from portal import audit, clock
from portal.ages import age_on, seoul_date
from portal.canonical import canonical_json
from portal.db import raw, write_transaction
from portal.errors import Conflict, InvalidInput, NotFoundError
from portal.tables import User
from voting.compute import screening
from voting.services.cycles import get_cycle, is_closed
from voting.services.results import compute_results
from voting.tables import Quarantine, ScreenCast, ScreeningAck, ScreenSignal


@dataclass(frozen=True)
class QuarantineView:
    group_id: str
    reason: str
    ballots: int
    official: str
    quarantined_at: dt.datetime


@dataclass(frozen=True)
class AckView:
    official: str
    flags: int
    acknowledged_at: dt.datetime


@dataclass(frozen=True)
class Report:
    cycle: dict[str, Any]
    flags: list[screening.Flag]
    quarantines: list[QuarantineView]
    acknowledgements: list[AckView]
    signals_kept: bool  # False once the results were approved and the signals deleted
    acknowledged_as_shown: bool  # an acknowledgement holds for this very report (flags and quarantines)

    @property
    def quarantined_groups(self) -> set[str]:
        return {q.group_id for q in self.quarantines}


async def _signals(cycle: dict[str, Any]) -> list[screening.Signal]:
    # Sign-ups keep being noted for every uncertified cycle; after its vote closed they say nothing
    # about it, and leaving them out keeps the report (and its acknowledgement) stable after close.
    until = cycle["closed_early_at"] or cycle["voting_close_at"]
    rows = await ScreenSignal.select().where(
        (ScreenSignal.cycle == cycle["id"]) & (ScreenSignal.minute <= until)
    )
    return [
        screening.Signal(r["kind"], r["address_key"], r["device_key"], r["minute"], r["events"])
        for r in rows
    ]


async def _stations(cycle_id: int) -> list[screening.StationState]:
    rows = await raw(
        "SELECT s.name, s.closed_at, t.id AS tally, "
        "(SELECT COUNT(*) FROM pb_paper_batch b WHERE b.station = s.id AND b.state <> 'counted') AS open_batches "
        "FROM pb_station s LEFT JOIN pb_station_tally t ON t.station = s.id WHERE s.cycle = {} ORDER BY s.id",
        cycle_id,
    )
    return [
        screening.StationState(
            r["name"], r["tally"] is not None, r["closed_at"] is not None, r["open_batches"]
        )
        for r in rows
    ]


async def _ages(cycle: dict[str, Any]) -> list[int]:
    """Ages on the cycle's last voting day of every verified identity (no one is named)."""
    day = seoul_date(cycle["closed_early_at"] or cycle["voting_close_at"])
    rows = await User.select(User.birth_date).where(User.birth_date.is_not_null())
    return [age_on(r["birth_date"], day) for r in rows]


async def flags_of(cycle: dict[str, Any]) -> list[screening.Flag]:
    return screening.screen(
        await _signals(cycle),
        await _stations(cycle["id"]),
        await _ages(cycle),
        cycle["min_voting_age"],
    )


async def report_of(cycle_id: int) -> Report:
    """The cycle's screening report for officials."""
    cycle = await get_cycle(cycle_id)
    quarantines = (
        await Quarantine.select(
            Quarantine.group_id,
            Quarantine.reason,
            Quarantine.ballots,
            Quarantine.quarantined_at,
            Quarantine.official.display_name,
        )
        .where(Quarantine.cycle == cycle_id)
        .order_by(Quarantine.id)
    )
    acks = (
        await ScreeningAck.select(
            ScreeningAck.flags, ScreeningAck.acknowledged_at, ScreeningAck.official.display_name
        )
        .where(ScreeningAck.cycle == cycle_id)
        .order_by(ScreeningAck.id)
    )
    flags = await flags_of(cycle)
    digest = screening.report_sha256(flags, (q["group_id"] for q in quarantines))
    return Report(
        cycle,
        flags,
        [
            QuarantineView(
                q["group_id"], q["reason"], q["ballots"], q["official.display_name"] or "", q["quarantined_at"]
            )
            for q in quarantines
        ],
        [AckView(a["official.display_name"] or "", a["flags"], a["acknowledged_at"]) for a in acks],
        cycle["state"] != "approved",
        await _acknowledged(cycle_id, digest),
    )


async def _current_digest(cycle: dict[str, Any]) -> str:
    quarantined = await Quarantine.select(Quarantine.group_id).where(Quarantine.cycle == cycle["id"])
    return screening.report_sha256(await flags_of(cycle), (q["group_id"] for q in quarantined))


async def _acknowledged(cycle_id: int, digest: str) -> bool:
    return await ScreeningAck.exists().where(
        (ScreeningAck.cycle == cycle_id) & (ScreeningAck.report_sha256 == digest)
    )


async def quarantine_group(official_id: int, cycle_id: int, group_id: str, reason: str) -> int:
    """Set a flagged group's cast ballots aside from the count, with a reason; returns how many.

    The ballots are found by their keyed tags in the cast links, never read; a closed cycle's
    results are counted again at once.
    """
    cycle = await get_cycle(cycle_id)
    reason = reason.strip()
    if not 5 <= len(reason) <= 1000:
        raise InvalidInput("Give a reason of 5 to 1000 characters.", field="reason")
    if cycle["state"] == "approved":
        raise Conflict("These results are already approved.")
    flag = next((f for f in await flags_of(cycle) if f.group_id == group_id), None)
    if flag is None or not flag.quarantinable:
        raise NotFoundError("We could not find that flagged group.")
    column = ScreenCast.address_key if flag.key_type == "address" else ScreenCast.device_key
    rows = await ScreenCast.select(ScreenCast.ballot_tag).where(
        (ScreenCast.cycle == cycle_id)
        & (column == flag.key)
        & (ScreenCast.minute >= flag.first)
        & (ScreenCast.minute <= flag.last)
    )
    tags = sorted({r["ballot_tag"] for r in rows})
    async with write_transaction(lock_key=f"pb-cycle-{cycle_id}"):
        if await Quarantine.exists().where(
            (Quarantine.cycle == cycle_id) & (Quarantine.group_id == group_id)
        ):
            raise Conflict("This group is already quarantined.")
        await Quarantine.insert(
            Quarantine(
                cycle=cycle_id,
                group_id=group_id,
                reason=reason,
                ballot_tags=canonical_json(tags),
                ballots=len(tags),
                official=official_id,
                quarantined_at=clock.now(),
            )
        )
        await audit.record(
            "pb.screening.quarantined",
            actor_id=official_id,
            subject=f"pb-cycle:{cycle_id}",
            group=group_id,
            check=flag.check,
            ballots=len(tags),
            reason=reason,
        )
    if is_closed(cycle):
        await compute_results(cycle_id, official_id)
    return len(tags)


async def release_group(official_id: int, cycle_id: int, group_id: str, reason: str) -> None:
    """The review found nothing: the group's ballots count again (audited, with a reason)."""
    cycle = await get_cycle(cycle_id)
    reason = reason.strip()
    if not 5 <= len(reason) <= 1000:
        raise InvalidInput("Give a reason of 5 to 1000 characters.", field="release_reason")
    if cycle["state"] == "approved":
        raise Conflict("These results are already approved.")
    async with write_transaction(lock_key=f"pb-cycle-{cycle_id}"):
        row = (
            await Quarantine.select(Quarantine.id, Quarantine.ballots)
            .where((Quarantine.cycle == cycle_id) & (Quarantine.group_id == group_id))
            .first()
        )
        if row is None:
            raise NotFoundError("We could not find that quarantined group.")
        await Quarantine.delete().where(Quarantine.id == row["id"])
        await audit.record(
            "pb.screening.released",
            actor_id=official_id,
            subject=f"pb-cycle:{cycle_id}",
            group=group_id,
            ballots=row["ballots"],
            reason=reason,
        )
    if is_closed(cycle):
        await compute_results(cycle_id, official_id)


async def acknowledge(official_id: int, cycle_id: int) -> None:
    """An official acknowledges the report (after close): the first approval needs it."""
    cycle = await get_cycle(cycle_id)
    if not is_closed(cycle):
        raise Conflict("The report can be acknowledged once voting has closed.")
    if cycle["state"] == "approved":
        raise Conflict("These results are already approved.")
    flags = await flags_of(cycle)
    digest = await _current_digest(cycle)
    async with write_transaction(lock_key=f"pb-cycle-{cycle_id}"):
        await ScreeningAck.insert(
            ScreeningAck(
                cycle=cycle_id,
                official=official_id,
                flags=len(flags),
                report_sha256=digest,
                acknowledged_at=clock.now(),
            )
        )
        await audit.record(
            "pb.screening.acknowledged",
            actor_id=official_id,
            subject=f"pb-cycle:{cycle_id}",
            flags=len(flags),
            report_sha256=digest,
        )


async def require_acknowledged(cycle_id: int) -> None:
    """The first approval needs an acknowledgement of the report as it stands now."""
    if await _acknowledged(cycle_id, await _current_digest(await get_cycle(cycle_id))):
        return
    if await ScreeningAck.exists().where(ScreeningAck.cycle == cycle_id):
        raise Conflict(
            "The fraud screening report changed after it was acknowledged (a flag or a quarantine): "
            "an official must acknowledge it again before the results can be approved."
        )
    raise Conflict(
        "An official must acknowledge the fraud screening report before the results can be approved."
    )


async def forget_signals(official_id: int, cycle_id: int) -> None:
    """At certification (inside the approval's transaction): delete the cycle's signals and cast links."""
    signals = await ScreenSignal.count().where(ScreenSignal.cycle == cycle_id)
    links = await ScreenCast.count().where(ScreenCast.cycle == cycle_id)
    await ScreenSignal.delete().where(ScreenSignal.cycle == cycle_id)
    await ScreenCast.delete().where(ScreenCast.cycle == cycle_id)
    await audit.record(
        "pb.screening.signals_deleted",
        actor_id=official_id,
        subject=f"pb-cycle:{cycle_id}",
        signal_rows=signals,
        cast_links=links,
    )


def short_key(key: str) -> str:
    """A client key as the report shows it: enough to tell groups apart, not the whole HMAC."""
    return key[:8]

