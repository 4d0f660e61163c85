"""The winners as a min-cost flow: the optimal selection under the quotas (pure).

Each entry is an arc from its category node to its organization node, so a unit of flow
source -> category -> entry -> organization -> sink is one winner; the source -> category arcs carry
the category minimum (as a must-fill arc) and maximum, the organization -> sink arcs the organization
limit. The constraint matrix of a network is totally unimodular, so the flow optimum is an integral,
truly optimal selection (checked against brute force in the tests).

Arc costs are Python integers ``score_in_millionths * 2**n + 2**(n - 1 - rank)`` where ``rank`` is
the entry's place in the tie-break chain. Among selections with the best total score, the flow
therefore picks the one whose best differing entry ranks highest.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Sequence

from judging.compute.candidates import Candidate, QuotaInfeasible, Quotas, org_limit, score_units


class Network:
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


def max_score_flow(ranked: Sequence[Candidate], quotas: Quotas) -> set[Hashable]:
    """Solve the selection as a min-cost flow; ``ranked`` is in tie-break order."""
    n = len(ranked)
    wanted = quotas.winners
    category_names = sorted({c.category for c in ranked}, key=lambda x: (x is None, str(x)))
    org_names = sorted({c.organization for c in ranked if c.organization is not None}, key=str)
    source, sink = 0, 1
    category_node = {name: 2 + i for i, name in enumerate(category_names)}
    first_entry = 2 + len(category_names)
    org_node = {name: first_entry + n + i for i, name in enumerate(org_names)}
    network = Network(first_entry + n + len(org_names))

    weights = [(score_units(c.score) << n) + (1 << (n - 1 - i)) for i, c in enumerate(ranked)]
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
        network.add_arc(org_node[name], sink, org_limit(quotas, members), 0)

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
