"""No secrets in logs (A4, A7): a whole journey with every log record captured at DEBUG.

Register, reset the password by mail, log in, vote through the page and the API (a replacement too),
read the receipt, enrol TOTP; then no record (message, arguments or structured extras) holds a reset
token, a receipt code, a session id, the TOTP secret or a ballot's content.
"""

from __future__ import annotations

import logging
import re

import pyotp

from portal import accounts, clock, notification_mail, password_reset
from portal.mail import development_outbox
from portal.tables import User
from tests.helpers import PortalClient
from voting.services import receipt_mail
from voting.tables import Ballot
from voting.testing import build_cycle

PASSWORD = "a long and quiet river walk at dawn"
NEW_PASSWORD = "lanterns drifting past the old bridge"
# The test's own in-process HTTP client logs every URL it calls; the portal does not use these loggers
# on the request path (its outbound connector client is checked in unit/test_connector_client.py).
TEST_CLIENT_LOGGERS = ("httpx", "httpcore")


def everything_logged(records: list[logging.LogRecord]) -> str:
    """Each record's message, arguments and structured extras, as a log shipper would see them."""
    parts = []
    for record in records:
        if record.name.split(".")[0] in TEST_CLIENT_LOGGERS:
            continue
        parts.append(record.getMessage())
        parts.append(repr(record.__dict__))
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


async def test_a_whole_journey_logs_no_token_receipt_session_id_totp_secret_or_ballot(app, users, caplog):
    caplog.set_level(logging.DEBUG)  # the root logger and everything that propagates to it
    official = await users.create(roles=["official"])
    built = await build_cycle(official.id)
    sessions: set[str] = set()

    async with PortalClient.for_app(app) as c:
        def keep_session() -> None:
            if c.cookies.get("hangang_session"):
                sessions.add(c.cookies.get("hangang_session"))

        # Register through the page.
        await c.get("/register")
        registered = await c.post_form(
            "/register",
            {"email": "journey@example.kr", "password": PASSWORD, "display_name": "Journey",
             "district_code": "11680", "language": "en"},
        )
        assert registered.status_code == 303
        user_id = (await User.select(User.id).where(User.email == "journey@example.kr").first())["id"]
        await accounts.set_residency(official.id, user_id, True)
        receipt_mail.discard_pending()  # noted by earlier tests in this process

        # Forget the password: the link arrives by mail (outbox), is opened and used.
        assert (await c.post_form("/password-reset", {"email": "journey@example.kr"})).status_code == 200
        await password_reset.deliver_password_resets()
        mail = [m for m in development_outbox.read() if m.to == "journey@example.kr"][-1]
        token = re.search(r"/password-reset/(\S+)", mail.body).group(1)
        assert (await c.get(f"/password-reset/{token}")).status_code == 200
        assert (await c.post_form(f"/password-reset/{token}", {"password": NEW_PASSWORD})).status_code == 303

        # Log in through the page, vote through the page, read the receipt, vote again through the API.
        await c.get("/login")
        login = await c.post_form("/login", {"email": "journey@example.kr", "password": NEW_PASSWORD})
        assert login.status_code == 303
        keep_session()
        city_projects = built.projects[built.city_pot]
        vote_url = f"/pb/cycles/{built.id}/pots/{built.city_pot}/ballot"
        await c.get(vote_url)
        voted = await c.post_form(vote_url, {"project_ids": [str(city_projects[0]), str(city_projects[1])]})
        assert voted.status_code == 303, voted.text
        receipt_page = await c.get(f"/pb/cycles/{built.id}/pots/{built.city_pot}/receipt")
        assert receipt_page.status_code == 200
        keep_session()
        district_pot = built.pots["11680"]
        api_url = f"/api/v1/pb/cycles/{built.id}/pots/{district_pot}/ballot"
        first = await c.send_json("PUT", api_url, {"project_ids": [built.projects[district_pot][2]]})
        replaced = await c.send_json("PUT", api_url, {"project_ids": [built.projects[district_pot][3]]})
        assert first.status_code == replaced.status_code == 200
        receipts = {first.json()["receipt"], replaced.json()["receipt"]}
        # The receipt mails go through the outbox and are sent (their sending is logged too).
        await receipt_mail.flush_receipt_mails()
        assert (await notification_mail.send_due_mail()).sent >= 2
        assert "Your ballot receipt" in {m.subject for m in development_outbox.sent}
        assert any(r in receipt_page.text for r in await Ballot.select(Ballot.receipt).output(as_list=True))

        # Enrol TOTP through the page.
        setup = await c.get("/account/totp/setup")
        secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', setup.text).group(1)
        enrolled = await c.post_form("/account/totp/setup", {"totp": pyotp.TOTP(secret).at(clock.now())})
        assert enrolled.status_code == 303
        keep_session()
        await c.post_form("/logout")

    ballots = await Ballot.select(Ballot.receipt, Ballot.content)
    receipts |= {row["receipt"] for row in ballots}
    contents = {row["content"] if isinstance(row["content"], str) else str(row["content"]) for row in ballots}
    secrets = {
        "reset token": {token},
        "receipt": receipts,
        "session id": sessions,
        "TOTP secret": {secret},
        "ballot content": contents,
    }
    assert all(secrets.values()) and len(sessions) >= 2  # the journey really made each secret
    text = everything_logged(caplog.records)
    assert len(caplog.records) > 10  # the journey was logged (audit events, mail notices, ...)
    assert "journey@example.kr" in text and "Reset your Hangang Portal password" in text  # recipient and subject only
    for kind, values in secrets.items():
        for value in values:
            assert value not in text, f"a {kind} reached the logs"
    assert "Open this link" not in text and "Your receipt is" not in text  # no mail body


def test_access_log_redacts_reset_tokens_and_searched_receipts(caplog):
    from portal.logs import install_log_hygiene

    install_log_hygiene()
    caplog.set_level(logging.DEBUG)
    access = logging.getLogger("uvicorn.access")
    # uvicorn's own logging config stops this logger propagating to the root: listen on it directly.
    access.addHandler(caplog.handler)
    # An earlier in-process uvicorn config may have disabled or raised this logger: undo that here.
    was_disabled, was_level = access.disabled, access.level
    access.disabled = False
    access.setLevel(logging.INFO)
    try:
        line = '%s - "%s %s HTTP/%s" %d'  # uvicorn's access-log format and arguments
        access.info(line, "203.0.113.5:4711", "GET", "/password-reset/Zk3-secret_token", "1.1", 200)
        access.info(line, "203.0.113.5:4711", "GET", "/pb/cycles/1/results/pots/2/receipts?page_no=1&q=W3SD-2QHT-PAHF", "1.1", 200)
        access.info(line, "203.0.113.5:4711", "POST", "/judging/invitations/Jv9-judge_token/accept", "1.1", 303)
    finally:
        access.removeHandler(caplog.handler)
        access.disabled, access.level = was_disabled, was_level
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "Zk3-secret_token" not in text and "W3SD-2QHT-PAHF" not in text and "Jv9-judge_token" not in text
    assert "/password-reset/[redacted]" in text and "receipts?page_no=1&q=[redacted]" in text
    driver = logging.getLogger("aiosqlite")
    driver.setLevel(logging.DEBUG)  # an operator turning every logger up
    driver.addHandler(caplog.handler)
    try:
        driver.debug("executing %s", "INSERT ... ['W3SD-2QHT-PAHF']")
        driver.warning("a driver warning still gets through")
    finally:
        driver.removeHandler(caplog.handler)
        driver.setLevel(logging.NOTSET)
    assert "a driver warning still gets through" in caplog.text
    assert "executing" not in caplog.text  # a driver's parameter trace is dropped even at DEBUG
