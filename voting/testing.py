"""Builders for tests, the demo and the benchmark: a cycle in a given phase with projects."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from portal import clock
from voting.compute.rules import BallotRules
from voting.projects import NewProject, import_projects
from voting.services import cycles

DAY = dt.timedelta(days=1)


def schedule_for(phase: str, now: dt.datetime | None = None) -> dict[str, dt.datetime]:
    """Dates that put a new cycle in ``phase`` now (proposals, review or voting)."""
    now = now or clock.now()
    starts = {"proposals": -1, "review": -11, "voting": -21}[phase]
    opened = now + starts * DAY
    return {
        "proposals_open_at": opened,
        "proposals_close_at": opened + 10 * DAY,
        "voting_open_at": opened + 20 * DAY,
        "voting_close_at": opened + 30 * DAY,
        "publish_at": opened + 35 * DAY,
    }


@dataclass
class BuiltCycle:
    id: int
    city_pot: int
    pots: dict[str, int]  # district code -> pot id
    projects: dict[int, list[int]] = field(default_factory=dict)  # pot id -> project ids


async def add_projects(
    cycle_id: int,
    pot_id: int,
    costs: list[int],
    *,
    prefix: str = "Project",
    category: str = "climate",
) -> list[int]:
    """Feasible projects straight onto a pot's ballot (no author), as a review would leave them."""
    return await import_projects(
        [
            NewProject(
                cycle_id=cycle_id,
                pot_id=pot_id,
                title=f"{prefix} {i + 1}",
                summary=f"{prefix} {i + 1} for the neighbourhood",
                category=category,
                cost=cost,
            )
            for i, cost in enumerate(costs)
        ]
    )


async def build_cycle(
    official_id: int | None,
    *,
    phase: str = "voting",
    rules: BallotRules | None = None,
    city_amount: int = 10_000_000_000,
    district_total: int = 50_000_000_000,
    district_floor: int = 1_000_000_000,
    project_costs: list[int] | None = None,
    districts: tuple[str, ...] = ("11680",),
    name: str = "Seoul PB 2027",
    fiscal_year: int = 2027,
) -> BuiltCycle:
    """A cycle in ``phase`` with projects in the city-wide pot and the listed districts' pots."""
    cycle_id = await cycles.create_cycle(
        official_id,
        cycles.CycleInput(
            name=name,
            fiscal_year=fiscal_year,
            city_amount=city_amount,
            district_total=district_total,
            district_floor=district_floor,
            rules=rules or BallotRules(ballot_kind="approval", min_projects=1, max_projects=5),
            **schedule_for(phase),
        ),
    )
    pots = await cycles.pots_of(cycle_id)
    built = BuiltCycle(
        id=cycle_id,
        city_pot=next(p["id"] for p in pots if p["district_code"] is None),
        pots={p["district_code"]: p["id"] for p in pots if p["district_code"]},
    )
    costs = project_costs or [
        3_000_000_000,
        2_000_000_000,
        4_000_000_000,
        1_000_000_000,
        5_000_000_000,
    ]
    for pot_id in [built.city_pot, *(built.pots[d] for d in districts)]:
        built.projects[pot_id] = await add_projects(cycle_id, pot_id, costs)
    return built


async def seed_load(voters: int, projects: int) -> dict:
    """A cycle in voting with ``projects`` projects in the city-wide pot and ``voters`` verified
    voters, each with a ready session (inserted directly: thousands of argon2 logins would
    dominate a benchmark). Returns the cycle, pot, project ids and session keys.
    """
    import json
    import secrets

    from portal.db import write_transaction
    from portal.passwords import hash_password
    from portal.tables import SessionRecord, User

    built = await build_cycle(
        None,
        rules=BallotRules(ballot_kind="approval", min_projects=1, max_projects=5),
        city_amount=50_000_000_000,
        project_costs=[1_000_000_000 + 100_000_000 * i for i in range(projects)],
    )
    password_hash = await hash_password(secrets.token_urlsafe(24))
    now = clock.now()
    codes = list(built.pots)
    sessions: list[str] = []
    async with write_transaction():
        for start in range(0, voters, 500):
            rows = await User.insert(
                *[
                    User(
                        email=f"voter{i}@load.hangang.kr",
                        display_name=f"Voter {i}",
                        password_hash=password_hash,
                        language="en",
                        district_code=codes[i % len(codes)],
                        roles="citizen",
                        residency_verified=True,
                        residency_verified_at=now,
                        created_at=now,
                    )
                    for i in range(start, min(voters, start + 500))
                ]
            ).returning(User.id)
            records = []
            for row in rows:
                key = secrets.token_hex(32)
                stamp = int(now.timestamp())
                data = {
                    "uid": row["id"],
                    "gen": 0,
                    "stage": "full",
                    "created": stamp,
                    "seen": stamp,
                }
                records.append(
                    SessionRecord(
                        key=key,
                        data=json.dumps(data).encode(),
                        expires_at=now + dt.timedelta(hours=2),
                        uid=row["id"],  # as DatabaseStore.set writes it
                    )
                )
                sessions.append(key)
            await SessionRecord.insert(*records)
    return {
        "cycle": built.id,
        "pot": built.city_pot,
        "projects": built.projects[built.city_pot],
        "sessions": sessions,
    }


async def build_paper_station(cycle_id: int, pot_id: int, worker_ids: list[int]) -> dict[str, int]:
    """A Gangnam-gu station of ``cycle_id`` (in voting) with three poll workers and one paper batch
    of ``pot_id`` in each telling state: keyed once, mismatch, counted. Returns the ids."""
    from portal.auth import to_current_user
    from portal.tables import User
    from voting.compute.paper import reading_of
    from voting.projects import pot_projects
    from voting.services import paper
    from voting.tables import Station, StationWorker

    async def worker_of(user_id: int):
        return to_current_user(await User.select().where(User.id == user_id).first())

    now = clock.now()
    row = await Station.insert(
        Station(cycle=cycle_id, district_code="11680", name="강남구청 현장투표소", address="학동로 426",
                opens_at=now - DAY, closes_at=now + DAY, created_at=now)
    ).returning(Station.id)
    station_id = row[0]["id"]
    for worker_id in worker_ids:
        await StationWorker.insert(StationWorker(station=station_id, user=worker_id))
    first, second = (await worker_of(worker_ids[0]), await worker_of(worker_ids[1]))
    ids = [p.id for p in await pot_projects(pot_id)]
    agreed = {1: reading_of(ids[:1]), 2: reading_of(ids[1:2])}
    batches = {}
    for number, state in enumerate(("keyed-once", "mismatch", "counted"), start=1):
        batch_id = await paper.open_batch(first, station_id, pot_id, number)
        await paper.key_batch(first, station_id, batch_id, agreed)
        if state != "keyed-once":
            other = agreed if state == "counted" else {1: agreed[1], 2: reading_of(ids[2:3])}
            await paper.key_batch(second, station_id, batch_id, other)
        if state == "counted":
            await paper.count_batch(first, station_id, batch_id)
        batches[state] = batch_id
    return {"station_id": station_id, **{f"batch_{k.replace('-', '_')}": v for k, v in batches.items()}}


async def plant_screening_cluster(
    cycle_id: int, pot_id: int, casts: int = 12, address: str = "192.0.2.10", first_user: int = 1_000_000
) -> None:
    """Casts noted from one client address within a minute (a flagged, quarantinable group)."""
    from voting.services import signals

    signals.discard_pending()
    for user_id in range(first_user, first_user + casts):  # no ballots behind them: tags only
        signals.note_cast(cycle_id, pot_id, user_id, address, "Planted/1.0")
    await signals.flush_signals()


WEIGHTED_RULES = BallotRules(
    ballot_kind="approval",
    min_projects=1,
    max_projects=5,
    results_rule="weighted-channels",
    channel_weights='{"assembly":10,"committee":30,"online":60}',
)


async def build_weighted_cycle(official_id: int, committee_email: str) -> dict[str, int]:
    """A cycle in review weighing online, committee and assembly votes, with one committee member
    (the account of ``committee_email``, which has the committee role) and assembly counts entered
    for its city-wide pot. Returns the cycle and that pot's ids."""
    from voting.services import channels

    built = await build_cycle(
        official_id, phase="review", rules=WEIGHTED_RULES, name="Seoul PB 2027 weighted"
    )
    await channels.add_member(official_id, built.id, committee_email)
    counts = dict(zip(built.projects[built.city_pot], (30, 10, 0, 5, 12), strict=False))
    await channels.save_assembly_counts(official_id, built.id, built.city_pot, counts)
    return {"cycle_id": built.id, "pot_id": built.city_pot}


@dataclass
class FundedCycle:
    id: int
    city_pot: int
    district_pot: int
    funded: list[int]  # the selected project ids, city-wide pot first


async def build_funded_cycle(
    official_ids: tuple[int, int], *, name: str = "Seoul PB 2026", fiscal_year: int = 2026
) -> FundedCycle:
    """An approved cycle (voting closed yesterday, two officials approved) with funded projects in the
    city-wide pot (climate) and Gangnam-gu's pot (transportation); ballots are inserted directly."""
    import json
    import secrets

    from portal.db import write_transaction
    from portal.districts import DISTRICTS
    from voting.compute.rules import ballot_day, new_receipt
    from voting.services import approvals, results, screening
    from voting.tables import Ballot

    cycle_id = await cycles.create_cycle(
        official_ids[0],
        cycles.CycleInput(
            name=name,
            fiscal_year=fiscal_year,
            city_amount=6_000_000_000,
            district_amounts={d.code: 3_000_000_000 if d.code == "11680" else 0 for d in DISTRICTS},
            rules=BallotRules(ballot_kind="approval", min_projects=1, max_projects=5),
            **schedule_for("voting", clock.now() - 10 * DAY),
        ),
    )
    pots = {p["district_code"]: p["id"] for p in await cycles.pots_of(cycle_id)}
    city = await add_projects(cycle_id, pots[None], [3_000_000_000, 2_000_000_000, 4_000_000_000], prefix="Riverside")
    district = await add_projects(
        cycle_id, pots["11680"], [1_000_000_000, 1_500_000_000], prefix="Crossing", category="transportation"
    )
    choices = {pots[None]: [[city[0], city[1]], [city[0]], [city[1], city[2]]], pots["11680"]: [[district[0]], [district[0], district[1]]]}
    day = ballot_day(clock.now() - 2 * DAY)
    async with write_transaction():
        for pot_id, patterns in choices.items():
            await Ballot.insert(
                *[
                    Ballot(pot=pot_id, voter_key=secrets.token_hex(32), receipt=new_receipt(),
                           content=json.dumps({"project_ids": ids}), version=1, cast_at=day)
                    for ids in patterns * 3
                ]
            )
    await results.compute_results(cycle_id, official_ids[0])
    await screening.acknowledge(official_ids[0], cycle_id)
    await approvals.approve_results(cycle_id, official_ids[0])
    await approvals.approve_results(cycle_id, official_ids[1])
    runs = [r for r in await results.current_runs(cycle_id) if r["official"]]
    by_pot = {r["pot"]: r["outcome"]["selected"] for r in runs}
    return FundedCycle(
        id=cycle_id, city_pot=pots[None], district_pot=pots["11680"],
        funded=[*by_pot.get(pots[None], []), *by_pot.get(pots["11680"], [])],
    )


def sample_png(width: int = 48, height: int = 32) -> bytes:
    """A real PNG (a river-blue band under a sky-blue one), for photos in tests and the crawler."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00" + (bytes((135, 190, 235)) if y < height // 2 else bytes((31, 95, 168))) * width for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
