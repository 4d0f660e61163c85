"""Demo data for the people around the 2026 challenge, all through the services (their rules apply):
judges' bids on the final's entries before its assignment, a discussion between judges of two entries
after their own reviews, two pending invitations to judge, and a colleague invited to the demo startup's
organization (a notice in the portal and a mail in the outbox)."""

from __future__ import annotations

import random

from judging.compute.assignment import BID_LEVELS
from judging.services import bids, discussion, intake, judge_invitations
from judging.tables import JudgeProfile, Organization, Review
from portal.tables import User

BIDDING_JUDGES = 10  # of the 12: two judges never bid (the assignment treats them as "no bid")
EAGER, WILLING, NOT_QUALIFIED = 8, 5, 2  # bids a judge gives at most, per level
# Two invitations to judge (the mails, with their links, are in the development outbox).
INVITED_JUDGES = (
    ("윤서연", "seoyeon.yoon@example.ac.kr", ["welfare", "climate"]),
    ("김태호", "taeho.kim@example.kr", ["transportation", "urban-planning"]),
)
COLLEAGUE = "newcomer"  # 박새봄 (a registered citizen) is invited to join 한강로보틱스
# (entry, who writes: 0 the demo judge, 1 another judge of the entry, message), in posting order.
THREADS = (
    (0, 0, "기술 완성도는 높지만 주민 데이터를 어떻게 가명 처리하는지 설명이 부족합니다. 다른 분들은 어떻게 보셨나요?"),
    (0, 1, "같은 의견입니다. 최종 발표에서 가명 처리 절차와 보관 기간을 직접 확인하면 좋겠습니다."),
    (1, 1, "제 점수가 다른 심사위원보다 낮습니다. 실증 데이터가 한 개 구에 그쳐 확장성을 낮게 봤습니다."),
    (1, 0, "첨부된 2단계 계획에 세 개 구 확대 일정이 있습니다. 그 부분을 보시고 다시 판단해 주세요."),
)


async def place_bids(judge_ids: list[int], round_id: int, seed: int) -> int:
    """Before the stage's assignment: most judges bid eager on entries in their expertise, willing on
    a few others and "not qualified" on a couple (never on a conflicted entry: the page hides those)."""
    rng = random.Random(seed)
    expertise = {
        p["user"]: set(p["expertise"])
        for p in await JudgeProfile.select(JudgeProfile.user, JudgeProfile.expertise).output(load_json=True)
    }
    given = 0
    for judge in judge_ids[:BIDDING_JUDGES]:
        rows = list((await bids.bid_page(judge, round_id)).rows)  # the stage's entries, unconflicted
        rng.shuffle(rows)
        mine = [r.entry for r in rows if r.category in expertise.get(judge, set())]
        others = [r.entry for r in rows if r.entry not in set(mine)]
        wanted = dict.fromkeys(mine[:EAGER], BID_LEVELS[0])
        wanted |= dict.fromkeys(others[:WILLING], BID_LEVELS[1])
        wanted |= dict.fromkeys(others[WILLING : WILLING + NOT_QUALIFIED], BID_LEVELS[2])
        given += await bids.save_bids(judge, round_id, wanted)
    return given


async def discuss(demo_judge: int, round_id: int) -> list[int]:
    """Two entries the demo judge and another judge have both reviewed get a short thread each."""
    reviews = await Review.select(Review.entry, Review.judge).where(Review.round == round_id).order_by(Review.id)
    by_entry: dict[int, list[int]] = {}
    for r in reviews:
        by_entry.setdefault(r["entry"], []).append(r["judge"])
    pairs = [
        (entry, next(j for j in judges if j != demo_judge))
        for entry, judges in sorted(by_entry.items())
        if demo_judge in judges and len(judges) > 1
    ][:2]
    for which, writer, body in THREADS:
        if which < len(pairs):
            entry, other = pairs[which]
            await discussion.post_message(demo_judge if writer == 0 else other, round_id, entry, body)
    return [entry for entry, _other in pairs]


async def invite_people(official: int, users: dict[str, int]) -> list[str]:
    """Two invitations to judge (one by the form, one by a CSV import) and a colleague for the demo startup."""
    name, email, expertise = INVITED_JUDGES[0]
    robotics = (
        await Organization.select(Organization.id, Organization.registration_number)
        .where(Organization.name == "한강로보틱스")
        .first()
    )
    # The first invitee advises 한강로보틱스: once she accepts, the conflict is detected from it.
    await judge_invitations.invite_judge(
        official, judge_invitations.check_invite(name, email, expertise, [robotics["registration_number"]])
    )
    name, email, expertise = INVITED_JUDGES[1]
    report = await judge_invitations.import_judges_csv(
        official, f"name,email,expertise,organizations\n{name},{email},{';'.join(expertise)},\n"
    )
    if report.problems:
        raise RuntimeError(f"the demo's judge import was refused: {report.problems}")
    lines = [
        f"  Invited to judge (pending; the mails with their links are in the outbox): {INVITED_JUDGES[0][1]},"
        f" {INVITED_JUDGES[1][1]}.",
    ]
    if COLLEAGUE in users and "startup" in users:
        colleague = await User.select(User.email).where(User.id == users[COLLEAGUE]).first()
        await intake.invite_member(users["startup"], robotics["id"], colleague["email"])
        lines.append(
            f"  {colleague['email']} is invited to join 한강로보틱스: a notice, and one click at /challenge/invitations."
        )
    return lines
