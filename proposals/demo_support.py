"""Demo of citizens around proposals: a cycle in its support phase (공감), with supports and a discussion."""

from __future__ import annotations

import datetime as dt
import secrets

from portal import accounts, clock
from proposals.services import comments, support
from proposals.testing import add_submitted, as_resident
from voting.compute.rules import BallotRules
from voting.services import cycles, lifecycle

SUPPORT_CYCLE = "2027 서울 주민참여예산 추가 공모 (공감 단계)"
DAY = dt.timedelta(days=1)
# (title, summary, district or None: city-wide, cost, how many demo residents support it)
SUPPORT_PROPOSALS = (
    ("한강공원 공공 와이파이 확충", "한강공원 11개 지구에 공공 와이파이 공유기를 늘려 저녁에도 잘 터지게 합니다.", None, 1_200_000_000, 5),
    ("어린이 통학로 LED 바닥 신호등", "초등학교 앞 횡단보도 40곳에 LED 바닥 신호등을 설치합니다.", None, 800_000_000, 3),
    ("동네 공유 텃밭 조성", "개포동 유휴부지에 주민 공유 텃밭 60구획을 만듭니다.", "11680", 300_000_000, 2),
    ("경의선숲길 야간 조명 개선", "경의선숲길의 어두운 구간 2km에 보행 조명을 설치합니다.", "11440", 450_000_000, 3),
)
THRESHOLD = 3  # supports a proposal needs to go to feasibility review
RESIDENTS = ("11680", "11680", "11680", "11440", "11440", "11440")  # extra demo supporters' districts


async def _residents(users: dict[str, int]) -> list[int]:
    """The demo citizens plus a few neighbours who only support (they have no password anyone knows)."""
    extra = [
        await accounts.create_user(
            f"neighbour{i + 1}@demo.hangang.kr",
            secrets.token_urlsafe(24),
            ["citizen"],
            display_name=f"이웃 {i + 1}",
            district_code=district,
            verified=True,
            check_password=False,
        )
        for i, district in enumerate(RESIDENTS)
    ]
    return [users["citizen"], users.get("citizen2", users["citizen"]), *extra]


async def load_support_demo(users: dict[str, int]) -> list[str]:
    """A cycle whose support phase is open: four proposals, their supports and a short discussion."""
    official = users["official"]
    now = clock.now()
    cycle_id = await cycles.create_cycle(
        official,
        cycles.CycleInput(
            name=SUPPORT_CYCLE,
            fiscal_year=2027,
            city_amount=20_000_000_000,
            district_total=50_000_000_000,
            district_floor=1_000_000_000,
            rules=BallotRules(ballot_kind="approval", min_projects=1, max_projects=3),
            proposals_open_at=now - 20 * DAY,
            proposals_close_at=now + DAY,
            voting_open_at=now + 30 * DAY,
            voting_close_at=now + 40 * DAY,
            publish_at=now + 45 * DAY,
        ),
    )
    pots = {p["district_code"]: p["id"] for p in await cycles.pots_of(cycle_id)}
    authors = [users.get("citizen2", users["citizen"]), users["citizen"]]
    ids = {}
    for i, (title, summary, district, cost, _) in enumerate(SUPPORT_PROPOSALS):
        ids[title] = await add_submitted(
            cycle_id, pots[district], authors[i % 2], title, cost, summary
        )
    await lifecycle.set_support_phase(official, cycle_id, now + 12 * DAY, "threshold", THRESHOLD)
    await lifecycle.open_support_now(official, cycle_id)
    residents = [await as_resident(r) for r in dict.fromkeys(await _residents(users))]
    for title, _, district, _, wanted in SUPPORT_PROPOSALS:
        able = [r for r in residents if district in (None, r.district_code)]
        for resident in able[:wanted]:
            await support.support(resident, ids[title])
    citizen, citizen2 = residents[0], residents[-1]
    wifi = ids[SUPPORT_PROPOSALS[0][0]]
    first = await comments.post_comment(
        citizen, "proposal", wifi, "뚝섬 지구는 저녁마다 신호가 약해요. 설치 위치가 궁금합니다."
    )
    await comments.post_comment(
        citizen2,
        "proposal",
        wifi,
        "망원·뚝섬·반포 지구부터 설치하려고 합니다. 서울시 공공와이파이 현황: https://wifi.seoul.go.kr",
        first,
    )
    await comments.post_comment(
        residents[2], "proposal", ids[SUPPORT_PROPOSALS[1][0]], "등굣길 횡단보도가 훨씬 잘 보이겠네요. 공감합니다."
    )
    return [
        f"  '{SUPPORT_CYCLE}' (support phase open, cycle {cycle_id}): {len(ids)} proposals,"
        f" shortlist at {THRESHOLD} supports, a short discussion"
    ]
