"""Random elections: voting.compute.tally against pabutools 1.2.3 itself, rule by rule."""

from __future__ import annotations

import os
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pabutools.election import (
    Additive_Borda_Sat,
    Additive_Cardinal_Sat,
    ApprovalBallot,
    ApprovalProfile,
    Cardinality_Sat,
    Cost_Sat,
    CumulativeBallot,
    CumulativeProfile,
    Instance,
    OrdinalBallot,
    OrdinalProfile,
)
from pabutools.election import Project as PbProject
from pabutools.election.satisfaction import AdditiveSatisfaction
from pabutools.rules import (
    completion_by_rule_combination,
    greedy_utilitarian_welfare,
    method_of_equal_shares,
)

from voting.compute.tally import Project, TallyError, compute_outcome

# HANGANG_TALLY_EXAMPLES=2000 for a long run; the default keeps the file well under a minute.
EXAMPLES = int(os.environ.get("HANGANG_TALLY_EXAMPLES", "60"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 60,
    suppress_health_check=[HealthCheck.too_slow],
)
# Ids "1".."12": pabutools breaks ties on the id as a string, so "10" comes before "9".
IDS = [str(i) for i in range(1, 13)]


class Points_Cost_Sat(AdditiveSatisfaction):  # pabutools naming
    """Points x cost, as in reference_outcomes.json (greedy ranks by total points)."""

    def __init__(self, instance, profile, ballot):
        super().__init__(instance, profile, ballot, lambda i, pr, b, p, pre: b.get(p, 0) * p.cost)


class Rank_Points_Cost_Sat(AdditiveSatisfaction):
    """(ballot length - position) x cost, as in reference_outcomes.json."""

    def __init__(self, instance, profile, ballot):
        super().__init__(
            instance,
            profile,
            ballot,
            lambda i, pr, b, p, pre: (len(b) - b.position(p)) * p.cost if p in b else 0,
        )


SAT_CLASSES = {
    "cost": Cost_Sat,
    "cardinality": Cardinality_Sat,
    "points": Additive_Cardinal_Sat,
    "points-cost": Points_Cost_Sat,
    "rank-points-cost": Rank_Points_Cost_Sat,
    "borda": Additive_Borda_Sat,
}


@st.composite
def elections(draw, ballot_type: str, scale: int = 1):
    """Small elections with ties, zero costs, projects over budget and empty ballots."""
    ids = draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=6, unique=True))
    costs = [draw(st.integers(0, 30)) * scale for _ in ids]
    budget = draw(st.integers(0, 60)) * scale
    subsets = st.lists(st.sampled_from(ids), unique=True, max_size=len(ids))
    if ballot_type == "approval":
        ballots = draw(st.lists(subsets.map(frozenset), max_size=9))
    elif ballot_type == "cumulative":
        ballots = draw(
            st.lists(
                subsets.flatmap(
                    lambda chosen: st.tuples(*[st.integers(0, 3) for _ in chosen]).map(
                        lambda pts, chosen=chosen: dict(zip(chosen, pts, strict=True))
                    )
                ),
                max_size=9,
            )
        )
    else:
        ballots = draw(st.lists(subsets.map(tuple), max_size=9))
    return [Project(pid, cost) for pid, cost in zip(ids, costs, strict=True)], budget, ballots


def pabutools_election(projects, budget, ballots, ballot_type):
    instance = Instance(budget_limit=budget)
    by_id = {}
    for p in projects:
        by_id[p.id] = PbProject(p.id, p.cost)
        instance.add(by_id[p.id])
    if ballot_type == "approval":
        profile = ApprovalProfile([ApprovalBallot({by_id[i] for i in b}) for b in ballots])
    elif ballot_type == "cumulative":
        profile = CumulativeProfile(
            [CumulativeBallot({by_id[i]: pts for i, pts in b.items()}) for b in ballots]
        )
    else:
        profile = OrdinalProfile([OrdinalBallot([by_id[i] for i in b]) for b in ballots])
    return instance, profile


def pabutools_outcome(instance, profile, rule, sat, completion_sat="cost", increment=1):
    sat_class = SAT_CLASSES[sat]
    if rule == "greedy":
        # The additive path (greedy_borda_additive in the reference file).
        return greedy_utilitarian_welfare(
            instance, profile, sat_class=sat_class, is_sat_additive=True
        )
    mes = {"sat_class": sat_class}
    if "add1" in rule:
        mes["voter_budget_increment"] = increment
    if rule.endswith("-greedy"):
        return completion_by_rule_combination(
            instance,
            profile,
            [method_of_equal_shares, greedy_utilitarian_welfare],
            [mes, {"sat_class": SAT_CLASSES[completion_sat]}],
        )
    return method_of_equal_shares(instance, profile, **mes)


def check(election, ballot_type, rule, sat, completion_sat="cost", increment=1):
    projects, budget, ballots = election
    instance, profile = pabutools_election(projects, budget, ballots, ballot_type)
    pabutools = pabutools_outcome(instance, profile, rule, sat, completion_sat, increment)
    expected = sorted(p.name for p in pabutools)
    costs = {p.id: p.cost for p in projects}
    for exact in (False, True):
        outcome = compute_outcome(
            projects,
            budget,
            ballots,
            rule=rule,
            sat=sat,
            ballot_type=ballot_type,
            tie_break="pabutools",
            completion_sat=completion_sat,
            voter_budget_increment=increment,
            exact=exact,
        )
        assert sorted(outcome.selected) == expected, (rule, sat, exact)
        assert outcome.total_cost == sum(costs[pid] for pid in outcome.selected) <= budget


APPROVAL_RULES = [
    (rule, sat)
    for rule in (
        "greedy",
        "equal-shares",
        "equal-shares-greedy",
        "equal-shares-add1",
        "equal-shares-add1-greedy",
    )
    for sat in ("cost", "cardinality")
]


@pytest.mark.parametrize(("rule", "sat"), APPROVAL_RULES)
@SETTINGS
@given(election=elections("approval"))
def test_approval_elections_match_pabutools(rule, sat, election):
    check(election, "approval", rule, sat)


@pytest.mark.parametrize(
    ("rule", "sat", "completion_sat"),
    [
        ("greedy", "points", "cost"),
        ("greedy", "points-cost", "cost"),
        ("greedy", "cost", "cost"),
        ("equal-shares", "points", "cost"),
        ("equal-shares", "cost", "cost"),
        ("equal-shares-add1-greedy", "points", "points-cost"),
        ("equal-shares-add1-greedy", "cardinality", "cost"),
    ],
)
@SETTINGS
@given(election=elections("cumulative"))
def test_cumulative_elections_match_pabutools(rule, sat, completion_sat, election):
    check(election, "cumulative", rule, sat, completion_sat)


@pytest.mark.parametrize(
    ("rule", "sat"),
    [
        ("greedy", "borda"),
        ("greedy", "rank-points-cost"),
        ("equal-shares", "borda"),
        ("equal-shares", "cost"),
        ("equal-shares-add1-greedy", "borda"),
    ],
)
@SETTINGS
@given(election=elections("ordinal"))
def test_ordinal_elections_match_pabutools(rule, sat, election):
    check(election, "ordinal", rule, sat)


@pytest.mark.parametrize("rule", ["greedy", "equal-shares", "equal-shares-add1-greedy"])
@settings(max_examples=40, deadline=None, derandomize=True)
@given(election=elections("approval", scale=1_000_000_000))
def test_krw_scale_amounts_stay_exact(rule, election):
    """Costs in billions of won, budgets up to 60 billion: same outcomes as pabutools."""
    check(election, "approval", rule, "cost", increment=1_000_000_000)


def test_city_tie_break_prefers_lower_cost_then_more_votes_then_the_lot():
    projects = [Project("a", 10), Project("b", 6), Project("c", 6), Project("d", 6)]
    # Votes: a 2, b 2, c 3, d 3. Greedy by votes: c and d tie (same cost, same votes),
    # then a and b tie on votes; the city funds the cheaper b, pabutools the lower id a.
    ballots = [{"a", "b"}, {"a", "c", "d"}, {"b", "c", "d"}, {"c", "d"}]
    city = compute_outcome(projects, 22, ballots, rule="greedy", tie_break="city", seed=1)
    assert set(city.selected) == {"b", "c", "d"}
    reference = compute_outcome(projects, 22, ballots, rule="greedy", tie_break="pabutools")
    assert reference.selected == ("c", "d", "a")
    picks = {
        compute_outcome(projects, 6, ballots, rule="greedy", tie_break="city", seed=s).selected
        for s in range(20)
    }
    assert picks == {("c",), ("d",)}  # the seeded lot decides between c and d
    again = compute_outcome(projects, 6, ballots, rule="greedy", tie_break="city", seed=7)
    assert again == compute_outcome(projects, 6, ballots, rule="greedy", tie_break="city", seed=7)
    assert again.seed == 7
    # More votes break a tie in cost per vote (cardinality: votes / cost).
    card = compute_outcome(
        [Project("x", 4), Project("y", 6)],
        6,
        [{"x", "y"}, {"x", "y"}, {"y"}],
        rule="greedy",
        sat="cardinality",
        tie_break="city",
    )
    assert card.selected == ("x",)


def test_explanations_cover_every_project():
    projects = [Project("1", 40), Project("2", 30), Project("3", 50)]
    ballots = [{"1", "2"}, {"1"}, {"3"}, {"2", "3"}]
    greedy = compute_outcome(projects, 80, ballots, rule="greedy", tie_break="pabutools")
    assert [(s.project_id, s.reason) for s in greedy.steps] == [
        ("1", "fits"),
        ("2", "fits"),
        ("3", "does-not-fit"),
    ]
    assert greedy.steps[1].remaining_budget == 10
    mes = compute_outcome(projects, 80, ballots, rule="equal-shares-greedy")
    bought = [s for s in mes.steps if s.reason == "bought"]
    assert bought and all(s.round and s.price_per_supporter for s in bought)
    explained = {s.project_id for s in mes.steps} | {f.project_id for f in mes.shortfalls}
    assert explained == {"1", "2", "3"}


def test_threshold_leaves_weak_projects_out():
    projects = [Project("1", 10), Project("2", 10)]
    ballots = [{"1"}, {"1"}, {"2"}]
    outcome = compute_outcome(projects, 100, ballots, rule="greedy-threshold", threshold=2)
    assert outcome.selected == ("1",)
    assert outcome.excluded == ("2",)
    no_skip = compute_outcome(
        [Project("1", 90), Project("2", 20)], 100, ballots, rule="greedy-no-skip"
    )
    assert no_skip.selected == ("1",)
    assert no_skip.steps[-1].reason == "stopped"


def test_weights_count_as_that_many_voters():
    projects = [Project("1", 60), Project("2", 60)]
    grouped = compute_outcome(projects, 100, [{"1"}, {"2"}], weights=[3, 1], rule="equal-shares")
    spelled = compute_outcome(projects, 100, [{"1"}] * 3 + [{"2"}], rule="equal-shares")
    assert grouped.selected == spelled.selected == ("1",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rule": "lottery"}, "unknown rule"),
        ({"rule": "greedy", "sat": "points"}, "does not apply"),
        ({"rule": "greedy-threshold"}, "needs a threshold"),
        ({"rule": "equal-shares", "threshold": 3}, "only applies"),
        ({"rule": "greedy", "tie_break": "coin"}, "tie-break"),
    ],
)
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(TallyError, match=message):
        compute_outcome([Project("1", 1)], 1, [{"1"}], **kwargs)


def test_bad_inputs_are_named():
    with pytest.raises(TallyError, match="unknown project 'x'"):
        compute_outcome([Project("1", 1)], 1, [{"1"}, {"x"}])
    with pytest.raises(TallyError, match="int or a Fraction"):
        compute_outcome([Project("1", 1.5)], 1, [{"1"}])
    with pytest.raises(TallyError, match="negative"):
        compute_outcome([Project("1", 1)], -1, [{"1"}])
    with pytest.raises(TallyError, match="weight"):
        compute_outcome([Project("1", 1)], 1, [{"1"}], weights=[-1])
    with pytest.raises(TallyError, match="ranked twice"):
        compute_outcome([Project("1", 1)], 1, [("1", "1")], ballot_type="ordinal")


def test_numpy_integers_are_exact_amounts():
    import numpy as np

    outcome = compute_outcome([Project("1", np.int64(5))], np.int64(10), [{"1"}])
    assert outcome.total_cost == 5 and type(outcome.total_cost) is int


def test_decimal_costs_stay_exact():
    projects = [Project("1", Fraction(1, 10)), Project("2", Fraction(2, 10))]
    outcome = compute_outcome(projects, Fraction(3, 10), [{"1", "2"}], rule="equal-shares-add1")
    assert outcome.total_cost == Fraction(3, 10)
