"""The transactional outbox and its delivery worker against a real city-sim on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from portal import audit, clock
from portal.connector import delivery, services
from portal.connector.client import CityClient, build_http_client
from portal.connector.retries import RetryPolicy
from portal.connector.settings import CitySettings
from portal.connector.tables import OutboxAttempt, OutboxBatch
from portal.connector.testing import RunningCity, running_city, sample_allocation, sample_award
from portal.db import write_transaction
from portal.errors import Conflict, InvalidInput

REPO = Path(__file__).resolve().parents[2]


async def _no_wait(seconds: float) -> None:
    return None


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
async def client(city: RunningCity) -> AsyncIterator[CityClient]:
    async with build_http_client(city.settings, timeout=httpx.Timeout(3, connect=1)) as http:
        yield CityClient(city.settings, http=http, policy=RetryPolicy(attempts=3, sleep=_no_wait))


async def _enqueue(kind: str, payload: dict, **options) -> int:
    async with write_transaction():
        return await services.enqueue_batch(kind, payload, **options)


async def _row(batch_pk: int) -> dict:
    return await OutboxBatch.select().where(OutboxBatch.id == batch_pk).first()


async def test_approval_and_outbox_row_commit_together() -> None:
    class Rollback(Exception):
        pass

    with pytest.raises(Rollback):
        async with write_transaction():
            await services.enqueue_batch("allocation", sample_allocation("rolled-back"))
            raise Rollback
    assert await OutboxBatch.count() == 0
    batch_pk = await _enqueue("allocation", sample_allocation("committed"), title="PB 2027")
    row = await _row(batch_pk)
    assert (row["status"], row["revision"], row["attempts"]) == ("pending", 1, 0)


async def test_deliver_records_receipt_attempts_and_audit(
    city: RunningCity, client: CityClient
) -> None:
    allocation = await _enqueue("allocation", sample_allocation("outbox-pb"))
    award = await _enqueue("award", sample_award("outbox-ai50"))
    report = await delivery.deliver_due_batches(client=client, worker="w1")
    assert sorted(report.delivered) == ["outbox-ai50:1", "outbox-pb:1"]
    for batch_pk, batch_id in ((allocation, "outbox-pb"), (award, "outbox-ai50")):
        row = await _row(batch_pk)
        [held] = city.accepted(batch_id)
        assert row["status"] == "delivered" and row["receipt_id"] == held["receipt_id"]
        assert (
            json.loads(row["receipt"])["body_sha256"] == row["body_sha256"] == held["body_sha256"]
        )
        assert row["lease_owner"] is None
    view = await services.get_batch(allocation)
    assert [(a["method"], a["status_code"]) for a in view.history] == [("POST", 201)]
    actions = [e["action"] for e in await audit.AuditEvent.select(audit.AuditEvent.action)]
    assert (
        actions.count("connector.batch_enqueued") == 2
        and actions.count("connector.batch_delivered") == 2
    )
    assert (await audit.verify_chain()).ok
    # Nothing is due any more: a second round sends nothing.
    again = await delivery.deliver_due_batches(client=client, worker="w1")
    assert again.delivered == [] and len(city.accepted("outbox-pb")) == 1


async def test_city_down_then_back(tmp_path: Path) -> None:
    secret_city = running_city(tmp_path / "late.sqlite3")
    with secret_city as late:
        url, secret = late.url, late.secret
    # The server is stopped now: its port refuses connections.
    settings = CitySettings(base_url=url, key_id="k", keys=late.settings.keys)
    batch_pk = await _enqueue("allocation", sample_allocation("while-down"))
    async with build_http_client(settings) as http:
        down = CityClient(settings, http=http, policy=RetryPolicy(attempts=2, sleep=_no_wait))
        report = await delivery.deliver_due_batches(client=down, worker="w1")
    assert report.retrying == ["while-down:1"]
    row = await _row(batch_pk)
    assert row["status"] == "pending" and "ConnectError" in row["last_error"]
    assert row["next_attempt_at"] > clock.now()
    assert (
        await delivery.deliver_due_batches(client=down, worker="w1")
    ).retrying == []  # not due yet
    clock.advance(dt.timedelta(minutes=1))
    with running_city(tmp_path / "late.sqlite3", secret=secret) as back:
        settings = back.settings
        async with build_http_client(settings) as http:
            up = CityClient(settings, http=http, policy=RetryPolicy(attempts=2, sleep=_no_wait))
            assert (await delivery.deliver_due_batches(client=up, worker="w1")).delivered == [
                "while-down:1"
            ]
        assert len(back.accepted("while-down")) == 1
    assert (await _row(batch_pk))["attempts"] == 2


async def test_refusal_fails_the_batch_and_alerts_officials(city: RunningCity, users) -> None:
    from portal.mail import development_outbox
    from portal.tables import Notification

    official = await users.create(roles=["official"])
    await users.create(roles=["citizen"])
    batch_pk = await _enqueue("allocation", sample_allocation("refused"))
    from portal.connector import signing

    wrong = CitySettings(
        base_url=city.url, key_id="k", keys=signing.parse_secrets(signing.new_secret())
    )
    async with build_http_client(wrong) as http:
        forged = CityClient(wrong, http=http, policy=RetryPolicy(attempts=3, sleep=_no_wait))
        report = await delivery.deliver_due_batches(client=forged, worker="w1")
    assert report.failed == ["refused:1"]
    row = await _row(batch_pk)
    assert row["status"] == "failed" and "401" in row["last_error"]
    notes = await Notification.select().where(Notification.user == official.id)
    assert len(notes) == 1 and notes[0]["link"] == f"/officials/connector/batches/{batch_pk}"
    assert await Notification.count() == 1  # the citizen is not told
    assert any(official.email in str(mail) for mail in development_outbox.sent)
    # An official retries with the right key: same revision, same key, delivered.
    await services.retry_batch(batch_pk, official.id)
    async with build_http_client(city.settings) as http:
        right = CityClient(city.settings, http=http, policy=RetryPolicy(attempts=3, sleep=_no_wait))
        assert (await delivery.deliver_due_batches(client=right, worker="w1")).delivered == [
            "refused:1"
        ]


async def test_revisions_increase_and_supersede_undelivered_ones(
    city: RunningCity, client: CityClient
) -> None:
    first = await _enqueue("allocation", sample_allocation("revised-pb", revision=None))
    second = await _enqueue("allocation", sample_allocation("revised-pb", revision=None, items=3))
    assert [(await _row(pk))["revision"] for pk in (first, second)] == [1, 2]
    assert (await _row(first))["status"] == "superseded"
    with pytest.raises(Conflict):
        await _enqueue("allocation", sample_allocation("revised-pb", revision=2))
    await delivery.deliver_due_batches(client=client, worker="w1")
    assert [r["revision"] for r in city.accepted("revised-pb")] == [2]


async def test_a_batch_that_breaks_the_contract_is_not_enqueued() -> None:
    payload = sample_allocation("broken")
    payload["currency"] = "USD"
    with pytest.raises(InvalidInput):
        await _enqueue("allocation", payload)


async def test_dry_run_from_the_outbox_stores_nothing(
    city: RunningCity, client: CityClient
) -> None:
    batch_pk = await _enqueue("award", sample_award("dry-ai50"))
    result = await services.validate_batch(batch_pk, actor_id=1, client=client)
    assert result.ok
    assert city.ledger()["batches"] == [] or all(
        r["batch_id"] != "dry-ai50" for r in city.ledger()["batches"]
    )
    view = await services.get_batch(batch_pk)
    assert view.status == "pending" and [h["dry_run"] for h in view.history] == [True]


async def test_killed_worker_lease_is_taken_over(city: RunningCity, client: CityClient) -> None:
    batch_pk = await _enqueue("allocation", sample_allocation("lease"))
    claimed = await delivery.claim_due_batch("dead-worker", lease_seconds=60)
    assert claimed is not None and claimed["id"] == batch_pk
    assert await delivery.claim_due_batch("w2") is None  # leased: not due
    clock.advance(dt.timedelta(seconds=61))
    report = await delivery.deliver_due_batches(client=client, worker="w2")
    assert report.delivered == ["lease:1"]
    assert (await _row(batch_pk))["attempts"] == 2


async def test_two_workers_in_one_process_never_double_deliver(
    city: RunningCity, client: CityClient
) -> None:
    keys = [f"pair-{n}" for n in range(6)]
    for key in keys:
        await _enqueue("allocation", sample_allocation(key))
    reports = await asyncio.gather(
        delivery.deliver_due_batches(client=client, worker="a"),
        delivery.deliver_due_batches(client=client, worker="b"),
    )
    delivered = reports[0].delivered + reports[1].delivered
    assert sorted(delivered) == sorted(f"{k}:1" for k in keys)
    posts = [r["key"] for r in city.ledger()["requests"] if r["method"] == "POST"]
    assert sorted(posts) == sorted(f"{k}:1" for k in keys)


# ----------------------------------------------------------------------------- real worker processes


def _push_command() -> list[str]:
    return [sys.executable, "-m", "portal.cli", "push", "--once"]


def _worker_env(city: RunningCity, lease: int = 2) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HANGANG_CITY_BUDGET_URL=city.url,
        HANGANG_CITY_BUDGET_SECRET=city.secret,
        HANGANG_CITY_BUDGET_KEY_ID="worker-key",
        HANGANG_CONNECTOR_LEASE_SECONDS=str(lease),
        PYTHONPATH=str(REPO),
    )
    return env


def _wait_for(predicate, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
async def test_worker_killed_mid_push_then_restarted_city_holds_one_copy(city: RunningCity) -> None:
    batch_pk = await _enqueue("allocation", sample_allocation("sigkill"))
    city.faults(delay=3, delay_next=1)
    worker = subprocess.Popen(_push_command(), env=_worker_env(city), cwd=REPO)
    try:
        _wait_for(
            lambda: any(r["batch_id"] == "sigkill" for r in city.ledger()["batches"]),
            "the city to receive the push",
        )
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=10) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
    row = await _row(batch_pk)
    assert row["status"] == "delivering"  # the dead worker's lease
    # Restart the worker (as cron would) until the lease has run out and it delivers.
    for _ in range(60):
        done = subprocess.run(
            _push_command(),
            env=_worker_env(city),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        if (await _row(batch_pk))["status"] == "delivered":
            break
        await asyncio.sleep(0.5)
    row = await _row(batch_pk)
    assert row["status"] == "delivered"
    [held] = city.accepted("sigkill")
    assert row["receipt_id"] == held["receipt_id"]
    assert len([r for r in city.ledger()["batches"] if r["batch_id"] == "sigkill"]) == 1


@pytest.mark.slow
async def test_two_worker_processes_never_double_deliver(city: RunningCity) -> None:
    keys = [f"proc-{n}" for n in range(8)]
    for key in keys:
        await _enqueue("allocation", sample_allocation(key))
    city.faults()
    workers = [
        subprocess.Popen(
            _push_command(), env=_worker_env(city, lease=300), cwd=REPO, stdout=subprocess.PIPE
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.wait(timeout=60) == 0
    statuses = {r["status"] for r in await OutboxBatch.select(OutboxBatch.status)}
    assert statuses == {"delivered"}
    posts = [r["key"] for r in city.ledger()["requests"] if r["method"] == "POST"]
    assert sorted(posts) == sorted(f"{k}:1" for k in keys)
    assert await OutboxAttempt.count() == len(keys)


async def test_a_damaged_outbox_row_fails_with_a_reason(
    city: RunningCity, client: CityClient, users
) -> None:
    from portal.tables import Notification

    official = await users.create(roles=["official"])
    batch_pk = await _enqueue("allocation", sample_allocation("damaged"))
    await OutboxBatch.update({OutboxBatch.payload: "{}"}).where(OutboxBatch.id == batch_pk)
    report = await delivery.deliver_due_batches(client=client, worker="w1")
    assert report.failed == ["damaged:1"]
    row = await _row(batch_pk)
    assert row["status"] == "failed" and "unreadable" in row["last_error"]
    assert await Notification.count().where(Notification.user == official.id) == 1
    assert city.accepted("damaged") == []
