"""Calibration (raw mean, z-score, additive judge offsets) and the rubric totals it consumes."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from judging.compute.calibration import (
    METHODS,
    CalibrationError,
    Review,
    calibrate,
    compare_methods,
)
from judging.compute.rubric import DEFAULT_CRITERIA, RubricError, weighted_total

# The issue's planted case: qualities E1 8, E2 6, E3 5, E4 3; offsets J1 +2, J2 0, J3 -2.
PLANTED = [
    ("E3", "J1", 7),
    ("E4", "J1", 5),
    ("E1", "J2", 8),
    ("E2", "J2", 6),
    ("E3", "J2", 5),
    ("E4", "J2", 3),
    ("E1", "J3", 6),
    ("E2", "J3", 4),
]


def test_planted_case_raw_means_rank_e3_above_e2():
    raw = calibrate(PLANTED, "mean")
    assert raw.entries["E3"].score == 6.0
    assert raw.entries["E2"].score == 5.0
    assert raw.entries["E3"].score > raw.entries["E2"].score


def test_planted_case_additive_model_recovers_the_true_qualities_exactly():
    result = calibrate(PLANTED)  # additive is the default
    assert result.method == "additive"
    assert {e: x.score for e, x in result.entries.items()} == {
        "E1": 8.0,
        "E2": 6.0,
        "E3": 5.0,
        "E4": 3.0,
    }
    assert result.judge_offsets == {"J1": 2.0, "J2": 0.0, "J3": -2.0}
    assert result.components == 1
    for entry in result.entries.values():
        # No noise was planted, so the offset-corrected scores agree perfectly.
        assert entry.disagreement == 0.0
        assert entry.reviews == 2
    assert result.entries["E3"].raw_mean == 6.0
    assert result.entries["E3"].raw_scores == (7.0, 5.0)


def test_result_does_not_depend_on_the_order_of_the_reviews():
    shuffled = PLANTED[:]
    random.Random(7).shuffle(shuffled)
    for method in METHODS:
        assert calibrate(shuffled, method) == calibrate(PLANTED, method)


@st.composite
def planted_designs(draw):
    """Random connected review designs with planted qualities and zero-sum judge offsets."""
    n_judges = draw(st.integers(2, 6))
    # At least as many entries as judges, so the chain below gives every judge a review.
    n_entries = draw(st.integers(n_judges, 12))
    qualities = [draw(st.integers(20, 80)) / 10 for _ in range(n_entries)]
    offsets = [draw(st.integers(-15, 15)) / 10 for _ in range(n_judges - 1)]
    offsets.append(-sum(offsets))
    # A chain entry i -> judges i % J and (i + 1) % J keeps the design connected; extra pairs on top.
    pairs = {(i, i % n_judges) for i in range(n_entries)}
    pairs |= {(i, (i + 1) % n_judges) for i in range(n_entries)}
    extra = draw(st.sets(st.tuples(st.integers(0, n_entries - 1), st.integers(0, n_judges - 1))))
    pairs |= extra
    reviews = [(f"E{i}", f"J{j}", qualities[i] + offsets[j]) for i, j in sorted(pairs)]
    return reviews, qualities, offsets


@settings(max_examples=60, deadline=None)
@given(planted_designs())
def test_additive_model_recovers_any_noise_free_planted_design(design):
    reviews, qualities, offsets = design
    result = calibrate(reviews)
    for i, quality in enumerate(qualities):
        assert result.entries[f"E{i}"].score == pytest.approx(quality, abs=1e-6)
    for j, offset in enumerate(offsets):
        assert result.judge_offsets[f"J{j}"] == pytest.approx(offset, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 8), st.integers(0, 4), st.integers(10, 100)),
        min_size=1,
        max_size=30,
        unique_by=lambda t: (t[0], t[1]),
    ),
    st.sampled_from([0.0, 0.5, 3.0]),
)
def test_offsets_sum_to_zero_in_every_component(rows, ridge):
    reviews = [(f"E{e}", f"J{j}", s / 10) for e, j, s in rows]
    result = calibrate(reviews, "additive", ridge)
    by_component: dict[int, set[str]] = {}
    for e, j, _ in reviews:
        by_component.setdefault(result.entries[e].component, set()).add(j)
    assert len(by_component) == result.components
    for judges in by_component.values():
        assert sum(result.judge_offsets[j] for j in judges) == pytest.approx(0.0, abs=1e-5)
    for entry in result.entries.values():
        assert math.isfinite(entry.score)


def test_separate_components_are_fitted_separately():
    # Two islands: {E1, E2} x {J1, J2} and {E3, E4} x {J3}.
    reviews = [
        ("E1", "J1", 9),
        ("E2", "J1", 7),
        ("E1", "J2", 7),
        ("E2", "J2", 5),
        ("E3", "J3", 4),
        ("E4", "J3", 6),
    ]
    result = calibrate(reviews)
    assert result.components == 2
    assert result.entries["E1"].component != result.entries["E3"].component
    assert result.judge_offsets == {"J1": 1.0, "J2": -1.0, "J3": 0.0}
    assert result.entries["E1"].score == 8.0
    assert result.entries["E3"].score == 4.0


def test_ridge_shrinks_offsets_towards_zero_and_keeps_the_ranking_here():
    plain = calibrate(PLANTED)
    ridged = calibrate(PLANTED, ridge=1.0)
    assert ridged.judge_offsets["J1"] == pytest.approx(1.0)
    assert ridged.judge_offsets["J3"] == pytest.approx(-1.0)
    assert abs(ridged.judge_offsets["J1"]) < abs(plain.judge_offsets["J1"])
    heavy = calibrate(PLANTED, ridge=1e9)
    for entry in heavy.entries.values():
        assert entry.score == pytest.approx(entry.raw_mean, abs=1e-6)


def test_zscore_ignores_each_judges_own_scale():
    # J2 uses the scale twice as wide and 1 point higher than J1: same opinions.
    base = {"E1": 6.0, "E2": 5.0, "E3": 4.0}
    reviews = [(e, "J1", s) for e, s in base.items()] + [
        (e, "J2", 2 * s - 3) for e, s in base.items()
    ]
    result = calibrate(reviews, "zscore")
    scores = {e: x.score for e, x in result.entries.items()}
    assert scores["E1"] > scores["E2"] > scores["E3"]
    for entry in result.entries.values():
        assert entry.disagreement == pytest.approx(0.0, abs=1e-6)
    assert result.judge_offsets["J2"] > result.judge_offsets["J1"]


def test_zscore_gives_a_flat_judge_no_say():
    reviews = [("E1", "J1", 7), ("E2", "J1", 7), ("E1", "J2", 9), ("E2", "J2", 3)]
    result = calibrate(reviews, "zscore")
    assert result.entries["E1"].score > result.entries["E2"].score


def test_mean_method_reports_raw_spread_and_zero_offsets():
    result = calibrate([("E1", "J1", 4), ("E1", "J2", 8), ("E2", "J1", 5)], "mean")
    assert result.entries["E1"].score == 6.0
    assert result.entries["E1"].disagreement == 2.0
    assert result.entries["E2"].disagreement == 0.0
    assert set(result.judge_offsets.values()) == {0.0}


def test_compare_methods_runs_all_three_side_by_side():
    side_by_side = compare_methods(PLANTED)
    assert list(side_by_side) == list(METHODS)
    assert side_by_side["additive"].entries["E2"].score == 6.0
    assert side_by_side["mean"].entries["E2"].score == 5.0


@pytest.mark.parametrize(
    ("reviews", "message"),
    [
        ([], "no reviews"),
        ([("E1", "J1", 5), ("E1", "J1", 6)], "more than once"),
        ([("E1", "J1", float("nan"))], "not a number"),
    ],
)
def test_bad_reviews_are_refused_with_a_reason(reviews, message):
    with pytest.raises(CalibrationError, match=message):
        calibrate(reviews)


def test_unknown_method_and_negative_ridge_are_refused():
    with pytest.raises(CalibrationError, match="unknown method"):
        calibrate(PLANTED, "median")
    with pytest.raises(CalibrationError, match="ridge"):
        calibrate(PLANTED, ridge=-1)


def test_review_objects_and_tuples_are_equivalent():
    objects = [Review(*r) for r in PLANTED]
    assert calibrate(objects) == calibrate(PLANTED)


# Rubric: the weighted totals that judges' sheets feed into calibration.


def _all(score: int) -> dict[str, int]:
    return {c.key: score for c in DEFAULT_CRITERIA}


def test_default_rubric_weights_match_the_issue():
    assert [(c.key, c.weight) for c in DEFAULT_CRITERIA] == [
        ("impact", 30),
        ("feasibility", 25),
        ("innovation", 20),
        ("scalability", 15),
        ("responsible_ai", 10),
    ]
    for criterion in DEFAULT_CRITERIA:
        assert [(lv.low, lv.high) for lv in criterion.levels] == [
            (1, 2),
            (3, 4),
            (5, 6),
            (7, 8),
            (9, 10),
        ]
        assert all(lv.en and lv.ko for lv in criterion.levels)
        assert criterion.level_for(7).low == 7


def test_weighted_total_is_a_weighted_mean_on_the_1_to_10_scale():
    assert weighted_total(_all(1)) == 1.0
    assert weighted_total(_all(10)) == 10.0
    scores = {
        "impact": 10,
        "feasibility": 1,
        "innovation": 3,
        "scalability": 8,
        "responsible_ai": 9,
    }
    # (300 + 25 + 60 + 120 + 90) / 100
    assert weighted_total(scores) == 5.95


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"impact": 11}, "outside 1-10"),
        ({"impact": 0}, "outside 1-10"),
        ({"impact": 7.5}, "whole number"),
        ({"typo": 5}, "unknown criteria"),
    ],
)
def test_weighted_total_refuses_bad_scores(change, message):
    with pytest.raises(RubricError, match=message):
        weighted_total(_all(5) | change)


def test_weighted_total_refuses_a_missing_criterion():
    scores = _all(5)
    del scores["innovation"]
    with pytest.raises(RubricError, match="innovation: missing"):
        weighted_total(scores)


def test_judges_below_the_minimum_are_flagged():
    from judging.compute.calibration import sparse_judges

    reviews = [("e1", "a", 7), ("e2", "a", 6), ("e3", "a", 5), ("e1", "b", 8), ("e2", "b", 6)]
    assert sparse_judges(reviews, 3) == {"b": 2}
    assert sparse_judges(reviews, 2) == {}
    assert sparse_judges(reviews, 4) == {"a": 3, "b": 2}
