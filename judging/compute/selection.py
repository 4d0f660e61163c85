"""Choose the AI 50 Challenge winners under quotas, optimally and explainably (pure).

The winners maximize the total calibrated score subject to: exactly ``winners`` entries, a minimum
and a maximum per category, and at most ``max_per_organization`` winning entries per organization.

Model: a min-cost flow. Each entry is an arc from its category node to its organization node, so a
unit of flow source -> category -> entry -> organization -> sink is one winner; the source -> category
arcs carry the category minimum (as a must-fill arc) and maximum, the organization -> sink arcs the
organization limit. The constraint matrix of a network is totally unimodular, so the flow optimum is
an integral, truly optimal selection (checked against brute force in the tests).

Ties are broken exactly, not by float noise: arc costs are Python integers
``score_in_millionths * 2**n + 2**(n - 1 - rank)`` where ``rank`` is the entry's place in the
tie-break chain. Among selections with the best total score, the flow therefore picks the one whose
best differing entry ranks highest. The chain (``priority_key``) is: calibrated score; raw scores
on whole-point levels compared from the top (HotCRP's "counts": more high scores wins); median raw
score; lower
disagreement; more reviews; a seeded lot ``sha256("<seed>:<entry_id>")`` anyone can recompute.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import statistics
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from judging.compute.calibration import SCORE_DECIMALS, Calibration

TIE_BREAK_STEPS = (
    "calibrated score",
    "raw score counts",
    "median",
    "disagreement",
    "number of reviews",
    "seeded lot",
    "entry id",
)
BORDERLINE_SIZE = 5

# Borderline reasons, one English message id per case (translated on the officials' pages).
WHY_CATEGORY_MINIMUM = "needed to meet the minimum of %(min)s winners for category %(category)s"
WHY_OUTRANKED_ONE = (
    "%(count)s higher-ranked entry (%(names)s) could not take its place without breaking a quota"
)
WHY_OUTRANKED = (
    "%(count)s higher-ranked entries (%(names)s) could not take its place without breaking a quota"
)
WHY_EVERY_ENTRY_WINS = "every entry wins"
WHY_TIE_WITH_FIRST_OUT = (
    "tied at %(score)s; decided by the tie-break on %(step)s against %(other)s, the first out"
)
WHY_ABOVE_FIRST_OUT = "score %(mine)s above the first entry out, %(other)s (%(theirs)s)"
WHY_ORGANIZATION_HAS_WINNER = "organization %(organization)s already has a winner (%(winners)s)"
WHY_ORGANIZATION_WINNER_STAYS_MAX = (
    "organization %(organization)s already has a winner (%(winners)s), which cannot give way: "
    "category quota max reached for %(category)s (%(max)s)"
)
WHY_ORGANIZATION_WINNER_STAYS_MIN = (
    "organization %(organization)s already has a winner (%(winners)s), which cannot give way: "
    "category %(category)s would fall below its minimum of %(min)s"
)
WHY_CATEGORY_FULL = "category quota max reached for %(category)s (%(max)s)"
WHY_MINIMUMS_BLOCK = "no winner could make room without breaking a category minimum"
WHY_ORGANIZATION_TIE = (
    "organization %(organization)s already has a winner, %(winner)s: "
    "tied at %(score)s; decided by the tie-break on %(step)s against %(winner)s"
)
WHY_ORGANIZATION_BELOW = (
    "organization %(organization)s already has a winner, %(winner)s: "
    "score %(mine)s below its score %(theirs)s"
)
WHY_CATEGORY_FULL_TIE = (
    "category quota max reached for %(category)s (%(max)s); weakest there is %(winner)s: "
    "tied at %(score)s; decided by the tie-break on %(step)s against %(winner)s"
)
WHY_CATEGORY_FULL_BELOW = (
    "category quota max reached for %(category)s (%(max)s); weakest there is %(winner)s: "
    "score %(mine)s below its score %(theirs)s"
)
WHY_TIE = "tied at %(score)s; decided by the tie-break on %(step)s against %(winner)s"
WHY_BELOW_LAST_WINNER = "score %(mine)s below last winner %(theirs)s"
WHY_BELOW_WEAKEST_PARTNER = (
    "score %(mine)s below last winner %(theirs)s (%(winner)s, the weakest winner it could replace)"
)
_UNIT = 10**SCORE_DECIMALS


class QuotaInfeasible(ValueError):
    """No selection satisfies the quotas; the message names the constraint that fails.

    ``message`` is an English catalog id with ``%(name)s`` placeholders and ``params`` its values
    (``category`` a category key), so a page can say it in the reader's language.
    """

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


class SelectionError(ValueError):
    """The candidates themselves are unusable (duplicate ids, non-finite scores)."""


@dataclass(frozen=True)
class Candidate:
    """An entry competing for a win, with the figures the tie-break chain needs."""

    entry_id: Hashable
    score: float
    raw_scores: tuple[float, ...] = ()
    disagreement: float = 0.0
    reviews: int = 0
    category: str | None = None
    organization: str | None = None


@dataclass(frozen=True)
class CategoryQuota:
    """Minimum and maximum winners in one category (``max`` None: no limit)."""

    min: int = 0
    max: int | None = None


@dataclass(frozen=True)
class Quotas:
    """How many winners, per-category bounds and the per-organization limit (None: no limit)."""

    winners: int = 50
    categories: Mapping[str, CategoryQuota] = field(default_factory=dict)
    max_per_organization: int | None = 1


@dataclass(frozen=True)
class RankedEntry:
    """An entry's place in the tie-break chain and whether it won."""

    entry_id: Hashable
    rank: int
    score: float
    winner: bool
    lot: str


@dataclass(frozen=True)
class BorderlineNote:
    """Why an entry near the cut is in or out."""

    entry_id: Hashable
    selected: bool
    rank: int
    score: float
    reason: str
    # The reason as an English message id with %(name)s params, so pages can translate it;
    # ``reason`` is that message filled in (the CLI and exports print it).
    message: str = ""
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Selection:
    """The winners (in rank order), the full ranking and the borderline explanation."""

    winners: tuple[Hashable, ...]
    ranking: tuple[RankedEntry, ...]
    borderline: tuple[BorderlineNote, ...]
    seed: int
    total_score: float


def tie_break_lot(seed: int, entry_id: Hashable) -> str:
    """The published lot of an entry: lower wins. Independent of the other entries."""
    return hashlib.sha256(f"{seed}:{entry_id}".encode()).hexdigest()


def _units(value: float) -> int:
    """A score in millionths, so comparisons are exact integers."""
    return round(value * _UNIT)


def priority_key(candidate: Candidate, seed: int) -> tuple:
    """Sort key of the tie-break chain: smaller is better; one component per step."""
    # HotCRP's "counts" on whole-point levels (a 7.85 counts as a 7): compare from the top, so
    # more high scores wins; at an equal prefix the longer list wins (it has more scores at that
    # level), hence the +inf sentinel. The exact scores then matter through the median.
    levels = sorted((_units(s) // _UNIT for s in candidate.raw_scores), reverse=True)
    counts = tuple(-level for level in levels) + (math.inf,)
    median = _units(statistics.median(candidate.raw_scores)) if candidate.raw_scores else 0
    return (
        -_units(candidate.score),
        counts,
        -median,
        _units(candidate.disagreement),
        -candidate.reviews,
        tie_break_lot(seed, candidate.entry_id),
        str(candidate.entry_id),
    )


def tie_break_step(a: Candidate, b: Candidate, seed: int) -> str:
    """The first step of the chain that separates two entries."""
    for name, x, y in zip(
        TIE_BREAK_STEPS, priority_key(a, seed), priority_key(b, seed), strict=True
    ):
        if x != y:
            return name
    return TIE_BREAK_STEPS[-1]


def candidates_from_calibration(
    calibration: Calibration,
    categories: Mapping[Hashable, str | None] | None = None,
    organizations: Mapping[Hashable, str | None] | None = None,
) -> list[Candidate]:
    """Turn calibrated entries into candidates, attaching category and organization."""
    categories = categories or {}
    organizations = organizations or {}
    return [
        Candidate(
            entry_id=e.entry_id,
            score=e.score,
            raw_scores=e.raw_scores,
            disagreement=e.disagreement,
            reviews=e.reviews,
            category=categories.get(e.entry_id),
            organization=organizations.get(e.entry_id),
        )
        for e in calibration.entries.values()
    ]


def select_winners(candidates: Iterable[Candidate], quotas: Quotas, seed: int = 0) -> Selection:
    """The optimal winners under the quotas, the ranking and the borderline explanation."""
    pool = _checked(candidates)
    _check_quotas(pool, quotas)
    ranked = sorted(pool, key=lambda c: priority_key(c, seed))
    rank_of = {c.entry_id: i for i, c in enumerate(ranked)}
    chosen = _max_score_flow(_could_win(ranked, quotas), quotas)
    winners = tuple(c.entry_id for c in ranked if c.entry_id in chosen)
    ranking = tuple(
        RankedEntry(
            c.entry_id, i + 1, c.score, c.entry_id in chosen, tie_break_lot(seed, c.entry_id)
        )
        for i, c in enumerate(ranked)
    )
    borderline = _explain_borderline(ranked, rank_of, chosen, quotas, seed)
    total = round(sum(c.score for c in ranked if c.entry_id in chosen), SCORE_DECIMALS)
    return Selection(winners, ranking, borderline, seed, total)


def _checked(candidates: Iterable[Candidate]) -> list[Candidate]:
    pool = list(candidates)
    seen: set[Hashable] = set()
    for c in pool:
        if c.entry_id in seen:
            raise SelectionError(f"entry {c.entry_id} appears twice")
        seen.add(c.entry_id)
        if not math.isfinite(c.score) or not all(math.isfinite(s) for s in c.raw_scores):
            raise SelectionError(f"entry {c.entry_id}: score is not a number")
    return pool


def _org_limit(quotas: Quotas, count: int) -> int:
    """How many winners an organization with ``count`` entries can have."""
    if quotas.max_per_organization is None:
        return count
    return min(count, quotas.max_per_organization)


def _check_quotas(pool: Sequence[Candidate], quotas: Quotas) -> None:
    """Catch the infeasibilities a person can name before solving anything."""
    _check_numbers(pool, quotas)
    by_category: dict[str | None, list[Candidate]] = {}
    for c in pool:
        by_category.setdefault(c.category, []).append(c)
    for name, quota in sorted(quotas.categories.items()):
        _check_category_reach(name, quota, by_category.get(name, []), quotas)
    capacity = 0
    for name, members in by_category.items():
        quota = quotas.categories.get(name) if name is not None else None
        limit = len(members) if quota is None or quota.max is None else quota.max
        capacity += min(limit, len(members))
    if capacity < quotas.winners:
        raise QuotaInfeasible(
            "the category maximums allow at most %(capacity)s winners, fewer than the %(wanted)s asked for",
            capacity=capacity,
            wanted=quotas.winners,
        )


def _check_numbers(pool: Sequence[Candidate], quotas: Quotas) -> None:
    """The winners, the organization limit and each category's bounds make sense on their own."""
    wanted = quotas.winners
    if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1:
        raise QuotaInfeasible("the number of winners must be a whole number of at least 1")
    if quotas.max_per_organization is not None and quotas.max_per_organization < 1:
        raise QuotaInfeasible("max_per_organization must be at least 1")
    if wanted > len(pool):
        raise QuotaInfeasible(
            "%(wanted)s winners asked for but only %(pool)s entries compete", wanted=wanted, pool=len(pool)
        )
    for name, quota in sorted(quotas.categories.items()):
        if quota.min < 0 or (quota.max is not None and quota.max < 0):
            raise QuotaInfeasible("category %(category)s: min and max must not be negative", category=name)
        if quota.max is not None and quota.min > quota.max:
            raise QuotaInfeasible(
                "category %(category)s: min %(min)s is above max %(max)s",
                category=name,
                min=quota.min,
                max=quota.max,
            )
    minimums = sum(q.min for q in quotas.categories.values())
    if minimums > wanted:
        raise QuotaInfeasible(
            "the category minimums add up to %(minimums)s, more than the %(wanted)s winners",
            minimums=minimums,
            wanted=wanted,
        )


def _check_category_reach(
    name: str, quota: CategoryQuota, members: list[Candidate], quotas: Quotas
) -> None:
    """A category's minimum can be met by its entries under the organization limit."""
    if quota.min > len(members):
        raise QuotaInfeasible(
            "category %(category)s needs at least %(min)s winners but has only %(count)s entries",
            category=name,
            min=quota.min,
            count=len(members),
        )
    orgs = Counter(c.organization for c in members if c.organization is not None)
    reachable = sum(_org_limit(quotas, n) for n in orgs.values()) + sum(
        1 for c in members if c.organization is None
    )
    if quota.min > reachable:
        raise QuotaInfeasible(
            "category %(category)s needs at least %(min)s winners but its entries allow only"
            " %(reachable)s under the limit of %(limit)s per organization",
            category=name,
            min=quota.min,
            reachable=reachable,
            limit=quotas.max_per_organization,
        )


def _could_win(ranked: Sequence[Candidate], quotas: Quotas) -> list[Candidate]:
    """Drop entries that no optimal selection can contain, to keep the flow network small.

    Exchange argument: if x wins and some entry a of the same category ranks above x but loses,
    swapping them keeps the category counts and improves the selection unless a's organization
    is already full. So every higher-ranked entry of x's category either wins or belongs to a full
    organization: each organization among them (other than x's) holds at least one winner. If
    there are ``winners`` or more such organizations, x cannot win. Entries without an
    organization count as their own.
    """
    wanted = quotas.winners
    kept: list[Candidate] = []
    above: dict[str | None, tuple[Counter, int]] = {}
    for c in ranked:
        orgs, loose = above.get(c.category, (Counter(), 0))
        if quotas.max_per_organization is None:
            others = sum(orgs.values()) + loose
        else:
            others = len(orgs) - (1 if c.organization in orgs else 0) + loose
        if others < wanted:
            kept.append(c)
        if c.organization is None:
            loose += 1
        else:
            orgs[c.organization] += 1
        above[c.category] = (orgs, loose)
    return kept


class _Network:
    """A residual graph for successive shortest paths with exact integer costs."""

    def __init__(self, size: int) -> None:
        self.adjacent: list[list[int]] = [[] for _ in range(size)]
        self.head: list[int] = []
        self.capacity: list[int] = []
        self.cost: list[int] = []

    def add_arc(self, tail: int, head: int, capacity: int, cost: int) -> int:
        """Add an arc and its reverse; returns the arc's index (the reverse is index ^ 1)."""
        index = len(self.head)
        self.adjacent[tail].append(index)
        self.head.append(head)
        self.capacity.append(capacity)
        self.cost.append(cost)
        self.adjacent[head].append(index + 1)
        self.head.append(tail)
        self.capacity.append(0)
        self.cost.append(-cost)
        return index

    def min_cost_flow(self, source: int, sink: int, amount: int, order: Sequence[int]) -> int:
        """Push up to ``amount`` units at least cost; returns the flow sent.

        ``order`` is a topological order of the (acyclic) initial network, used to compute initial
        potentials with negative costs; Dijkstra on reduced costs does the rest.
        """
        potential = self._initial_potentials(source, order)
        sent = 0
        while sent < amount:
            best, via, done = self._shortest_paths(source, potential)
            if best[sink] is None:
                break
            for node, reached in enumerate(done):
                if reached:
                    potential[node] += best[node]
            sent += self._augment(source, sink, via, amount - sent)
        return sent

    def _initial_potentials(self, source: int, order: Sequence[int]) -> list[int]:
        """Shortest distances from the source in the acyclic initial network (0 where unreachable)."""
        dist: list[int | None] = [None] * len(self.adjacent)
        dist[source] = 0
        for node in order:
            if dist[node] is None:
                continue
            for arc in self.adjacent[node]:
                if self.capacity[arc] > 0:
                    candidate = dist[node] + self.cost[arc]
                    head = self.head[arc]
                    if dist[head] is None or candidate < dist[head]:
                        dist[head] = candidate
        return [0 if d is None else d for d in dist]

    def _shortest_paths(
        self, source: int, potential: list[int]
    ) -> tuple[list[int | None], list[int], list[bool]]:
        """Dijkstra on reduced costs: distances, the arc each node was reached by, and which are final."""
        size = len(self.adjacent)
        best: list[int | None] = [None] * size
        via = [-1] * size
        best[source] = 0
        heap = [(0, source)]
        done = [False] * size
        while heap:
            d, node = heapq.heappop(heap)
            if done[node]:
                continue
            done[node] = True
            for arc in self.adjacent[node]:
                head = self.head[arc]
                if self.capacity[arc] <= 0 or done[head]:
                    continue
                nd = d + self.cost[arc] + potential[node] - potential[head]
                if best[head] is None or nd < best[head]:
                    best[head] = nd
                    via[head] = arc
                    heapq.heappush(heap, (nd, head))
        return best, via, done

    def _augment(self, source: int, sink: int, via: list[int], limit: int) -> int:
        """Push as much as the path to ``sink`` allows (at most ``limit``); returns the amount."""
        push = limit
        node = sink
        while node != source:
            arc = via[node]
            push = min(push, self.capacity[arc])
            node = self.head[arc ^ 1]
        node = sink
        while node != source:
            arc = via[node]
            self.capacity[arc] -= push
            self.capacity[arc ^ 1] += push
            node = self.head[arc ^ 1]
        return push


def _max_score_flow(ranked: Sequence[Candidate], quotas: Quotas) -> set[Hashable]:
    """Solve the selection as a min-cost flow; ``ranked`` is in tie-break order."""
    n = len(ranked)
    wanted = quotas.winners
    category_names = sorted({c.category for c in ranked}, key=lambda x: (x is None, str(x)))
    org_names = sorted({c.organization for c in ranked if c.organization is not None}, key=str)
    source, sink = 0, 1
    category_node = {name: 2 + i for i, name in enumerate(category_names)}
    first_entry = 2 + len(category_names)
    org_node = {name: first_entry + n + i for i, name in enumerate(org_names)}
    network = _Network(first_entry + n + len(org_names))

    weights = [(_units(c.score) << n) + (1 << (n - 1 - i)) for i, c in enumerate(ranked)]
    # A must-fill arc costs more than any selection can gain, so the minimums are met whenever
    # they can be.
    must_fill = (sum(abs(w) for w in weights) + 1) * 2
    minimum_arcs: list[tuple[str | None, int, int]] = []
    for name in category_names:
        quota = quotas.categories.get(name) if name is not None else None
        size = sum(1 for c in ranked if c.category == name)
        low = quota.min if quota else 0
        high = size if quota is None or quota.max is None else min(quota.max, size)
        if low > 0:
            arc = network.add_arc(source, category_node[name], low, -must_fill)
            minimum_arcs.append((name, arc, low))
        if high > low:
            network.add_arc(source, category_node[name], high - low, 0)
    entry_arcs = []
    for i, c in enumerate(ranked):
        entry = first_entry + i
        entry_arcs.append(network.add_arc(category_node[c.category], entry, 1, -weights[i]))
        if c.organization is None:
            network.add_arc(entry, sink, 1, 0)
        else:
            network.add_arc(entry, org_node[c.organization], 1, 0)
    for name in org_names:
        members = sum(1 for c in ranked if c.organization == name)
        network.add_arc(org_node[name], sink, _org_limit(quotas, members), 0)

    order = [source, *category_node.values(), *range(first_entry, first_entry + n)]
    order += [*org_node.values(), sink]
    sent = network.min_cost_flow(source, sink, wanted, order)
    if sent < wanted:
        raise QuotaInfeasible(
            "only %(sent)s winners can be chosen under the category maximums and the limit of"
            " %(limit)s per organization, fewer than the %(wanted)s asked for",
            sent=sent,
            limit=quotas.max_per_organization,
            wanted=wanted,
        )
    short = [
        f"{name} ({network.capacity[arc ^ 1]} of {low})"
        for name, arc, low in minimum_arcs
        if network.capacity[arc] > 0
    ]
    if short:
        raise QuotaInfeasible(
            "the category minimums cannot all be met together with the other quotas: %(short)s",
            short=", ".join(short),
        )
    return {ranked[i].entry_id for i, arc in enumerate(entry_arcs) if network.capacity[arc] == 0}


def _fmt_pair(a: float, b: float) -> tuple[str, str]:
    """Format two scores with 2 decimals, or more when 2 would print them equal."""
    for decimals in range(2, SCORE_DECIMALS + 1):
        x, y = f"{a:.{decimals}f}", f"{b:.{decimals}f}"
        if x != y:
            return x, y
    return f"{a:.2f}", f"{b:.2f}"


@dataclass(frozen=True)
class _Cut:
    """The selection as the borderline explanation sees it: who won, who did not, and the counts."""

    winners: list[Candidate]
    others: list[Candidate]
    rank_of: Mapping[Hashable, int]
    quotas: Quotas
    seed: int
    per_category: Counter
    per_org: Counter


def _quota_of(cut: _Cut, name: str | None) -> CategoryQuota:
    return cut.quotas.categories.get(name, CategoryQuota()) if name is not None else CategoryQuota()


def _org_full(cut: _Cut, c: Candidate) -> bool:
    cap = cut.quotas.max_per_organization
    return c.organization is not None and cap is not None and cut.per_org[c.organization] >= cap


def _category_full(cut: _Cut, c: Candidate) -> bool:
    cap = _quota_of(cut, c.category).max
    return cap is not None and cut.per_category[c.category] >= cap


def _category_blocker(
    cut: _Cut, incoming: Candidate, outgoing: Candidate
) -> tuple[str, dict[str, str]] | None:
    """Which category quota a swap of two entries breaks (None if it breaks none)."""
    if incoming.category == outgoing.category:
        return None
    if _category_full(cut, incoming):
        return "max", {
            "category": str(incoming.category),
            "max": str(_quota_of(cut, incoming.category).max),
        }
    low = _quota_of(cut, outgoing.category).min
    if cut.per_category[outgoing.category] - 1 < low:
        return "min", {"category": str(outgoing.category), "min": str(low)}
    return None


def _swap_keeps_quotas(cut: _Cut, incoming: Candidate, outgoing: Candidate) -> bool:
    if _category_blocker(cut, incoming, outgoing):
        return False
    return incoming.organization == outgoing.organization or not _org_full(cut, incoming)


def _tie(cut: _Cut, better: Candidate, worse: Candidate) -> dict[str, str]:
    shown, _ = _fmt_pair(better.score, worse.score)
    return {"score": shown, "step": tie_break_step(better, worse, cut.seed)}


def _note(cut: _Cut, c: Candidate, selected: bool, message: str, **params: str) -> BorderlineNote:
    reason = message % params if params else message
    return BorderlineNote(
        c.entry_id, selected, cut.rank_of[c.entry_id] + 1, c.score, reason, message, params
    )


def _why_in(cut: _Cut, c: Candidate) -> BorderlineNote:
    """Why a winner near the cut is in."""
    outranked_by = [o for o in cut.others if cut.rank_of[o.entry_id] < cut.rank_of[c.entry_id]]
    quota = _quota_of(cut, c.category)
    if outranked_by:
        if quota.min and cut.per_category[c.category] <= quota.min:
            return _note(
                cut, c, True, WHY_CATEGORY_MINIMUM, min=str(quota.min), category=str(c.category)
            )
        names = ", ".join(str(o.entry_id) for o in outranked_by[:3])
        more = ", ..." if len(outranked_by) > 3 else ""
        count = len(outranked_by)
        message = WHY_OUTRANKED_ONE if count == 1 else WHY_OUTRANKED
        return _note(cut, c, True, message, count=str(count), names=names + more)
    if not cut.others:
        return _note(cut, c, True, WHY_EVERY_ENTRY_WINS)
    first_out = cut.others[0]
    if _units(c.score) == _units(first_out.score):
        return _note(
            cut, c, True, WHY_TIE_WITH_FIRST_OUT, other=str(first_out.entry_id), **_tie(cut, c, first_out)
        )
    mine, theirs = _fmt_pair(c.score, first_out.score)
    return _note(
        cut, c, True, WHY_ABOVE_FIRST_OUT, mine=mine, other=str(first_out.entry_id), theirs=theirs
    )


def _why_no_swap(cut: _Cut, c: Candidate) -> BorderlineNote:
    """Why an entry is out when no winner can be swapped for it within the quotas."""
    if _org_full(cut, c):
        mates = [w for w in cut.winners if w.organization == c.organization]
        mate_names = ", ".join(str(w.entry_id) for w in mates)
        blocker = _category_blocker(cut, c, mates[-1])
        message = WHY_ORGANIZATION_HAS_WINNER
        extra: dict[str, str] = {}
        if blocker:
            kind, extra = blocker
            message = (
                WHY_ORGANIZATION_WINNER_STAYS_MAX if kind == "max" else WHY_ORGANIZATION_WINNER_STAYS_MIN
            )
        return _note(
            cut, c, False, message, organization=str(c.organization), winners=mate_names, **extra
        )
    if _category_full(cut, c):
        return _note(
            cut,
            c,
            False,
            WHY_CATEGORY_FULL,
            category=str(c.category),
            max=str(_quota_of(cut, c.category).max),
        )
    return _note(cut, c, False, WHY_MINIMUMS_BLOCK)


def _why_out(cut: _Cut, c: Candidate) -> BorderlineNote:
    """Why an entry near the cut is out: the swap that comes closest, or the quota that forbids all."""
    partners = [w for w in cut.winners if _swap_keeps_quotas(cut, c, w)]
    if not partners:
        return _why_no_swap(cut, c)
    weakest = partners[-1]
    tied = _units(c.score) == _units(weakest.score)
    mine, theirs = _fmt_pair(c.score, weakest.score)
    scores = _tie(cut, weakest, c) if tied else {"mine": mine, "theirs": theirs}
    if _org_full(cut, c):
        message = WHY_ORGANIZATION_TIE if tied else WHY_ORGANIZATION_BELOW
        context = {"organization": str(c.organization)}
    elif _category_full(cut, c):
        message = WHY_CATEGORY_FULL_TIE if tied else WHY_CATEGORY_FULL_BELOW
        context = {"category": str(c.category), "max": str(_quota_of(cut, c.category).max)}
    else:
        context = {}
        if tied:
            message = WHY_TIE
        elif weakest is not cut.winners[-1]:
            message = WHY_BELOW_WEAKEST_PARTNER
        else:
            message = WHY_BELOW_LAST_WINNER
    params = {**context, **scores}
    if "%(winner)s" in message:
        params["winner"] = str(weakest.entry_id)
    return _note(cut, c, False, message, **params)


def _explain_borderline(
    ranked: Sequence[Candidate],
    rank_of: Mapping[Hashable, int],
    chosen: set[Hashable],
    quotas: Quotas,
    seed: int,
) -> tuple[BorderlineNote, ...]:
    """Reasons for the last few in and the first few out, from single swaps.

    The selection is optimal, so no single swap (one out, one in) that keeps the quotas can raise
    the total or win the tie-break; each reason names the swap that comes closest, or the quota
    that forbids every swap.
    """
    winners = [c for c in ranked if c.entry_id in chosen]
    cut = _Cut(
        winners=winners,
        others=[c for c in ranked if c.entry_id not in chosen],
        rank_of=rank_of,
        quotas=quotas,
        seed=seed,
        per_category=Counter(c.category for c in winners),
        per_org=Counter(c.organization for c in winners if c.organization is not None),
    )
    notes = [_why_in(cut, c) for c in winners[-BORDERLINE_SIZE:]]
    notes += [_why_out(cut, c) for c in cut.others[:BORDERLINE_SIZE]]
    return tuple(notes)
