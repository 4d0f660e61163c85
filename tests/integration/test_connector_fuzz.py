"""Schemathesis fuzzes the reference city server's OpenAPI with signed requests: no 5xx anywhere."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from portal.connector import signing
from portal.connector.testing import RunningCity, running_city

pytestmark = pytest.mark.slow


class SignEverything(requests.auth.AuthBase):
    """Sign each generated request the way the portal does, so cases get past the signature check."""

    def __init__(self, secret: str) -> None:
        self.keys = signing.parse_secrets(secret)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        try:
            parsed = json.loads(body)
            # Match the key to the body, as the portal does, so cases reach validation and storage.
            request.headers["Idempotency-Key"] = f"{parsed['batch_id']}:{parsed['revision']}"
        except (ValueError, TypeError, KeyError):
            pass
        ts = int(time.time())
        request.headers.update(
            signing.signing_headers(self.keys, "fuzz", f"msg_fuzz_{ts}", ts, body)
        )
        return request


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCity]:
    with running_city(Path(tmp_path_factory.mktemp("fuzz")) / "city.sqlite3") as running:
        yield running


def test_no_server_errors_on_any_operation(city: RunningCity) -> None:
    schema = schemathesis.openapi.from_url(f"{city.url}/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} >= {
        ("POST", "/v1/allocation-batches"),
        ("POST", "/v1/award-batches"),
        ("GET", "/v1/envelopes"),
    }
    auth = SignEverything(city.secret)
    failures: list[str] = []
    statuses: set[int] = set()
    for operation in operations:

        @settings(
            max_examples=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def exercise(case) -> None:
            response = case.call(base_url=city.url, auth=auth)
            statuses.add(response.status_code)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}"
                )
            elif response.status_code >= 400:
                headers = {name.lower(): value for name, value in response.headers.items()}
                content_type = headers.get("content-type") or [""]
                assert str(
                    content_type[0] if isinstance(content_type, list) else content_type
                ).startswith("application/problem+json"), (
                    f"{case.method} {case.formatted_path} -> {response.status_code} {content_type}"
                )

        exercise()
    assert failures == []
    # Signatures and keys were accepted: the fuzzer reached body validation, not only 401s and 400s.
    assert 422 in statuses and 200 in statuses, statuses
