"""Rank bands, distance to the cut, judges' letters and calibrated scores per criterion."""

from __future__ import annotations

import pytest

from judging.compute.feedback import (
    criterion_scores,
    cut_distance,
    judge_letter,
    judge_letters,
    rank_band,
    stage_figures,
)


def test_rank_bands_of_twenty_entries():
    bands = [rank_band(rank, 20) for rank in range(1, 21)]
    assert bands[:2] == ["top-10"] * 2
    assert bands[2:5] == ["10-25"] * 3
    assert bands[5:10] == ["25-50"] * 5
    assert bands[10:] == ["lower-half"] * 10
    assert rank_band(1, 1) == "top-10"
    with pytest.raises(ValueError):
        rank_band(3, 2)


def test_distance_to_a_count_cut_and_to_a_score_cut():
    advancing = [8.5, 7.25, 7.0]
    assert cut_distance(7.75, True, advancing, {"mode": "count", "count": 3}).distance == 0.75
    below = cut_distance(6.4, False, advancing, {"mode": "count", "count": 3})
    assert (below.advanced, below.cut, below.distance) == (False, 7.0, -0.6)
    assert cut_distance(6.4, False, [], {"mode": "cut", "cut": "6.50"}).distance == -0.1
    assert cut_distance(6.4, False, [], {"mode": "count", "count": 3}).distance is None


def test_judges_are_lettered_in_order_of_first_appearance():
    assert judge_letters([42, 7, 42, 9]) == {42: "A", 7: "B", 9: "C"}
    assert [judge_letter(i) for i in (0, 25, 26, 27)] == ["A", "Z", "AA", "AB"]


def test_each_criterion_is_calibrated_on_its_own():
    # Judge "h" is 2 points harsher than "g" on "tech" and agrees on "biz".
    reviews = [
        ("e1", "g", {"tech": 8, "biz": 5}),
        ("e1", "h", {"tech": 6, "biz": 5}),
        ("e2", "g", {"tech": 6, "biz": 3}),
        ("e3", "h", {"tech": 4, "biz": 7}),
    ]
    per_entry, means = criterion_scores(reviews, ["tech", "biz"])
    # Calibrated, e2 (seen only by the generous judge) and e3 (only by the harsh one) come level.
    assert per_entry["e2"]["tech"] == pytest.approx(per_entry["e3"]["tech"])
    assert per_entry["e1"]["tech"] == pytest.approx(7.0)
    assert means["tech"] == pytest.approx(sum(v["tech"] for v in per_entry.values()) / 3, abs=0.01)
    assert per_entry["e3"]["biz"] > per_entry["e2"]["biz"]


def test_stage_figures_follow_the_decision_and_each_criterion():
    reviews = [
        (11, "g", {"tech": 8, "biz": 5}),
        (11, "h", {"tech": 6, "biz": 5}),
        (12, "g", {"tech": 6, "biz": 3}),
        (13, "h", {"tech": 4, "biz": 7}),
    ]
    result = {
        "ranking": [
            {"entry_id": "E-1", "score": 6.5, "rank": 1},
            {"entry_id": "E-3", "score": 6.0, "rank": 2},
            {"entry_id": "E-2", "score": 5.25, "rank": 3},
        ],
        "advancing": ["E-1", "E-3"],
        "entry_ids": {"E-1": 11, "E-2": 12, "E-3": 13},
    }
    figures, means = stage_figures(result, {"mode": "count", "count": 2}, "additive", reviews, ["tech", "biz"])
    per_entry, expected_means = criterion_scores(reviews, ["tech", "biz"])
    assert means == expected_means
    assert [figures[e].position for e in (11, 13, 12)] == [0, 1, 2]
    assert {e: f.criteria for e, f in figures.items()} == per_entry
    assert (figures[13].advanced, figures[13].cut, figures[13].distance) == (True, 6.0, 0.0)
    assert (figures[12].advanced, figures[12].distance, figures[12].band) == (False, -0.75, "lower-half")
    assert figures[11].band == "top-10" and figures[11].ranked == 3
