"""Residency: officials verify people or import the salted resident register; citizens claim with their identifier."""

from __future__ import annotations

from portal.accounts import resident_identifier_hash
from portal.tables import AuditEvent, User
from tests.helpers import field_error


async def test_official_verifies_and_withdraws_residency_with_audit(official, users):
    person = await users.create(district="11440", verified=False)
    assert (await official.post_form(f"/officials/accounts/{person.id}/residency", {"verified": "1"})).status_code == 303
    assert (await User.select(User.residency_verified).where(User.id == person.id).first())["residency_verified"]
    assert (await official.post_form(f"/officials/accounts/{person.id}/residency", {"verified": "0"})).status_code == 303
    assert not (await User.select(User.residency_verified).where(User.id == person.id).first())["residency_verified"]
    actions = [r["action"] for r in await AuditEvent.select(AuditEvent.action).where(AuditEvent.subject == f"user:{person.id}")]
    assert "residency.verified" in actions and "residency.revoked" in actions


async def test_register_import_then_citizen_claims_once(app, official, users):
    digest = resident_identifier_hash("900101-1234567")
    csv_text = f"identifier_hash,district_code\n{digest},11680\n"
    response = await official.post(
        "/officials/accounts/resident-register",
        files={"file": ("register.csv", csv_text.encode(), "text/csv")},
        data={"_csrf_token": await official.csrf_token()},
    )
    assert response.status_code == 303
    from tests.helpers import PortalClient

    first = await users.create(district=None)
    second = await users.create(district=None)
    async with PortalClient.for_app(app) as c:
        await c.login(first)
        wrong = await c.post_form("/account/residency", {"identifier": "000000-0000000"})
        assert wrong.status_code == 422 and "register" in field_error(wrong)
        ok = await c.post_form("/account/residency", {"identifier": "900101 1234567"})
        assert ok.status_code == 303
    row = await User.select(User.residency_verified, User.district_code).where(User.id == first.id).first()
    assert row == {"residency_verified": True, "district_code": "11680"}
    async with PortalClient.for_app(app) as c:
        await c.login(second)
        reused = await c.post_form("/account/residency", {"identifier": "900101-1234567"})
        assert reused.status_code == 422


async def test_malformed_register_is_refused_with_the_line_number(official):
    bad = "identifier_hash,district_code\n" + "a" * 64 + ",11680\nnot-a-hash,11680\n"
    response = await official.post(
        "/officials/accounts/resident-register",
        files={"file": ("register.csv", bad.encode(), "text/csv")},
        data={"_csrf_token": await official.csrf_token()},
    )
    assert response.status_code == 422
    assert "Line 3" in field_error(response) or "Line 3" in response.text


async def test_changing_district_resets_verification(citizen):
    await citizen.post_form("/account", {"display_name": "Mover", "language": "en", "district_code": "11110"})
    row = await User.select(User.residency_verified, User.district_code).where(User.id == citizen.account.id).first()
    assert row == {"residency_verified": False, "district_code": "11110"}
