"""Fraud screening before certification: anomalies from keyed client signals and other aggregates.

Pure: plain data in, flags out. The address and device clusters and the bursts are
``portal.client_screening`` (shared with the challenge's public vote). The thresholds are the published screening rules (docs/pb.md,
"Fraud screening"); a flag is a reason to look, never a verdict.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

# The generic keyed-client checks live in the core (the challenge's public vote uses them too).
from portal.client_screening import (
    ADDRESS_CLUSTER_MIN_EVENTS as ADDRESS_CLUSTER_MIN_EVENTS,
)
from portal.client_screening import BURST_FACTOR as BURST_FACTOR
from portal.client_screening import BURST_MIN_EVENTS as BURST_MIN_EVENTS
from portal.client_screening import CLUSTER_WINDOW_MINUTES as CLUSTER_WINDOW_MINUTES
from portal.client_screening import DEVICE_CLUSTER_MIN_EVENTS as DEVICE_CLUSTER_MIN_EVENTS
from portal.client_screening import Flag, Signal, _group_id, bursts, clusters

VERIFY_THEN_VOTE_MINUTES = 60  # casts from an address this soon after its verifications
VERIFY_THEN_VOTE_MIN_EACH = 5  # at least this many verifications and this many casts
MAX_PLAUSIBLE_AGE = 110  # verified identities older than this are flagged

KINDS = ("signup", "verification", "cast")


@dataclass(frozen=True)
class StationState:
    """A station as the report sees it: whether its tally sheet reconciled and batches are counted."""

    name: str
    tally_entered: bool
    reconciled: bool
    open_batches: int


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
