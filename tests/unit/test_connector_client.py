"""Client behaviour that depends on timing or exact replies, with respx standing in for the city."""

from __future__ import annotations

import email.utils
import logging
import time

import httpx
import pytest
import respx

from portal.connector import signing
from portal.connector.client import CityClient, build_http_client
from portal.connector.retries import CityRefused, CityUnavailable, RetryPolicy
from portal.connector.settings import CitySettings, check_base_url, load_city_settings
from portal.connector.testing import sample_allocation

BASE = "https://city.example.kr/budget"
SECRET = signing.new_secret()
SETTINGS = CitySettings(base_url=BASE, key_id="k1", keys=signing.parse_secrets(SECRET))
PUSH = f"{BASE}/v1/allocation-batches"


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def _receipt(payload: dict) -> dict:
    return {
        "receipt_id": "rcpt_1",
        "batch_id": payload["batch_id"],
        "revision": payload["revision"],
        "status": "accepted",
        "body_sha256": signing.body_sha256(payload),
    }


def _problem(status: int, slug: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"type": f"urn:hangang:city-budget:problem:{slug}", "title": slug, "status": status},
        headers={"content-type": "application/problem+json"},
    )


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(sleeps: Sleeps):
    http = build_http_client(SETTINGS)
    yield CityClient(SETTINGS, http=http, policy=RetryPolicy(sleep=sleeps, random=lambda: 1.0))
    await http.aclose()


@respx.mock
async def test_request_is_signed_and_keyed(client: CityClient) -> None:
    payload = sample_allocation()
    route = respx.post(PUSH).mock(return_value=httpx.Response(201, json=_receipt(payload)))
    await client.push("allocation", payload)
    request = route.calls.last.request
    assert request.headers["idempotency-key"] == "seoul-pb-2027:1"
    assert request.headers["x-key-id"] == "k1"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    signing.verify(SETTINGS.keys, request.headers, request.content, now=int(time.time()))
    assert request.content == signing.body_bytes(payload | {"dry_run": False})


@respx.mock
async def test_full_jitter_backoff_grows_to_the_cap(sleeps: Sleeps) -> None:
    policy = RetryPolicy(attempts=8, base=0.5, cap=30, sleep=sleeps, random=lambda: 1.0)
    respx.post(PUSH).mock(return_value=_problem(503, "busy"))
    respx.get(url__startswith=f"{PUSH}/").mock(return_value=httpx.Response(404))
    async with build_http_client(SETTINGS) as http:
        with pytest.raises(CityUnavailable):
            await CityClient(SETTINGS, http=http, policy=policy).push(
                "allocation", sample_allocation()
            )
    assert sleeps.waits == [0.5, 1, 2, 4, 8, 16, 30]


def test_jitter_stays_between_zero_and_the_ceiling() -> None:
    import random

    policy = RetryPolicy(random=random.Random(7).random)
    for attempt in range(1, 12):
        wait = policy.backoff(attempt)
        assert 0 <= wait <= min(30, 0.5 * 2 ** (attempt - 1))


@respx.mock
async def test_retry_after_as_an_http_date(client: CityClient, sleeps: Sleeps) -> None:
    payload = sample_allocation()
    when = email.utils.format_datetime(
        __import__("datetime").datetime.fromtimestamp(time.time() + 20, __import__("datetime").UTC),
        usegmt=True,
    )
    respx.post(PUSH).mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": when}),
            httpx.Response(201, json=_receipt(payload)),
        ]
    )
    await client.push("allocation", payload)
    assert len(sleeps.waits) == 1 and 15 <= sleeps.waits[0] <= 21


@respx.mock
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_retryable_statuses(client: CityClient, sleeps: Sleeps, status: int) -> None:
    payload = sample_allocation()
    respx.post(PUSH).mock(
        side_effect=[_problem(status, "x"), httpx.Response(201, json=_receipt(payload))]
    )
    respx.get(url__startswith=f"{PUSH}/").mock(return_value=httpx.Response(404))
    assert (await client.push("allocation", payload)).result == "accepted"
    assert len(sleeps.waits) == 1


@respx.mock
@pytest.mark.parametrize(
    ("status", "slug"),
    [
        (400, "malformed"),
        (401, "bad-signature"),
        (403, "forbidden"),
        (404, "x"),
        (409, "stale-revision"),
        (422, "key-reused"),
    ],
)
async def test_other_4xx_are_never_retried(
    client: CityClient, sleeps: Sleeps, status: int, slug: str
) -> None:
    route = respx.post(PUSH).mock(return_value=_problem(status, slug))
    with pytest.raises(CityRefused) as refusal:
        await client.push("allocation", sample_allocation())
    assert route.call_count == 1 and sleeps.waits == [] and refusal.value.status == status


@respx.mock
async def test_409_in_flight_is_retried(client: CityClient, sleeps: Sleeps) -> None:
    payload = sample_allocation()
    in_flight = _problem(409, "in-flight")
    in_flight.headers["retry-after"] = "1"
    respx.post(PUSH).mock(
        side_effect=[
            in_flight,
            httpx.Response(200, json=_receipt(payload), headers={"idempotent-replayed": "true"}),
        ]
    )
    outcome = await client.push("allocation", payload)
    assert outcome.result == "replayed" and sleeps.waits == [1]


@respx.mock
async def test_read_timeout_then_reconciliation_finds_the_batch(client: CityClient) -> None:
    payload = sample_allocation()
    post = respx.post(PUSH).mock(side_effect=httpx.ReadTimeout("slow"))
    respx.get(f"{PUSH}/seoul-pb-2027", params={"revision": "1"}).mock(
        return_value=httpx.Response(200, json=_receipt(payload))
    )
    outcome = await client.push("allocation", payload)
    assert outcome.result == "reconciled" and post.call_count == 1


@respx.mock
async def test_reconciliation_with_another_body_does_not_count(
    client: CityClient, sleeps: Sleeps
) -> None:
    payload = sample_allocation()
    other = _receipt(payload) | {"body_sha256": "f" * 64}
    respx.post(PUSH).mock(side_effect=[httpx.ReadTimeout("slow"), _problem(422, "key-reused")])
    respx.get(url__startswith=f"{PUSH}/").mock(return_value=httpx.Response(200, json=other))
    with pytest.raises(CityRefused, match="422"):
        await client.push("allocation", payload)


@respx.mock
async def test_connect_error_is_retried_without_reconciliation(client: CityClient) -> None:
    payload = sample_allocation()
    respx.post(PUSH).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json=_receipt(payload))]
    )
    reconcile = respx.get(url__startswith=f"{PUSH}/").mock(return_value=httpx.Response(404))
    assert (await client.push("allocation", payload)).result == "accepted"
    assert reconcile.call_count == 0


@respx.mock
async def test_logs_carry_key_and_status_but_never_body_or_secret(
    client: CityClient, caplog: pytest.LogCaptureFixture
) -> None:
    payload = sample_allocation()
    respx.post(PUSH).mock(return_value=httpx.Response(201, json=_receipt(payload)))
    with caplog.at_level(logging.DEBUG, logger="portal.connector"):
        await client.push("allocation", payload)
    records = [r for r in caplog.records if r.name == "portal.connector"]
    assert records and records[0].idempotency_key == "seoul-pb-2027:1" and records[0].status == 201
    text = caplog.text
    assert "seoul-pb-2027:1" in text and "/v1/allocation-batches" in text
    assert SECRET not in text and SECRET[6:] not in text
    assert payload["items"][0]["title"] not in text and "250000000" not in text


def test_timeouts_and_redirect_policy() -> None:
    http = build_http_client(SETTINGS)
    assert http.timeout == httpx.Timeout(10, connect=3)
    assert http.follow_redirects is False


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://city.example.kr", "absolute http"),
        ("http://city.example.kr", "https"),
        ("https://user:pw@city.example.kr", "credentials"),
        ("https://city.example.kr/?x=1", "query"),
    ],
)
def test_bad_base_urls_are_named(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_base_url(url)


def test_settings_need_a_url_and_a_secret() -> None:
    assert check_base_url("http://127.0.0.1:8900/") == "http://127.0.0.1:8900"
    with pytest.raises(ValueError, match="not set"):
        load_city_settings(environ={"HANGANG_CITY_BUDGET_SECRET": SECRET})
    with pytest.raises(ValueError, match="SECRET"):
        load_city_settings(
            environ={"HANGANG_CITY_BUDGET_URL": BASE, "HANGANG_CITY_BUDGET_SECRET": "plain"}
        )
    loaded = load_city_settings(
        environ={"HANGANG_CITY_BUDGET_URL": BASE, "HANGANG_CITY_BUDGET_SECRET": SECRET}
    )
    assert loaded.key_id == "default" and SECRET not in repr(loaded)


@respx.mock
async def test_retries_stop_within_the_time_budget(sleeps: Sleeps) -> None:
    route = respx.post(PUSH).mock(return_value=_problem(503, "busy"))
    respx.get(url__startswith=f"{PUSH}/").mock(return_value=httpx.Response(404))
    policy = RetryPolicy(attempts=8, max_elapsed=0, sleep=sleeps)
    async with build_http_client(SETTINGS) as http:
        with pytest.raises(CityUnavailable):
            await CityClient(SETTINGS, http=http, policy=policy).push(
                "allocation", sample_allocation()
            )
    assert route.call_count == 1 and sleeps.waits == []


async def test_development_without_a_city_says_so_once(sleeps, tmp_path, monkeypatch) -> None:
    """A refused connection is said once in development (until the city answers), every time in production."""
    import dataclasses

    from portal.connector.client import CityAbsence
    from portal.connector.testing import running_city
    from portal.settings import get_settings
    from tests.live import free_port

    nowhere = dataclasses.replace(SETTINGS, base_url=f"http://127.0.0.1:{free_port()}")  # nothing listens
    http = build_http_client(nowhere)
    client = CityClient(nowhere, http=http, policy=RetryPolicy(attempts=3, sleep=sleeps))
    # Our own handler: the city server's uvicorn reconfigures logging, which detaches caplog's.
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    connector_log = logging.getLogger("portal.connector")
    connector_log.addHandler(handler)
    monkeypatch.setattr(connector_log, "level", logging.DEBUG)
    CityAbsence.answered()

    async def three_polls() -> list[logging.LogRecord]:
        records.clear()
        for _ in range(3):
            with pytest.raises(CityUnavailable):
                await client.push("allocation", sample_allocation())
        return [r for r in records if r.levelno >= logging.WARNING]

    try:
        warnings = await three_polls()
        assert [r.getMessage().split(": ")[0] for r in warnings] == [
            f"no city budget system answers at {nowhere.base_url} (development)"
        ]
        assert sum("failed (ConnectError)" in r.getMessage() for r in records) == 9  # at debug
        assert CityAbsence.quiet()
        assert await three_polls() == []  # still absent: nothing more above debug

        # The city answers once: a later outage is said again, once.
        with running_city(tmp_path / "city.sqlite3") as city:
            city_http = build_http_client(city.settings)
            await CityClient(city.settings, http=city_http).push("allocation", sample_allocation())
            await city_http.aclose()
        assert not CityAbsence.quiet()
        assert len(await three_polls()) == 1

        production = dataclasses.replace(get_settings(), env="production")
        monkeypatch.setattr("portal.settings.get_settings", lambda: production)
        CityAbsence.answered()
        assert len(await three_polls()) == 9  # an operator sees every failed exchange
    finally:
        CityAbsence.answered()
        connector_log.removeHandler(handler)
        await http.aclose()
