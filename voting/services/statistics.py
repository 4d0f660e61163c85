"""Participation statistics: computed once when a cycle closes, stored, and only read afterwards.

The close step (``voting.services.lifecycle.enter_state``) calls ``freeze_statistics`` in its own
transaction, so a closed cycle always has its statistics and they never change: participations are
written only while voting is open, and a read never writes. The figures come from
``pb_participation`` (channel, district, age band, station; no person) through
``voting.compute.statistics``, which merges cells below 10 people.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from portal import audit
from portal.canonical import canonical_json
from portal.db import raw
from voting.compute.statistics import Row, snapshot
from voting.services.cycles import get_cycle
from voting.services.results import require_closed
from voting.tables import ParticipationStats, Station


@dataclass(frozen=True)
class CycleStatistics:
    """A closed cycle's published statistics; ``snapshot`` None when none were frozen (closed before)."""

    cycle: dict[str, Any]
    snapshot: dict[str, Any] | None
    frozen_at: dt.datetime | None
    station_names: dict[int, str]


async def _participation_rows(cycle_id: int) -> list[Row]:
    rows = await raw(
        "SELECT district_code, channel, age_band, station, COUNT(*) AS n FROM pb_participation "
        "WHERE cycle = {} GROUP BY district_code, channel, age_band, station",
        cycle_id,
    )
    return [
        Row(r["district_code"] or "", r["channel"], r["age_band"] or "unknown", r["station"], int(r["n"]))
        for r in rows
    ]


async def freeze_statistics(cycle_id: int, at: dt.datetime) -> None:
    """Compute and store the statistics once (inside the close's transaction); a second call keeps the first."""
    if await ParticipationStats.exists().where(ParticipationStats.cycle == cycle_id):
        return
    stations = await Station.select(Station.id, Station.district_code).where(Station.cycle == cycle_id)
    snap = snapshot(await _participation_rows(cycle_id), {s["id"]: s["district_code"] for s in stations})
    await ParticipationStats.insert(ParticipationStats(cycle=cycle_id, snapshot=canonical_json(snap), frozen_at=at))
    await audit.record(
        "pb.statistics.frozen",
        subject=f"pb-cycle:{cycle_id}",
        published=snap["published"],
        cells=len(snap["cells"]),
    )


async def cycle_statistics(cycle_id: int) -> CycleStatistics:
    """The frozen statistics of a closed cycle (404 before the close)."""
    cycle = await get_cycle(cycle_id)
    require_closed(cycle)
    row = await ParticipationStats.select().where(ParticipationStats.cycle == cycle_id).first()
    names = {s["id"]: s["name"] for s in await Station.select(Station.id, Station.name).where(Station.cycle == cycle_id)}
    if row is None:
        return CycleStatistics(cycle, None, None, names)
    return CycleStatistics(cycle, json.loads(row["snapshot"]), row["frozen_at"], names)
