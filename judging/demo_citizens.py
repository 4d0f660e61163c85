"""Demo data for citizens in a stage: the 2026 final blends experts, a drawn citizen panel and a public
vote 60/30/10 (as Seoul's 서울혁신챌린지 final does), with demo residents, panel scores and votes.

Residents, scores and votes are inserted directly (hundreds of rows); the settings and the draw go
through the services, so the draw is the published, replayable one and the panelists are notified.
"""

from __future__ import annotations

import datetime as dt
import random

from judging.citizen_tables import PanelMember, PanelScore, PublicVote, PublicVoteSignal
from judging.services.citizens import CitizenForm, stage_entries, update_citizen_settings
from judging.services.panel import draw_panel
from judging.services.public_vote import voter_key
from judging.services.reviews import weighted_total_centi
from portal import clock
from portal.client_screening import client_keys, minute_of
from portal.db import write_transaction
from portal.demo import DEMO_PASSWORD
from portal.districts import DISTRICTS
from portal.passwords import hash_password
from portal.settings import get_settings
from portal.tables import User

RESIDENTS = 240
PANEL_SIZE = 24
CRITERIA = ("impact", "feasibility", "responsible_ai")


async def _residents(rng: random.Random, now: dt.datetime) -> list[int]:
    """Verified demo residents across the 25 districts, aged 19 to 85."""
    shared = await hash_password(DEMO_PASSWORD)
    rows = [
        User(
            email=f"resident{i + 1}@demo.hangang.kr",
            display_name=f"시민 {i + 1}",
            password_hash=shared,
            roles="citizen",
            language="ko",
            district_code=DISTRICTS[i % len(DISTRICTS)].code,
            residency_verified=True,
            residency_verified_at=now,
            birth_date=dt.date(rng.randint(1941, 2006), rng.randint(1, 12), rng.randint(1, 28)),
            created_at=now,
        )
        for i in range(RESIDENTS)
    ]
    async with write_transaction():
        await User.insert(*rows)
    return [r["id"] for r in await User.select(User.id).where(User.email.like("resident%@demo.hangang.kr"))]


async def load_citizens(official: int, final_round: int, rubric: list[dict], quality: dict[int, float], seed: int) -> list[str]:
    """The final stage's citizens: settings, the draw, two thirds of the panel's scores, public votes."""
    rng = random.Random(seed)
    now = clock.now()
    residents = await _residents(rng, now)
    await update_citizen_settings(
        official,
        final_round,
        CitizenForm("panel+public", PANEL_SIZE, seed, CRITERIA, 60, 30, 10),
    )
    await draw_panel(official, final_round)
    short = [c for c in rubric if c["key"] in CRITERIA]
    scores = []
    members = await PanelMember.select().output(load_json=True).where(PanelMember.round == final_round)
    for member in members[: len(members) * 2 // 3]:
        for entry in member["entries"]:
            level = quality.get(entry, 5.0) + rng.uniform(-2, 2)
            marks = {c["key"]: max(1, min(10, round(level + rng.uniform(-1, 1)))) for c in short}
            scores.append(
                PanelScore(
                    round=final_round, entry=entry, panelist=member["user"],
                    score_key=f"{final_round}:{entry}:{member['user']}", scores=marks,
                    total_centi=weighted_total_centi(short, marks), created_at=now, updated_at=now,
                )
            )
    entries = [e["id"] for e in await stage_entries(final_round)]
    voters = residents[: RESIDENTS * 3 // 4]
    weights = [quality.get(e, 5.0) ** 2 for e in entries]
    votes = [
        PublicVote(round=final_round, entry=rng.choices(entries, weights)[0], voter_key=voter_key(final_round, v))
        for v in voters
    ]
    votes.sort(key=lambda v: v.voter_key)  # no order of arrival
    secret = get_settings().secret_key
    signals = []
    for i in range(len(voters)):
        # Most votes from many networks over two days; twelve from one address within minutes (flagged).
        clustered = i < 12
        address = "203.0.113.50" if clustered else f"10.{i % 200}.{i % 7}.{i}"
        moment = now - (dt.timedelta(hours=30, minutes=i // 4) if clustered else dt.timedelta(minutes=rng.randint(60, 2880)))
        address_key, device_key = client_keys(secret, f"challenge-vote|{final_round}", address, f"demo-browser/{i % 9}")
        signals.append(PublicVoteSignal(round=final_round, address_key=address_key, device_key=device_key, minute=minute_of(moment), events=1))
    async with write_transaction():
        await PanelScore.insert(*scores)
        await PublicVote.insert(*votes)
        await PublicVoteSignal.insert(*signals)
    drawn = await User.select(User.email).where(User.id == members[0]["user"]).first()
    return [
        f"  2026 final: experts 60, citizen panel 30 ({len(members)} residents drawn by seed {seed}, "
        f"{len(members) * 2 // 3} have scored), public vote 10 ({len(votes)} votes; one network flagged).",
        f"  A drawn panelist to sign in as: {drawn['email']} (demo password).",
    ]
