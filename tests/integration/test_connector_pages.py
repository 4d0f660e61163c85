"""Officials' delivery board and JSON API, through HTTP, with the city-sim running for real."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from portal.connector import delivery, exports, services, signing
from portal.connector.client import close_shared_http_client
from portal.connector.testing import RunningCity, running_city, sample_allocation, sample_award
from portal.db import write_transaction


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCity]:
    with running_city(tmp_path_factory.mktemp("city") / "city.sqlite3") as running:
        yield running


@pytest.fixture(autouse=True)
async def city_settings(city: RunningCity, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    from portal.settings import get_settings

    monkeypatch.setenv("HANGANG_CITY_BUDGET_URL", city.url)
    monkeypatch.setenv("HANGANG_CITY_BUDGET_SECRET", city.secret)
    get_settings.cache_clear()
    city.faults()
    yield
    await close_shared_http_client()
    get_settings.cache_clear()


async def _enqueue(kind: str, payload: dict) -> int:
    async with write_transaction():
        return await services.enqueue_batch(kind, payload, title="PB 2027 results")


async def test_officials_see_status_receipt_and_history(official, city: RunningCity) -> None:
    batch_pk = await _enqueue("allocation", sample_allocation("page-pb"))
    await delivery.deliver_due_batches(worker="test")
    board = await official.get("/officials/connector/")
    assert board.status_code == 200 and "PB 2027 results" in board.text
    detail = await official.get(f"/officials/connector/batches/{batch_pk}")
    assert detail.status_code == 200
    [held] = city.accepted("page-pb")
    assert held["receipt_id"] in detail.text and "POST /v1/allocation-batches" in detail.text
    api = (await official.get(f"/api/v1/connector/batches/{batch_pk}")).json()
    assert api["status"] == "delivered" and api["receipt"]["receipt_id"] == held["receipt_id"]
    assert [h["status_code"] for h in api["history"]] == [201]


async def test_validate_with_the_city_stores_nothing(official, city: RunningCity) -> None:
    batch_pk = await _enqueue("award", sample_award("page-ai50"))
    response = await official.post_form(f"/officials/connector/batches/{batch_pk}/validate", {})
    assert response.status_code == 303
    detail = await official.get(f"/officials/connector/batches/{batch_pk}")
    assert "The city system validated this batch." in detail.text
    assert not [r for r in city.ledger()["batches"] if r["batch_id"] == "page-ai50"]
    verdict = await official.send_json("POST", f"/api/v1/connector/batches/{batch_pk}/validate", {})
    assert verdict.json() == {
        "ok": True,
        "message": "The city system validated this batch.",
        "errors": [],
    }


async def test_failed_batch_shows_reason_and_can_be_retried(official, city: RunningCity) -> None:
    batch_pk = await _enqueue("allocation", sample_allocation("page-failed"))
    city.faults(redirect_next=1)
    report = await delivery.deliver_due_batches(worker="test")
    assert report.failed == ["page-failed:1"]
    detail = await official.get(f"/officials/connector/batches/{batch_pk}")
    assert "redirect" in detail.text and "Retry delivery" in detail.text
    board = await official.get("/officials/connector/")
    assert "These batches failed" in board.text
    response = await official.post_form(f"/officials/connector/batches/{batch_pk}/retry", {})
    assert response.status_code == 303
    assert (await delivery.deliver_due_batches(worker="test")).delivered == ["page-failed:1"]
    again = await official.send_json("POST", f"/api/v1/connector/batches/{batch_pk}/retry", {})
    assert again.status_code == 409


async def test_download_of_the_signed_export_verifies(
    official, tmp_path: Path, city: RunningCity
) -> None:
    batch_pk = await _enqueue("award", sample_award("page-export"))
    response = await official.get(f"/officials/connector/batches/{batch_pk}/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == 'attachment; filename="page-export-r1.zip"'
    (tmp_path / "b.zip").write_bytes(response.content)
    manifest = exports.verify_bundle(tmp_path / "b.zip", signing.parse_secrets(city.secret))
    assert {f["name"] for f in manifest["files"]} == {"awards.csv", "awards.xlsx", "awards.json"}
    # The signed manifest anchors the audit chain where it stood: its head at that count of events (A6).
    from portal import audit

    chain = await audit.verify_chain()
    source = manifest["source"]
    assert chain.ok and source["audit_sequence"] == chain.events > 0
    assert source["audit_head"] == chain.heads[source["audit_sequence"] - 1] == manifest["audit_head"]
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert "manifest.json" in names


async def test_citizens_and_strangers_are_kept_out(citizen, client) -> None:
    batch_pk = await _enqueue("allocation", sample_allocation("page-private"))
    for url in (
        "/officials/connector/",
        f"/officials/connector/batches/{batch_pk}",
        f"/api/v1/connector/batches/{batch_pk}",
    ):
        assert (await citizen.get(url)).status_code == 403
        assert (await client.get(url)).status_code in (401, 302, 303)
    assert (
        await citizen.post_form(f"/officials/connector/batches/{batch_pk}/retry", {})
    ).status_code == 403


async def test_unknown_batch_is_404(official) -> None:
    assert (await official.get("/officials/connector/batches/9999")).status_code == 404
    assert (await official.get("/api/v1/connector/batches/9999")).status_code == 404


async def _cycle(frozen: bool = False) -> int:
    import datetime as dt

    from portal import clock
    from voting.tables import Cycle, Pot

    now = clock.now()
    day = dt.timedelta(days=1)
    if frozen:  # voting opened yesterday: the pots are frozen
        now -= 21 * day
    rows = await Cycle.insert(
        Cycle(
            name="Seoul PB 2027",
            fiscal_year=2027,
            total_budget=10_000_000_000,
            proposals_open_at=now - day,
            proposals_close_at=now + 10 * day,
            voting_open_at=now + 20 * day,
            voting_close_at=now + 30 * day,
            publish_at=now + 40 * day,
            rules_frozen_at=now + 20 * day if frozen else None,
            created_at=now,
        )
    ).returning(Cycle.id)
    cycle_id = rows[0]["id"]
    for code in (None, "11680", "11110", "99999"):
        await Pot.insert(Pot(cycle=cycle_id, district_code=code, amount=1))
    return cycle_id


async def test_envelopes_set_the_district_pots(official, city: RunningCity) -> None:
    from portal.connector.city_sim.envelopes import default_envelopes
    from voting.tables import Pot

    cycle_id = await _cycle()
    response = await official.send_json(
        "POST", f"/api/v1/connector/cycles/{cycle_id}/envelopes", {}
    )
    assert response.status_code == 200
    expected = {e.district_code: int(e.amount) for e in default_envelopes(2027)}
    assert response.json() == {
        "districts": {"11680": expected["11680"], "11110": expected["11110"]}
    }
    pots = {
        p["district_code"]: p["amount"] for p in await Pot.select(Pot.district_code, Pot.amount)
    }
    assert pots == {None: 1, "11680": expected["11680"], "11110": expected["11110"], "99999": 1}
    listed = {c["id"]: c for c in (await official.get("/api/v1/pb/cycles")).json()}
    assert listed[cycle_id]["total_budget"] == sum(pots.values())  # the cycle total follows its pots
    board = await official.get("/officials/connector/")
    assert "Seoul PB 2027" in board.text.split("</title>")[1]  # offered in the envelope form
    assert "<section" not in board.text.split("</title>")[0]
    form = await official.post_form("/officials/connector/envelopes", {"cycle_id": str(cycle_id)})
    assert form.status_code == 303
    assert "2 districts" in (await official.get("/officials/connector/")).text


async def test_envelopes_do_not_change_frozen_pots(official, city: RunningCity) -> None:
    cycle_id = await _cycle(frozen=True)
    response = await official.send_json(
        "POST", f"/api/v1/connector/cycles/{cycle_id}/envelopes", {}
    )
    assert response.status_code == 409


async def test_the_server_delivery_loop_delivers_and_stops(city: RunningCity) -> None:
    import asyncio

    from portal.connector.tables import OutboxBatch

    batch_pk = await _enqueue("allocation", sample_allocation("loop-pb"))
    stop = asyncio.Event()
    loop_task = asyncio.create_task(delivery.delivery_loop(stop, interval=0.05))
    try:
        for _ in range(200):
            row = (
                await OutboxBatch.select(OutboxBatch.status)
                .where(OutboxBatch.id == batch_pk)
                .first()
            )
            if row["status"] == "delivered":
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(loop_task, timeout=10)
    assert row["status"] == "delivered"
    assert len(city.accepted("loop-pb")) == 1


async def test_a_batch_waiting_over_an_hour_alerts_officials(official, city: RunningCity) -> None:
    from portal import clock
    from portal.connector.tables import OutboxBatch

    waiting = await _enqueue("allocation", sample_allocation("page-stuck"))
    board = await official.get("/officials/connector/")
    assert 'id="delivery-alerts"' not in board.text  # just approved: no alarm yet
    # Approved an hour ago (moving the clock would end the official's session).
    await OutboxBatch.update({OutboxBatch.created_at: clock.now() - services.STUCK_AFTER}).where(
        OutboxBatch.id == waiting
    )
    board = await official.get("/officials/connector/")
    assert 'id="delivery-alerts"' in board.text
    assert "waited more than an hour" in board.text
    assert f'href="/officials/connector/batches/{waiting}"' in board.text
    detail = await official.get(f"/officials/connector/batches/{waiting}")
    assert 'id="stuck-alert"' in detail.text
    await delivery.deliver_due_batches(worker="test")
    board = await official.get("/officials/connector/")
    assert 'id="delivery-alerts"' not in board.text  # delivered: the alert is gone
