"""Keyed client signals and the anomaly checks over them, shared by PB voting and the challenge's public vote.

Domain-free and pure except ``client_keys`` (which reads the server secret): a vote, a sign-up or any
other event is counted per minute under a keyed hash of the client's address and of its User-Agent,
never the address itself, and ``clusters`` and ``bursts`` flag what deserves a look. The thresholds
are the published screening rules (docs/pb.md, "Fraud screening"; docs/judging.md, "Public vote").
A flag is a reason to look, never a verdict.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
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


@dataclass(frozen=True)
class Signal:
    """Events of one kind from one keyed client in one minute."""

    kind: str
    address_key: str
    device_key: str
    minute: dt.datetime
    count: int


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
    """Minutes far above the typical rate (the median of the active minutes), per kind."""
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




def client_keys(secret: str, scope: str, address: str, user_agent: str) -> tuple[str, str]:
    """(address key, device key) of a client within ``scope`` (a PB cycle, a challenge stage).

    Keyed by the server secret and the scope, so keys of two scopes do not join and a key does not
    give back the address.
    """

    def keyed(text: str) -> str:
        return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()[:32]

    return keyed(f"{scope}|address|{address}"), keyed(f"{scope}|device|{user_agent}")


def minute_of(moment: dt.datetime) -> dt.datetime:
    """The minute a signal is counted in."""
    return moment.replace(second=0, microsecond=0)
