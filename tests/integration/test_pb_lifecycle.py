"""PB cycle lifecycle (issue 9 item 3): proposals -> review -> voting -> closed -> approved.

Steps are taken by officials' actions and by the scheduled step, never by a read; each is audited.
"""

from __future__ import annotations

import datetime as dt
import json

from portal import clock
from portal.clock import format_datetime
from portal.tables import AuditEvent
from proposals.tables import Proposal
from voting.services import cycles, lifecycle
from voting.tables import Cycle, ResultRun
from voting.testing import build_cycle


async def _steps(cycle_id: int) -> list[tuple[str, str]]:
    rows = (
        await AuditEvent.select(AuditEvent.details)
        .where(
            (AuditEvent.action == "pb.cycle.state")
            & (AuditEvent.subject == f"pb-cycle:{cycle_id}")
        )
        .order_by(AuditEvent.id)
    )
    return [(d["old"], d["new"]) for d in (json.loads(r["details"]) for r in rows)]


async def test_close_voting_now_is_refused_outside_voting_and_intake_stays_open(official):
    built = await build_cycle(official.account.id, phase="proposals")
    url = f"/officials/pb/cycles/{built.id}/close"
    refused = await official.post_form(url, {"reason": "Storm warning: closing as announced"})
    assert refused.status_code == 409
    assert "only open voting can be closed early" in refused.text
    await official.post_form("/language", {"language": "ko"})
    korean = await official.post_form(url, {"reason": "Storm warning: closing as announced"})
    await official.post_form("/language", {"language": "en"})
    assert korean.status_code == 409 and "투표가 아직 시작되지 않았습니다" in korean.text
    row = await Cycle.select().where(Cycle.id == built.id).first()
    assert row["closed_early_at"] is None and row["state"] == "proposals"
    assert cycles.phase_of(row) == "proposals"  # intake is still open
    # Once voting is open, closing works and is the audited step voting -> closed.
    clock.advance(dt.timedelta(days=20))
    await official.login(official.account)
    closed = await official.post_form(url, {"reason": "Storm warning: closing as announced"})
    assert closed.status_code == 303
    row = await Cycle.select().where(Cycle.id == built.id).first()
    assert row["state"] == "closed" and row["closed_early_at"] is not None
    assert await ResultRun.count() == 2 * 26  # counted by the close, not by a later read
    assert await _steps(built.id) == [
        ("proposals", "review"),
        ("review", "voting"),
        ("voting", "closed"),
    ]
    again = await official.post_form(url, {"reason": "Storm warning: closing as announced"})
    assert again.status_code == 409 and "already closed" in again.text


async def test_reading_never_freezes_the_rules_the_scheduled_step_does(client, official):
    built = await build_cycle(official.account.id, phase="review")
    clock.advance(dt.timedelta(days=11))  # voting is due now
    await official.login(official.account)
    for c, url in (
        (official, f"/officials/pb/cycles/{built.id}"),
        (official, "/officials/pb"),
        (client, f"/pb/cycles/{built.id}"),
        (client, "/api/v1/pb/cycles"),
    ):
        assert (await c.get(url)).status_code == 200
    row = await Cycle.select().where(Cycle.id == built.id).first()
    assert row["rules_frozen_at"] is None and row["state"] == "review"
    assert not await AuditEvent.exists().where(AuditEvent.action == "pb.rules.frozen")
    # The scheduled step opens voting, dated when the schedule opened it (not when it ran).
    clock.advance(dt.timedelta(hours=5))
    assert await lifecycle.advance_due_cycles() == 1
    row = await Cycle.select().where(Cycle.id == built.id).first()
    assert row["state"] == "voting" and row["rules_frozen_at"] == row["voting_open_at"]
    assert '"ballot_kind":"approval"' in row["frozen_rules"]
    assert await _steps(built.id) == [("proposals", "review"), ("review", "voting")]
    await official.login(official.account)
    page = await official.get(f"/officials/pb/cycles/{built.id}")
    assert format_datetime(row["voting_open_at"]) in page.text
    assert await lifecycle.advance_due_cycles() == 0  # nothing more is due


async def test_second_approval_is_the_step_to_approved(app, users, official, official2):
    built = await build_cycle(official.account.id)
    clock.advance(dt.timedelta(days=10))  # voting closed by the schedule
    await official.login(official.account)
    await official.post_form(f"/officials/pb/cycles/{built.id}/screening/acknowledge")
    for c in (official, official2):
        await c.login(c.account)
        assert (
            await c.post_form(f"/officials/pb/cycles/{built.id}/approve")
        ).status_code == 303
    row = await Cycle.select().where(Cycle.id == built.id).first()
    assert row["state"] == "approved"
    assert await _steps(built.id) == [
        ("proposals", "review"),
        ("review", "voting"),
        ("voting", "closed"),
        ("closed", "approved"),
    ]


async def test_a_revised_cost_must_fit_the_pot(official):
    built = await build_cycle(official.account.id, phase="review", city_amount=15_600_000_000)
    proposal = built.projects[built.city_pot][0]
    url = f"/officials/pb/proposals/{proposal}/review"
    form = {"decision": "feasible", "reason": "Costed by the city office"}
    too_much = await official.post_form(url, {**form, "revised_cost": "99999999999999"})
    assert too_much.status_code == 422
    assert (
        f'<p class="error" id="f-revised_cost-{proposal}-error">The revised cost is more than the pot&#39;s'
        in too_much.text
    )
    row = await Proposal.select(Proposal.revised_cost).where(Proposal.id == proposal).first()
    assert row["revised_cost"] is None
    await official.post_form("/language", {"language": "ko"})
    korean = await official.post_form(url, {**form, "revised_cost": "99999999999999"})
    assert korean.status_code == 422 and "수정 사업비가 해당 예산 전체보다 많습니다." in korean.text
    await official.post_form("/language", {"language": "en"})
    whole_pot = await official.post_form(url, {**form, "revised_cost": "15600000000"})
    assert whole_pot.status_code == 303
    row = await Proposal.select(Proposal.revised_cost).where(Proposal.id == proposal).first()
    assert row["revised_cost"] == 15_600_000_000
