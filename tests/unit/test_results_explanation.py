"""The results engine explains itself in the reader's language and names projects by title (issue 9, item 7)."""

from __future__ import annotations

import json
import re

from portal import i18n
from voting.compute.results import PotInput, explanation_lines, run_rule

TITLES = {11: "Shade trees on the river path", 12: "Heated bus shelters", 13: "Flood sensors"}


def _outcome(rule: str, ballots: list[dict] | None = None) -> dict:
    data = PotInput(
        budget=1_000,
        costs={11: 600, 12: 500, 13: 300},
        ballots=ballots
        if ballots is not None
        else [{"project_ids": [11, 13]}, {"project_ids": [12]}, {"project_ids": [11]}, {"project_ids": [12, 13]}],
        ballot_kind="approval",
        tie_break="city",
        tie_seed=7,
    )
    _params, outcome = run_rule(rule, data)
    return json.loads(json.dumps(outcome))  # as stored in the database


def _lines_in(language: str, outcome: dict) -> list[str]:
    """As the results page calls it: the templates' gettext in the reader's language."""
    token = i18n.current_language.set(language)
    try:
        return explanation_lines(outcome, TITLES, i18n.gettext)
    finally:
        i18n.current_language.reset(token)


def test_explanation_is_translated_and_names_projects_by_title():
    for rule in ("equal-shares", "greedy"):
        outcome = _outcome(rule)
        for language in ("ko", "en"):
            lines = _lines_in(language, outcome)
            text = " ".join(lines)
            assert len(lines) == len(outcome["explanation"]) >= 3
            assert "Shade trees on the river path" in text or "Heated bus shelters" in text
            # No bare project ids: every project is named by its title.
            assert not re.search(r"(?<![\d,.])1[123](?![\d,])", text), text
            if language == "ko":
                untranslated = [line for line in lines if re.search(r"\b(funded|budget|Round|supporters)\b", line)]
                assert not untranslated, untranslated
                assert all(re.search(r"[\uac00-\ud7a3]", line) for line in lines)
            else:
                assert lines[0].startswith("Rule ") and lines[-1].startswith("Funded ")


def test_a_pot_without_ballots_says_so_in_both_languages():
    outcome = _outcome("greedy", ballots=[])
    assert _lines_in("en", outcome) == ["No ballots were cast in this pot: nothing is funded."]
    assert _lines_in("ko", outcome) == ["이 지역 예산에는 투표가 없어 선정된 사업이 없습니다."]


def test_runs_stored_before_the_steps_keep_their_lines():
    assert explanation_lines({"explanation": ["Rule greedy."]}, TITLES, str) == ["Rule greedy."]


def test_every_explanation_message_has_a_korean_translation():
    korean = i18n._catalog("ko")
    for rule in ("equal-shares", "greedy", "greedy-threshold"):
        for step in _outcome(rule)["explanation_steps"]:
            assert step["message"] in korean, step["message"]


def test_where_a_losers_supporters_money_went_counts_every_ballot_that_backed_it():
    """`went_to` (Equal Shares shortfalls) is the winners most backed by the loser's supporters, counted directly."""
    import random

    rng = random.Random(5)
    costs = {pid: rng.randrange(100, 700) for pid in range(1, 13)}
    ballots = [{"project_ids": sorted(rng.sample(list(costs), rng.randint(1, 5)))} for _ in range(400)]
    data = PotInput(budget=2_000, costs=costs, ballots=ballots, ballot_kind="approval", tie_break="city", tie_seed=3)
    outcome = run_rule("equal-shares", data)[1]
    winners = set(outcome["selected"])
    shortfalls = [p for p in outcome["projects"] if (p["why_not"] or {}).get("kind") == "equal-shares"]
    assert shortfalls
    for project in shortfalls:
        shared: dict[int, int] = {}
        for b in ballots:
            if project["id"] in b["project_ids"]:
                for pid in set(b["project_ids"]) & winners:
                    shared[pid] = shared.get(pid, 0) + 1
        expected = sorted(shared.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        assert project["why_not"]["went_to"] == [[pid, n] for pid, n in expected]
