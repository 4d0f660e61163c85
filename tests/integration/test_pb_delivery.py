"""Delivery tracking of funded projects: the status machine, milestones, photos, spending and the pages."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from portal import accounts, clock
from portal.errors import InvalidInput, NotFoundError
from portal.tables import AuditEvent
from tests.helpers import PortalClient
from voting.projects import cycle_projects
from voting.services import delivery, delivery_photos, delivery_spending
from voting.services.delivery_progress import dashboard
from voting.testing import build_cycle, build_funded_cycle

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def _funded(users):
    first, second = await users.create(["official"]), await users.create(["official"])
    built = await build_funded_cycle((first.id, second.id))
    return built, first.id


async def _audit(action: str) -> list[dict]:
    return await AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id)


def _details(event: dict) -> dict:
    details = event["details"]
    return json.loads(details) if isinstance(details, str) else details


async def test_only_projects_selected_in_an_approved_cycle_are_funded(users):
    built, official = await _funded(users)
    funded = await delivery.funded_projects(built.id)
    assert [f.project_id for f in funded] == built.funded and len(built.funded) >= 3
    assert {f.district_code for f in funded} == {None, "11680"}
    assert all(f.project_code == f"PB-{f.project_id:05d}" for f in funded)
    voting = await build_cycle(official, phase="voting")
    with pytest.raises(NotFoundError):
        await delivery.funded_projects(voting.id)
    unfunded = next(p for p in (await cycle_projects(built.id)) if p.id not in built.funded)
    with pytest.raises(NotFoundError):
        await delivery.change_status(official, built.id, unfunded.id, "in-progress", "")


async def test_status_machine_allows_forward_steps_and_refuses_the_rest(users):
    built, official = await _funded(users)
    pid = built.funded[0]
    with pytest.raises(InvalidInput) as skipped:
        await delivery.change_status(official, built.id, pid, "completed", "")
    assert skipped.value.field == "status"
    await delivery.change_status(official, built.id, pid, "in-progress", "")
    with pytest.raises(InvalidInput) as back:
        await delivery.change_status(official, built.id, pid, "planned", "")
    assert back.value.field == "status"
    await delivery.change_status(official, built.id, pid, "completed", "")
    # Final: only a correction, with a reason.
    with pytest.raises(InvalidInput) as bare:
        await delivery.change_status(official, built.id, pid, "in-progress", "")
    assert bare.value.field == "reason"
    await delivery.change_status(official, built.id, pid, "in-progress", "Snagging works reopened")
    assert (await delivery.delivery_of(built.id, pid)).status == "in-progress"
    # Cancelling needs a reason, from any open status.
    other = built.funded[1]
    with pytest.raises(InvalidInput) as why:
        await delivery.change_status(official, built.id, other, "cancelled", "  ")
    assert why.value.field == "reason"
    await delivery.change_status(official, built.id, other, "cancelled", "Site unavailable")
    found = await delivery.delivery_of(built.id, other)
    assert (found.status, found.status_reason) == ("cancelled", "Site unavailable")
    steps = await _audit("pb.delivery.status")
    assert [(e["actor_id"], _details(e)["after"]) for e in steps] == [
        (official, "in-progress"),
        (official, "completed"),
        (official, "cancelled"),
    ]
    corrected = await _audit("pb.delivery.status.corrected")
    assert len(corrected) == 1 and corrected[0]["actor_id"] == official


async def test_milestone_before_the_vote_closed_is_refused_beside_the_field(
    app, users, official, official2
):
    built = await build_funded_cycle((official.account.id, official2.account.id))
    pid = built.funded[0]
    closed = (await delivery.delivery_of(built.id, pid)).vote_closed_on
    with pytest.raises(InvalidInput) as early:
        await delivery.add_milestone(
            official.account.id,
            built.id,
            pid,
            delivery.MilestoneInput(title="Design", due_on=closed - dt.timedelta(days=1)),
        )
    assert early.value.field == "due_on"
    path = f"/officials/pb/cycles/{built.id}/delivery/projects/{pid}"
    await official.login(official.account)
    typed = {"title": "Foundations poured", "due_on": (closed - dt.timedelta(days=3)).isoformat()}
    refused = await official.post_form(path + "/milestones", typed)
    assert refused.status_code == 422
    assert "before the vote closed" in refused.text and 'id="f-due_on-error"' in refused.text
    assert 'value="Foundations poured"' in refused.text and typed["due_on"] in refused.text
    await accounts.set_language(official.account.id, "ko")  # the message is in the reader's language
    korean = await official.post_form(path + "/milestones", typed)
    assert korean.status_code == 422 and "투표 마감일" in korean.text
    typed["due_on"] = (closed + dt.timedelta(days=30)).isoformat()
    assert (await official.post_form(path + "/milestones", typed)).status_code == 303
    [milestone] = (await delivery.delivery_of(built.id, pid)).milestones
    assert (milestone.title, milestone.done) == ("Foundations poured", False)
    done = await official.post_form(f"{path}/milestones/{milestone.id}", typed | {"done": "on"})
    assert done.status_code == 303
    assert (await delivery.delivery_of(built.id, pid)).milestones[0].done
    [added] = await _audit("pb.delivery.milestone.added")
    assert added["actor_id"] == official.account.id


async def test_photos_are_typed_by_content_and_need_alt_text(users):
    built, official = await _funded(users)
    pid = built.funded[0]
    with pytest.raises(InvalidInput) as pdf:
        await delivery_photos.add_photo(official, built.id, pid, b"%PDF-1.4 not a photo", "Site")
    assert pdf.value.field == "photo"
    with pytest.raises(InvalidInput) as alt:
        await delivery_photos.add_photo(official, built.id, pid, PNG, "   ")
    assert alt.value.field == "alt_text"
    photo = await delivery_photos.add_photo(
        official, built.id, pid, PNG, "The new riverside lamps at dusk"
    )
    stored = await delivery_photos.photo_content(built.id, pid, photo)
    assert stored.content == PNG and stored.file_type.kind == "png"
    await delivery_photos.remove_photo(official, built.id, pid, photo)
    with pytest.raises(NotFoundError):
        await delivery_photos.photo_content(built.id, pid, photo)


async def test_spending_above_the_funded_amount_is_kept_with_a_warning(users):
    built, official = await _funded(users)
    pid = built.funded[0]
    funded = (await delivery.funded_project(built.id, pid)).funded
    today = clock.now().astimezone(clock.SEOUL).date()
    with pytest.raises(InvalidInput) as zero:
        await delivery_spending.add_payment(official, built.id, pid, 0, today, "")
    assert zero.value.field == "amount"
    with pytest.raises(InvalidInput) as future:
        await delivery_spending.add_payment(official, built.id, pid, 1, today + dt.timedelta(days=2), "")
    assert future.value.field == "paid_on"
    first = await delivery_spending.add_payment(official, built.id, pid, funded - 1, today, "Contract")
    assert first.over_by == 0
    second = await delivery_spending.add_payment(official, built.id, pid, 11, today, "Extra lamps")
    assert second.over_by == 10 and second.spent == funded + 10
    found = await delivery.delivery_of(built.id, pid)
    assert found.spent == funded + 10 and found.spent_share == (100, True)


async def test_dashboard_totals_by_pot_and_category_and_csv(app, users, client):
    built, official = await _funded(users)
    today = clock.now().astimezone(clock.SEOUL).date()
    first, second = built.funded[0], built.funded[-1]
    await delivery.change_status(official, built.id, first, "in-progress", "")
    await delivery_spending.add_payment(official, built.id, first, 700_000_000, today, "")
    await delivery.change_status(official, built.id, second, "cancelled", "Moved to another budget")
    board = await dashboard(built.id)
    funded = await delivery.funded_projects(built.id)
    assert board.total.projects == len(funded)
    assert board.total.funded == sum(f.funded for f in funded)
    assert board.total.spent == 700_000_000
    assert board.total.counts == {
        "planned": len(funded) - 2,
        "in-progress": 1,
        "completed": 0,
        "cancelled": 1,
    }
    pots = {g.key: g for g in board.by_pot}
    assert set(pots) == {"11000", "11680"}
    assert pots["11000"].spent == 700_000_000 and pots["11680"].counts["cancelled"] == 1
    assert {g.key for g in board.by_category} == {"climate", "transportation"}
    page = await client.get(f"/pb/cycles/{built.id}/delivery")
    assert page.status_code == 200 and "<svg" in page.text
    exported = await client.get(f"/pb/cycles/{built.id}/delivery/export/delivery.csv")
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert len(rows) == len(funded)
    assert sum(int(r["spent_krw"]) for r in rows) == 700_000_000
    assert {r["status"] for r in rows} == {"planned", "in-progress", "cancelled"}


async def test_project_page_in_korean_and_english_after_an_official_adds_a_milestone(app, users):
    built, official = await _funded(users)
    pid = built.funded[0]
    closed = (await delivery.delivery_of(built.id, pid)).vote_closed_on
    await delivery.add_milestone(
        official,
        built.id,
        pid,
        delivery.MilestoneInput(title="Lamps installed", due_on=closed + dt.timedelta(days=60)),
    )
    await delivery.change_status(official, built.id, pid, "in-progress", "")
    photo = await delivery_photos.add_photo(official, built.id, pid, PNG, "Lamps along the path")
    path = f"/pb/cycles/{built.id}/delivery/projects/{pid}"
    async with PortalClient.for_app(app) as reader:
        english = await reader.get(path + "?lang=en")
        korean = await reader.get(path + "?lang=ko")
        image = await reader.get(f"{path}/photos/{photo}/image")
    assert english.status_code == korean.status_code == 200
    assert "Lamps installed" in english.text and "In progress" in english.text
    assert "진행 중" in korean.text and "Lamps installed" in korean.text
    assert 'alt="Lamps along the path"' in english.text
    assert (
        image.headers["content-type"] == "image/png"
        and image.headers["x-content-type-options"] == "nosniff"
    )


async def test_followers_of_a_funded_proposal_hear_each_delivery_status_once(app, users):
    from portal.i18n import translate
    from portal.tables import Notification

    built, official = await _funded(users)
    pid = built.funded[0]
    follower = await users.create(district="11680", verified=True)
    page = f"/pb/cycles/{built.id}/delivery/projects/{pid}"
    async with PortalClient.for_app(app) as reader:  # the project's page has the follow button
        await reader.login(follower)
        before = await reader.get(page)
        assert 'name="target_kind" value="proposal"' in before.text and 'value="follow"' in before.text
        followed = await reader.post_form(
            "/follows", {"target_kind": "proposal", "target_id": str(pid), "action": "follow", "next": page}
        )
        assert followed.status_code == 303
        assert 'aria-pressed="true"' in (await reader.get(page)).text
    await delivery.change_status(official, built.id, pid, "in-progress", "")
    with pytest.raises(InvalidInput):  # a refused step tells nobody
        await delivery.change_status(official, built.id, pid, "planned", "")
    told = await Notification.select().where(
        (Notification.user == follower.id) & (Notification.kind == "delivery-status")
    )
    assert len(told) == 1
    assert told[0]["link"] == f"/pb/cycles/{built.id}/delivery/projects/{pid}"
    params = json.loads(told[0]["params"]) if isinstance(told[0]["params"], str) else told[0]["params"]
    assert params["status"]["message"] == "In progress"
    assert translate(told[0]["message"], "ko") != told[0]["message"]  # the reader's language
