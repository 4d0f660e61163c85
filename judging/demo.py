"""AI 50 Challenge demo data: a closed 2026 edition with ~120 screened entries, 12 judges with some
conflicts, three stages (document screening and a pitch, both scored and decided, and the final round
in progress, with a drawn citizen panel and a public vote, ``judging/demo_citizens.py``, judges' bids
before its assignment and their discussion of two entries, ``judging/demo_judges.py``); two pending
invitations to judge and a colleague invited to the demo startup; and an open 2027 edition where the demo
startup can submit.

Bulk rows are inserted directly (the services would audit and mail every one of hundreds of rows and
take minutes); editions, rounds and assignments go through the services so their rules apply.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pyotp

from judging.categories import CATEGORIES
from judging.demo_citizens import load_citizens
from judging.demo_judges import BIDDING_JUDGES, discuss, invite_people, place_bids
from judging.services import feedback_moderation, stage_rubric, stages
from judging.services.assignment import run_assignment
from judging.services.editions import (
    EditionForm,
    create_edition,
    get_round,
    rounds_of,
    update_round,
)
from judging.services.intake import BRN_WEIGHTS
from judging.services.reviews import weighted_total_centi
from judging.tables import (
    DEFAULT_GATES,
    Assignment,
    Conflict,
    Entry,
    JudgeProfile,
    Organization,
    OrganizationMember,
    Review,
    ScreeningDecision,
)
from portal import accounts, clock
from portal.db import write_transaction
from portal.demo import DEMO_PASSWORD
from portal.passwords import hash_password
from portal.tables import User

ENTRIES = 120
EXTRA_JUDGES = 11  # plus the demo "judge" account: 12
SEED = 20260
# Names and texts are Korean (the portal's first language); English follows in brackets where a
# reader of the English pages needs it (entry summaries).
WORDS = ("스마트", "안전한", "그린", "열린", "따뜻한", "빠른", "맑은", "평온한", "밝은", "함께하는")
ORG_KINDS = ("모빌리티", "케어", "기후", "안전", "주거", "시티", "데이터")
TOPICS = {  # category: three (Korean, English) topics
    "transportation": (
        ("버스 도착 예측", "bus arrival prediction"),
        ("공공자전거 재배치", "bike-share rebalancing"),
        ("횡단보도 안전 카메라", "crosswalk safety camera"),
    ),
    "welfare": (
        ("어르신 안부 전화", "elderly check-in calls"),
        ("돌봄 인력 배치", "care worker scheduling"),
        ("복지 수급 자격 안내", "benefit eligibility assistant"),
    ),
    "climate": (
        ("폭염 쉼터 길 안내", "heat-wave shelter routing"),
        ("건물 에너지 예측", "building energy forecasting"),
        ("가로수 건강 진단", "urban tree health"),
    ),
    "disaster-response": (
        ("침수 조기 경보", "flood early warning"),
        ("산사태 위험 지도", "landslide risk map"),
        ("대피 안내 챗봇", "evacuation chatbot"),
    ),
    "housing": (
        ("전세 사기 탐지", "jeonse fraud detection"),
        ("공공주택 매칭", "public housing matching"),
        ("층간소음 민원 분류", "noise complaint triage"),
    ),
    "urban-planning": (
        ("보행 흐름 모델", "pedestrian flow model"),
        ("주차 수요 예측", "parking demand forecast"),
        ("공원 이용 분석", "park usage analytics"),
    ),
    "other": (
        ("다국어 민원 상담 봇", "multilingual civil service bot"),
        ("도서관 책 추천", "library book recommender"),
        ("전통시장 물가 감시", "market price watch"),
    ),
}
GU = (
    "11110",
    "11140",
    "11170",
    "11200",
    "11215",
    "11230",
    "11260",
    "11290",
    "11305",
    "11320",
    "11350",
    "11380",
    "11410",
    "11440",
    "11470",
    "11500",
    "11530",
    "11545",
    "11560",
    "11590",
    "11620",
    "11650",
    "11680",
    "11710",
    "11740",
)


def _brn(index: int) -> str:
    """A valid business registration number (check digit computed)."""
    base = f"{101 + index % 800:03d}{81 + index % 7:02d}{(index * 37) % 10000:04d}"
    values = [int(c) for c in base]
    total = sum(v * w for v, w in zip(values, BRN_WEIGHTS, strict=True)) + (values[8] * 5) // 10
    return base + str((10 - total % 10) % 10)


def _scores(
    rubric: list[dict[str, Any]], level: float, rng: random.Random, scale: tuple[int, int] = (1, 10)
) -> dict[str, int]:
    """Marks around ``level`` (a 1-10 quality), stretched onto the stage's scale."""
    low, high = scale
    stretch = (high - low) / 9
    return {
        c["key"]: max(low, min(high, round(low + (level - 1 + rng.gauss(0, 0.8)) * stretch)))
        for c in rubric
    }


def _review(
    stage: dict[str, Any], pair: dict[str, int], level: float, rng: random.Random, at: dt.datetime
) -> Review:
    scale = (stage["scale_min"], stage["scale_max"])
    marks = _scores(stage["rubric"], level, rng, scale)
    return Review(
        round=stage["id"],
        entry=pair["entry"],
        judge=pair["judge"],
        scores=marks,
        comments={},
        confidence=rng.randint(2, 5),
        total_centi=weighted_total_centi(stage["rubric"], marks, scale),
        created_at=at,
        updated_at=at,
    )


async def _reviews_of_assignments(
    stage: dict[str, Any],
    share: float,
    quality: dict[int, float],
    offsets: dict[int, float],
    rng: random.Random,
    now: dt.datetime,
) -> list[Review]:
    """Reviews for ``share`` of the stage's assignments: the entry's quality plus the judge's offset."""
    pairs = await Assignment.select(Assignment.entry, Assignment.judge).where(Assignment.round == stage["id"])
    reviews = []
    for pair in pairs:
        if share < 1.0 and rng.random() > share:
            continue
        level = quality[pair["entry"]] + offsets[pair["judge"]]
        reviews.append(_review(stage, pair, level, rng, now - dt.timedelta(days=5)))
    return reviews


# The pitch's rubric, as 서울혁신챌린지 weighs its preliminary round: technology 50, business 40,
# participation 10, scored 0-100.
PITCH_RUBRIC = (
    ("technology", "기술성", "Technology", 50),
    ("business", "사업성", "Business viability", 40),
    ("participation", "시민 참여", "Citizen participation", 10),
)


async def _funnel_stages(
    official: int, edition_id: int, rounds: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Name the stages, add the pitch with its own rubric, and set how many advance from each."""
    await stages.update_stage(
        official, rounds["evaluation"]["id"], "서류 심사", stages.RuleForm("count", 100)
    )
    pitch_id = await stages.add_stage(official, edition_id, "발표 심사")
    criteria = [
        stage_rubric.CriterionForm(
            i,
            key,
            ko,
            en,
            weight,
            "0-39 | Weak | 미흡\n40-69 | Sound | 보통\n70-100 | Strong | 우수",
        )
        for i, (key, ko, en, weight) in enumerate(PITCH_RUBRIC)
    ]
    await stage_rubric.update_rubric(official, pitch_id, stage_rubric.RubricForm(0, 100, criteria))
    quotas = {c: {"min": 6, "max": 20} for c in CATEGORIES}
    await stages.update_stage(
        official, pitch_id, "발표 심사", stages.RuleForm("quotas", 80, categories=quotas)
    )
    await stages.update_stage(official, rounds["final"]["id"], "최종 심사", stages.RuleForm())
    return await get_round(pitch_id)


async def load_demo(users: dict[str, int]) -> list[str]:
    """Create the demo challenge; returns the lines to print (judge accounts with TOTP secrets)."""
    rng = random.Random(SEED)
    now = clock.now()
    official = users["official"]
    second_official = users.get("official2") or users["admin"]
    lines = ["", "AI 50 Challenge demo:"]

    # Judges: the demo judge plus eleven more with known TOTP secrets.
    judge_ids = [users["judge"]]
    judge_lines = []
    for i in range(1, EXTRA_JUDGES + 1):
        secret = pyotp.random_base32()
        domain = (
            "hangang-robotics.kr" if i == 7 else f"judges{i}.kr"
        )  # judge 7 shares a startup's domain
        email = f"judge{i}@{domain}"
        judge_ids.append(
            await accounts.create_user(
                email,
                DEMO_PASSWORD,
                ["judge"],
                display_name=f"심사위원 {i}",
                totp_secret=secret,
                check_password=False,
            )
        )
        judge_lines.append(f"  {email:32} judge              TOTP secret {secret}")

    # The closed 2026 edition.
    quotas = {c: {"min": 4, "max": 12} for c in CATEGORIES}
    edition_id = await create_edition(
        official,
        EditionForm(
            name="AI 50 챌린지 2026",
            intake_opens_at=now - dt.timedelta(days=60),
            intake_closes_at=now - dt.timedelta(days=30),
            winners=50,
            quotas=quotas,
            max_per_organization=1,
            seed=SEED,
            award_amount=20_000_000,
        ),
    )
    rounds = {r["kind"]: r for r in await rounds_of(edition_id)}

    # Organizations (about 95, some with two entries) and their founders.
    shared_hash = await hash_password(DEMO_PASSWORD)
    org_count = 95
    org_names = [f"{WORDS[i % 10]}{ORG_KINDS[i % 7]} 랩 {i + 1}" for i in range(org_count)]
    org_names[0] = "한강로보틱스"
    async with write_transaction():
        founders = []
        for i in range(org_count):
            slug = "hangang-robotics" if i == 0 else f"startup{i + 1}"
            founders.append(
                User(
                    email=f"founder@{slug}.kr",
                    display_name=f"창업자 {i + 1}",
                    password_hash=shared_hash,
                    roles="startup",
                    language="ko",
                    created_at=now,
                )
            )
        await User.insert(*founders)
        founder_ids = [
            r["id"]
            for r in await User.select(User.id)
            .where(User.email.like("founder@%"))
            .order_by(User.id)
        ]
        orgs = [
            Organization(
                name=org_names[i],
                registration_number=_brn(i + 1),
                size="startup" if i % 3 else "SME",
                founding_year=2015 + i % 10,
                created_by=founder_ids[i],
                created_at=now,
            )
            for i in range(org_count)
        ]
        await Organization.insert(*orgs)
        org_ids = [
            r["id"] for r in await Organization.select(Organization.id).order_by(Organization.id)
        ]
        members = [
            OrganizationMember(
                organization=org_ids[i], user=founder_ids[i], role="owner", joined_at=now
            )
            for i in range(org_count)
        ]
        members.append(
            OrganizationMember(
                organization=org_ids[0], user=users["startup"], role="member", joined_at=now
            )
        )
        await OrganizationMember.insert(*members)

        # Entries: ~120 across the categories; a few never submitted or withdrawn.
        entry_rows = []
        for i in range(ENTRIES + 6):
            category = CATEGORIES[i % len(CATEGORIES)]
            topic, topic_en = TOPICS[category][i % 3]
            org = org_ids[i % org_count]
            status = "draft" if i >= ENTRIES + 3 else ("withdrawn" if i >= ENTRIES else "submitted")
            entry_rows.append(
                Entry(
                    edition=edition_id,
                    organization=org,
                    created_by=founder_ids[i % org_count],
                    title=f"{WORDS[(i * 3) % 10]} {topic} #{i + 1}",
                    summary=f"서울의 {topic}을(를) 돕는 AI 서비스입니다. (An AI service for {topic_en} in Seoul.)",
                    problem=f"주민들이 {topic} 문제로 불편을 겪고 있습니다.",
                    ai_approach="서울 열린데이터로 학습한 모델이 제안하고, 담당 공무원이 확인한 뒤 실행합니다.",
                    data_protection="집계되거나 가명 처리된 데이터만 씁니다. 주민 신원은 시 밖으로 나가지 않습니다.",
                    target_users="서울 시민과 자치구청",
                    category=category,
                    sector=("public", "public-interest", "private")[i % 3],
                    # A set: for i = 0, 25, 50, ... both picks are the same district.
                    districts=sorted({GU[i % 25], GU[(i * 7) % 25]}),
                    team="엔지니어 4명과 디자이너 1명",
                    demo_url=f"https://demo{i + 1}.example.kr",
                    status=status,
                    created_at=now - dt.timedelta(days=45),
                    updated_at=now - dt.timedelta(days=31),
                    submitted_at=(now - dt.timedelta(days=31)) if status == "submitted" else None,
                )
            )
        await Entry.insert(*entry_rows)
        submitted = (
            await Entry.select(Entry.id)
            .where((Entry.edition == edition_id) & (Entry.status == "submitted"))
            .order_by(Entry.id)
        )
        decisions = []
        for n, row in enumerate(submitted):
            failing = n % 23 == 5  # a handful fail the AI-solution gate
            for gate in DEFAULT_GATES:
                passed = not (failing and gate == "ai-solution")
                decisions.append(
                    ScreeningDecision(
                        entry=row["id"],
                        gate=gate,
                        passed=passed,
                        reason="" if passed else "규칙 기반 서비스로 AI 요소가 없습니다.",
                        decided_by=official,
                        decided_at=now - dt.timedelta(days=28),
                    )
                )
            await Entry.update({Entry.status: "screened-out" if failing else "screened-in"}).where(
                Entry.id == row["id"]
            )
        await ScreeningDecision.insert(*decisions)

        # Judge profiles and conflicts: declared (investment, advisory), a holding, and a shared domain.
        for n, judge in enumerate(judge_ids):
            holdings = [_brn(3)] if n == 2 else []
            await JudgeProfile.insert(
                JudgeProfile(
                    user=judge,
                    affiliations=[f"서울{n + 1}대학교"],
                    expertise=[CATEGORIES[n % 7], CATEGORIES[(n + 3) % 7]],
                    holdings=holdings,
                    updated_at=now,
                )
            )
        await Conflict.insert(
            Conflict(
                judge=judge_ids[0],
                organization=org_ids[1],
                kind="investment",
                note="시드 투자자",
                declared_at=now,
            ),
            Conflict(
                judge=judge_ids[4],
                organization=org_ids[5],
                kind="advisory",
                note="자문위원",
                declared_at=now,
            ),
            Conflict(
                judge=judge_ids[9], organization=org_ids[8], kind="family", note="", declared_at=now
            ),
        )

    # Stages: document screening (서류 심사, closed, fully scored, 100 advanced), a pitch (발표 심사, on
    # 0-100 with its own rubric, fully scored, 80 advanced under category quotas) and the final (in
    # progress, half scored; the selection picks the 50 winners there).
    pitch = await _funnel_stages(official, edition_id, rounds)
    stage_rounds = {"evaluation": rounds["evaluation"], "pitch": pitch, "final": rounds["final"]}
    for kind, deadline in (
        ("evaluation", now - dt.timedelta(days=10)),
        ("pitch", now - dt.timedelta(days=3)),
        ("final", now + dt.timedelta(days=14)),
    ):
        await update_round(official, stage_rounds[kind]["id"], deadline, 3, judge_ids)
    quality = {row["id"]: rng.uniform(3.0, 9.0) for row in submitted}
    offsets = {judge: rng.uniform(-1.5, 1.5) for judge in judge_ids}
    bids_given = 0
    for kind, share in (("evaluation", 1.0), ("pitch", 1.0), ("final", 0.5)):
        stage = await get_round(stage_rounds[kind]["id"])
        if kind == "final":  # the judges bid on the final's 80 entries before its assignment
            bids_given = await place_bids(judge_ids, stage["id"], SEED)
        await run_assignment(official, stage["id"])
        reviews = await _reviews_of_assignments(stage, share, quality, offsets, rng, now)
        async with write_transaction():
            await Review.insert(*reviews)
            await stages.enter_reviewing(stage["id"], official)  # bulk rows skip save_review
        if kind != "final":
            decision = await stages.compute_advancement(official, stage["id"])
            await stages.approve_advancement(official, decision)
            await stages.approve_advancement(second_official, decision)

    # Judges who reviewed the same final entries discuss two of them (after their own reviews).
    discussed = await discuss(judge_ids[0], rounds["final"]["id"])
    # The final blends experts, a drawn citizen panel and a public vote 60/30/10.
    citizen_lines = await load_citizens(
        official, rounds["final"]["id"], rounds["final"]["rubric"], quality, SEED
    )
    # Feedback to applicants: the document screening's comments moderated and released.
    commented = (
        await Entry.select(Entry.id).where(Entry.edition == edition_id).order_by(Entry.id).limit(8)
    )
    await feedback_moderation.demo_feedback(
        official, second_official, rounds["evaluation"]["id"], [e["id"] for e in commented]
    )

    # The open 2027 edition: the demo startup can submit here.
    await create_edition(
        official,
        EditionForm(
            name="AI 50 챌린지 2027",
            intake_opens_at=now - dt.timedelta(days=1),
            intake_closes_at=now + dt.timedelta(days=30),
            winners=50,
            quotas=quotas,
            max_per_organization=1,
            seed=SEED + 1,
            award_amount=20_000_000,
        ),
    )
    people_lines = await invite_people(official, users)
    lines += [
        f"  2026 edition: {len(submitted)} submitted entries from {org_count} organizations; three stages: 서류 심사"
        " (fully scored, 100 advanced), 발표 심사 (0-100 rubric, fully scored, 80 advanced under quotas) and"
        " 최종 심사 (half scored). Officials: the stages at /officials/challenge/<edition>/stages, the"
        " selection at /officials/challenge.",
        "  2027 edition: intake open; startup@demo.hangang.kr belongs to 한강로보틱스 (Hangang Robotics) and can submit.",
        "  Conflicts: declared (judge, judge4, judge9), a holding (judge2), and detected by email domain"
        " (judge7@hangang-robotics.kr; judge@demo.hangang.kr shares demo.hangang.kr with the demo startup).",
        f"  Final: {bids_given} bids by {BIDDING_JUDGES} judges before the assignment (the round page counts the"
        f" assignments per bid level); judge@demo.hangang.kr discusses two entries with other judges: "
        + ", ".join(f"/judging/rounds/{rounds['final']['id']}/entries/{e}#discussion" for e in discussed),
        *people_lines,
        *citizen_lines,
        "  Extra judge accounts (same password as above):",
        *judge_lines,
    ]
    return lines
