"""Participation statistics of a closed cycle, with small cells merged (pure: rows in, snapshot out).

Every published figure is a sum of cells of one table, turnout by district x channel x age band, in
which no cell counts fewer than ``MIN_CELL`` (10) people. Cells are made big enough by merging, level
by level, and each level starts from groups that already hold at least 10 people:

1. **Districts**: a district with fewer than 10 participants joins the others like it in one group;
   if that group is still below 10 it joins the smallest district that stands alone.
2. **Channels** within each district group: the same rule (small channels together, then into the
   smallest channel of the group).
3. **Age bands** within each district and channel group: a band below 10 is merged with the next
   older band(s) until the group reaches 10; a last group below 10 joins the group before it.
   ``unknown`` (no verified birth date) counts as the oldest band, after ``70+``.

Empty cells are not published. The charts (by channel, by age band, by district) sum the cells by
their label, so a merged cell appears under its merged label ("station + paper", "20-39"), and every
chart adds up to the total. When the whole cycle has fewer than 10 participants nothing is published
but that fact. Stations are a separate table with the district rule applied to stations within their
district, then to the districts' remainders city-wide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from portal.ages import AGE_BANDS
from portal.ages import age_band as age_band  # re-exported: the bands are shared with the challenge
from portal.ages import age_band_of as age_band_of

MIN_CELL = 10
CHANNEL_ORDER = ("online", "station", "paper", "committee", "assembly")


def band_range_label(bands: Sequence[str]) -> str:
    """A merged run of adjacent bands as one label: ``20-29`` + ``30-39`` -> ``20-39``."""
    known = [b for b in bands if b != "unknown"]
    suffix = " / unknown" if "unknown" in bands else ""
    if not known:
        return "unknown"
    low = "" if known[0].startswith("-") else known[0].split("-")[0].rstrip("+")
    high = None if known[-1] == "70+" else known[-1].split("-")[-1]
    if high is None:
        label = f"{low}+" if low else "all ages"
    else:
        label = f"{low}-{high}"
    return label + suffix


@dataclass(frozen=True)
class Row:
    """A count of participations with one district, channel, age band and station (None: online)."""

    district: str
    channel: str
    age_band: str
    station: int | None
    count: int


Group = tuple[tuple[str, ...], int]  # the merged keys and their count


def merge_unordered(counts: dict[str, int], order: Callable[[str], object] = str) -> list[Group]:
    """Keys below ``MIN_CELL`` pooled together, a pool still below it into the smallest big group."""
    items = sorted(((k, n) for k, n in counts.items() if n > 0), key=lambda kv: order(kv[0]))
    groups: list[Group] = [((k,), n) for k, n in items if n >= MIN_CELL]
    small = [(k, n) for k, n in items if n < MIN_CELL]
    if small:
        pool: Group = (tuple(k for k, _ in small), sum(n for _, n in small))
        if pool[1] < MIN_CELL and groups:
            smallest = min(range(len(groups)), key=lambda i: (groups[i][1], i))
            keys, n = groups[smallest]
            groups[smallest] = (tuple(sorted((*keys, *pool[0]), key=order)), n + pool[1])
        else:
            groups.append(pool)
    return groups


def merge_ordered(counts: dict[str, int], order: Sequence[str]) -> list[Group]:
    """Adjacent keys merged in ``order`` until each group reaches ``MIN_CELL``; a short tail joins the last."""
    groups: list[Group] = []
    keys: list[str] = []
    total = 0
    for key in order:
        if counts.get(key, 0) <= 0:
            continue
        keys.append(key)
        total += counts[key]
        if total >= MIN_CELL:
            groups.append((tuple(keys), total))
            keys, total = [], 0
    if keys:
        if groups:
            last_keys, last_n = groups.pop()
            groups.append(((*last_keys, *keys), last_n + total))
        else:
            groups.append((tuple(keys), total))
    return groups


def _channel_key(channel: str) -> tuple[int, str]:
    return (CHANNEL_ORDER.index(channel) if channel in CHANNEL_ORDER else len(CHANNEL_ORDER), channel)


def _sum(rows: Iterable[Row], key: Callable[[Row], str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows:
        out[key(row)] = out.get(key(row), 0) + row.count
    return out


def cells(rows: Sequence[Row]) -> list[dict[str, object]]:
    """The district x channel x age band table with every cell at least ``MIN_CELL`` (or nothing)."""
    if sum(r.count for r in rows) < MIN_CELL:
        return []
    out: list[dict[str, object]] = []
    for districts, _ in merge_unordered(_sum(rows, lambda r: r.district)):
        in_districts = [r for r in rows if r.district in districts]
        for channels, _ in merge_unordered(_sum(in_districts, lambda r: r.channel), _channel_key):
            mine = [r for r in in_districts if r.channel in channels]
            for bands, n in merge_ordered(_sum(mine, lambda r: r.age_band), AGE_BANDS):
                out.append(
                    {
                        "districts": list(districts),
                        "channels": list(channels),
                        "age_bands": list(bands),
                        "age_label": band_range_label(bands),
                        "count": n,
                    }
                )
    return out


def station_cells(rows: Sequence[Row], station_district: dict[int, str]) -> list[dict[str, object]]:
    """Check-ins per station, small stations merged within their district, then city-wide."""
    at_stations = [r for r in rows if r.station is not None]
    if sum(r.count for r in at_stations) < MIN_CELL:
        return []
    per_station = _sum(at_stations, lambda r: str(r.station))
    groups: list[Group] = []
    leftovers: dict[str, int] = {}
    for district in sorted({station_district.get(int(s), "") for s in per_station}):
        mine = {s: n for s, n in per_station.items() if station_district.get(int(s), "") == district}
        for keys, n in merge_unordered(mine, int):
            if n >= MIN_CELL:
                groups.append((keys, n))
            else:  # a district whose stations together stay below 10
                leftovers.update({k: per_station[k] for k in keys})
    if leftovers:
        pool: Group = (tuple(sorted(leftovers, key=int)), sum(leftovers.values()))
        if pool[1] < MIN_CELL:
            smallest = min(range(len(groups)), key=lambda i: (groups[i][1], i))
            keys, n = groups[smallest]
            groups[smallest] = (tuple(sorted((*keys, *pool[0]), key=int)), n + pool[1])
        else:
            groups.append(pool)
    return [{"stations": [int(k) for k in keys], "count": n} for keys, n in groups]


def _marginal(groups: list[Group]) -> list[dict[str, object]]:
    return [{"label": " + ".join(keys), "keys": list(keys), "count": n} for keys, n in groups]


def snapshot(rows: Sequence[Row], station_district: dict[int, str]) -> dict[str, object]:
    """What is published for a closed cycle: the merged table, the three charts and the station table.

    Each chart is its own one-way table (by channel, by age band, by district), merged the same way as
    the cross table, so every group is at least ``MIN_CELL`` and no key is in two groups.
    """
    total = sum(r.count for r in rows)
    table = cells(rows)
    if not table:
        by_channel: list[dict[str, object]] = []
        by_age: list[dict[str, object]] = []
        by_district: list[dict[str, object]] = []
    else:
        by_channel = _marginal(merge_unordered(_sum(rows, lambda r: r.channel), _channel_key))
        by_age = [
            {**group, "label": band_range_label(group["keys"])}  # type: ignore[arg-type]
            for group in _marginal(merge_ordered(_sum(rows, lambda r: r.age_band), AGE_BANDS))
        ]
        by_district = _marginal(merge_unordered(_sum(rows, lambda r: r.district)))
    return {
        "min_cell": MIN_CELL,
        "published": bool(table),
        "total": total if table else None,
        "cells": table,
        "by_channel": by_channel,
        "by_age": by_age,
        "by_district": by_district,
        "stations": station_cells(rows, station_district),
    }


def bar_chart(items: Sequence[tuple[str, int]]) -> dict[str, object]:
    """Geometry of a horizontal bar chart like the results page's: a label line above each bar."""
    top = max((n for _, n in items), default=0) or 1
    label_h, bar_h, gap, chart_w, width = 16, 14, 10, 290, 360
    row = label_h + bar_h + gap
    bars = [
        {"y": i * row, "bar_y": i * row + label_h, "width": max(round(chart_w * n / top), 1), "label": label, "count": n}
        for i, (label, n) in enumerate(items)
    ]
    return {"bars": bars, "height": max(len(bars) * row, row), "bar_h": bar_h, "width": width}
