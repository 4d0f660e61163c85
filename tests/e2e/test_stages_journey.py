"""A three-stage AI 50 Challenge in Korean, in a browser (issue #13): an official adds a pitch stage and
edits the first stage's rubric (a wrong weight sum is refused beside the field), sets how many advance,
a judge bids on the first stage's entries before the assignment (a bid on an entry they have just
declared a conflict with is refused), judges score, and two officials approve the advancement twice;
only advanced entries reach the next stage. After the first stage the officials release the judges'
feedback and the startup reads it. In the final the official draws a citizen panel, a drawn resident
scores an entry on the short rubric and votes in the public vote (a second vote is refused), and the
official reads the blended standings."""

from __future__ import annotations

import json
import re

import pyotp
import pytest
from playwright.sync_api import expect

from tests.e2e import test_challenge_journey as challenge_journey
from tests.e2e.conftest import log_in
from tests.live import LiveServer

pytestmark = pytest.mark.e2e
PASSWORD = "cherry blossoms along yeouido"
SECRETS = {name: pyotp.random_base32() for name in ("official1", "official2", "judge1", "judge2", "judge3")}
RESIDENTS = {"resident1@example.kr": "11680", "resident2@example.kr": "11440"}  # the final's whole panel


def run_script(live: LiveServer, body: str) -> str:
    """Run setup code against the live server's database; its last printed line."""
    lines = challenge_journey.run_script(live, body).strip().splitlines()
    return lines[-1] if lines else ""


@pytest.fixture(scope="module")
def live():
    """Six screened-in entries of an edition whose intake closed; Korean officials and judges."""
    with LiveServer() as server:
        ids = run_script(
            server,
            f"""
            import datetime as dt, json
            from portal import accounts, clock
            from judging.services import entries, intake
            from judging.services.editions import EditionForm, create_edition
            from judging.services.screening import decide_gate
            from judging.tables import DEFAULT_GATES, Edition
            from portal.tables import User
            from tests.integration.test_challenge_setup import entry_form, valid_brn
            async def main():
                founder = await accounts.create_user("founder@riverai.kr", {PASSWORD!r}, ["startup"], language="ko")
                for name, secret in {SECRETS!r}.items():
                    roles = ["official"] if name.startswith("official") else ["judge"]
                    await accounts.create_user(f"{{name}}@example.kr", {PASSWORD!r}, roles, totp_secret=secret, language="ko")
                for email, district in {RESIDENTS!r}.items():  # verified residents, eligible for the panel
                    await accounts.create_user(email, {PASSWORD!r}, ["citizen"], district_code=district, verified=True, language="ko")
                await User.update({{User.birth_date: dt.date(1980, 5, 1)}}).where(User.email.is_in(list({RESIDENTS!r})))
                now = clock.now()
                edition = await create_edition(
                    1, EditionForm(name="AI 50 챌린지 2027", intake_opens_at=now - dt.timedelta(days=1),
                    intake_closes_at=now + dt.timedelta(days=1), winners=1, quotas={{}}, seed=42))
                made = []
                for i in range(6):
                    org = await intake.create_organization(founder, f"스타트업 {{i}}", valid_brn(i + 1), "startup", "2021")
                    entry = await entries.create_entry(founder, org, edition, entry_form(f"출품작 {{i}}", "welfare"))
                    await entries.submit_entry(founder, entry)
                    made.append(entry)
                await Edition.update({{Edition.intake_closes_at: clock.now() - dt.timedelta(minutes=1)}}).where(Edition.id == edition)
                for entry in made:
                    for gate in DEFAULT_GATES:
                        await decide_gate(1, entry, gate, True, "")
                print(json.dumps({{"edition": edition, "entries": made}}))
            asyncio.run(main())
            """,
        )
        server.ids = json.loads(ids)
        yield server


def assign(live: LiveServer, round_id: int, scores: dict[int, int] | None = None) -> None:
    """The three judges in the stage's pool (two reviews per entry) and the assignment run; with
    ``scores``, every assignment reviewed too (one process: each costs seconds)."""
    run_script(live, ASSIGN.format(round_id=round_id) + (SCORE.format(round_id=round_id, scores=scores) if scores else ""))


def score_the_rest(live: LiveServer, round_id: int, scores: dict[int, int]) -> None:
    """The reviews the browser did not write (scores on 1-10, stretched onto a 0-100 stage)."""
    run_script(live, SCORE.format(round_id=round_id, scores=scores))


ASSIGN = """
from judging.services.assignment import run_assignment
from judging.services.editions import get_round, update_round
from portal.tables import User
async def assign():
    rnd = await get_round({round_id})
    judges = [u["id"] for u in await User.select(User.id).where(User.email.like("judge%@example.kr"))]
    await update_round(1, rnd["id"], rnd["deadline"], 2, judges)
    await run_assignment(1, rnd["id"])
asyncio.run(assign())
"""
SCORE = """
from judging.services.editions import get_round
from judging.services.reviews import save_review
from judging.tables import Assignment, Review
async def score():
    rnd = await get_round({round_id})
    scores = {scores!r}
    for a in await Assignment.select().where(Assignment.round == rnd["id"]):
        if await Review.exists().where((Review.round == rnd["id"]) & (Review.entry == a["entry"]) & (Review.judge == a["judge"])):
            continue
        value = scores[a["entry"]] if rnd["scale_max"] == 10 else scores[a["entry"]] * 10
        await save_review(a["judge"], rnd["id"], a["entry"], {{c["key"]: value for c in rnd["rubric"]}}, {{}}, 3)
asyncio.run(score())
"""


def test_official_runs_a_three_stage_funnel_in_korean(browser, live):
    contexts = []

    def fresh_page():
        context = browser.new_context(locale="ko-KR", viewport={"width": 1200, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20000)
        return page

    edition, entries = live.ids["edition"], live.ids["entries"]
    try:
        official = fresh_page()
        log_in(official, live, "official1@example.kr", PASSWORD, SECRETS["official1"])
        # The stages page: add a pitch stage before the final one.
        official.goto(f"{live.url}/officials/challenge/{edition}/stages")
        expect(official.get_by_role("heading", name="심사 단계", exact=True)).to_be_visible()
        official.get_by_label("단계 이름", exact=True).fill("발표 심사")
        official.locator("#add-stage").click()
        expect(official.get_by_text("단계를 추가했습니다.")).to_be_visible()
        stage_links = official.locator("#stage-list h2 a")
        expect(stage_links).to_have_count(3)
        first_stage = int(re.search(r"rounds/(\d+)/", stage_links.nth(0).get_attribute("href"))[1])
        pitch = int(re.search(r"rounds/(\d+)/", stage_links.nth(1).get_attribute("href"))[1])
        assert stage_links.nth(1).inner_text() == "발표 심사"

        # The first stage's rubric on 0-100: a wrong sum is refused beside the weights, what was typed stays.
        official.goto(f"{live.url}/officials/challenge/rounds/{first_stage}/rubric")
        official.get_by_label("최저 점수").fill("0")
        official.get_by_label("최고 점수").fill("100")
        official.locator("#f-weight_0").fill("40")
        official.locator("#save-rubric").click()
        expect(official.locator("#f-weights-error")).to_contain_text("가중치 합계가 110입니다")
        assert official.locator("#f-weight_0").input_value() == "40"
        assert official.locator("#f-scale_max").input_value() == "100"
        official.locator("#f-weight_0").fill("30")
        official.locator("#save-rubric").click()
        expect(official.get_by_text("평가표를 저장했습니다.")).to_be_visible()

        # Four of six advance from the first stage.
        official.goto(f"{live.url}/officials/challenge/rounds/{first_stage}/stage")
        official.get_by_label("단계 이름", exact=True).fill("서류 심사")
        official.get_by_label("진출 방식", exact=True).select_option("count")
        official.get_by_label("진출 수", exact=True).fill("4")
        official.locator("#save-stage").click()
        expect(official.get_by_text("단계를 저장했습니다.")).to_be_visible()

        # Before the assignment a judge bids on the stage's entries, in Korean. Meanwhile, in another tab,
        # they declare a conflict with the sixth entry's organization: a bid on it is then refused.
        judge = fresh_page()
        log_in(judge, live, "judge1@example.kr", PASSWORD, SECRETS["judge1"])
        judge.goto(f"{live.url}/judging/rounds/{first_stage}/bids")
        expect(judge.locator("select[name^=bid_]")).to_have_count(6)
        profile = judge.context.new_page()
        profile.goto(f"{live.url}/judging/profile")
        profile.locator("#f-organization").select_option(
            profile.locator("#f-organization option", has_text="스타트업 5").get_attribute("value")
        )
        profile.locator("#declare-conflict").click()
        expect(profile.get_by_role("listitem").filter(has_text="스타트업 5")).to_be_visible()  # declared
        profile.close()
        for entry, level in ((entries[0], "eager"), (entries[1], "eager"), (entries[2], "willing"), (entries[5], "eager")):
            judge.locator(f"#f-bid_{entry}").select_option(level)
        judge.get_by_role("button", name="심사 희망 저장").click()
        expect(judge.locator("main")).to_contain_text("이 출품작과 이해충돌이 있어 심사 희망을 표시할 수 없습니다.")
        expect(judge.locator("select[name^=bid_]")).to_have_count(5)  # the conflicted entry is no longer listed
        assert judge.locator(f"#f-bid_{entries[0]}").input_value() == "eager"  # what was chosen stays
        judge.get_by_role("button", name="심사 희망 저장").click()
        expect(judge.locator(".flash")).to_have_text("심사 희망이 저장되었습니다.")

        # The assignment prefers the eager bids; the round page counts the assignments per bid level.
        assign(live, first_stage)
        official.goto(f"{live.url}/officials/challenge/rounds/{first_stage}")
        expect(official.locator("#bid-summary")).to_contain_text("적극 희망 2")
        # The judge scores one entry on the stage's 0-100 scale, in Korean; the rest come from the pool.
        judge.goto(f"{live.url}/judging")
        judge.locator("#next-entry").click()
        expect(judge.get_by_text("점수(0-100)").first).to_be_visible()
        for field in judge.locator("input[type=number][name^=score_]").all():
            field.fill("90")
        # Feedback: one comment for the applicant, one the judge keeps from it.
        comments = judge.locator("textarea[name^=comment_]")
        comments.nth(0).fill("데이터 보호 계획이 구체적입니다.")
        comments.nth(1).fill("심사위원끼리만 보는 메모")
        judge.locator("input[type=checkbox][name^=private_]").nth(1).check()
        reviewed_entry = int(re.search(r"/entries/(\d+)", judge.url)[1])
        judge.locator("#save-review").click()
        expect(judge.locator(".flash")).to_be_visible()
        quality = {entry: 9 - i for i, entry in enumerate(entries)}  # the first entries are best
        score_the_rest(live, first_stage, quality)

        def advance(stage_id: int) -> None:
            official.goto(f"{live.url}/officials/challenge/rounds/{stage_id}/stage")
            official.locator("#compute-advancement").click()
            official.wait_for_url(re.compile(r"/stage-decisions/\d+$"))
            expect(official.get_by_role("heading", name="경계선 근처: 마지막 진출 5개, 첫 탈락 5개")).to_be_visible()
            official.locator("#approve-advancement").click()
            expect(official.get_by_text("다른 공무원 한 명이 더 승인해야 합니다.").first).to_be_visible()
            decision_url = official.url
            second = fresh_page()
            log_in(second, live, "official2@example.kr", PASSWORD, SECRETS["official2"])
            second.goto(decision_url)
            second.locator("#approve-advancement").click()
            expect(second.locator("#decision-status")).to_have_text("승인됨")
            expect(second.locator("#replay")).to_contain_text("hangang challenge rank scores.csv")

        advance(first_stage)
        # The officials approve the remaining comments (after confirming) and release the feedback.
        official.goto(f"{live.url}/officials/challenge/rounds/{first_stage}/feedback")
        expect(official.get_by_role("heading", name="참가자 피드백")).to_be_visible()
        expect(official.locator("#feedback-comments")).to_contain_text("심사위원끼리만 보는 메모")
        official.locator("#f-confirm").check()
        official.locator("#approve-remaining").click()
        official.locator("#release-feedback").click()
        expect(official.locator("#feedback-released")).to_be_visible()
        # The startup reads its feedback in Korean: the comment by letter, never the private one.
        founder = fresh_page()
        log_in(founder, live, "founder@riverai.kr", PASSWORD)
        founder.goto(f"{live.url}/challenge/entries/{reviewed_entry}/feedback")
        expect(founder.get_by_role("heading", name="심사위원 피드백")).to_be_visible()
        expect(founder.locator(f"#feedback-stage-{first_stage}")).to_contain_text("데이터 보호 계획이 구체적입니다.")
        expect(founder.locator(f"#feedback-stage-{first_stage}")).to_contain_text("심사위원 A")
        expect(founder.locator(f"#feedback-stage-{first_stage} .band")).to_contain_text("상위")
        assert "심사위원끼리만 보는 메모" not in founder.content()
        assert "judge1@example.kr" not in founder.content()
        official.goto(f"{live.url}/officials/challenge/{edition}/stages")
        expect(official.locator(f"#stage-{first_stage} .badge")).to_have_text("결정됨")
        expect(official.locator(f"#stage-{pitch}-entries")).to_have_text("4")

        # The pitch: only the four advanced entries are assigned; two go on to the final.
        official.goto(f"{live.url}/officials/challenge/rounds/{pitch}/stage")
        official.get_by_label("진출 방식", exact=True).select_option("count")
        official.get_by_label("진출 수", exact=True).fill("2")
        official.locator("#save-stage").click()
        expect(official.get_by_text("단계를 저장했습니다.")).to_be_visible()
        assign(live, pitch, quality)
        official.goto(f"{live.url}/officials/challenge/rounds/{pitch}")
        for eliminated in entries[4:]:
            assert f"출품작 {entries.index(eliminated)}" not in official.locator("table").last.inner_text()
        advance(pitch)
        official.goto(f"{live.url}/officials/challenge/{edition}/stages")
        expect(official.locator(f"#stage-{pitch} .badge")).to_have_text("결정됨")
        final_id = re.search(r"rounds/(\d+)/", stage_links.nth(2).get_attribute("href"))[1]
        expect(official.locator(f"#stage-{final_id}-entries")).to_have_text("2")

        # The final adds citizens: a drawn panel and a public vote, blended 60/30/10 with the judges.
        assign(live, int(final_id), quality)
        official.goto(f"{live.url}/officials/challenge/rounds/{final_id}")
        official.locator("input[name=mode][value='panel+public']").check()
        official.locator("#f-panel_size").fill("2")
        official.locator("#f-seed").fill("2027")
        for field, weight in (("expert", "60"), ("panel", "30"), ("public", "10")):
            official.locator(f"#f-weight_{field}").fill(weight)
        official.get_by_role("button", name="시민 참여와 가중치 저장").click()
        official.get_by_role("button", name="지금 시민 심사단 추첨").click()
        expect(official.get_by_text("시민 심사단을 추첨하고 선정된 시민에게 알렸습니다.")).to_be_visible()
        expect(official.locator("#panel-members tbody tr")).to_have_count(2)  # the blend page, after the draw

        # A drawn resident scores an entry on the panel's short rubric (three criteria, 1-10).
        resident = fresh_page()
        log_in(resident, live, "resident1@example.kr", PASSWORD)
        resident.goto(f"{live.url}/challenge/panel")
        resident.locator("main li a").first.click()
        scores = resident.locator("#panel-score-form input[type=number]")
        expect(scores).to_have_count(3)
        for field in scores.all():
            field.fill("8")
        resident.locator("#save-panel-score").click()
        expect(resident.locator(".flash")).to_have_text("점수를 저장했습니다. 마감 전까지 바꿀 수 있습니다.")
        # ... and votes in the public vote; the same vote sent again from a second tab is refused.
        vote_url = f"{live.url}/challenge/vote/rounds/{final_id}"
        second_tab = resident.context.new_page()
        second_tab.goto(vote_url)
        resident.goto(vote_url)
        resident.locator("input[name=entry]").first.check()
        resident.locator("#cast-vote").click()
        expect(resident.get_by_text("투표가 반영되었습니다. 감사합니다.")).to_be_visible()
        second_tab.locator("input[name=entry]").last.check()
        second_tab.locator("#cast-vote").click()
        expect(second_tab.locator("#f-entry-error")).to_have_text("이 단계에 이미 투표하셨습니다. 시민 한 사람당 한 표입니다.")

        # The official reads the blended standings: experts, panel and public side by side.
        official.goto(f"{live.url}/officials/challenge/rounds/{final_id}/blend")
        expect(official.locator("#blend-rule")).to_contain_text("60")
        rows = official.locator("#standings tbody tr")
        expect(rows).to_have_count(2)
        cells = [row.locator("td.num").all_inner_texts() for row in rows.all()]
        assert all(c[1] != "–" for c in cells), cells  # every entry has expert scores
        assert any(c[2] != "–" for c in cells) and sorted(c[3] for c in cells) == ["0", "1"], cells
    except Exception:
        from tests.e2e.conftest import ARTIFACTS

        ARTIFACTS.mkdir(exist_ok=True)
        for n, context in enumerate(contexts):
            for m, open_page in enumerate(context.pages):
                open_page.screenshot(path=str(ARTIFACTS / f"stages-journey-{n}-{m}.png"), full_page=True)
        raise
    finally:
        for context in contexts:
            context.close()
