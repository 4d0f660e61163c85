"""The citizen panel draw: N verified residents, stratified by district and age band, from a published seed.

Pure: the eligible list and the seed in, the drawn keys out. Anyone holding the published eligible list
(``panel-eligible.csv``: one keyed, non-reversible key per resident with district and age band) and the
seed replays the draw with ``draw_panel`` and gets the same panel (docs/judging.md, "Citizen panel").

1. **Strata** are (district, age band) pairs; a stratum's share of the panel is proportional to its
   share of the eligible list: quota = N x size / total.
2. **Largest remainder** (Hamilton): each stratum first gets the whole part of its quota; the seats
   left go one each to the strata with the largest fractional parts, ties broken by the stratum's
   lot (``sha256("<seed>:stratum:<district>:<band>")``, lower first). No stratum gets more seats
   than it has people (its quota never exceeds its size).
3. **Within a stratum** people are taken in the order of their lot, ``sha256("<seed>:<key>")`` as
   hex, lowest first. A person's lot depends only on the seed and their key, not on the rest of the
   list, so the order of the list does not matter.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction


class PanelDrawError(ValueError):
    """The draw cannot be made (asked for more people than are eligible, or none)."""


@dataclass(frozen=True, order=True)
class Eligible:
    """One verified resident as the published list shows them: a keyed id, a district, an age band."""

    key: str
    district: str
    age_band: str


@dataclass(frozen=True)
class Seat:
    """One drawn panelist: their key, stratum, and the seat's position in the draw (1 first)."""

    position: int
    key: str
    district: str
    age_band: str


def lot(seed: int, key: str) -> str:
    """A person's lot: lower is drawn first within their stratum."""
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def allocate(sizes: dict[tuple[str, str], int], seats: int, seed: int) -> dict[tuple[str, str], int]:
    """Seats per stratum, proportional to its size by the largest-remainder method."""
    total = sum(sizes.values())
    if seats < 0 or seats > total:
        raise PanelDrawError(f"cannot draw {seats} from {total} eligible residents")
    if total == 0:
        return {}
    quotas = {s: Fraction(seats * n, total) for s, n in sizes.items()}
    given = {s: int(q) for s, q in quotas.items()}  # floor of a non-negative fraction
    left = seats - sum(given.values())
    order = sorted(
        quotas,
        key=lambda s: (-(quotas[s] - given[s]), lot(seed, f"stratum:{s[0]}:{s[1]}")),
    )
    for stratum in order[:left]:
        given[stratum] += 1
    return given


def draw_panel(eligible: Iterable[Eligible], size: int, seed: int) -> list[Seat]:
    """Draw ``size`` people stratified by district and age band; the same list and seed, the same panel.

    Seats are numbered in the order of (district, age band, lot), so the published result reads by
    stratum.
    """
    people = sorted(set(eligible))
    if len({p.key for p in people}) != len(people):
        raise PanelDrawError("a key appears twice in the eligible list")
    if size < 1:
        raise PanelDrawError("the panel needs at least one member")
    strata: dict[tuple[str, str], list[Eligible]] = defaultdict(list)
    for person in people:
        strata[(person.district, person.age_band)].append(person)
    seats = allocate({s: len(p) for s, p in strata.items()}, size, seed)
    drawn: list[Eligible] = []
    for stratum in sorted(strata):
        members = sorted(strata[stratum], key=lambda p: lot(seed, p.key))
        drawn += members[: seats[stratum]]
    return [
        Seat(position, p.key, p.district, p.age_band) for position, p in enumerate(drawn, start=1)
    ]


def panel_entries(members: Sequence[str], entries: Sequence[int], per_member: int) -> dict[str, list[int]]:
    """Which entries each panelist scores: every entry when there are at most ``per_member``, otherwise
    ``per_member`` each in rotation, so each entry gets as even a share of panelists as possible."""
    ordered = sorted(entries)
    if len(ordered) <= per_member:
        return {m: list(ordered) for m in members}
    out: dict[str, list[int]] = {}
    for i, member in enumerate(members):
        start = i * per_member
        out[member] = sorted(ordered[(start + j) % len(ordered)] for j in range(per_member))
    return out


def eligible_csv(people: Iterable[Eligible]) -> str:
    """The published eligible list: ``key,district,age_band``, sorted by key."""
    lines = ["key,district,age_band"]
    lines += [f"{p.key},{p.district},{p.age_band}" for p in sorted(people)]
    return "\n".join(lines) + "\n"


def eligible_from_csv(text: str) -> list[Eligible]:
    """Read a published eligible list back (for a replay)."""
    rows = [line.split(",") for line in text.lstrip("\ufeff").splitlines()[1:] if line.strip()]
    if any(len(r) != 3 for r in rows):
        raise PanelDrawError("each line needs key,district,age_band")
    return [Eligible(k.strip(), d.strip(), b.strip()) for k, d, b in rows]
