"""Every outcome in reference_outcomes.json (pabutools 1.2.3 on real pabulib files) reproduced."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from voting.compute.pabulib import read_pb
from voting.compute.tally import Outcome, compare_by_popularity, compute_outcome

DATA = Path(__file__).resolve().parents[1] / "data" / "pabulib"
REFERENCE = json.loads((DATA / "reference_outcomes.json").read_text(encoding="utf-8"))

# reference key (without a "__float" suffix) -> our rule and parameters
PLAIN = {
    "greedy_cost": ("greedy", {"sat": "cost"}),
    "greedy_card": ("greedy", {"sat": "cardinality"}),
    "greedy_points": ("greedy", {"sat": "points-cost"}),
    "greedy_addcard": ("greedy", {"sat": "points"}),
    "greedy_rankpoints": ("greedy", {"sat": "rank-points-cost"}),
    "greedy_borda": ("greedy", {"sat": "borda"}),
    "greedy_borda_additive": ("greedy", {"sat": "borda"}),
    "mes_cost": ("equal-shares", {"sat": "cost"}),
    "mes_card": ("equal-shares", {"sat": "cardinality"}),
    "mes_addcard": ("equal-shares", {"sat": "points"}),
    "mes_borda": ("equal-shares", {"sat": "borda"}),
    "mes_cost_add1": ("equal-shares-add1", {"sat": "cost"}),
    "mes_card_add1": ("equal-shares-add1", {"sat": "cardinality"}),
    "mes_cost_greedy": ("equal-shares-greedy", {"sat": "cost"}),
    "mes_card_greedy": ("equal-shares-greedy", {"sat": "cardinality"}),
    "mes_cost_add1_greedy": ("equal-shares-add1-greedy", {"sat": "cost"}),
    "mes_card_add1_greedy": ("equal-shares-add1-greedy", {"sat": "cardinality"}),
    "mes_addcard_add1_greedypoints": (
        "equal-shares-add1-greedy",
        {"sat": "points", "completion_sat": "points-cost"},
    ),
    "mes_cost_budgetinc1pct_greedy": ("equal-shares-increase-greedy", {"sat": "cost"}),
    "greedy_cost_threshold3000": ("greedy-threshold", {"sat": "cost", "threshold": 3000}),
    "greedy_points_threshold1000points": (
        "greedy-threshold",
        {"sat": "points-cost", "threshold": 1000},
    ),
    "mes_cost_add1_without_66_67": ("equal-shares-add1", {"sat": "cost", "excluded": ("66", "67")}),
}
# Wieliczka's "comparison" step: mes_full against greedy, kept if more voters prefer it.
POPULARITY = {
    "docs_wieliczka_recipe__popularity_card__mesfull_vs_greedycard": "cardinality",
    "popularity_card__mesfull_vs_greedycost": "cost",
}


@cache
def election(file_name: str):
    return read_pb(DATA / file_name).election()


def run(file_name: str, key: str) -> Outcome:
    projects, budget, ballots, ballot_type = election(file_name)
    base = key.removesuffix("__float")
    if base in POPULARITY:
        candidates = [
            compute_outcome(
                projects, budget, ballots, rule="equal-shares-add1-greedy", tie_break="pabutools"
            ),
            compute_outcome(
                projects,
                budget,
                ballots,
                rule="greedy",
                sat=POPULARITY[base],
                tie_break="pabutools",
            ),
        ]
        return candidates[compare_by_popularity(candidates, ballots, sat="cardinality")]
    rule, params = PLAIN[base]
    return compute_outcome(
        projects,
        budget,
        ballots,
        rule=rule,
        ballot_type=ballot_type,
        tie_break="pabutools",
        **params,
    )


CASES = [
    (file_name, key, entry)
    for file_name, entries in REFERENCE.items()
    if file_name != "_meta"
    for key, entry in entries.items()
    if key != "_instance"
]


def test_every_reference_entry_has_a_mapping():
    for _, key, _ in CASES:
        assert key.removesuffix("__float") in PLAIN | POPULARITY, key


@pytest.mark.parametrize(
    ("file_name", "key"),
    [(f, k) for f, k, e in CASES if e["status"] == "ok"],
    ids=lambda v: v.removesuffix(".pb"),
)
def test_reproduces_pabutools(file_name: str, key: str):
    entry = REFERENCE[file_name][key]
    outcome = run(file_name, key)
    assert sorted(outcome.selected) == sorted(entry["selected"])
    assert outcome.total_cost == entry["total_cost"]
    assert len(set(outcome.selected)) == len(outcome.selected)


@pytest.mark.parametrize(
    ("file_name", "key"),
    [(f, k) for f, k, e in CASES if e["status"] != "ok"],
    ids=lambda v: v.removesuffix(".pb"),
)
def test_where_pabutools_timed_out_our_outcome_is_feasible(file_name: str, key: str):
    projects, budget, _, _ = election(file_name)
    costs = {p.id: p.cost for p in projects}
    outcome = run(file_name, key)
    assert outcome.total_cost == sum(costs[pid] for pid in outcome.selected) <= budget
    if key.removesuffix("__float").endswith("greedy"):
        # A completed outcome is exhaustive: nothing left out still fits.
        left = budget - outcome.total_cost
        assert all(costs[pid] > left for pid in costs if pid not in outcome.selected)


def test_city_rules_give_the_published_winners():
    """Where META names the city's rule, our rule of that name gives the `selected` column."""
    rule_for = {
        "greedy": "greedy",
        "greedy-threshold": "greedy-threshold",
        "equalshares/add1": "equal-shares-add1",
    }
    checked = 0
    for file_name, entries in REFERENCE.items():
        if file_name == "_meta":
            continue
        pb = read_pb(DATA / file_name)
        if pb.ballot_type != "approval" or pb.rule not in rule_for:
            continue
        projects, budget, ballots, _ = election(file_name)
        threshold = pb.threshold if pb.rule == "greedy-threshold" else None
        outcome = compute_outcome(
            projects,
            budget,
            ballots,
            rule=rule_for[pb.rule],
            sat="cost",
            threshold=threshold,
            tie_break="pabutools",
        )
        assert sorted(outcome.selected) == sorted(entries["_instance"]["official_selected"]), (
            file_name
        )
        checked += 1
    assert checked == 5
