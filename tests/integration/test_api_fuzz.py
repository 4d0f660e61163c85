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


def test_schema_lists_the_account_operations(operations):
    paths = {(op.method.upper(), op.path) for op in operations}
    assert ("POST", "/api/v1/auth/login") in paths and ("GET", "/api/v1/me") in paths


def test_no_server_errors_as_signed_in_user(operations, live, admin_headers):
    assert fuzz(operations, live.url, admin_headers, examples=25) == []


def test_no_server_errors_anonymous(operations, live):
    assert fuzz(operations, live.url, None, examples=10) == []
