"""Weighted channels (voting.compute.channels): hand-computed examples and properties."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voting.compute.channels import (
    WeightedInput,
    check_weights,
    compute_weighted,
    effective_weights,
    outcome_json,
)
from voting.compute.election import TallyError
from voting.compute.tally import Project, compute_outcome

SETTINGS = settings(
    max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
SEOUL_2019 = {"online": 50, "stations": 30, "committee": 10, "assembly": 10}


def test_seoul_weights_by_hand() -> None:
    """Three projects, four channels, shares worked out on paper."""
    inp = WeightedInput(
        budget=100,
        costs={1: 60, 2: 50, 3: 40},
        weights=SEOUL_2019,
        # online: 10 approvals (6/3/1); stations: 4 (1/1/2); committee: 5 (0/5/0); assembly: 10 (2/2/6)
        approvals={
            "online": {1: 6, 2: 3, 3: 1},
            "stations": {1: 1, 2: 1, 3: 2},
            "committee": {2: 5},
            "assembly": {1: 2, 2: 2, 3: 6},
        },
        ballots={"online": 8, "stations": 3, "committee": 5, "assembly": 7},
    )
    out = compute_weighted(inp)
    by_id = {p.id: p for p in out.projects}
    # 1: .5*6/10 + .3*1/4 + .1*0 + .1*2/10 = .3 + .075 + .02 = .395
    assert by_id[1].score == Fraction(395, 1000)
    # 2: .5*3/10 + .3*1/4 + .1*5/5 + .1*2/10 = .15 + .075 + .1 + .02 = .345
    assert by_id[2].score == Fraction(345, 1000)
    # 3: .5*1/10 + .3*2/4 + 0 + .1*6/10 = .05 + .15 + .06 = .26
    assert by_id[3].score == Fraction(26, 100)
    # 1 (60) fits, 2 (50) does not fit in the 40 left, 3 (40) fits exactly.
    assert out.selected == (1, 3)
    assert [p.id for p in out.projects] == [1, 2, 3]
    assert out.total_cost == 100
    data = outcome_json(inp, out)
    assert data["projects"][0]["shares"] == {
        "online": "60.00",
        "stations": "25.00",
        "committee": "0.00",
        "assembly": "20.00",
    }
    assert data["projects"][0]["score"] == "39.50"
    assert data["projects"][1]["why_not"] == {"kind": "does-not-fit", "left": 40, "short_by": 10}
    assert data["voters"] == 23
    assert "Channel committee: weight 10%, 5 approvals." in data["explanation"]


def test_a_channel_without_votes_passes_its_weight_on_in_proportion() -> None:
    weights = {"online": 50, "stations": 30, "committee": 10, "assembly": 10}
    eff = effective_weights(weights, {"online": 9, "stations": 0, "committee": 3, "assembly": 1})
    # 30% of stations shared by 50:10:10 -> 50/70, 10/70, 10/70
    assert eff == {
        "online": Fraction(5, 7),
        "stations": Fraction(0),
        "committee": Fraction(1, 7),
        "assembly": Fraction(1, 7),
    }
    inp = WeightedInput(
        budget=10,
        costs={1: 10, 2: 10},
        weights=weights,
        approvals={"online": {1: 1, 2: 3}, "committee": {1: 1}, "assembly": {1: 1}},
        ballots={"online": 3, "committee": 1, "assembly": 1},
    )
    out = compute_weighted(inp)
    assert out.empty_channels == ("stations",)
    # 1: 5/7*1/4 + 1/7 + 1/7 = 5/28 + 8/28 = 13/28 ; 2: 5/7*3/4 = 15/28
    assert [p.score for p in out.projects] == [Fraction(15, 28), Fraction(13, 28)]
    assert out.selected == (2,)
    lines = outcome_json(inp, out)["explanation"]
    assert any("stations has no votes: its weight of 30%" in line for line in lines)


def test_no_votes_anywhere_funds_nothing() -> None:
    inp = WeightedInput(10, {1: 1}, {"online": 100}, {}, {})
    out = compute_weighted(inp)
    assert out.selected == () and out.projects == ()
    data = outcome_json(inp, out)
    assert data["projects"][0]["why_not"] == {"kind": "no-votes"}
    assert data["explanation"][-1].startswith("No channel has any votes")


def test_a_zero_weight_channel_is_shown_but_not_counted() -> None:
    inp = WeightedInput(
        budget=5,
        costs={1: 5, 2: 5},
        weights={"online": 100, "committee": 0},
        approvals={"online": {1: 2, 2: 1}, "committee": {2: 9}},
        ballots={"online": 3, "committee": 9},
    )
    out = compute_weighted(inp)
    assert out.selected == (1,)
    assert out.projects[1].shares[1].share == 1 and out.projects[1].approvals == 1


@pytest.mark.parametrize(
    "weights,with_online",
    [
        ({}, False),
        ({"online": 50, "stations": 30}, False),  # 80
        ({"online": 50.0, "committee": 50}, False),  # not whole
        ({"online": 101, "committee": -1}, False),
        ({"online": 90, "mail": 10}, False),
        ({"online": 70, "stations": 30}, True),  # stations are inside online
    ],
)
def test_weights_are_whole_percentages_summing_to_100(weights: dict, with_online: bool) -> None:
    with pytest.raises(TallyError):
        check_weights(weights, with_online)


def test_negative_approvals_are_refused() -> None:
    with pytest.raises(TallyError):
        compute_weighted(WeightedInput(10, {1: 1}, {"online": 100}, {"online": {1: -1}}, {}))


# ---------------------------------------------------------------- properties

costs_st = st.lists(st.integers(0, 40), min_size=1, max_size=7)


@st.composite
def elections(draw: st.DrawFn) -> tuple[dict[int, int], int, list[set[int]]]:
    costs = {i + 1: c for i, c in enumerate(draw(costs_st))}
    ballots = draw(
        st.lists(
            st.sets(st.sampled_from(sorted(costs)), max_size=len(costs)), min_size=1, max_size=12
        )
    )
    if not any(ballots):
        ballots.append({1})
    return costs, draw(st.integers(0, 120)), ballots


@SETTINGS
@given(elections(), st.sampled_from(["city", "pabutools"]), st.integers(0, 5), st.data())
def test_online_only_equals_plain_greedy(election, tie_break, seed, data) -> None:
    """Weights 100/0/0/0 give exactly the engine's greedy on the online ballots."""
    costs, budget, ballots = election
    online = Counter(pid for b in ballots for pid in b)
    others = {
        c: {pid: data.draw(st.integers(0, 5)) for pid in costs}
        for c in ("stations", "committee", "assembly")
    }
    out = compute_weighted(
        WeightedInput(
            budget,
            costs,
            {"online": 100, "stations": 0, "committee": 0, "assembly": 0},
            {"online": dict(online), **others},
            {"online": len(ballots)},
            tie_break,
            seed,
        )
    )
    plain = compute_outcome(
        [Project(str(pid), cost) for pid, cost in sorted(costs.items())],
        budget,
        [{str(p) for p in b} for b in ballots],
        rule="greedy",
        sat="cost",
        tie_break=tie_break,
        seed=seed,
    )
    # Same winners in the same order; free projects (always funded) come first here, while the
    # engine's cost satisfaction gives them a score of 0 and funds them last.
    assert {str(p) for p in out.selected} == set(plain.selected)
    assert [str(p) for p in out.selected if costs[p]] == [
        p for p in plain.selected if costs[int(p)]
    ]


channel_counts = st.dictionaries(st.integers(1, 6), st.integers(0, 8), max_size=6)


@st.composite
def weighted_inputs(draw: st.DrawFn) -> WeightedInput:
    costs = {
        i + 1: c for i, c in enumerate(draw(st.lists(st.integers(0, 50), min_size=1, max_size=6)))
    }
    cut = sorted(draw(st.lists(st.integers(0, 100), min_size=3, max_size=3)))
    weights = dict(
        zip(SEOUL_2019, [cut[0], cut[1] - cut[0], cut[2] - cut[1], 100 - cut[2]], strict=True)
    )
    approvals = {
        c: {p: n for p, n in draw(channel_counts).items() if p in costs} for c in SEOUL_2019
    }
    return WeightedInput(
        draw(st.integers(0, 150)),
        costs,
        weights,
        approvals,
        {c: sum(a.values()) for c, a in approvals.items()},
        draw(st.sampled_from(["city", "pabutools"])),
        draw(st.integers(0, 3)),
    )


@SETTINGS
@given(weighted_inputs())
def test_budget_never_exceeded_and_the_fill_is_greedy(inp: WeightedInput) -> None:
    out = compute_weighted(inp)
    assert out.total_cost == sum(inp.costs[p] for p in out.selected) <= inp.budget
    if out.projects:
        assert sum(out.effective.values()) == 1
        assert sum(p.score for p in out.projects) == 1 or all(p.score == 0 for p in out.projects)
        spent_left = inp.budget - out.total_cost
        # skipped only because it did not fit at its turn; nothing left out still fits at the end
        assert all(p.cost > spent_left for p in out.projects if not p.selected)


@SETTINGS
@given(weighted_inputs(), st.sampled_from(list(SEOUL_2019)), st.integers(1, 6))
def test_more_approvals_never_lower_a_project(inp: WeightedInput, channel: str, pid: int) -> None:
    """One more approval for a project never lowers its combined score nor its place in the ranking."""
    if pid not in inp.costs:
        return
    before = compute_weighted(inp)
    approvals = {c: dict(a) for c, a in inp.approvals.items()}
    approvals[channel][pid] = approvals[channel].get(pid, 0) + 1
    after = compute_weighted(
        WeightedInput(
            inp.budget, inp.costs, inp.weights, approvals, inp.ballots, inp.tie_break, inp.tie_seed
        )
    )
    old = {p.id: p for p in before.projects}
    new = {p.id: p for p in after.projects}
    if pid not in old:  # no votes anywhere before: it now has some
        return
    assert new[pid].score >= old[pid].score
    below_before = {p for p in old if old[p].score < old[pid].score}
    below_after = {p for p in new if new[p].score < new[pid].score}
    assert below_before <= below_after
