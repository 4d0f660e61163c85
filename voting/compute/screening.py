"""Fraud screening before certification: anomalies from keyed client signals and other aggregates.

Pure: plain data in, flags out. The thresholds below are the published screening rules (docs/pb.md,
"Fraud screening"); a flag is a reason to look, never a verdict.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

CLUSTER_WINDOW_MINUTES = 5  # events from one client key counted together within this many minutes
ADDRESS_CLUSTER_MIN_EVENTS = (
    10  # this many sign-ups, verifications or casts from one address in the window
)
DEVICE_CLUSTER_MIN_EVENTS = 30  # higher: many honest people share a browser version's User-Agent
BURST_FACTOR = 10  # a minute with this many times the cycle's median events per active minute
BURST_MIN_EVENTS = 30  # ... and at least this many events in that minute
VERIFY_THEN_VOTE_MINUTES = 60  # casts from an address this soon after its verifications
VERIFY_THEN_VOTE_MIN_EACH = 5  # at least this many verifications and this many casts
MAX_PLAUSIBLE_AGE = 110  # verified identities older than this are flagged

KINDS = ("signup", "verification", "cast")


@dataclass(frozen=True)
class Signal:
    """Events of one kind from one keyed client in one minute."""

    kind: str
    address_key: str
    device_key: str
    minute: dt.datetime
    count: int


@dataclass(frozen=True)
class StationState:
    """A station as the report sees it: whether its tally sheet reconciled and batches are counted."""

    name: str
    tally_entered: bool
    reconciled: bool
    open_batches: int


@dataclass(frozen=True)
class Flag:
    """One flagged group with its evidence. ``quarantinable`` groups are casts from keyed clients."""

    group_id: str
    check: str  # address-cluster | device-cluster | burst | verify-then-vote | station-gap | improbable-age
    kind: str  # signup | verification | cast | station | identity
    key: str  # the client key shortened, a station's name, or ""
    first: dt.datetime | None
    last: dt.datetime | None
    count: int
    detail: dict[str, int] = field(default_factory=dict)
    key_type: str = ""  # address | device, for the casts a quarantine selects

    @property
    def quarantinable(self) -> bool:
        return self.kind == "cast" and self.key_type in ("address", "device")


def _group_id(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:24]


def _windows(
    events: list[tuple[dt.datetime, int]], minutes: int, threshold: int
) -> Iterable[tuple[dt.datetime, dt.datetime, int]]:
    """Maximal runs of events where some window of ``minutes`` holds at least ``threshold``.

    Events within ``minutes`` of each other chain into one group, so a cluster is reported once.
    """
    events.sort()
    group: list[tuple[dt.datetime, int]] = []
    for minute, count in events:
        if group and minute - group[-1][0] >= dt.timedelta(minutes=minutes):
            yield from _dense(group, minutes, threshold)
            group = []
        group.append((minute, count))
    if group:
        yield from _dense(group, minutes, threshold)


def _dense(
    group: list[tuple[dt.datetime, int]], minutes: int, threshold: int
) -> Iterable[tuple[dt.datetime, dt.datetime, int]]:
    width = dt.timedelta(minutes=minutes)
    start = 0
    running = 0
    for minute, count in group:
        running += count
        while minute - group[start][0] >= width:
            running -= group[start][1]
            start += 1
        if running >= threshold:
            yield group[0][0], group[-1][0], sum(c for _, c in group)
            return


def clusters(signals: Iterable[Signal]) -> list[Flag]:
    """Many events of one kind from one address (or one device) within minutes."""
    by_key: dict[tuple[str, str, str], list[tuple[dt.datetime, int]]] = defaultdict(list)
    for s in signals:
        by_key[(s.kind, "address", s.address_key)].append((s.minute, s.count))
        by_key[(s.kind, "device", s.device_key)].append((s.minute, s.count))
    flags = []
    for (kind, key_type, key), events in sorted(by_key.items()):
        threshold = (
            ADDRESS_CLUSTER_MIN_EVENTS if key_type == "address" else DEVICE_CLUSTER_MIN_EVENTS
        )
        for first, last, count in _windows(events, CLUSTER_WINDOW_MINUTES, threshold):
            flags.append(
                Flag(
                    _group_id(key_type, kind, key, first.isoformat()),
                    f"{key_type}-cluster",
                    kind,
                    key,
                    first,
                    last,
                    count,
                    key_type=key_type,
                )
            )
    return flags


def bursts(signals: Iterable[Signal]) -> list[Flag]:
    """Minutes far above the cycle's typical rate (the median of its active minutes), per kind."""
    per_minute: dict[str, dict[dt.datetime, int]] = defaultdict(lambda: defaultdict(int))
    for s in signals:
        per_minute[s.kind][s.minute] += s.count
    flags = []
    for kind, minutes in sorted(per_minute.items()):
        typical = statistics.median(minutes.values())
        for minute, count in sorted(minutes.items()):
            if count >= BURST_MIN_EVENTS and count >= BURST_FACTOR * typical:
                flags.append(
                    Flag(
                        _group_id("burst", kind, minute.isoformat()),
                        "burst",
                        kind,
                        "",
                        minute,
                        minute,
                        count,
                        {"typical": round(typical)},
                    )
                )
    return flags


def verifications_then_votes(signals: Iterable[Signal]) -> list[Flag]:
    """Addresses with several identity verifications followed by several casts soon after."""
    verified: dict[str, list[tuple[dt.datetime, int]]] = defaultdict(list)
    cast: dict[str, list[tuple[dt.datetime, int]]] = defaultdict(list)
    for s in signals:
        if s.kind == "verification":
            verified[s.address_key].append((s.minute, s.count))
        elif s.kind == "cast":
            cast[s.address_key].append((s.minute, s.count))
    flags = []
    for key, verifications in sorted(verified.items()):
        first = min(m for m, _ in verifications)
        until = max(m for m, _ in verifications) + dt.timedelta(minutes=VERIFY_THEN_VOTE_MINUTES)
        n_verified = sum(c for _, c in verifications)
        following = [(m, c) for m, c in cast.get(key, []) if first <= m <= until]
        n_cast = sum(c for _, c in following)
        if n_verified >= VERIFY_THEN_VOTE_MIN_EACH and n_cast >= VERIFY_THEN_VOTE_MIN_EACH:
            last = max(m for m, _ in following)
            flags.append(
                Flag(
                    _group_id("verify-then-vote", key, first.isoformat()),
                    "verify-then-vote",
                    "cast",
                    key,
                    first,
                    last,
                    n_cast,
                    {"verifications": n_verified},
                    key_type="address",
                )
            )
    return flags


def station_gaps(stations: Iterable[StationState]) -> list[Flag]:
    """Stations whose tally sheet was never entered, does not reconcile, or has uncounted batches."""
    return [
        Flag(
            _group_id("station", s.name),
            "station-gap",
            "station",
            s.name,
            None,
            None,
            s.open_batches,
            {"tally_entered": int(s.tally_entered), "reconciled": int(s.reconciled)},
        )
        for s in stations
        if not (s.tally_entered and s.reconciled and s.open_batches == 0)
    ]


def improbable_ages(ages: Iterable[int], min_age: int) -> list[Flag]:
    """Verified identities older than ``MAX_PLAUSIBLE_AGE`` or younger than the cycle's minimum age."""
    ages = list(ages)
    old = sum(1 for a in ages if a > MAX_PLAUSIBLE_AGE)
    young = sum(1 for a in ages if a < min_age)
    if not (old or young):
        return []
    return [
        Flag(
            _group_id("age", old, young),
            "improbable-age",
            "identity",
            "",
            None,
            None,
            old + young,
            {"over_max": old, "under_min": young},
        )
    ]


def screen(
    signals: Iterable[Signal], stations: Iterable[StationState], ages: Iterable[int], min_age: int
) -> list[Flag]:
    """Every flag of a cycle's report, in a stable order."""
    signals = list(signals)
    return [
        *clusters(signals),
        *bursts(signals),
        *verifications_then_votes(signals),
        *station_gaps(stations),
        *improbable_ages(ages, min_age),
    ]


def report_sha256(flags: Iterable[Flag], quarantined: Iterable[str] = ()) -> str:
    """A digest of the report an official acknowledges: its flags (group ids and counts) and which
    groups are quarantined, so that an acknowledgement holds for exactly the report that was read."""
    text = "\n".join(f"{f.group_id}:{f.count}" for f in flags)
    text += "\nquarantined:" + ",".join(sorted(quarantined))
    return hashlib.sha256(text.encode()).hexdigest()
