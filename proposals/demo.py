"""Demo proposals: three by the demo citizen in PB's demo cycle taking proposals, waiting for review,
and a cycle in its support phase (``demo_support.py``)."""

from __future__ import annotations

from portal import clock
from proposals.demo_support import load_support_demo
from proposals.tables import Proposal
from voting.demo import NEXT_CYCLE
from voting.tables import Cycle, Pot

CITIZEN_PROPOSALS = (  # (title, summary, English description, category, cost, district or None, dong)
    (
        "테헤란로 온열 버스정류장",
        "버스정류장 12곳에 온열 의자와 실시간 도착 안내판을 설치합니다.",
        "Heated bus shelters on Teheran-ro: twelve shelters with heated benches and live arrival boards.",
        "transportation",
        900_000_000,
        "11680",
        "11680:역삼1동",
    ),
    (
        "강남 지하차도 침수 감지기",
        "폭우 때 수위를 감지해 지하차도를 막고 운전자에게 알리는 센서를 설치합니다.",
        "Flood sensors in Gangnam underpasses: water-level sensors that close underpasses and alert drivers during heavy rain.",
        "disaster response",
        1_500_000_000,
        "11680",
        "11680:대치2동",
    ),
    (
        "한강 산책로 그늘 나무 심기",
        "한강 산책로와 자전거길에 나무 2,000그루를 심어 더위를 식힙니다.",
        "Shade trees along the Han river paths: 2,000 trees to cool the riverside walking and cycling paths.",
        "climate",
        6_000_000_000,
        None,
        "11560:여의동",  # a city-wide idea placed in Yeouido: the map's Yeongdeungpo-gu shows it too
    ),
)


async def load_demo(users: dict[str, int]) -> list[str]:
    """The citizen's proposals in the cycle PB's demo opened for proposals (loaded after it)."""
    cycle = (
        await Cycle.select(Cycle.id)
        .where(Cycle.name == NEXT_CYCLE)
        .order_by(Cycle.id, ascending=False)
        .first()
    )
    pots = {
        p["district_code"]: p["id"]
        for p in await Pot.select(Pot.id, Pot.district_code).where(Pot.cycle == cycle["id"])
    }
    now = clock.now()
    await Proposal.insert(
        *[
            Proposal(
                cycle=cycle["id"],
                pot=pots[district],
                author=users["citizen"],
                title=title,
                summary=summary,
                description=english,
                category=category,
                estimated_cost=cost,
                dong=dong,
                created_at=now,
                updated_at=now,
            )
            for title, summary, english, category, cost, district, dong in CITIZEN_PROPOSALS
        ]
    )
    lines = [f"  '{NEXT_CYCLE}' (cycle {cycle['id']}) has 3 proposals waiting for review."]
    return lines + await load_support_demo(users)
