"""Demo PB data from real pabulib elections (tests/data/pabulib, see its PROVENANCE.md).

* ``Seoul PB 2025`` (closed, results published and approved): the city-wide pot holds the
  Wieliczka 2023 Green Budget election (64 projects, 6,586 ballots).
* ``Seoul PB 2026`` (voting open): Gangnam-gu holds Warszawa 2023 Mokotów (81 projects,
  11,067 ballots), Mapo-gu holds Warszawa 2025 Rembertów (34 projects, 989 ballots) and the
  city-wide pot holds Assen 2024 (14 projects, 84 ballots).
* ``Seoul PB 2027`` (proposals open): a few proposals by the demo citizen, for review.

Costs are scaled to KRW pots of billions of won (the factor is printed); ballots keep their
exact choices. Imported ballots have no portal voter: their ``voter_key`` is random.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

from portal import clock
from portal.db import write_transaction
from proposals.tables import Proposal
from voting import services
from voting.pabulib import PbFile, read_pb
from voting.rules import BallotRules, ballot_day, canonical_json, new_receipt
from voting.tables import Ballot, Pot

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "pabulib"
DAY = dt.timedelta(days=1)


def _category(text: str) -> str:
    text = text.lower()
    if "transit" in text or "road" in text or "transport" in text:
        return "transportation"
    if "green" in text or "environment" in text or "climate" in text:
        return "climate"
    if "welfare" in text or "health" in text or "education" in text or "social" in text:
        return "welfare"
    if "public space" in text or "urban" in text:
        return "urban planning"
    return "other"


async def _import_election(
    cycle_id: int, pot_id: int, file_name: str, scale: int, author: int | None
) -> tuple[int, int]:
    """Projects become feasible proposals, ballots become anonymous ballots; returns (projects, ballots)."""
    pb = read_pb(DATA / file_name)
    async with write_transaction():  # one commit: the demo loads in seconds, not a minute of fsyncs
        return await _import_rows(cycle_id, pot_id, pb, file_name, scale, author)


async def _import_rows(
    cycle_id: int, pot_id: int, pb: PbFile, file_name: str, scale: int, author: int | None
) -> tuple[int, int]:
    now = clock.now()
    id_map: dict[str, int] = {}
    for row in pb.projects:
        title = (row.get("name") or f"Project {row['project_id']}").strip()[:200]
        inserted = await Proposal.insert(
            Proposal(
                cycle=cycle_id,
                pot=pot_id,
                author=author,
                title=title,
                summary=(row.get("description") or title)[:500],
                description=f"Imported from pabulib ({file_name}), project {row['project_id']}.",
                category=_category(row.get("category", "")),
                estimated_cost=int(pb.costs[row["project_id"]]) * scale,
                status="feasible",
                review_reason="Imported from a real participatory budgeting election (pabulib).",
                created_at=now,
                updated_at=now,
            )
        ).returning(Proposal.id)
        id_map[row["project_id"]] = inserted[0]["id"]
    rows = [
        Ballot(
            pot=pot_id,
            voter_key=secrets.token_hex(32),
            receipt=new_receipt(),
            content=canonical_json({"project_ids": sorted(id_map[p] for p in ballot)}),
            version=1,
            cast_at=ballot_day(now),
        )
        for ballot in pb.ballots
    ]
    for start in range(0, len(rows), 400):
        await Ballot.insert(*rows[start : start + 400])
    await Pot.update({Pot.amount: int(pb.budget) * scale}).where(Pot.id == pot_id)
    return len(id_map), len(rows)


def _dates(start: dt.datetime) -> dict[str, dt.datetime]:
    return {
        "proposals_open_at": start,
        "proposals_close_at": start + 20 * DAY,
        "voting_open_at": start + 37 * DAY,
        "voting_close_at": start + 54 * DAY,
        "publish_at": start + 60 * DAY,
    }


async def _cycle(
    name: str, year: int, start: dt.datetime, official: int, rules: BallotRules
) -> tuple[int, dict]:
    cycle_id = await services.create_cycle(
        official,
        services.CycleInput(
            name=name,
            fiscal_year=year,
            city_amount=100_000_000_000,
            district_total=400_000_000_000,
            district_floor=8_000_000_000,
            rules=rules,
            **_dates(start),
        ),
    )
    pots = {p["district_code"]: p["id"] for p in await services.pots_of(cycle_id)}
    return cycle_id, pots


async def load_demo(users: dict[str, int]) -> list[str]:
    """Three cycles: one published, one in voting, one taking proposals."""
    now = clock.now()
    official = users["official"]
    rules = BallotRules(
        ballot_kind="approval", min_projects=1, max_projects=15, results_rule="equal-shares"
    )

    past_id, past_pots = await _cycle("Seoul PB 2025", 2025, now - 400 * DAY, official, rules)
    await _import_election(
        past_id, past_pots[None], "Poland_Wieliczka_2023_Green_Budget.pb", 10_000, None
    )
    await services.compute_results(past_id, official)
    await services.approve_results(past_id, official)
    await services.approve_results(past_id, users["official2"])

    open_id, open_pots = await _cycle("Seoul PB 2026", 2026, now - 40 * DAY, official, rules)
    lines = [
        f"PB demo: 'Seoul PB 2025' (published, cycle {past_id}), 'Seoul PB 2026' (voting, cycle {open_id})."
    ]
    for code, file_name, scale in (
        ("11680", "Poland_Warszawa_2023_Mokotow.pb", 1_000),
        ("11440", "Poland_Warszawa_2025_Rembertow.pb", 1_000),
        (None, "Netherlands_Assen_2024.pb", 100_000),
    ):
        projects, ballots = await _import_election(open_id, open_pots[code], file_name, scale, None)
        lines.append(
            f"  {file_name}: {projects} projects, {ballots} ballots, costs x{scale:,} -> KRW"
        )
    await services.advance_cycle(open_id)  # voting is open: its rules are frozen

    next_id, next_pots = await _cycle(
        "Seoul PB 2027", 2027, now - 2 * DAY, official, BallotRules(ballot_kind="knapsack")
    )
    for title, summary, category, cost, pot in (
        (
            "Heated bus shelters on Teheran-ro",
            "Twelve bus shelters with heated benches and live arrival boards.",
            "transportation",
            900_000_000,
            next_pots["11680"],
        ),
        (
            "Flood sensors in Gangnam underpasses",
            "Water-level sensors that close underpasses and alert drivers during heavy rain.",
            "disaster response",
            1_500_000_000,
            next_pots["11680"],
        ),
        (
            "Shade trees along the Han river paths",
            "Plant 2,000 trees to cool the riverside walking and cycling paths.",
            "climate",
            6_000_000_000,
            next_pots[None],
        ),
    ):
        await Proposal.insert(
            Proposal(
                cycle=next_id,
                pot=pot,
                author=users["citizen"],
                title=title,
                summary=summary,
                description="",
                category=category,
                estimated_cost=cost,
                created_at=now,
                updated_at=now,
            )
        )
    lines.append(
        f"  'Seoul PB 2027' (proposals open, cycle {next_id}) has 3 proposals waiting for review."
    )
    return lines
