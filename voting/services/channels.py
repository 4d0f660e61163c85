"""Weighted channels of a cycle: committee members, the district assembly's counts, and the weighted count's inputs."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from portal import audit, clock
from portal.db import write_transaction
from portal.errors import Conflict, InvalidInput, NotFoundError
from portal.identity import CurrentUser
from portal.tables import User
from voting.compute import channels as weighted
from voting.compute.results import collector_paused
from voting.projects import pot_projects
from voting.services import signals
from voting.services.cycles import get_cycle, get_pot
from voting.tables import AssemblyCount, CommitteeMember, Cycle


def weights_of(cycle: Mapping[str, Any]) -> dict[str, int]:
    return weighted.weights_of(cycle["channel_weights"])


def ballot_channels(cycle: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Which ``Ballot.channel`` values each weighted channel counts (stations with online or apart)."""
    counted = dict(weighted.BALLOT_CHANNELS)
    if cycle["stations_with_online"]:
        counted["online"] = counted["online"] + counted.pop("stations")
    return counted


def online_ballot_channels(cycle: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The ballot channels of the online count (Equal Shares' comparison); None: every ballot."""
    if cycle["results_rule"] != weighted.RULE:
        return None
    return ballot_channels(cycle)["online"]


# ---------------------------------------------------------------- the committee


@dataclass(frozen=True)
class Member:
    id: int
    user_id: int
    display_name: str
    email: str
    has_role: bool  # holds the committee role (without it, their ballots go online)
    added_at: dt.datetime


async def committee_of(cycle_id: int) -> list[Member]:
    rows = (
        await CommitteeMember.select(
            CommitteeMember.id,
            CommitteeMember.user,
            CommitteeMember.added_at,
            CommitteeMember.user.display_name,
            CommitteeMember.user.email,
            CommitteeMember.user.roles,
        )
        .where(CommitteeMember.cycle == cycle_id)
        .order_by(CommitteeMember.id)
    )
    return [
        Member(
            r["id"],
            r["user"],
            r["user.display_name"],
            r["user.email"],
            "committee" in r["user.roles"].split(","),
            r["added_at"],
        )
        for r in rows
    ]


async def _open_for_committee(cycle_id: int) -> dict[str, Any]:
    cycle = await get_cycle(cycle_id)
    if cycle["state"] not in ("proposals", "support", "review"):
        raise Conflict("The committee is fixed once voting opens.", field="email")
    return cycle


async def add_member(official_id: int, cycle_id: int, email: str) -> None:
    """Make an account with the committee role a member of the cycle's committee (before voting)."""
    await _open_for_committee(cycle_id)
    user = await User.select(User.id, User.roles).where(User.email == email.strip().lower()).first()
    if user is None:
        raise InvalidInput("No account has this email address.", field="email")
    if "committee" not in user["roles"].split(","):
        raise InvalidInput("This account does not have the committee role.", field="email")
    async with write_transaction(lock_key=f"pb-cycle-{cycle_id}"):
        exists = await CommitteeMember.exists().where(
            (CommitteeMember.cycle == cycle_id) & (CommitteeMember.user == user["id"])
        )
        if exists:
            raise InvalidInput("This account is already a member.", field="email")
        await CommitteeMember.insert(
            CommitteeMember(
                cycle=cycle_id, user=user["id"], added_by=official_id, added_at=clock.now()
            )
        )
        await audit.record(
            "pb.committee.added",
            actor_id=official_id,
            subject=f"pb-cycle:{cycle_id}",
            user=user["id"],
        )


async def remove_member(official_id: int, cycle_id: int, member_id: int) -> None:
    await _open_for_committee(cycle_id)
    async with write_transaction(lock_key=f"pb-cycle-{cycle_id}"):
        row = (
            await CommitteeMember.select(CommitteeMember.user)
            .where((CommitteeMember.id == member_id) & (CommitteeMember.cycle == cycle_id))
            .first()
        )
        if row is None:
            raise NotFoundError("We could not find that committee member.")
        await CommitteeMember.delete().where(CommitteeMember.id == member_id)
        await audit.record(
            "pb.committee.removed",
            actor_id=official_id,
            subject=f"pb-cycle:{cycle_id}",
            user=row["user"],
        )


async def casts_in_committee(user: CurrentUser, cycle_id: int) -> bool:
    """Whether this voter's ballots go to the committee channel: the role, membership, a committee weight."""
    if not user.has_role("committee"):
        return False  # no query for everyone else
    cycle = await Cycle.select(Cycle.channel_weights).where(Cycle.id == cycle_id).first()
    if cycle is None or "committee" not in weights_of(cycle):
        return False
    return await CommitteeMember.exists().where(
        (CommitteeMember.cycle == cycle_id) & (CommitteeMember.user == user.id)
    )


# ---------------------------------------------------------------- the district assembly


async def assembly_counts(pot_id: int) -> dict[int, int]:
    rows = await AssemblyCount.select(AssemblyCount.project, AssemblyCount.approvals).where(
        AssemblyCount.pot == pot_id
    )
    return {r["project"]: r["approvals"] for r in rows}


async def save_assembly_counts(
    official_id: int, cycle_id: int, pot_id: int, counts: Mapping[int, int]
) -> None:
    """Store the assembly's approvals per project of a pot; editable until the results are approved.

    After the close the results are counted again at once (the runs record the counts they used).
    """
    cycle = await get_cycle(cycle_id)
    await get_pot(cycle_id, pot_id)
    if "assembly" not in weights_of(cycle):
        raise Conflict("This cycle has no district assembly channel.")
    if cycle["state"] == "approved":
        raise Conflict("The results are approved: the assembly's counts can no longer change.")
    on_ballot = {p.id for p in await pot_projects(pot_id)}
    for pid, n in counts.items():
        if pid not in on_ballot:
            raise InvalidInput("This project is not on this pot's ballot.", field=f"count-{pid}")
        if n < 0:
            raise InvalidInput("Enter a number of votes of 0 or more.", field=f"count-{pid}")
    async with write_transaction(lock_key=f"pb-cycle-{cycle_id}"):
        old = await assembly_counts(pot_id)
        now = clock.now()
        await AssemblyCount.delete().where(AssemblyCount.pot == pot_id)
        rows = [
            AssemblyCount(
                cycle=cycle_id,
                pot=pot_id,
                project=pid,
                approvals=n,
                entered_by=official_id,
                entered_at=now,
            )
            for pid, n in sorted(counts.items())
        ]
        if rows:
            await AssemblyCount.insert(*rows)
        await audit.record(
            "pb.assembly.counts",
            actor_id=official_id,
            subject=f"pb-pot:{pot_id}",
            old={str(k): v for k, v in sorted(old.items())},
            new={str(k): v for k, v in sorted(counts.items())},
        )
    if cycle["state"] == "closed":
        # Imported here: results reads this module for the weighted count.
        from voting.services.results import compute_results

        await compute_results(cycle_id, official_id)


# ---------------------------------------------------------------- the weighted count


async def weighted_run(
    cycle: Mapping[str, Any],
    pot: Mapping[str, Any],
    costs: Mapping[int, int],
    grouped: list[tuple[str, str, int]] | None = None,
) -> tuple[dict, str, Callable[[], dict]]:
    """(parameters, inputs hash, the count) of a pot under weighted channels.

    ``grouped``: the pot's ``signals.grouped_ballots`` (every channel), when already read.
    """
    weights = weights_of(cycle)
    counted = ballot_channels(cycle)
    approvals: dict[str, Counter[int]] = {c: Counter() for c in weights}
    ballots: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    channel_of = {kind: c for c, kinds in reversed(counted.items()) for kind in kinds}  # the first match wins
    # Identical (channel, content) pairs come counted together: each distinct content is parsed once.
    # Fraud screening's set-aside ballots are left out (docs/pb.md).
    if grouped is None:
        grouped = await signals.grouped_ballots(cycle["id"], pot["id"])
    with collector_paused():
        for kind, content, n in grouped:
            channel = channel_of.get(kind)
            if channel not in weights:
                continue  # a channel the cycle does not weigh
            ballots[channel] += n
            lines[f"{channel}|{content}"] += n
            for pid in _ids(content):
                if pid in costs:
                    approvals[channel][pid] += n
    if "assembly" in weights:
        counts = await assembly_counts(pot["id"])
        approvals["assembly"].update({pid: n for pid, n in counts.items() if pid in costs})
        lines.update(f"assembly|{pid}|{n}" for pid, n in counts.items())
    data = weighted.WeightedInput(
        budget=pot["amount"],
        costs=costs,
        weights=weights,
        approvals={c: dict(a) for c, a in approvals.items()},
        ballots=dict(ballots),
        tie_break=cycle["tie_break"],
        tie_seed=cycle["tie_seed"],
    )
    params = {
        "engine_rule": weighted.RULE,
        "weights": weights,
        "stations_with_online": bool(cycle["stations_with_online"]),
        "tie_break": cycle["tie_break"],
        "seed": cycle["tie_seed"],
        "budget": pot["amount"],
        "projects": {str(pid): cost for pid, cost in sorted(costs.items())},
    }
    digest = _lines_sha256(lines)
    return params, digest, lambda: weighted.outcome_json(data, weighted.compute_weighted(data))


def _lines_sha256(lines: Counter[str]) -> str:
    """SHA-256 of the lines, each repeated its count, sorted and joined by newlines."""
    digest = hashlib.sha256()
    first = True
    for line, n in sorted(lines.items()):
        if first:
            digest.update(line.encode())
            n, first = n - 1, False
        digest.update(("\n" + line).encode() * n)
    return digest.hexdigest()


def _ids(content: str) -> list[int]:
    """The projects a stored ballot approves (listed with points count as approved)."""
    parsed = msgspec.json.decode(content)
    return [int(p) for p in parsed.get("project_ids") or parsed.get("points") or []]
