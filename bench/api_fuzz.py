"""Long schemathesis run: every API operation against a real server, as anonymous and as a signed-in user.

Usage: .venv/bin/python bench/api_fuzz.py [--signed-in 600] [--anonymous 300] [--judge-official 600]
       [--role signed-in|anonymous|judge-official|both]

The judge-official role (TOTP) runs the challenge's bids, discussion and feedback calls past their guards.

CI runs the same fuzzing with a few examples per operation (tests/integration/test_api_fuzz.py); this
script is the manual run with tens of thousands of cases. Prints cases and answers by status class per
role, and every 5xx found (method, path, status, start of the body). Exits 1 when any 5xx was found.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HANGANG_SECRET_KEY", "bench-secret-key-that-is-long-enough-for-hmac-0123456789")

import httpx  # noqa: E402
import schemathesis  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.integration.test_api_fuzz import CHALLENGE_CALLS, SESSION_ENDING, judge_official_login  # noqa: E402
from tests.live import LiveServer  # noqa: E402

PASSWORD = "seven lanterns float past the bridge"


def signed_in_headers(live: LiveServer) -> dict[str, str]:
    """A verified citizen who is also a startup member, logged in over HTTP, with a CSRF token."""
    subprocess.run(
        [sys.executable, "-m", "portal.cli", "create-user", "--email", "fuzz@example.kr", "--role", "citizen",
         "--role", "startup", "--district", "11680", "--verified", "--password-stdin"],
        input=PASSWORD + "\n", text=True, env=live.environment(), check=True, capture_output=True, cwd=ROOT,
    )
    with httpx.Client(base_url=live.url) as client:
        client.get("/healthz")
        token = client.cookies["csrftoken"]
        response = client.post(
            "/api/v1/auth/login", json={"email": "fuzz@example.kr", "password": PASSWORD}, headers={"x-csrftoken": token}
        )
        response.raise_for_status()
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return {"cookie": cookie, "x-csrftoken": token}


def run(operations: list, base_url: str, headers: dict[str, str] | None, examples: int) -> tuple[Counter, list[str]]:
    import requests

    statuses: Counter[str] = Counter()
    failures: list[str] = []
    session = requests.Session()
    for operation in operations:
        if operation.path in SESSION_ENDING and headers:
            continue

        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def exercise(case) -> None:
            response = case.call(base_url=base_url, headers=headers, session=session, allow_redirects=False)
            statuses[f"{response.status_code // 100}xx"] += 1
            statuses["cases"] += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")

        exercise()
    return statuses, failures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--signed-in", type=int, default=600, help="examples per operation, signed in")
    parser.add_argument("--anonymous", type=int, default=300, help="examples per operation, anonymous")
    parser.add_argument("--judge-official", type=int, default=600,
                        help="examples per challenge judge/official call (bids, discussion, feedback)")
    parser.add_argument("--role", choices=("signed-in", "anonymous", "judge-official", "both"), default="both")
    args = parser.parse_args()
    with LiveServer() as live:
        schema = schemathesis.openapi.from_url(f"{live.url}/schema/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        headers = signed_in_headers(live)
        started = time.monotonic()
        all_failures = []
        judge_headers = judge_official_login(live)
        challenge = [op for op in operations if (op.method.upper(), op.path) in CHALLENGE_CALLS]
        for role, role_headers, examples, role_operations in (
            ("signed-in", headers, args.signed_in, operations),
            ("anonymous", None, args.anonymous, operations),
            ("judge-official", judge_headers, args.judge_official, challenge),
        ):
            if args.role not in (role, "both"):
                continue
            statuses, failures = run(role_operations, live.url, role_headers, examples)
            all_failures += failures
            print(f"{role:14} operations {len(role_operations)}  cases {statuses['cases']:6}  "
                  + "  ".join(f"{k} {v}" for k, v in sorted(statuses.items()) if k != "cases"), flush=True)
        print(f"total 5xx: {len(all_failures)} in {time.monotonic() - started:.0f} s")
        for failure in all_failures[:50]:
            print("  ", failure)
        server_errors = [line for line in live.log().splitlines() if "unhandled error" in line]
        print(f"server log 'unhandled error' lines: {len(server_errors)}")
    return 1 if all_failures else 0


if __name__ == "__main__":
    sys.exit(main())
