"""The portal client against the reference city server running for real on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from portal.connector import signing
from portal.connector.client import CityClient, build_http_client
from portal.connector.retries import CityRefused, CityUnavailable, OutsideCityError, RetryPolicy
from portal.connector.settings import CitySettings
from portal.connector.testing import RunningCity, running_city, sample_allocation, sample_award


class RecordedSleeps:
    """Stands in for asyncio.sleep: records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCity]:
    with running_city(tmp_path_factory.mktemp("city") / "city.sqlite3") as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults(city: RunningCity) -> Iterator[None]:
    city.faults()
    yield
    city.faults()


@pytest.fixture
def sleeps() -> RecordedSleeps:
    return RecordedSleeps()


@pytest.fixture
async def client(city: RunningCity, sleeps: RecordedSleeps) -> CityClient:
    http = build_http_client(city.settings, timeout=httpx.Timeout(2, connect=1))
    policy = RetryPolicy(attempts=4, sleep=sleeps, random=lambda: 0.5)
    yield CityClient(city.settings, http=http, policy=policy)
    await http.aclose()


def _signed_post(
    city: RunningCity,
    path: str,
    body: bytes,
    key: str,
    secret: str | None = None,
    ts_offset: int = 0,
) -> httpx.Response:
    import time

    keys = signing.parse_secrets(secret or city.secret)
    ts = int(time.time()) + ts_offset
    headers = signing.signing_headers(keys, "k1", "msg_manual", ts, body)
    headers |= {"content-type": "application/json", "idempotency-key": key}
    return httpx.post(city.url + path, content=body, headers=headers, timeout=5)


async def test_happy_path_then_replay(city: RunningCity, client: CityClient) -> None:
    payload = sample_allocation("happy-2027")
    first = await client.push("allocation", payload)
    assert first.result == "accepted"
    assert first.receipt["status"] == "accepted"
    assert first.receipt["body_sha256"] == signing.body_sha256(payload)
    again = await client.push("allocation", payload)
    assert again.result == "replayed"
    assert again.receipt["receipt_id"] == first.receipt["receipt_id"]
    assert len(city.accepted("happy-2027")) == 1


async def test_award_batch_and_reconciliation(city: RunningCity, client: CityClient) -> None:
    payload = sample_award("awards-2027")
    assert await client.reconcile("award", "awards-2027") is None
    outcome = await client.push("award", payload)
    held = await client.reconcile("award", "awards-2027")
    assert held is not None and held.receipt_id == outcome.receipt["receipt_id"]
    assert await client.reconcile("allocation", "awards-2027") is None


async def test_500_then_success_with_the_same_key(
    city: RunningCity, client: CityClient, sleeps: RecordedSleeps
) -> None:
    city.faults(fail_next=2, status=500)
    outcome = await client.push("allocation", sample_allocation("retry-500"))
    assert outcome.result == "accepted"
    posts = [a for a in outcome.attempts if a.method == "POST"]
    assert [a.status for a in posts] == [500, 500, 201]
    # full jitter with random()=0.5: 0.5 * 0.5 * 2^(n-1)
    assert sleeps.waits == [0.25, 0.5]
    faulted = [r for r in city.ledger()["requests"] if r["path"] == "/v1/allocation-batches"]
    assert len(faulted) == 3
    assert len(city.accepted("retry-500")) == 1


async def test_500_after_the_city_stored_it_is_reconciled(
    city: RunningCity, client: CityClient
) -> None:
    city.faults(fail_next=1, status=500, phase="after")
    outcome = await client.push("allocation", sample_allocation("ambiguous-500"))
    assert outcome.result == "reconciled"
    assert len(city.accepted("ambiguous-500")) == 1


async def test_429_retry_after_is_honoured(
    city: RunningCity, client: CityClient, sleeps: RecordedSleeps
) -> None:
    city.faults(fail_next=1, status=429, retry_after=7)
    outcome = await client.push("allocation", sample_allocation("retry-429"))
    assert outcome.result == "accepted"
    assert sleeps.waits == [7]


async def test_long_retry_after_hands_back_to_the_outbox(
    city: RunningCity, client: CityClient
) -> None:
    city.faults(fail_next=1, status=503, retry_after=600)
    with pytest.raises(CityUnavailable) as failure:
        await client.push("allocation", sample_allocation("retry-later"))
    assert failure.value.retry_after == 600
    assert city.accepted("retry-later") == []


async def test_retries_run_out(
    city: RunningCity, client: CityClient, sleeps: RecordedSleeps
) -> None:
    city.faults(fail_next=10, status=502)
    with pytest.raises(CityUnavailable, match="no answer after"):
        await client.push("allocation", sample_allocation("retry-out"))
    assert len(sleeps.waits) == 3  # four attempts, three waits


async def test_timeout_then_replay(city: RunningCity) -> None:
    # The city takes 3 s; the client gives up after 2 s and retries: by then the first request is
    # either still in flight (409, retried) or accepted (reconciled or replayed); one copy either way.
    city.faults(delay=3, delay_next=1)
    async with build_http_client(city.settings, timeout=httpx.Timeout(2, connect=1)) as http:
        client = CityClient(
            city.settings, http=http, policy=RetryPolicy(attempts=8, base=0.2, cap=1)
        )
        outcome = await client.push("allocation", sample_allocation("slow-city"))
    assert outcome.result in {"reconciled", "replayed", "accepted"}
    assert any(a.error and "Timeout" in a.error for a in outcome.attempts)
    assert len(city.accepted("slow-city")) == 1


async def test_dropped_connection_is_retried(city: RunningCity, client: CityClient) -> None:
    city.faults(drop_next=1)
    outcome = await client.push("allocation", sample_allocation("dropped"))
    assert outcome.result == "accepted"
    # A connection closed before the reply reads as either error, depending on when the close lands.
    error = outcome.attempts[0].error or ""
    assert outcome.attempts[0].status is None and error.startswith(("RemoteProtocolError", "ReadError"))
    assert len(city.accepted("dropped")) == 1


async def test_dropped_after_storing_is_reconciled(city: RunningCity, client: CityClient) -> None:
    city.faults(drop_next=1, phase="after")
    outcome = await client.push("allocation", sample_allocation("dropped-after"))
    assert outcome.result == "reconciled"
    assert len(city.accepted("dropped-after")) == 1


async def test_a_redirect_is_not_followed(city: RunningCity, client: CityClient) -> None:
    city.faults(redirect_next=1)
    with pytest.raises(CityRefused, match="redirect"):
        await client.push("allocation", sample_allocation("redirected"))
    assert city.accepted("redirected") == []


async def test_other_hosts_are_refused(city: RunningCity, client: CityClient) -> None:
    with pytest.raises(OutsideCityError):
        await client.http.get("http://127.0.0.2:9/v1/envelopes")
    with pytest.raises(OutsideCityError):
        await client.http.get(city.url.replace("127.0.0.1", "localhost") + "/v1/envelopes")


async def test_bad_signature_is_refused_and_not_retried(
    city: RunningCity, sleeps: RecordedSleeps
) -> None:
    wrong = CitySettings(
        base_url=city.url, key_id="k", keys=signing.parse_secrets(signing.new_secret())
    )
    async with build_http_client(wrong) as http:
        client = CityClient(wrong, http=http, policy=RetryPolicy(sleep=sleeps))
        with pytest.raises(CityRefused, match="401") as refusal:
            await client.push("allocation", sample_allocation("forged"))
    assert len(refusal.value.attempts) == 1 and sleeps.waits == []
    assert city.accepted("forged") == []


async def test_a_clock_off_by_more_than_five_minutes_is_refused(city: RunningCity) -> None:
    body = signing.body_bytes(sample_allocation("skewed"))
    response = _signed_post(city, "/v1/allocation-batches", body, "skewed:1", ts_offset=-400)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "5 minutes" in response.json()["detail"]


async def test_rotation_signature_with_an_old_and_a_new_key(city: RunningCity) -> None:
    body = signing.body_bytes(sample_allocation("rotated"))
    both = f"{signing.new_secret()} {city.secret}"
    assert (
        _signed_post(city, "/v1/allocation-batches", body, "rotated:1", secret=both).status_code
        == 201
    )


async def test_same_key_other_body_is_422(city: RunningCity, client: CityClient) -> None:
    payload = sample_allocation("reused-key")
    await client.push("allocation", payload)
    changed = sample_allocation("reused-key", items=3)
    with pytest.raises(CityRefused, match="422") as refusal:
        await client.push("allocation", changed)
    assert refusal.value.status == 422
    assert len(city.accepted("reused-key")) == 1


async def test_stale_revision_is_409_and_final(
    city: RunningCity, client: CityClient, sleeps: RecordedSleeps
) -> None:
    await client.push("allocation", sample_allocation("revised", revision=2))
    with pytest.raises(CityRefused, match="409"):
        await client.push("allocation", sample_allocation("revised", revision=1))
    assert sleeps.waits == []
    newer = await client.push("allocation", sample_allocation("revised", revision=3, items=3))
    assert newer.result == "accepted"
    held = await client.reconcile("allocation", "revised")
    assert held is not None and held.revision == 3
    older = await client.reconcile("allocation", "revised", revision=2)
    assert older is not None and older.revision == 2


async def test_totals_mismatch_is_422_with_the_reason(city: RunningCity) -> None:
    payload = sample_allocation("bad-totals")
    payload["totals"]["amount"] = "1"
    response = _signed_post(
        city, "/v1/allocation-batches", signing.body_bytes(payload), "bad-totals:1"
    )
    assert response.status_code == 422
    assert any("totals.amount" in error for error in response.json()["errors"])


@pytest.mark.parametrize(
    ("body", "key", "status"),
    [
        (b"{not json", "x:1", 400),
        (b'{"batch_id": "x"}', "x:1", 422),
        (None, "no-key", 400),
        (None, "other-batch:1", 422),
    ],
)
async def test_malformed_requests(
    city: RunningCity, body: bytes | None, key: str, status: int
) -> None:
    body = body or signing.body_bytes(sample_allocation("malformed"))
    response = _signed_post(city, "/v1/allocation-batches", body, key)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == status


async def test_one_official_approving_twice_is_not_enough(city: RunningCity) -> None:
    payload = sample_allocation("one-official")
    payload["approvals"][1]["official"] = payload["approvals"][0]["official"]
    response = _signed_post(
        city, "/v1/allocation-batches", signing.body_bytes(payload), "one-official:1"
    )
    assert response.status_code == 422
    assert "two different officials" in json.dumps(response.json())


async def test_dry_run_validates_and_stores_nothing(city: RunningCity, client: CityClient) -> None:
    payload = sample_allocation("dry")
    outcome = await client.push("allocation", payload, dry_run=True)
    assert outcome.result == "validated"
    assert outcome.receipt == {
        "status": "validated",
        "batch_id": "dry",
        "revision": 1,
        "body_sha256": signing.body_sha256(payload),
    }
    assert [row for row in city.ledger()["batches"] if row["batch_id"] == "dry"] == []
    # The key was not consumed: the real push is a first acceptance, not a replay.
    assert (await client.push("allocation", payload)).result == "accepted"


async def test_dry_run_reports_problems(city: RunningCity, client: CityClient) -> None:
    await client.push("allocation", sample_allocation("dry-stale", revision=5))
    with pytest.raises(CityRefused, match="409"):
        await client.push("allocation", sample_allocation("dry-stale", revision=4), dry_run=True)


async def test_envelopes_for_seouls_25_districts(city: RunningCity, client: CityClient) -> None:
    envelopes = await client.fetch_envelopes(2027)
    assert len(envelopes) == 25
    codes = [e.district_code for e in envelopes]
    assert codes[0] == "11110" and codes[-1] == "11740" and len(set(codes)) == 25
    assert envelopes == await client.fetch_envelopes(2027)
    assert all(int(e.amount) % 25_000_000 == 0 for e in envelopes)


async def test_envelopes_from_a_file(tmp_path: Path, sleeps: RecordedSleeps) -> None:
    from portal.connector.city_sim.envelopes import load_envelopes

    data = {"2030": [{"district_code": "11110", "name": "Jongno-gu", "amount": "123000000"}]}
    (tmp_path / "env.json").write_text(json.dumps(data))
    with running_city(
        tmp_path / "c.sqlite3", envelopes=load_envelopes(tmp_path / "env.json")
    ) as other:
        async with build_http_client(other.settings) as http:
            client = CityClient(other.settings, http=http, policy=RetryPolicy(sleep=sleeps))
            [only] = await client.fetch_envelopes(2030)
            assert (only.district_code, only.amount) == ("11110", "123000000")
            assert len(await client.fetch_envelopes(2031)) == 25


def test_bad_envelope_file_is_named(tmp_path: Path) -> None:
    from portal.connector.city_sim.envelopes import load_envelopes

    (tmp_path / "env.json").write_text(
        '{"2030": [{"district_code": "1", "name": "x", "amount": "5"}]}'
    )
    with pytest.raises(ValueError, match="invalid"):
        load_envelopes(tmp_path / "env.json")


def test_openapi_documents_the_contract(city: RunningCity) -> None:
    schema = httpx.get(city.url + "/schema/openapi.json", timeout=5).json()
    assert {"/v1/allocation-batches", "/v1/award-batches", "/v1/envelopes"} <= set(schema["paths"])
    post = schema["paths"]["/v1/allocation-batches"]["post"]
    assert {"201", "200", "409", "422", "429"} <= set(post["responses"])
    assert "AllocationBatch" in schema["components"]["schemas"]
    assert "/_faults" not in schema["paths"]


async def test_same_key_in_flight_is_409_with_retry_after(city: RunningCity) -> None:
    import threading

    body = signing.body_bytes(sample_allocation("in-flight"))
    city.faults(delay=2, delay_next=1)
    first: list[httpx.Response] = []
    worker = threading.Thread(
        target=lambda: first.append(
            _signed_post(city, "/v1/allocation-batches", body, "in-flight:1")
        )
    )
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not city.ledger()["batches"] or all(
            r["batch_id"] != "in-flight" for r in city.ledger()["batches"]
        ):
            assert time.monotonic() < deadline, "the first request never reached the city"
            time.sleep(0.02)
        second = _signed_post(city, "/v1/allocation-batches", body, "in-flight:1")
    finally:
        worker.join()
    assert second.status_code == 409
    assert second.json()["type"].endswith(":in-flight") and second.headers["retry-after"] == "1"
    assert first[0].status_code == 201
    third = _signed_post(city, "/v1/allocation-batches", body, "in-flight:1")
    assert third.status_code == 200 and third.headers["idempotent-replayed"] == "true"
    assert third.json()["receipt_id"] == first[0].json()["receipt_id"]


def test_fault_knobs_are_absent_unless_enabled(tmp_path: Path) -> None:
    from litestar.testing import TestClient

    from portal.connector.city_sim.app import create_city_app

    app = create_city_app(
        signing.parse_secrets(signing.new_secret()), tmp_path / "c.sqlite3", faults_enabled=False
    )
    with TestClient(app) as plain:
        assert plain.post("/_faults", json={"fail_next": 1}).status_code == 404
        assert plain.get("/_batches").status_code == 404
