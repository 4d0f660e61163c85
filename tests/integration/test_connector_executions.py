"""Executions pulled from the reference city server running for real on 127.0.0.1 onto funded projects."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from portal.connector.client import CityClient, build_http_client
from portal.connector.executions import pull_executions
from portal.connector.retries import CityUnavailable, RetryPolicy
from portal.connector.testing import RunningCity, running_city
from portal.tables import AuditEvent
from voting.services import delivery
from voting.services.approvals import allocation_batch_payload
from voting.testing import FundedCycle, build_funded_cycle


async def _no_wait(seconds: float) -> None:
    return None


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCity]:
    with running_city(tmp_path_factory.mktemp("city") / "city.sqlite3") as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_city(city: RunningCity) -> Iterator[None]:
    city.faults()
    httpx.delete(f"{city.url}/_executions", timeout=5)
    yield
    city.faults()


@pytest.fixture
async def client(city: RunningCity) -> AsyncIterator[CityClient]:
    http = build_http_client(city.settings, timeout=httpx.Timeout(2, connect=1))
    yield CityClient(city.settings, http=http, policy=RetryPolicy(attempts=4, sleep=_no_wait))
    await http.aclose()


@pytest.fixture
async def funded(users) -> FundedCycle:
    first, second = await users.create(["official"]), await users.create(["official"])
    return await build_funded_cycle((first.id, second.id), fiscal_year=2026)


def _plant(city: RunningCity, items: list) -> None:
    httpx.post(
        f"{city.url}/_executions", json={"fiscal_year": 2026, "items": items}, timeout=5
    ).raise_for_status()


async def _rows(funded: FundedCycle, closed_on: dt.date) -> list[dict]:
    first, second = funded.funded[0], funded.funded[1]
    return [
        {
            "project_code": delivery.project_code(first),
            "status": "completed",
            "milestones": [
                {
                    "key": "M-1",
                    "title": "Design approved",
                    "due_on": (closed_on + dt.timedelta(days=20)).isoformat(),
                    "done": True,
                },
                {
                    "key": "M-2",
                    "title": "Lamps installed",
                    "due_on": (closed_on + dt.timedelta(days=90)).isoformat(),
                    "done": True,
                },
            ],
            "payments": [
                {
                    "key": "V-100",
                    "paid_on": (closed_on + dt.timedelta(days=30)).isoformat(),
                    "amount": "1200000000",
                    "note": "Contract",
                }
            ],
        },
        {"project_code": delivery.project_code(second), "status": "in-progress"},
    ]


async def _connector_events() -> list[dict]:
    rows = (
        await AuditEvent.select()
        .where(AuditEvent.action.like("pb.delivery.%"))
        .order_by(AuditEvent.id)
    )
    for row in rows:
        if isinstance(row["details"], str):
            row["details"] = json.loads(row["details"])
    return rows


async def test_pull_maps_rows_onto_funded_projects_and_twice_changes_nothing(
    city, client, funded
) -> None:
    # The city learnt the projects from the allocation push: unplanted, they are reported as planned.
    payload = await allocation_batch_payload(funded.id)
    payload["revision"] = 1
    await client.push("allocation", payload)
    quiet = await pull_executions(2026, client)
    assert quiet.rows == len(funded.funded) and quiet.changed == [] and quiet.problems == []

    closed_on = (await delivery.delivery_of(funded.id, funded.funded[0])).vote_closed_on
    _plant(city, await _rows(funded, closed_on))
    report = await pull_executions(2026, client)
    first = await delivery.delivery_of(funded.id, funded.funded[0])
    assert first.status == "completed"
    assert [(m.title, m.done, m.source) for m in first.milestones] == [
        ("Design approved", True, "connector"),
        ("Lamps installed", True, "connector"),
    ]
    assert first.spent == 1_200_000_000
    assert (await delivery.delivery_of(funded.id, funded.funded[1])).status == "in-progress"
    assert sorted(report.changed) == sorted(delivery.project_code(p) for p in funded.funded[:2])
    events = await _connector_events()
    assert events and all(
        e["actor_id"] is None and e["details"]["source"] == "connector" for e in events
    )
    # planned -> in progress -> completed: both steps go through the one status machine.
    steps = [e["details"]["after"] for e in events if e["action"] == "pb.delivery.status"]
    assert steps.count("completed") == 1 and steps.count("in-progress") == 2

    again = await pull_executions(2026, client)
    assert again.changed == [] and again.problems == []
    assert len(await _connector_events()) == len(events)


async def test_invalid_and_unknown_rows_are_reported_and_the_rest_applies(
    city, client, funded
) -> None:
    closed_on = (await delivery.delivery_of(funded.id, funded.funded[0])).vote_closed_on
    rows = await _rows(funded, closed_on)
    rows[0]["milestones"][0]["due_on"] = (
        closed_on - dt.timedelta(days=5)
    ).isoformat()  # before the vote
    rows += [
        {"project_code": "PB-99999", "status": "planned"},  # funded nowhere
        {"project_code": "PB-00001x", "status": "done"},  # not a status of the contract
        {
            "project_code": delivery.project_code(funded.funded[2]),
            "status": "planned",
            "payments": [{"key": "V-1", "paid_on": "2026-13-01", "amount": "-5"}],
        },
    ]
    _plant(city, rows)
    report = await pull_executions(2026, client)
    text = "\n".join(report.problems)
    assert "PB-99999: no project funded" in text
    assert text.count("invalid row") == 2
    assert "milestone M-1 not applied: A milestone cannot be dated before the vote closed" in text
    first = await delivery.delivery_of(funded.id, funded.funded[0])
    assert [m.title for m in first.milestones] == [
        "Lamps installed"
    ] and first.status == "completed"


async def test_a_backward_status_is_reported_for_an_official_to_correct(
    city, client, funded, users
) -> None:
    official = (await users.create(["official"])).id
    pid = funded.funded[1]
    await delivery.change_status(official, funded.id, pid, "in-progress", "")
    await delivery.change_status(official, funded.id, pid, "completed", "")
    _plant(city, [{"project_code": delivery.project_code(pid), "status": "in-progress"}])
    report = await pull_executions(2026, client)
    assert report.changed == [] and "an official must correct it" in report.problems[0]
    assert (await delivery.delivery_of(funded.id, pid)).status == "completed"


async def test_a_5xx_then_success_and_a_cut_off_body_are_retried(city, client, funded) -> None:
    closed_on = (await delivery.delivery_of(funded.id, funded.funded[0])).vote_closed_on
    _plant(city, await _rows(funded, closed_on))
    city.faults(fail_next=2, status=503, methods=["GET"])
    report = await pull_executions(2026, client)
    assert report.attempts == 3 and len(report.changed) == 2
    city.faults(malformed_next=1, methods=["GET"])
    again = await pull_executions(2026, client)
    assert again.attempts == 2 and again.changed == [] and again.problems == []
    city.faults(malformed_next=10, methods=["GET"])
    with pytest.raises(CityUnavailable, match="not JSON"):
        await pull_executions(2026, client)


async def test_pages_are_followed(city, client, funded) -> None:
    closed_on = (await delivery.delivery_of(funded.id, funded.funded[0])).vote_closed_on
    _plant(city, await _rows(funded, closed_on))
    pulled = await client.fetch_executions(2026, limit=1)
    codes = [r.project_code for r in pulled.rows]
    assert (
        pulled.pages == len(codes) >= 2
    )  # one row a page (the module's city also reports earlier pushes)
    assert codes == sorted(set(codes))
    assert {delivery.project_code(p) for p in funded.funded[:2]} <= set(codes)
    assert codes == [r.project_code for r in (await client.fetch_executions(2026)).rows]


async def test_the_city_corrects_a_milestone_and_a_payment_in_place(city, client, funded) -> None:
    closed_on = (await delivery.delivery_of(funded.id, funded.funded[0])).vote_closed_on
    rows = await _rows(funded, closed_on)
    _plant(city, rows)
    await pull_executions(2026, client)
    rows[0]["milestones"][1]["title"] = "Lamps installed and tested"
    rows[0]["payments"][0]["amount"] = "1150000000"
    _plant(city, rows)
    report = await pull_executions(2026, client)
    assert report.changed == [delivery.project_code(funded.funded[0])]
    first = await delivery.delivery_of(funded.id, funded.funded[0])
    assert [m.title for m in first.milestones] == ["Design approved", "Lamps installed and tested"]
    assert [p.amount for p in first.payments] == [1_150_000_000]


def test_the_command_line_pull(city, funded) -> None:
    from tests.integration.test_cli import hangang

    env = {
        "HANGANG_CITY_BUDGET_URL": city.url,
        "HANGANG_CITY_BUDGET_SECRET": city.secret,
        "HANGANG_CITY_BUDGET_KEY_ID": "k1",
    }
    _plant(
        city, [{"project_code": delivery.project_code(funded.funded[1]), "status": "in-progress"}]
    )
    first = hangang("connector", "pull-executions", "--fiscal-year", "2026", "--json", env=env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["changed"] == [delivery.project_code(funded.funded[1])]
    again = hangang("connector", "pull-executions", "--fiscal-year", "2026", env=env)
    assert again.returncode == 0 and "0 projects changed" in again.stdout
    _plant(city, [{"project_code": "PB-99999", "status": "planned"}])
    unknown = hangang("connector", "pull-executions", "--fiscal-year", "2026", env=env)
    assert unknown.returncode == 1 and "PB-99999: no project funded" in unknown.stdout
    assert hangang("connector", "pull-executions", "--fiscal-year", "1999", env=env).returncode == 2


def test_the_contract_documents_the_pull_and_a_file_seeds_it(city, tmp_path) -> None:
    from portal.connector.city_sim.executions import load_executions

    schema = httpx.get(f"{city.url}/schema/openapi.json", timeout=5).json()
    assert "/v1/executions" in schema["paths"]
    rows = tmp_path / "executions.json"
    rows.write_text(json.dumps({"2026": [{"project_code": "PB-00001", "status": "planned"}]}))
    assert load_executions(rows) == {2026: [{"project_code": "PB-00001", "status": "planned"}]}
    rows.write_text('["not", "by", "year"]')
    with pytest.raises(ValueError, match="must look like"):
        load_executions(rows)
