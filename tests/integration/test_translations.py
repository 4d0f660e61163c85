"""Korean pages say everything in Korean: what the crawler found (issue 9, items 1 and 7)."""

from __future__ import annotations

import datetime as dt
import re

from judging.services.editions import update_edition_rules
from judging.services.screening import decide_gate
from judging.tables import Selection
from portal import accounts, clock
from portal.mail import development_outbox
from portal.tables import Notification
from tests.integration.test_challenge_selection import _scored_challenge
from tests.integration.test_challenge_setup import add_entries, make_edition, relogin
from voting.compute.rules import BallotRules
from voting.testing import build_cycle

HANGUL = re.compile(r"[\uac00-\ud7a3]")


async def _in_korean(*clients) -> None:
    for client in clients:
        await accounts.set_language(client.account.id, "ko")


async def test_korean_officials_open_every_pb_cycle_page(official):
    """The literal % of "예산 비율(%)" was a 500 on every PB cycle page, in Korean only."""
    built = await build_cycle(official.account.id, phase="proposals", rules=BallotRules(ballot_kind="knapsack"))
    await _in_korean(official)
    for path in ("/officials/pb", f"/officials/pb/cycles/{built.id}"):
        page = await official.get(path)
        assert page.status_code == 200, path
    assert "예산 비율(%)" in page.text and "(%%)" not in page.text
    assert '<th>예산</th><th class="num">예산</th>' not in page.text  # was "예산 | 예산"
    # The errors that re-render the page: approving before the close, closing without a reason.
    for action, form in (("approve", {}), ("close", {"reason": ""})):
        refused = await official.post_form(f"/officials/pb/cycles/{built.id}/{action}", form)
        assert 400 <= refused.status_code < 500 and "예산 비율(%)" in refused.text, action


async def test_a_failed_gate_is_told_in_the_readers_language_with_the_gates_name(official, startup):
    challenge = await make_edition(official.account.id)
    await add_entries(challenge, startup.account.id, 1)
    clock.advance(dt.timedelta(days=8))
    await relogin(official, startup)
    await _in_korean(startup)
    development_outbox.sent.clear()
    for gate in ("eligible-organization", "complete-entry", "ai-solution", "personal-data-protection"):
        passed = gate != "ai-solution"
        await decide_gate(official.account.id, challenge.entries[0], gate, passed, "" if passed else "규칙 기반")
    page = await startup.get("/account")
    notes = re.findall(r'<ul class="notifications">(.*?)</ul>', page.text, re.S)[0]
    assert "AI 솔루션: 규칙 기반" in notes and "예비심사를 통과하지 못했습니다" in notes
    assert "ai-solution" not in notes and "did not pass" not in notes
    mail = development_outbox.sent[-1]
    assert "AI 솔루션: 규칙 기반" in mail.body and "ai-solution" not in mail.body
    # An English reader of the same notification reads it in English.
    await accounts.set_language(startup.account.id, "en")
    english = await startup.get("/account")
    assert "AI solution: 규칙 기반" in english.text and "did not pass screening" in english.text


async def test_notifications_stored_with_plain_text_params_still_render(startup):
    await Notification.insert(
        Notification(
            user=startup.account.id,
            message='Your entry "%(title)s" did not pass screening. Reasons: %(reasons)s',
            params={"title": "Old entry", "reasons": "ai-solution: none"},
            link="",
            created_at=clock.now(),
        )
    )
    page = await startup.get("/account")
    assert page.status_code == 200 and "Old entry" in page.text and "ai-solution: none" in page.text


async def test_infeasible_quotas_are_explained_in_korean(official, startup, users):
    challenge = await _scored_challenge(official, startup, users, entries=4, winners=2)
    await update_edition_rules(
        official.account.id, challenge.edition_id, 2, {"climate": {"min": 1, "max": 2}}, 1, 7
    )
    await _in_korean(official)
    response = await official.post_form(
        f"/officials/challenge/{challenge.edition_id}/selections",
        {"round": str(challenge.evaluation_round), "method": "additive"},
    )
    assert response.status_code == 422
    reason = re.search(r"선정할 수 없습니다: ([^<]*)", response.text)
    assert reason, response.text
    assert reason.group(1).startswith("분야 기후") and "needs at least" not in response.text
    assert await Selection.count() == 0


async def test_assignment_source_and_upload_limit_are_translated(official, startup, users):
    challenge = await _scored_challenge(official, startup, users, entries=4)
    await _in_korean(official, startup)
    round_page = await official.get(f"/officials/challenge/rounds/{challenge.evaluation_round}")
    assert round_page.status_code == 200
    assert "자동 배정" in round_page.text and "<td>auto</td>" not in round_page.text
    draft_edition = await make_edition(official.account.id)
    from judging.services import entries
    from tests.integration.test_challenge_setup import entry_form

    draft = await entries.create_entry(
        startup.account.id, challenge.organizations[0], draft_edition.edition_id, entry_form()
    )
    entry_page = await startup.get(f"/challenge/entries/{draft}")
    limit = re.search(r'data-too-large="([^"]*)"', entry_page.text)
    assert limit and HANGUL.search(limit.group(1)) and "10" in limit.group(1)


async def test_roles_are_named_in_korean_on_the_accounts_page(app, users):
    from tests.helpers import PortalClient

    admin = await users.create(roles=["admin", "official"], language="ko")
    await users.create(roles=["judge"], email="judge-ko@example.kr")
    async with PortalClient.for_app(app) as client:
        await client.login(admin)
        page = await client.get("/officials/accounts")
    assert page.status_code == 200
    row = re.search(r"judge-ko@example.kr</td>.*?<td>.*?<td>([^<]*)", page.text, re.S)
    assert row and row.group(1).strip() == "심사위원"
    assert "> 관리자</label>" in page.text and "> admin</label>" not in page.text


async def test_results_say_points_for_cumulative_ballots_and_explain_in_korean(app, users, client, official):
    from tests.integration.test_pb_results import _vote_and_close

    rules = BallotRules(ballot_kind="cumulative", total_points=10, max_points_per_project=5, results_rule="greedy")
    built, _ = await _vote_and_close(app, users, official, rules=rules, voters=3)
    clock.advance(dt.timedelta(days=30))
    path = f"/pb/cycles/{built.id}/results/pots/{built.city_pot}"
    english = await client.get(path)
    assert english.status_code == 200
    assert "Points per project" in english.text and "Votes per project" not in english.text
    assert re.findall(r'<th class="num">(Points|Votes)</th>', english.text) == ["Points", "Points"]
    client.headers["accept-language"] = "ko"
    korean = await client.get(path)
    steps = re.findall(r"<details><summary>단계별 설명 \(집계 엔진\)</summary>\s*<ul>(.*?)</ul>", korean.text, re.S)
    assert steps, korean.text
    lines = re.findall(r"<li>(.*?)</li>", steps[0])
    assert all(HANGUL.search(line) for line in lines) and "Project 1" in steps[0]
    assert not re.search(r"\b(funded|skipped|budget)\b", steps[0])
