"""One test per line of security-checklist.md that the foundation owns (S1-S13, S15-S17, S22, A1, A3, A4)."""

from __future__ import annotations

import datetime as dt
import logging
import re

import httpx
import pyotp
import pytest
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError

from portal import accounts, audit, clock, login, password_reset
from portal.db import raw, write_transaction
from portal.passwords import HASHER
from portal.settings import get_settings
from portal.tables import AuditEvent, SessionRecord, User
from tests.helpers import DEFAULT_PASSWORD, PortalClient, field_error, use_production_settings


def client_from(app, address: str = "127.0.0.1") -> PortalClient:
    return PortalClient(
        transport=httpx.ASGITransport(app=app, client=(address, 50000)),
        base_url="http://testserver",
        follow_redirects=False,
        headers={"accept-language": "en"},
    )


async def api_login(client, email: str, password: str, totp: str | None = None) -> httpx.Response:
    body = {"email": email, "password": password}
    if totp is not None:
        body["totp"] = totp
    return await client.send_json("POST", "/api/v1/auth/login", body)


async def api_register(client, password: str, email: str = "s1@example.kr") -> httpx.Response:
    return await client.send_json(
        "POST", "/api/v1/auth/register",
        {"email": email, "password": password, "display_name": "S", "language": "en"},
    )


# ---------------------------------------------------------------- S1, S2, S3


async def test_s1_length_rules_and_unicode_without_truncation(client):
    short = await api_register(client, "abcdefghijklmn")  # 14 characters
    assert short.status_code == 422 and "at least 15" in field_error(short)
    assert (await api_register(client, "quietmorningtea", email="ok15@example.kr")).status_code == 201
    korean = "한강의 아침 안개가 다리 위로 천천히 흘러가고 자전거 타는 사람들이 하나둘 모여든다 오늘도 좋은 하루가 되기를 바라며"[:64]
    assert len(korean) == 64
    assert (await api_register(client, korean, email="ko64@example.kr")).status_code == 201
    assert (await api_login(client, "ko64@example.kr", korean)).status_code == 200
    assert (await api_login(client, "ko64@example.kr", korean[:63])).status_code == 401
    too_long = await api_register(client, "x" * 100 + "abcdefghij" * 3, email="long@example.kr")
    assert too_long.status_code == 422 and "at most 128" in field_error(too_long)


@pytest.mark.parametrize("password", ["password1234567", "seoulhangang2026", "qwertyuiop12345", "Hangang Seoul Portal 2026"])
async def test_s2_common_and_context_passwords_rejected_with_reason(client, password):
    response = await api_register(client, password)
    assert response.status_code == 422
    assert "common" in field_error(response) or "guessed" in field_error(response)


async def test_s2_password_containing_the_email_is_rejected(client):
    response = await api_register(client, "mysecretname-jiwoo-forever", email="jiwoo@example.kr")
    assert response.status_code == 422 and "email" in field_error(response)


async def test_s3_argon2id_parameters_at_or_above_owasp(users):
    account = await users.create()
    stored = (await User.select(User.password_hash).where(User.id == account.id).first())["password_hash"]
    match = re.match(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", stored)
    assert match, stored
    memory, time_cost, parallelism = map(int, match.groups())
    assert memory >= 19 * 1024 and time_cost >= 2 and parallelism >= 1


async def test_s3_weaker_stored_hash_is_upgraded_at_login(client, users):
    account = await users.create()
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1, type=Type.ID).hash(account.password)
    await User.update({User.password_hash: weak}).where(User.id == account.id)
    assert (await api_login(client, account.email, account.password)).status_code == 200
    upgraded = (await User.select(User.password_hash).where(User.id == account.id).first())["password_hash"]
    assert upgraded != weak and not HASHER.check_needs_rehash(upgraded)


# ---------------------------------------------------------------- S4, S5, S6


async def test_s4_throttle_per_account_and_address_without_permanent_lockout(app, users):
    account = await users.create()
    statuses = []
    for attempt in range(20):
        async with client_from(app, f"10.0.{attempt}.1") as rotating:  # a new address every time
            statuses.append((await api_login(rotating, account.email, "wrong password entirely")).status_code)
    assert 429 in statuses, statuses  # rotating addresses did not reset the account counter
    async with client_from(app, "10.9.9.9") as fresh:
        blocked = await api_login(fresh, account.email, account.password)
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
        clock.advance(dt.timedelta(minutes=16))  # past the longest cool-down
        assert (await api_login(fresh, account.email, account.password)).status_code == 200


async def test_s4_throttle_per_address_covers_many_accounts(app, users):
    async with client_from(app, "192.0.2.7") as attacker:
        statuses = [
            (await api_login(attacker, f"nobody{i}@example.kr", "wrong password entirely")).status_code for i in range(40)
        ]
    assert statuses[0] == 401 and statuses[-1] == 429


async def test_s5_no_enumeration_on_login(client, users, monkeypatch):
    account = await users.create()
    verified = []
    original = login.verify_password

    async def counting(stored, password):
        verified.append(stored)
        return await original(stored, password)

    monkeypatch.setattr(login, "verify_password", counting)
    unknown = await api_login(client, "nobody@example.kr", "some password here")
    wrong = await api_login(client, account.email, "some password here")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["detail"] == wrong.json()["detail"]
    assert len(verified) == 2  # a dummy hash was verified for the unknown account too


async def test_s5_no_enumeration_on_registration(client, users):
    await users.create(email="taken@example.kr")
    taken = await api_register(client, DEFAULT_PASSWORD, email="taken@example.kr")
    fresh = await api_register(client, DEFAULT_PASSWORD, email="fresh@example.kr")
    assert taken.status_code == fresh.status_code == 201
    assert taken.json() == fresh.json()


async def test_s6_privileged_login_needs_a_fresh_totp_code(client, users):
    official = await users.create(roles=["official"])
    assert (await api_login(client, official.email, official.password)).status_code == 401
    assert (await api_login(client, official.email, official.password, "000000")).status_code == 422
    code = pyotp.TOTP(official.totp_secret).at(clock.now())
    assert (await api_login(client, official.email, official.password, code)).status_code == 200
    replay = await api_login(client, official.email, official.password, code)
    assert replay.status_code == 422  # a code works once


async def test_s6_privileged_account_without_totp_must_enrol_first(client, users):
    await accounts.create_user("newjudge@example.kr", DEFAULT_PASSWORD, ["judge"], check_password=False)
    page = await client.post_form("/login", {"email": "newjudge@example.kr", "password": DEFAULT_PASSWORD})
    assert page.status_code == 303 and page.headers["location"] == "/account/totp/setup"
    assert (await client.get("/api/v1/me")).status_code == 401  # not signed in until enrolled
    setup = await client.get("/account/totp/setup")
    secret = re.search(r'class="secret">([A-Z2-7]+)<', setup.text).group(1)
    assert "data:image/svg+xml" in setup.text  # the QR code is rendered by the server
    done = await client.post_form("/account/totp/setup", {"totp": pyotp.TOTP(secret).at(clock.now())})
    assert done.status_code == 303
    assert (await client.get("/api/v1/me")).json()["totp_enabled"] is True


# ---------------------------------------------------------------- S7, S8, S9, S10, S11


def session_cookie(client) -> str | None:
    return client.cookies.get("hangang_session")


async def test_s7_planted_session_id_is_never_adopted(client, users):
    account = await users.create()
    planted = "a" * 64
    client.cookies.set("hangang_session", planted, domain="testserver")
    response = await api_login(client, account.email, account.password)
    assert response.status_code == 200
    issued = re.search(r"hangang_session=([0-9a-f]+)", response.headers["set-cookie"]).group(1)
    assert issued != planted
    assert not await SessionRecord.exists().where(SessionRecord.key == planted)


async def test_s7_session_id_rotates_on_login_and_privilege_change(app, users):
    account = await users.create()
    admin = await users.create(roles=["admin"])
    async with PortalClient.for_app(app) as c:
        await c.get("/login")
        await c.post_form("/language", {"language": "en", "next": "/"})
        assert (await api_login(c, account.email, account.password)).status_code == 200
        first = session_cookie(c)
        await accounts.set_roles(admin.id, account.id, ["citizen", "startup"])
        # The old session no longer grants anything: privileges start from a fresh login.
        assert (await c.get("/api/v1/me")).status_code == 401
        assert (await api_login(c, account.email, account.password)).status_code == 200
        assert session_cookie(c) != first
        assert not await SessionRecord.exists().where(SessionRecord.key == first)


async def test_s8_cookie_flags_in_development(client, users):
    account = await users.create()
    await client.get("/")
    response = await api_login(client, account.email, account.password)
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert cookies
    for cookie in cookies:
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")


async def test_s8_cookie_flags_in_production(monkeypatch, users):
    use_production_settings(monkeypatch)
    try:
        from portal.app import create_app

        account = await users.create()
        app = create_app(run_background_tasks=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
            first = await c.get("/")
            token = c.cookies.get("__Host-csrftoken")
            response = await c.post(
                "/api/v1/auth/login", json={"email": account.email, "password": account.password}, headers={"x-csrftoken": token}
            )
            assert response.status_code == 200
            assert "strict-transport-security" in first.headers
            cookies = [v for k, v in [*first.headers.multi_items(), *response.headers.multi_items()] if k == "set-cookie"]
            assert {c.split("=")[0] for c in cookies} == {"__Host-csrftoken", "__Host-hangang_session"}
            for cookie in cookies:
                assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie and "Domain" not in cookie
    finally:
        get_settings.cache_clear()


async def test_s9_idle_and_absolute_timeouts(app, users):
    account = await users.create()
    async with PortalClient.for_app(app) as c:
        await c.login(account)
        clock.advance(dt.timedelta(minutes=31))
        assert (await c.get("/api/v1/me")).status_code == 401  # idle
        await c.login(account)
        for _ in range(40):  # stay active every 20 minutes for more than 12 hours
            clock.advance(dt.timedelta(minutes=20))
            if (await c.get("/api/v1/me")).status_code == 401:
                break
        else:
            pytest.fail("the session outlived its absolute timeout")
        assert clock.now() - dt.datetime.now(dt.UTC) >= dt.timedelta(hours=12)


async def test_s9_logout_and_password_change_end_sessions(app, users):
    account = await users.create()
    async with PortalClient.for_app(app) as a, PortalClient.for_app(app) as b:
        await a.login(account)
        old = session_cookie(a)
        assert (await a.send_json("POST", "/api/v1/auth/logout")).status_code == 204
        async with PortalClient.for_app(app) as replayer:
            replayer.cookies.set("hangang_session", old, domain="testserver")
            assert (await replayer.get("/api/v1/me")).status_code == 401
        await a.login(account)
        await b.login(account)
        new_password = "another long passphrase for me"
        changed = await a.post_form("/account/password", {"current_password": account.password, "new_password": new_password})
        assert changed.status_code == 303
        assert (await a.get("/api/v1/me")).status_code == 200  # this session continues on a new id
        assert (await b.get("/api/v1/me")).status_code == 401  # every other session ended


async def test_s10_csrf_required_on_unsafe_methods_including_login(app, users):
    account = await users.create()
    async with PortalClient.for_app(app) as c:
        await c.get("/login")
        no_token = await c.post("/login", data={"email": account.email, "password": account.password})
        assert no_token.status_code == 403
        async with PortalClient.for_app(app) as other:
            foreign = await other.csrf_token()
        cross = await c.post("/login", data={"email": account.email, "password": account.password, "_csrf_token": foreign})
        assert cross.status_code == 403
        json_without = await c.post("/api/v1/auth/login", json={"email": account.email, "password": account.password})
        assert json_without.status_code == 403


def concrete_path(path: str) -> str:
    return re.sub(r"\{[^}:]+:int\}", "1", re.sub(r"\{[^}:]+:(str|uuid|path)\}", "x", path))


def get_routes(app) -> list[str]:
    paths = []
    for route in app.routes:
        if "GET" in getattr(route, "methods", set()) and not route.path.startswith(("/static", "/schema")):
            paths.append(concrete_path(route.path))
    return sorted(set(paths))


async def table_counts() -> dict[str, int]:
    from tests.helpers import all_tables

    skip = {"portal_session", "portal_login_throttle"}
    return {t._meta.tablename: await t.count() for t in all_tables() if t._meta.tablename not in skip}


async def test_s11_no_state_change_on_get(app, users):
    admin = await users.create(roles=["admin", "official", "judge", "startup", "citizen"], verified=True)
    async with PortalClient.for_app(app) as c:
        await c.login(admin)
        before = await table_counts()
        for path in get_routes(app):
            response = await c.get(path)
            assert response.status_code < 500, (path, response.status_code)
        assert await table_counts() == before


async def test_s12_security_headers_on_every_get_route_and_error_pages(app, users):
    citizen = await users.create(verified=True)
    async with PortalClient.for_app(app) as c:
        await c.login(citizen)
        for path in [*get_routes(app), "/definitely/not/here", "/api/v1/nothing"]:
            response = await c.get(path)
            headers = response.headers
            csp = headers.get("content-security-policy", "")
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, path
            assert headers.get("x-content-type-options") == "nosniff", path
            assert headers.get("referrer-policy") and headers.get("cross-origin-opener-policy"), path
            assert headers.get("cache-control") == "no-store", path


# ---------------------------------------------------------------- S13, S15, S16, S17, S22


def test_s13_every_route_has_a_guard(app):
    from portal.auth import public

    unguarded = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if route.path.startswith(("/static", "/schema")) or handler.http_methods == {"OPTIONS"}:
                continue  # static files, the schema and Litestar's automatic OPTIONS answers
            if not handler.resolve_guards():
                unguarded.append(f"{sorted(handler.http_methods)} {route.path}")
    assert not unguarded, unguarded
    # Public routes say so explicitly with the ``public`` guard.
    assert any(public in (h.guards or []) for r in app.routes for h in getattr(r, "route_handlers", []))


async def test_s13_role_matrix_for_official_pages(app, users, client):
    citizen = await users.create(verified=True)
    assert (await client.get("/officials/accounts", headers={"accept": "application/json"})).status_code == 401
    async with PortalClient.for_app(app) as c:
        await c.login(citizen)
        assert (await c.get("/officials/accounts")).status_code == 403
        before = await User.select(User.residency_verified).where(User.id == citizen.id).first()
        assert (await c.post_form(f"/officials/accounts/{citizen.id}/residency", {"verified": "0"})).status_code == 403
        assert await User.select(User.residency_verified).where(User.id == citizen.id).first() == before


async def test_s15_mass_assignment_refused(client):
    response = await client.send_json(
        "POST", "/api/v1/auth/register",
        {"email": "m@example.kr", "password": DEFAULT_PASSWORD, "display_name": "M", "role": "admin"},
    )
    assert response.status_code == 400
    assert not await User.exists().where(User.email == "m@example.kr")


async def test_s16_body_limits_and_content_types(client):
    oversize = await client.send_json(
        "POST", "/api/v1/auth/register", {"email": "a@b.kr", "password": "x" * 400_000, "display_name": "A"}
    )
    assert oversize.status_code == 413
    wrong_type = await client.post(
        "/api/v1/auth/login", content=b"email=a", headers={"content-type": "text/plain", "x-csrftoken": await client.csrf_token()}
    )
    assert wrong_type.status_code in (400, 415)
    too_long_field = await client.send_json(
        "POST", "/api/v1/auth/register", {"email": "a" * 300 + "@b.kr", "password": DEFAULT_PASSWORD, "display_name": "A"}
    )
    assert too_long_field.status_code == 400


async def test_s17_user_text_is_escaped(app, users):
    nasty = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    account = await users.create(verified=True)
    official = await users.create(roles=["official"])
    await User.update({User.display_name: nasty[:80]}).where(User.id == account.id)
    async with PortalClient.for_app(app) as c:
        await c.login(official)
        page = await c.get("/officials/accounts")
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;" in page.text
    assert "<img src=x" not in page.text


async def test_s22_no_stack_traces_outside_development(client, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(password_reset, "request_password_reset", broken)
    response = await client.post_form("/password-reset", {"email": "x@example.kr"})
    assert response.status_code == 500
    assert "secret internal detail" not in response.text and "Traceback" not in response.text
    assert "<html" in response.text


# ---------------------------------------------------------------- A1, A3, A4


async def test_a1_audit_chain_detects_altered_and_deleted_rows(users):
    for i in range(4):
        await users.create(email=f"chain{i}@example.kr")
    assert (await audit.verify_chain()).ok
    rows = await AuditEvent.select(AuditEvent.id).order_by(AuditEvent.id)
    await raw("UPDATE portal_audit_event SET subject = {} WHERE id = {}", "tampered", rows[1]["id"])
    broken = await audit.verify_chain()
    assert not broken.ok and broken.broken_at == rows[1]["id"]
    await raw("UPDATE portal_audit_event SET subject = {} WHERE id = {}", f"user:{2}", rows[1]["id"])
    await raw("DELETE FROM portal_audit_event WHERE id = {}", rows[2]["id"])
    gap = await audit.verify_chain()
    assert not gap.ok and gap.broken_at == rows[3]["id"]


async def test_a1_audit_event_written_in_the_same_transaction(users):
    with pytest.raises(RuntimeError):
        async with write_transaction():
            await audit.record("test.rolled_back")
            raise RuntimeError("the action failed")
    assert not await AuditEvent.exists().where(AuditEvent.action == "test.rolled_back")


async def test_a3_durability_settings_are_checked_at_startup():
    from portal.db import check_durability, is_postgres

    assert await check_durability() == []
    if not is_postgres():
        from piccolo.engine.sqlite import SQLiteEngine

        path = get_settings().var_dir / "not-wal.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        other = SQLiteEngine(path=str(path))
        from piccolo.querystring import QueryString

        await other.run_querystring(QueryString("PRAGMA journal_mode=DELETE"))
        import portal.db as db_module

        original = db_module.DB
        db_module.DB = other
        try:
            problems = await check_durability()
        finally:
            db_module.DB = original
        assert problems and "journal_mode" in problems[0]


async def test_a4_logs_carry_no_passwords_or_session_ids(app, users, caplog):
    caplog.set_level(logging.INFO)  # the production level; library debug traces are off there
    account = await users.create()
    async with PortalClient.for_app(app) as c:
        await api_login(c, account.email, "a wrong password for the log")
        await c.login(account)
        session_id = session_cookie(c)
        await c.get("/account")
    text = caplog.text
    assert account.password not in text and "a wrong password for the log" not in text
    assert session_id and session_id not in text


async def test_invalid_hash_in_database_does_not_crash_login(client, users):
    account = await users.create()
    await User.update({User.password_hash: "not-a-hash"}).where(User.id == account.id)
    with pytest.raises(InvalidHashError):
        HASHER.verify("not-a-hash", "x")
    assert (await api_login(client, account.email, account.password)).status_code == 401


async def test_s16_out_of_range_ids_and_nul_bytes_are_4xx_not_5xx(official):
    huge = "9" * 30
    assert (await official.get("/officials/accounts?q=a%00b")).status_code < 500
    assert (await official.get(f"/password-reset/{huge}")).status_code < 500
    reply = await official.post_form(f"/officials/accounts/{huge}/residency", {"verified": "1"})
    assert reply.status_code in (400, 404)
