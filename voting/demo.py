"""Demo PB data: real pabulib elections (tests/data/pabulib, see its PROVENANCE.md) with Korean projects.

Every project of the imported files gets a Korean title and summary (``voting/demo_projects.py``,
documented in docs/demo.md); the ballots are the real ones. Each cycle is city-wide: its pot holds
one election and the 25 district pots hold 0 KRW, so the cycle total is the sum of its pots.

* ``2025 서울 주민참여예산`` (approval; closed, results approved): Świecie 2023 (22 projects,
  2,553 ballots).
* Three cycles open for voting, one per ballot kind, so each can be tried:
  approval (Warszawa 2025 Rembertów, 34 projects, 989 ballots), knapsack (Assen 2024, 14 projects;
  the 72 of its 84 ballots that fit the pot) and cumulative (Toulouse 2019, 30 projects, 1,494
  ballots of up to 3 points a project and 7 in all).
* ``2027 서울 주민참여예산`` (proposals open): ``proposals.demo`` adds three proposals by the demo
  citizen, for review.

Costs are scaled to KRW pots of billions of won (the factor is printed); ballots keep their
exact choices. Imported ballots have no portal voter: their ``voter_key`` is random.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path

from portal import clock
from portal.canonical import canonical_json
from portal.db import write_transaction
from portal.districts import DISTRICTS
from portal.notifications import follow
from voting import demo_channels
from voting.compute.pabulib import PbFile, read_pb
from voting.compute.rules import BallotRules, ballot_day, new_receipt
from voting.demo_delivery import load_delivery_demo
from voting.demo_projects import mapping_of
from voting.projects import NewProject, import_projects
from voting.services import approvals, cycles, lifecycle, results, screening
from voting.tables import Ballot

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "pabulib"
DAY = dt.timedelta(days=1)
NEXT_CYCLE = "2027 서울 주민참여예산"  # taking proposals: proposals' demo adds the citizen's there
IMPORTED = "실제 참여예산 투표(pabulib)의 사업을 옮긴 데모 사업입니다. Imported from a real participatory budgeting election (pabulib)."


@dataclass(frozen=True)
class DemoElection:
    """One demo cycle: its name, the pabulib file in its city-wide pot, and its ballot rules."""

    name: str
    fiscal_year: int
    started_days_ago: int  # proposals opened this long ago (voting opens on day 37, closes on day 54)
    file_name: str
    scale: int  # cost and budget factor to KRW
    rules: BallotRules


PAST = DemoElection(
    "2025 서울 주민참여예산", 2025, 400, "Poland_Swiecie_2023.pb", 10_000,
    BallotRules(ballot_kind="approval", min_projects=1, max_projects=None, results_rule="equal-shares"),
)
VOTING = (
    DemoElection(
        "2026 서울 주민참여예산 · 찬성 투표", 2026, 40, "Poland_Warszawa_2025_Rembertow.pb", 10_000,
        BallotRules(ballot_kind="approval", min_projects=1, max_projects=15, results_rule="greedy"),
    ),
    DemoElection(
        "2026 서울 청년 아이디어 예산 · 예산 배분 투표", 2026, 40, "Netherlands_Assen_2024.pb", 100_000,
        BallotRules(ballot_kind="knapsack", min_projects=1, results_rule="equal-shares"),
    ),
    DemoElection(
        "2026 서울 생활환경 예산 · 점수 배분 투표", 2026, 40, "France_Toulouse_2019.pb", 10_000,
        BallotRules(
            ballot_kind="cumulative", total_points=7, max_points_per_project=3,
            results_rule="greedy",
        ),
    ),
)
# Seoul's vote as it runs: online, committee, assembly and station votes by published weights.
WEIGHTED = DemoElection(
    "2026 서울 주민참여예산 · 채널 가중 합산", 2026, 40, "Poland_Warszawa_2025_Rembertow.pb", 10_000,
    BallotRules(
        ballot_kind="approval", min_projects=1, max_projects=15, results_rule="weighted-channels",
        channel_weights=demo_channels.WEIGHTS, stations_with_online=False,
    ),
)


def _ballot_content(pb: PbFile, ballot, id_map: dict[str, int]) -> str:
    """A pabulib ballot as the portal stores it: project ids, or points per project."""
    if isinstance(ballot, dict):  # cumulative: {project id: points}
        return canonical_json(
            {"points": {str(id_map[p]): int(n) for p, n in sorted(ballot.items()) if n > 0}}
        )
    return canonical_json({"project_ids": sorted(id_map[p] for p in ballot)})


def _fits(pb: PbFile, ballot, rules: BallotRules) -> bool:
    """A knapsack ballot must fit the pot; the few real ballots that do not are left out."""
    if rules.ballot_kind != "knapsack":
        return True
    return sum(pb.costs[p] for p in ballot) <= pb.budget


async def _import_election(cycle_id: int, pot_id: int, election: DemoElection) -> tuple[int, int]:
    """Projects go onto the pot's ballot, ballots become anonymous ballots; returns (projects, ballots)."""
    pb = read_pb(DATA / election.file_name)
    ids = await import_projects(_projects(cycle_id, pot_id, pb, election))
    id_map = {row["project_id"]: pid for row, pid in zip(pb.projects, ids, strict=True)}
    now = clock.now()
    rows = [
        Ballot(
            pot=pot_id,
            voter_key=secrets.token_hex(32),
            receipt=new_receipt(),
            content=_ballot_content(pb, ballot, id_map),
            version=1,
            cast_at=ballot_day(now),
        )
        for ballot in pb.ballots
        if _fits(pb, ballot, election.rules)
    ]
    async with write_transaction():  # one commit: the demo loads in seconds, not a minute of fsyncs
        for start in range(0, len(rows), 400):
            await Ballot.insert(*rows[start : start + 400])
    return len(id_map), len(rows)


def _projects(cycle_id: int, pot_id: int, pb: PbFile, election: DemoElection) -> list[NewProject]:
    """The file's projects with their Korean titles and summaries, costs scaled to KRW."""
    korean = mapping_of(election.file_name)
    projects = []
    for row in pb.projects:
        pid = row["project_id"]
        project = korean[pid]  # every project of a demo file has its Korean project
        original = (row.get("name") or "").strip()
        projects.append(
            NewProject(
                cycle_id=cycle_id,
                pot_id=pot_id,
                title=project.title_ko,
                summary=project.summary_ko,
                category=project.category,
                cost=int(pb.costs[pid]) * election.scale,
                description=(
                    f"{project.title_en}: {project.summary_en}\n\n"
                    f"pabulib {election.file_name}, project {pid} ({original})\n\n{IMPORTED}"
                ),
            )
        )
    return projects


def _dates(start: dt.datetime) -> dict[str, dt.datetime]:
    return {
        "proposals_open_at": start,
        "proposals_close_at": start + 20 * DAY,
        "voting_open_at": start + 37 * DAY,
        "voting_close_at": start + 54 * DAY,
        "publish_at": start + 60 * DAY,
    }


async def _city_wide_cycle(election: DemoElection, official: int) -> tuple[int, int]:
    """A cycle whose whole budget is its city-wide pot (the election's, scaled); returns (cycle, pot)."""
    budget = int(read_pb(DATA / election.file_name).budget) * election.scale
    cycle_id = await cycles.create_cycle(
        official,
        cycles.CycleInput(
            name=election.name,
            fiscal_year=election.fiscal_year,
            city_amount=budget,
            district_amounts={d.code: 0 for d in DISTRICTS},
            rules=election.rules,
            **_dates(clock.now() - election.started_days_ago * DAY),
        ),
    )
    pots = {p["district_code"]: p["id"] for p in await cycles.pots_of(cycle_id)}
    return cycle_id, pots[None]


async def load_demo(users: dict[str, int]) -> list[str]:
    """A published cycle, one cycle in voting per ballot kind, and one taking proposals."""
    now = clock.now()
    official = users["official"]

    past_id, past_pot = await _city_wide_cycle(PAST, official)
    _, ballots_of_past = await _import_election(past_id, past_pot, PAST)
    past = await cycles.get_cycle(past_id)
    await demo_channels.past_participations(official, past_id, ballots_of_past, past["voting_close_at"])
    await results.compute_results(past_id, official)
    await screening.acknowledge(official, past_id)
    await follow(users["citizen"], "cycle", past_id)  # the demo citizen hears of the results (docs/notifications.md)
    await approvals.approve_results(past_id, official)
    await approvals.approve_results(past_id, users["official2"])
    lines = ["PB demo (Korean projects on real pabulib ballots, see docs/demo.md):",
             f"  '{PAST.name}' (published, cycle {past_id}): {PAST.file_name}"]
    lines.append(await load_delivery_demo(past_id, official))
    for election in VOTING:
        cycle_id, pot_id = await _city_wide_cycle(election, official)
        projects, ballots = await _import_election(cycle_id, pot_id, election)
        await lifecycle.freeze_rules(cycle_id)  # voting is open: the rules are frozen
        lines.append(
            f"  '{election.name}' ({election.rules.ballot_kind}, voting, cycle {cycle_id}):"
            f" {election.file_name}, {projects} projects, {ballots} ballots,"
            f" costs x{election.scale:,} -> KRW"
        )

    cycle_id, pot_id = await _city_wide_cycle(WEIGHTED, official)
    projects, ballots = await _import_election(cycle_id, pot_id, WEIGHTED)
    staffed = await demo_channels.staff_weighted_cycle(official, cycle_id, pot_id, users)
    await lifecycle.freeze_rules(cycle_id)
    lines.append(
        f"  '{WEIGHTED.name}' (weighted channels, voting, cycle {cycle_id}):"
        f" {WEIGHTED.file_name}, {projects} projects, {ballots} online ballots"
    )
    lines.extend(staffed)

    next_id = await cycles.create_cycle(
        official,
        cycles.CycleInput(
            name=NEXT_CYCLE,
            fiscal_year=2027,
            city_amount=100_000_000_000,
            district_total=400_000_000_000,
            district_floor=8_000_000_000,
            rules=BallotRules(ballot_kind="knapsack"),
            **_dates(now - 2 * DAY),
        ),
    )
    lines.append(f"  '{NEXT_CYCLE}' (proposals open, cycle {next_id})")
    return lines
