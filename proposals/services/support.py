"""Supports (공감): verified residents support proposals during a cycle's support phase; the phase's
end shortlists each pot's most supported proposals for feasibility review.

Counts are public; who supported is never shown to anyone (no page, no API, no audit event names a
supporter: the audit chain is readable by officials). A person sees only their own supports.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Any

import asyncpg
from piccolo.query.functions.aggregate import Count

from portal import audit, clock
from portal.db import write_transaction
from portal.errors import Conflict, NotAllowed
from portal.identity import CurrentUser
from proposals.community_tables import ProposalSupport, ShortlistEntry
from proposals.compute.shortlist import Supported, shortlist
from proposals.services.browsing import ProposalRecord, get
from proposals.tables import Proposal
from voting.services import cycles as voting
from voting.services.lifecycle import has_support_phase
from voting.tables import Cycle

ALREADY = "You already support this proposal. You can withdraw your support until the support phase ends."


@dataclass(frozen=True)
class SupportBox:
    """What a proposal's page shows about supports."""

    count: int
    phase_open: bool  # the cycle's support phase is on and the proposal takes supports
    supported: bool  # by the viewer
    can_support: bool  # the viewer may support it (verified resident of its pot)
    close_at: dt.datetime | None
    shortlisted: bool | None  # after the phase: whether it went to review; None before or without


@dataclass(frozen=True)
class PreviewRow:
    proposal_id: int
    title: str
    supports: int
    shortlisted: bool


@dataclass(frozen=True)
class PotPreview:
    pot_id: int
    name: str
    rows: list[PreviewRow]


async def counts_of(proposal_ids: list[int]) -> dict[int, int]:
    """Supports per proposal (public)."""
    if not proposal_ids:
        return {}
    rows = await ProposalSupport.select(
        ProposalSupport.proposal, Count(alias="n")
    ).where(ProposalSupport.proposal.is_in(proposal_ids)).group_by(ProposalSupport.proposal)
    return {row["proposal"]: row["n"] for row in rows}


def _may_support(user: CurrentUser | None, pot: dict[str, Any]) -> bool:
    return bool(
        user
        and user.residency_verified
        and pot["district_code"] in (None, user.district_code)
    )


async def support_box(found: ProposalRecord, viewer: CurrentUser | None) -> SupportBox:
    cycle = await voting.get_cycle(found.cycle)
    pot = await voting.get_pot(found.cycle, found.pot)
    count = (await counts_of([found.id])).get(found.id, 0)
    supported = bool(
        viewer
        and await ProposalSupport.exists().where(
            (ProposalSupport.proposal == found.id) & (ProposalSupport.supporter == viewer.id)
        )
    )
    entry = await ShortlistEntry.select(ShortlistEntry.shortlisted).where(
        ShortlistEntry.proposal == found.id
    ).first()
    return SupportBox(
        count=count,
        phase_open=voting.phase_of(cycle) == "support" and found.status == "submitted",
        supported=supported,
        can_support=_may_support(viewer, pot),
        close_at=cycle["support_close_at"],
        shortlisted=entry["shortlisted"] if entry else None,
    )


async def _check_supportable(user: CurrentUser, found: ProposalRecord, cycle: dict[str, Any]) -> None:
    """Refusals in the order a person can act on them; ``cycle`` is read inside the transaction."""
    if not user.residency_verified:
        raise NotAllowed(
            "Only verified residents can support proposals. Verify your residency on your account page.",
            field="support",
        )
    pot = await voting.get_pot(found.cycle, found.pot)
    if not _may_support(user, pot):
        raise NotAllowed(
            "You can support proposals of the city-wide pot and of your own district.",
            field="support",
        )
    if voting.phase_of(cycle) != "support":
        raise Conflict("Supports are taken only during the support phase.", field="support")
    if found.status != "submitted":
        raise Conflict("This proposal no longer takes supports.", field="support")


async def support(user: CurrentUser, proposal_id: int) -> int:
    """Support a proposal once; a second support is refused with a clear message. Returns the count."""
    found = await get(proposal_id, user)
    try:
        # The cycle's lock: a support is either counted by the phase's end or refused after it.
        async with write_transaction(lock_key=f"pb-cycle-{found.cycle}"):
            cycle = await Cycle.select().where(Cycle.id == found.cycle).first()
            await _check_supportable(user, found, cycle)
            mine = (ProposalSupport.proposal == proposal_id) & (ProposalSupport.supporter == user.id)
            if await ProposalSupport.exists().where(mine):
                raise Conflict(ALREADY, field="support")
            await ProposalSupport.insert(
                ProposalSupport(proposal=proposal_id, supporter=user.id, created_at=clock.now())
            )
    except (sqlite3.IntegrityError, asyncpg.UniqueViolationError) as exc:
        # The unique index caught a double click that raced past the check.
        raise Conflict(ALREADY, field="support") from exc
    return (await counts_of([proposal_id])).get(proposal_id, 0)


async def withdraw_support(user: CurrentUser, proposal_id: int) -> int:
    """Take a support back, only while the support phase lasts. Returns the count."""
    found = await get(proposal_id, user)
    async with write_transaction(lock_key=f"pb-cycle-{found.cycle}"):
        cycle = await Cycle.select().where(Cycle.id == found.cycle).first()
        if voting.phase_of(cycle) != "support":
            raise Conflict(
                "The support phase has ended; supports can no longer be withdrawn.", field="support"
            )
        mine = (ProposalSupport.proposal == proposal_id) & (ProposalSupport.supporter == user.id)
        if not await ProposalSupport.exists().where(mine):
            raise Conflict("You do not support this proposal.", field="support")
        await ProposalSupport.delete().where(mine)
    return (await counts_of([proposal_id])).get(proposal_id, 0)


# ---------------------------------------------------------------- the shortlist


async def _supported_in(cycle_id: int) -> list[tuple[dict[str, Any], int]]:
    """The cycle's proposals still in the running (submitted), each with its supports."""
    proposals = await Proposal.select(Proposal.id, Proposal.pot, Proposal.title).where(
        (Proposal.cycle == cycle_id) & (Proposal.status == "submitted")
    ).order_by(Proposal.id)
    counts = await counts_of([p["id"] for p in proposals])
    return [(p, counts.get(p["id"], 0)) for p in proposals]


def _chosen(cycle: dict[str, Any], supported: list[tuple[dict[str, Any], int]]) -> set[int]:
    return shortlist(
        [Supported(p["id"], p["pot"], n) for p, n in supported],
        cycle["support_rule"] or "threshold",
        cycle["support_cutoff"] or 1,
    )


async def shortlist_preview(cycle_id: int) -> list[PotPreview]:
    """What the shortlist would be if the phase ended now, pot by pot, most supported first."""
    cycle = await voting.get_cycle(cycle_id)
    drawn = await ShortlistEntry.select(
        ShortlistEntry.proposal, ShortlistEntry.supports, ShortlistEntry.shortlisted
    ).where(ShortlistEntry.cycle == cycle_id)
    if drawn:  # the phase has ended: the shortlist as it was drawn
        titles = await Proposal.select(Proposal.id, Proposal.pot, Proposal.title).where(
            Proposal.id.is_in([d["proposal"] for d in drawn])
        )
        by_id = {t["id"]: t for t in titles}
        supported = [(by_id[d["proposal"]], d["supports"]) for d in drawn]
        chosen = {d["proposal"] for d in drawn if d["shortlisted"]}
    else:
        supported = await _supported_in(cycle_id)
        chosen = _chosen(cycle, supported) if has_support_phase(cycle) else set()
    pots = await voting.pots_of(cycle_id)
    out = []
    for pot in pots:
        rows = [
            PreviewRow(p["id"], p["title"], n, p["id"] in chosen)
            for p, n in supported
            if p["pot"] == pot["id"]
        ]
        if rows:
            rows.sort(key=lambda r: (-r.supports, r.proposal_id))
            out.append(PotPreview(pot["id"], voting.pot_name(pot), rows))
    return out


async def shortlist_supported(cycle: dict[str, Any], actor_id: int | None, at: dt.datetime) -> None:
    """The support phase ends (called by the lifecycle step, inside its transaction): record each
    proposal's supports and whether it goes to review. The one place a proposal is shortlisted."""
    supported = await _supported_in(cycle["id"])
    chosen = _chosen(cycle, supported)
    if supported:
        await ShortlistEntry.insert(
            *[
                ShortlistEntry(
                    proposal=p["id"],
                    cycle=cycle["id"],
                    pot=p["pot"],
                    supports=n,
                    shortlisted=p["id"] in chosen,
                    decided_at=at,
                )
                for p, n in supported
            ]
        )
    await audit.record(
        "pb.support.shortlisted",
        actor_id=actor_id,
        subject=f"pb-cycle:{cycle['id']}",
        rule=cycle["support_rule"],
        cutoff=cycle["support_cutoff"],
        shortlisted=sorted(chosen),
        proposals=len(supported),
    )


async def check_reviewable(found: ProposalRecord, cycle: dict[str, Any]) -> None:
    """In a cycle with a support phase, only shortlisted proposals are reviewed, once it has ended."""
    if not has_support_phase(cycle):
        return
    if voting.phase_of(cycle) in ("proposals", "support"):
        raise Conflict("Proposals are reviewed once the support phase has ended.")
    entry = await ShortlistEntry.select(ShortlistEntry.shortlisted).where(
        ShortlistEntry.proposal == found.id
    ).first()
    if not entry or not entry["shortlisted"]:
        raise Conflict("Only proposals shortlisted by the support phase are reviewed.")


async def shortlisted_ids(cycle_id: int) -> dict[int, int]:
    """The shortlisted proposals of a cycle and their supports at the phase's end."""
    rows = await ShortlistEntry.select(ShortlistEntry.proposal, ShortlistEntry.supports).where(
        (ShortlistEntry.cycle == cycle_id) & ShortlistEntry.shortlisted.eq(True)
    )
    return {row["proposal"]: row["supports"] for row in rows}
