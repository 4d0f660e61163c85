"""Build the reference city server: the Litestar app, its problem answers and the fault wrapper."""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.types import ASGIApp

from portal.connector.city_sim.executions import clear_executions, list_executions, set_executions
from portal.connector.city_sim.faults import FaultInjector
from portal.connector.city_sim.handlers import (
    CitySim,
    clear_faults,
    get_allocation_batch,
    get_award_batch,
    list_batches,
    list_envelopes,
    push_allocation_batch,
    push_award_batch,
    set_faults,
)
from portal.connector.city_sim.ledger import CityStore
from portal.connector.city_sim.problems import CityProblem, problem_response
from portal.connector.schemas import Envelope, Problem

logger = logging.getLogger("portal.connector.city_sim")


def _problem_from_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if isinstance(exc, CityProblem):
        problem = exc.problem
        problem.instance = request.url.path
        return problem_response(problem, exc.headers)
    if isinstance(exc, ValidationException):
        raw = getattr(request.state, "raw_body", b"")
        errors = [
            f"{item.get('key') or 'body'}: {item.get('message')}"
            for item in (exc.extra or [])
            if isinstance(item, dict)
        ]
        try:
            json.loads(raw)
        except ValueError:
            if request.method == "POST":
                return problem_response(
                    Problem(
                        type="urn:hangang:city-budget:problem:malformed",
                        title="The body is not JSON",
                        status=400,
                    )
                )
        status = 422 if request.method == "POST" else 400
        return problem_response(
            Problem(
                type="urn:hangang:city-budget:problem:invalid-batch"
                if status == 422
                else "urn:hangang:city-budget:problem:bad-request",
                title="The request does not follow contract v1",
                status=status,
                detail=exc.detail,
                errors=errors,
            )
        )
    if isinstance(exc, HTTPException):
        return problem_response(
            Problem(type="about:blank", title=exc.detail, status=exc.status_code),
            dict(exc.headers or {}),
        )
    logger.error("city-sim failed on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(Problem(type="about:blank", title="Internal Server Error", status=500))


def create_city_app(
    keys: list[bytes],
    data_path: Path,
    envelopes: dict[int, list[Envelope]] | None = None,
    faults_enabled: bool = False,
    executions: dict[int, list[Any]] | None = None,
    clock: Callable[[], float] = time.time,
) -> Litestar:
    """Build the reference city server's Litestar app."""
    city = CitySim(keys=keys, store=CityStore(data_path), envelopes=envelopes or {}, clock=clock)
    for year, rows in (executions or {}).items():
        city.executions.set_rows(year, rows)
    handlers: list[Any] = [
        push_allocation_batch,
        push_award_batch,
        get_allocation_batch,
        get_award_batch,
        list_envelopes,
        list_executions,
    ]
    if faults_enabled:
        handlers += [set_faults, clear_faults, list_batches, set_executions, clear_executions]
    return Litestar(
        route_handlers=handlers,
        state=State({"city": city}),
        exception_handlers={Exception: _problem_from_exception},
        on_shutdown=[lambda: city.store.close()],
        request_max_body_size=4 * 1024 * 1024,
        openapi_config=OpenAPIConfig(
            title="Hangang city budget adapter (reference implementation)",
            version="1.0.0",
            description=(
                "Contract v1 between Hangang Portal and a city budget adapter. Pushes are signed in the "
                "Standard Webhooks scheme (HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}` "
                "with the base64-decoded `whsec_` secret; timestamps within 5 minutes), carry "
                "`Idempotency-Key: <batch_id>:<revision>` and are answered with RFC 9457 problems on "
                "error. `body_sha256` is the SHA-256 of the body's canonical JSON (sorted keys, no "
                "spaces, UTF-8) without its `dry_run` member."
            ),
            path="/schema",
        ),
    )


def create_city_asgi(app: Litestar) -> ASGIApp:
    """Wrap the app with the fault injector (a no-op unless knobs are set)."""
    return FaultInjector(app, app.state["city"].faults)


def is_loopback(host: str) -> bool:
    """True when the server listens only on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
