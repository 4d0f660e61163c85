"""PB proposals: intake by verified residents, browse/search/filter, review with notifications, images."""

from __future__ import annotations

import datetime as dt

from portal import clock
from portal.mail import development_outbox
from portal.tables import Notification
from proposals.tables import Proposal
from tests.helpers import PortalClient
from tests.images import png
from voting.testing import build_cycle

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def proposal_form(pot_id: int, **overrides) -> dict:
    return {
        "pot_id": str(pot_id),
        "title": "Shade trees on Teheran-ro",
        "summary": "Plant 200 shade trees along the avenue to cool the sidewalks.",
        "description": "Details of the planting plan.",
        "category": "climate",
        "estimated_cost": "800000000",
        "location": "Teheran-ro",
        **overrides,
    }


async def submit(client, cycle_id: int, data: dict, files=None):
    token = await client.csrf_token()
    return await client.post(
        f"/pb/cycles/{cycle_id}/proposals",
        data={**data, "_csrf_token": token},
        files=files or {"image": ("", b"", "application/octet-stream")},
    )


async def test_verified_resident_submits_edits_and_withdraws_during_intake(citizen, official):
    built = await build_cycle(official.account.id, phase="proposals")
    response = await submit(citizen, built.id, proposal_form(built.pots["11680"]))
    assert response.status_code == 303, response.text
    proposal_id = int(response.headers["location"].rsplit("/", 1)[1])
    page = await citizen.get(f"/pb/proposals/{proposal_id}")
    assert "Shade trees on Teheran-ro" in page.text
    token = await citizen.csrf_token()
    edited = await citizen.post(
        f"/pb/proposals/{proposal_id}/edit",
        data={
            **proposal_form(built.pots["11680"], title="Shade trees on Teheran-ro and Samseong-ro"),
            "_csrf_token": token,
        },
        files={"image": ("", b"", "application/octet-stream")},
    )
    assert edited.status_code == 303
    assert (await Proposal.select(Proposal.title).where(Proposal.id == proposal_id).first())[
        "title"
    ].endswith("Samseong-ro")
    assert (await citizen.post_form(f"/pb/proposals/{proposal_id}/withdraw")).status_code == 303
    assert (await Proposal.select(Proposal.status).where(Proposal.id == proposal_id).first())[
        "status"
    ] == "withdrawn"
    browse = await citizen.get(f"/pb/cycles/{built.id}/proposals")
    assert "Samseong-ro" not in browse.text


async def test_unverified_other_district_and_closed_intake_are_refused(
    app, users, citizen, official
):
    built = await build_cycle(official.account.id, phase="proposals")
    unverified = await users.create(district="11680", verified=False)
    async with PortalClient.for_app(app) as c:
        await c.login(unverified)
        assert (await submit(c, built.id, proposal_form(built.city_pot))).status_code == 403
    # A Gangnam resident cannot propose for Mapo's pot.
    assert (await submit(citizen, built.id, proposal_form(built.pots["11440"]))).status_code == 403
    bad = await submit(
        citizen, built.id, proposal_form(built.city_pot, title="ab", estimated_cost="-5")
    )
    assert bad.status_code == 422 and "5 to 200" in bad.text
    assert 'value="ab"' in bad.text
    review = await build_cycle(official.account.id, phase="review", name="Later")
    assert (await submit(citizen, review.id, proposal_form(review.city_pot))).status_code == 409
    assert await Proposal.count().where(Proposal.author == citizen.account.id) == 0


async def test_browse_search_filter_and_sort_allowlist(client, citizen, official):
    built = await build_cycle(official.account.id, phase="proposals")
    await submit(
        citizen,
        built.id,
        proposal_form(
            built.city_pot,
            title="Bus shelters with heating",
            category="transportation",
            estimated_cost="300000000",
        ),
    )
    await submit(
        citizen,
        built.id,
        proposal_form(
            built.city_pot, title="Flood sensors in underpasses", category="disaster response"
        ),
    )
    found = await client.get(f"/pb/cycles/{built.id}/proposals", params={"q": "flood"})
    assert "Flood sensors" in found.text and "Bus shelters" not in found.text
    by_category = await client.get(
        f"/pb/cycles/{built.id}/proposals", params={"category": "transportation", "sort": "-cost"}
    )
    assert "Bus shelters" in by_category.text and "Flood sensors" not in by_category.text
    injected = await client.get(
        f"/pb/cycles/{built.id}/proposals", params={"sort": "id; DROP TABLE pb_proposal"}
    )
    assert injected.status_code == 400
    assert (
        await client.get(f"/pb/cycles/{built.id}/proposals", params={"status": "withdrawn"})
    ).status_code == 400
    assert await Proposal.count() > 0


async def test_s17_user_text_is_escaped(client, citizen, official):
    built = await build_cycle(official.account.id, phase="proposals")
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    response = await submit(
        citizen,
        built.id,
        proposal_form(built.city_pot, title=evil[:60], summary=evil, location=evil[:100]),
    )
    proposal_id = int(response.headers["location"].rsplit("/", 1)[1])
    for url in (f"/pb/proposals/{proposal_id}", f"/pb/cycles/{built.id}/proposals"):
        text = (await client.get(url)).text
        assert "<script>alert(1)" not in text and "<img src=x" not in text
        assert "&lt;script&gt;" in text


async def test_review_feasible_infeasible_merge_notifies_author(app, citizen, official):
    built = await build_cycle(official.account.id, phase="proposals")
    ids = []
    for title in ("Library opening hours", "Longer library hours", "Rooftop gardens"):
        response = await submit(citizen, built.id, proposal_form(built.city_pot, title=title))
        ids.append(int(response.headers["location"].rsplit("/", 1)[1]))
    clock.advance(dt.timedelta(days=10))  # review phase
    await official.login(official.account)
    sent_before = len(development_outbox.sent)
    ok = await official.post_form(
        f"/officials/pb/proposals/{ids[0]}/review",
        {
            "decision": "feasible",
            "reason": "Costed by the library office",
            "revised_cost": "650000000",
        },
    )
    assert ok.status_code == 303
    no = await official.post_form(
        f"/officials/pb/proposals/{ids[2]}/review",
        {"decision": "infeasible", "reason": "Roofs are private property"},
    )
    assert no.status_code == 303
    merged = await official.post_form(
        f"/officials/pb/proposals/{ids[1]}/merge",
        {"merged_into": str(ids[0]), "reason": "Same idea as the library hours proposal"},
    )
    assert merged.status_code == 303
    rows = {r["id"]: r for r in await Proposal.select()}
    assert rows[ids[0]]["status"] == "feasible" and rows[ids[0]]["revised_cost"] == 650_000_000
    assert (
        rows[ids[2]]["status"] == "infeasible"
        and rows[ids[1]]["status"] == "merged"
        and rows[ids[1]]["merged_into"] == ids[0]
    )
    assert await Notification.count().where(Notification.user == citizen.account.id) == 3
    assert len(development_outbox.sent) - sent_before == 3
    # The feasible proposal is on the ballot at its revised cost.
    projects = (
        await citizen.get(f"/api/v1/pb/cycles/{built.id}/pots/{built.city_pot}/projects")
    ).json()
    assert {"id": ids[0], "cost": 650_000_000}.items() <= next(
        p for p in projects if p["id"] == ids[0]
    ).items()
    # Citizens cannot review.
    await citizen.login(citizen.account)
    assert (
        await citizen.post_form(
            f"/officials/pb/proposals/{ids[2]}/review",
            {"decision": "feasible", "reason": "I like it a lot"},
        )
    ).status_code == 403
    # Once voting opens, reviews are frozen.
    clock.advance(dt.timedelta(days=10))
    await official.login(official.account)
    late = await official.post_form(
        f"/officials/pb/proposals/{ids[2]}/review",
        {"decision": "feasible", "reason": "Changed my mind"},
    )
    assert late.status_code == 409


async def test_image_upload_checked_by_magic_bytes_and_served_as_attachment(
    client, citizen, official
):
    built = await build_cycle(official.account.id, phase="proposals")
    exe = await submit(
        citizen,
        built.id,
        proposal_form(built.city_pot),
        files={"image": ("photo.png", b"MZ\x90\x00" + b"\x00" * 64, "image/png")},
    )
    assert exe.status_code == 422 and "PNG or JPEG" in exe.text
    unreadable = await submit(
        citizen,
        built.id,
        proposal_form(built.city_pot, image_alt="A park bench"),
        files={"image": ("photo.png", PNG, "image/png")},  # the magic bytes, then nothing an image has
    )
    assert unreadable.status_code == 422 and "could not be read" in unreadable.text
    picture = png(64, 48)
    ok = await submit(
        citizen,
        built.id,
        proposal_form(built.city_pot, image_alt="A park bench"),
        files={"image": ("../../etc/passwd.png", picture, "image/png")},
    )
    assert ok.status_code == 303
    proposal_id = int(ok.headers["location"].rsplit("/", 1)[1])
    stored = (await Proposal.select(Proposal.image_name).where(Proposal.id == proposal_id).first())[
        "image_name"
    ]
    assert stored.endswith(".png") and "passwd" not in stored and "/" not in stored
    image = await client.get(f"/pb/proposals/{proposal_id}/image")
    assert image.status_code == 200 and image.content.startswith(PNG[:8])
    assert image.headers["content-disposition"].startswith("attachment")
    assert image.headers["x-content-type-options"] == "nosniff"


async def test_s14_another_resident_cannot_edit_or_withdraw_a_proposal(
    app, users, citizen, official
):
    built = await build_cycle(official.account.id, phase="proposals")
    response = await submit(citizen, built.id, proposal_form(built.city_pot))
    proposal_id = int(response.headers["location"].rsplit("/", 1)[1])
    before = await Proposal.select().where(Proposal.id == proposal_id).first()
    other = await users.create(district="11680", verified=True)
    async with PortalClient.for_app(app) as c:
        await c.login(other)
        token = await c.csrf_token()
        edit = await c.post(
            f"/pb/proposals/{proposal_id}/edit",
            data={
                **proposal_form(built.city_pot, title="Hijacked proposal title"),
                "_csrf_token": token,
            },
            files={"image": ("", b"", "application/octet-stream")},
        )
        assert edit.status_code == 403
        assert (await c.post_form(f"/pb/proposals/{proposal_id}/withdraw")).status_code == 403
    assert await Proposal.select().where(Proposal.id == proposal_id).first() == before
