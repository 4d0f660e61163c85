"""AI 50 Challenge intake through HTTP: organizations, entries, the deadline freeze, uploads (S15, S17, S18)."""

from __future__ import annotations

import datetime as dt

from judging.tables import Attachment, Entry, Organization
from portal import clock
from portal.mail import development_outbox
from portal.settings import get_settings
from portal.tables import StoredFile
from tests.helpers import field_error
from tests.integration.test_challenge_setup import PDF, PNG, add_entries, make_edition, valid_brn


async def _organization(startup, number: str = "220-81-62517") -> int:
    response = await startup.post_form(
        "/challenge/organization",
        {
            "name": "Hangang Robotics",
            "registration_number": number,
            "size": "startup",
            "founding_year": "2021",
        },
    )
    assert response.status_code == 303, response.text
    return (
        await Organization.select(Organization.id)
        .where(Organization.registration_number == number.replace("-", ""))
        .first()
    )["id"]


def _entry_body(edition_id: int, org_id: int, **overrides) -> dict:
    body = {
        "edition_id": edition_id,
        "organization_id": org_id,
        "title": "Bus arrival AI",
        "category": "transportation",
        "sector": "public",
        "summary": "Predicts arrivals.",
        "problem": "Cold waits.",
        "ai_approach": "Boosting.",
        "data_protection": "Aggregates only.",
        "target_users": "Commuters.",
        "team": "Three engineers.",
        "districts": ["11680"],
        "demo_url": "https://demo.example.kr",
    }
    body.update(overrides)
    return body


async def test_registration_number_is_checked_by_its_check_digit(startup):
    bad = await startup.post_form(
        "/challenge/organization",
        {
            "name": "X",
            "registration_number": "220-81-62518",
            "size": "startup",
            "founding_year": "2021",
        },
    )
    assert bad.status_code == 422
    assert "check digit" in field_error(bad)
    short = await startup.post_form(
        "/challenge/organization",
        {"name": "X", "registration_number": "12345", "size": "startup", "founding_year": "2021"},
    )
    assert short.status_code == 422 and "10 digits" in field_error(short)
    await _organization(startup)
    again = await startup.post_form(
        "/challenge/organization",
        {"name": "Y", "registration_number": "2208162517", "size": "SME", "founding_year": "2020"},
    )
    assert again.status_code == 409
    assert await Organization.count() == 1


async def test_members_are_invited_by_email_and_accept(app, startup, users):
    org_id = await _organization(startup)
    colleague = await users.create(roles=["startup"], email="colleague@robotics.kr")
    response = await startup.post_form(
        f"/challenge/organization/{org_id}/invite", {"email": "colleague@robotics.kr"}
    )
    assert response.status_code == 303
    assert development_outbox.sent[-1].to == "colleague@robotics.kr"
    from tests.integration.test_challenge_setup import logged_in

    async with logged_in(app, colleague) as c:
        page = await c.get("/challenge/organization")
        assert "Hangang Robotics" in page.text
        from judging.tables import OrganizationInvitation

        invitation = await OrganizationInvitation.select().first()
        assert (
            await c.post_form(f"/challenge/invitations/{invitation['id']}/accept")
        ).status_code == 303
        assert "colleague@robotics.kr" in (await c.get("/challenge/organization")).text


async def test_entry_lifecycle_draft_submit_edit_withdraw_and_freeze(startup, official):
    challenge = await make_edition(official.account.id)
    org_id = await _organization(startup)
    created = await startup.send_json(
        "POST", "/api/v1/challenge/entries", _entry_body(challenge.edition_id, org_id, team="")
    )
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["status"] == "draft"
    incomplete = await startup.send_json("POST", f"/api/v1/challenge/entries/{entry['id']}/submit")
    assert incomplete.status_code == 422 and incomplete.json()["errors"][0]["field"] == "team"
    body = _entry_body(challenge.edition_id, org_id)
    del body["edition_id"], body["organization_id"]
    assert (
        await startup.send_json("PUT", f"/api/v1/challenge/entries/{entry['id']}", body)
    ).status_code == 200
    submitted = await startup.send_json("POST", f"/api/v1/challenge/entries/{entry['id']}/submit")
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
    assert development_outbox.sent[-1].to == startup.account.email  # the confirmation email
    assert "Bus arrival AI" in development_outbox.sent[-1].body
    body["title"] = "Bus arrival AI v2"
    assert (
        await startup.send_json("PUT", f"/api/v1/challenge/entries/{entry['id']}", body)
    ).json()["title"] == "Bus arrival AI v2"
    assert (
        await startup.send_json("POST", f"/api/v1/challenge/entries/{entry['id']}/withdraw")
    ).json()["status"] == "withdrawn"
    assert (
        await startup.send_json("POST", f"/api/v1/challenge/entries/{entry['id']}/submit")
    ).status_code == 200
    clock.advance(dt.timedelta(days=7, seconds=1))
    await startup.login(startup.account)  # the old session timed out while the clock moved
    body["title"] = "After the deadline"
    late = await startup.send_json("PUT", f"/api/v1/challenge/entries/{entry['id']}", body)
    assert late.status_code == 403
    assert (
        await startup.send_json("POST", f"/api/v1/challenge/entries/{entry['id']}/withdraw")
    ).status_code == 403
    row = await Entry.select().where(Entry.id == entry["id"]).first()
    assert row["title"] == "Bus arrival AI v2" and row["status"] == "submitted"
    page = await startup.get(f"/challenge/entries/{entry['id']}")
    assert "entries are frozen" in page.text


async def test_mass_assignment_is_refused(startup, official):
    challenge = await make_edition(official.account.id)
    org_id = await _organization(startup)
    for extra in ({"status": "screened-in"}, {"role": "admin"}, {"score": 10}, {"rank": 1}):
        response = await startup.send_json(
            "POST",
            "/api/v1/challenge/entries",
            {**_entry_body(challenge.edition_id, org_id), **extra},
        )
        assert response.status_code == 400, extra
    assert await Entry.count() == 0


async def test_startup_cannot_read_or_write_another_organizations_entry(
    app, startup, official, users
):
    challenge = await make_edition(official.account.id)
    other = await users.create(roles=["startup"])
    await add_entries(challenge, other.id, 1)
    entry_id = challenge.entries[0]
    before = await Entry.select().where(Entry.id == entry_id).first()
    assert (await startup.get(f"/api/v1/challenge/entries/{entry_id}")).status_code == 404
    assert (await startup.get(f"/challenge/entries/{entry_id}")).status_code == 404
    body = _entry_body(challenge.edition_id, challenge.organizations[0])
    del body["edition_id"], body["organization_id"]
    assert (
        await startup.send_json("PUT", f"/api/v1/challenge/entries/{entry_id}", body)
    ).status_code == 404
    assert (
        await startup.send_json("POST", f"/api/v1/challenge/entries/{entry_id}/withdraw")
    ).status_code == 404
    assert (await startup.get("/api/v1/challenge/entries")).json() == []
    assert await Entry.select().where(Entry.id == entry_id).first() == before
    # Creating an entry for an organization one is not a member of is refused too.
    refused = await startup.send_json(
        "POST",
        "/api/v1/challenge/entries",
        _entry_body(challenge.edition_id, challenge.organizations[0]),
    )
    # A 4xx naming the field (issue 9), the same for someone else's organization and for none at all (S14).
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "organization_id"


async def test_uploads_are_typed_by_content_and_served_as_downloads(startup, official):
    challenge = await make_edition(official.account.id)
    org_id = await _organization(startup)
    entry = (
        await startup.send_json(
            "POST", "/api/v1/challenge/entries", _entry_body(challenge.edition_id, org_id)
        )
    ).json()
    url = f"/challenge/entries/{entry['id']}/attachments"
    token = await startup.csrf_token()
    exe = await startup.post(
        url,
        data={"_csrf_token": token},
        files={"file": ("deck.pdf", b"MZ\x90\x00" + b"\x00" * 100, "application/pdf")},
    )
    assert exe.status_code == 422 and "PDF" in field_error(exe)
    ok = await startup.post(
        url,
        data={"_csrf_token": token},
        files={"file": ("../../../etc/passwd.pdf", PDF, "text/plain")},
    )
    assert ok.status_code == 303, ok.text
    png = await startup.post(
        url, data={"_csrf_token": token}, files={"file": ("..\\..\\x.png", PNG, "application/pdf")}
    )
    assert png.status_code == 303
    rows = await Attachment.select().order_by(Attachment.id)
    assert [r["kind"] for r in rows] == ["pdf", "png"]
    assert rows[0]["original_name"] == "passwd.pdf" and rows[1]["original_name"] == "x.png"
    # The bytes are in the database (every host sees them), nothing under the local var/.
    stored = await StoredFile.select(StoredFile.file_id, StoredFile.kind, StoredFile.owner)
    assert sorted((f["file_id"], f["kind"]) for f in stored) == sorted(
        (r["stored_name"], r["kind"]) for r in rows
    )
    assert {f["owner"] for f in stored} == {f"challenge-entry:{entry['id']}"}
    assert not any((get_settings().var_dir / "uploads" / r["stored_name"]).exists() for r in rows)
    assert not (get_settings().var_dir.parent / "etc").exists()
    download = await startup.get(f"{url}/{rows[0]['id']}")
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-type"].startswith("application/pdf")
    big = await startup.post(
        url,
        data={"_csrf_token": token},
        files={"file": ("big.png", PNG + b"\x00" * (5 * 1024 * 1024), "image/png")},
    )
    assert big.status_code == 422 and "too large" in field_error(big)
    huge = await startup.post(
        url,
        data={"_csrf_token": token},
        files={"file": ("huge.pdf", PDF + b"\x00" * (11 * 1024 * 1024), "application/pdf")},
    )
    assert huge.status_code == 413
    assert await Attachment.count() == 2


async def test_user_text_is_escaped_on_pages(startup, official):
    challenge = await make_edition(official.account.id)
    org_id = await _organization(startup)
    payload = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
    entry = (
        await startup.send_json(
            "POST",
            "/api/v1/challenge/entries",
            _entry_body(challenge.edition_id, org_id, title=payload, summary=payload),
        )
    ).json()
    for url in (
        f"/challenge/entries/{entry['id']}",
        "/challenge/entries",
        f"/officials/challenge/{challenge.edition_id}",
    ):
        client = official if url.startswith("/officials") else startup
        page = await client.get(url)
        assert page.status_code == 200, url
        assert "<script>alert(2)" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;" in page.text


async def test_valid_numbers_for_many_organizations(startup):
    for i in range(1, 4):
        response = await startup.post_form(
            "/challenge/organization",
            {
                "name": f"O{i}",
                "registration_number": valid_brn(i),
                "size": "SME",
                "founding_year": "2019",
            },
        )
        assert response.status_code == 303
    assert await Organization.count() == 3


async def test_errors_and_pages_come_in_korean(app, users):
    from tests.integration.test_challenge_setup import logged_in

    korean = await users.create(roles=["startup"], language="ko")
    async with logged_in(app, korean) as c:
        page = await c.get("/challenge/organization")
        assert "기관 등록" in page.text and "사업자등록번호" in page.text
        bad = await c.post_form(
            "/challenge/organization",
            {
                "name": "X",
                "registration_number": "220-81-62518",
                "size": "startup",
                "founding_year": "2021",
            },
        )
        assert "검증 번호" in field_error(bad)
        api = await c.send_json(
            "POST",
            "/api/v1/challenge/entries",
            {"title": "x", "category": "welfare", "sector": "public"},
        )
        assert api.status_code == 422 and "조직" in api.json()["errors"][0]["message"]
