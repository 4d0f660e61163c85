"""Schemathesis fuzzes every operation of the OpenAPI schema against a real server: no 5xx anywhere.

Runs as anonymous and as a signed-in verified citizen who is also a startup member, with a CSRF
token, so write operations are exercised past authentication and CSRF.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.live import LiveServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live():
    with LiveServer() as server:
        yield server


@pytest.fixture(scope="module")
def admin_headers(live):
    """Create a verified citizen and startup account in the live server's database and log in over HTTP."""
    import os
    import subprocess
    import sys

    env = live.environment()
    password = "seven lanterns float past the bridge"
    subprocess.run(
        [sys.executable, "-m", "portal.cli", "create-user", "--email", "fuzz@example.kr", "--role", "citizen",
         "--role", "startup", "--district", "11680", "--verified", "--password-stdin"],
        input=password + "\n", text=True, env=env, check=True, capture_output=True, cwd=os.getcwd(),
    )
    with httpx.Client(base_url=live.url) as client:
        client.get("/healthz")
        token = client.cookies["csrftoken"]
        response = client.post(
            "/api/v1/auth/login", json={"email": "fuzz@example.kr", "password": password}, headers={"x-csrftoken": token}
        )
        assert response.status_code == 200, response.text
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return {"cookie": cookie, "x-csrftoken": token}


@pytest.fixture(scope="module")
def operations(live):
    schema = schemathesis.openapi.from_url(f"{live.url}/schema/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


# Operations that end the signed-in session: fuzzed anonymously only, so the signed-in run stays signed in.
SESSION_ENDING = {"/logout", "/api/v1/auth/logout", "/account/password"}


def fuzz(operations, base_url: str, headers: dict[str, str] | None, examples: int) -> list[str]:
    """Run every operation with generated inputs; return the failures (5xx) found."""
    failures: list[str] = []
    for operation in operations:
        if headers and operation.path in SESSION_ENDING:
            continue

        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def exercise(case) -> None:
            response = case.call(base_url=base_url, headers=headers, allow_redirects=False)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")

        exercise()
    return failures


# The challenge's judge and official calls (bids, discussion, feedback), fuzzed past the role guards.
CHALLENGE_CALLS = {
    ("GET", "/api/v1/challenge/rounds/{round_id}/bids"),
    ("PUT", "/api/v1/challenge/rounds/{round_id}/bids/{entry_id}"),
    ("DELETE", "/api/v1/challenge/rounds/{round_id}/bids/{entry_id}"),
    ("GET", "/api/v1/challenge/rounds/{round_id}/entries/{entry_id}/discussion"),
    ("POST", "/api/v1/challenge/rounds/{round_id}/entries/{entry_id}/discussion"),
    ("GET", "/api/v1/challenge/entries/{entry_id}/feedback"),
    ("GET", "/api/v1/challenge/officials/rounds/{round_id}/feedback"),
}


def judge_official_login(live: LiveServer) -> dict[str, str]:
    """A judge who is also an official (TOTP enrolled), created in the live server's database and
    logged in over HTTP with a code, so the challenge's judge and official calls are fuzzed past their
    guards (also used by bench/api_fuzz.py)."""
    import os
    import subprocess
    import sys

    import pyotp

    secret = pyotp.random_base32()
    password = "seven lanterns float past the bridge"
    script = (
        "import asyncio, sys\n"
        "from portal import accounts\n"
        "asyncio.run(accounts.create_user('fuzz-judge@example.kr', sys.argv[1], ['judge', 'official', 'startup'],"
        " district_code='11680', verified=True, language='en', totp_secret=sys.argv[2], check_password=False))\n"
    )
    subprocess.run([sys.executable, "-c", script, password, secret], env=live.environment(), check=True,
                   capture_output=True, cwd=os.getcwd())
    with httpx.Client(base_url=live.url) as client:
        client.get("/healthz")
        token = client.cookies["csrftoken"]
        response = client.post(
            "/api/v1/auth/login",
            json={"email": "fuzz-judge@example.kr", "password": password, "totp": pyotp.TOTP(secret).now()},
            headers={"x-csrftoken": token},
        )
        assert response.status_code == 200, response.text
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return {"cookie": cookie, "x-csrftoken": token}


@pytest.fixture(scope="module")
def judge_official_headers(live):
    return judge_official_login(live)


def test_schema_lists_the_account_operations(operations):
    paths = {(op.method.upper(), op.path) for op in operations}
    assert ("POST", "/api/v1/auth/login") in paths and ("GET", "/api/v1/me") in paths
    assert CHALLENGE_CALLS <= paths, CHALLENGE_CALLS - paths


def test_no_server_errors_as_judge_and_official_on_the_challenge_calls(operations, live, judge_official_headers):
    challenge = [op for op in operations if (op.method.upper(), op.path) in CHALLENGE_CALLS]
    assert fuzz(challenge, live.url, judge_official_headers, examples=25) == []


def test_no_server_errors_as_signed_in_user(operations, live, admin_headers):
    assert fuzz(operations, live.url, admin_headers, examples=25) == []


def test_no_server_errors_anonymous(operations, live):
    assert fuzz(operations, live.url, None, examples=10) == []
