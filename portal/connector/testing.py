"""Run the reference city server for real on 127.0.0.1, for tests and rehearsals."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from portal.connector import signing
from portal.connector.city_sim.app import create_city_app, create_city_asgi
from portal.connector.settings import CitySettings


@dataclass
class RunningCity:
    """A city server listening on loopback, with helpers to set faults and read its ledger."""

    url: str
    secret: str
    app: Any

    @property
    def settings(self) -> CitySettings:
        """Portal-side settings that point at this server."""
        return CitySettings(
            base_url=self.url, key_id="test-key", keys=signing.parse_secrets(self.secret)
        )

    def faults(self, **knobs: Any) -> None:
        """Set the fault knobs (``POST /_faults``)."""
        httpx.post(f"{self.url}/_faults", json=knobs, timeout=5).raise_for_status()

    def ledger(self) -> dict[str, Any]:
        """Every stored batch and every faulted request (``GET /_batches``)."""
        return httpx.get(f"{self.url}/_batches", timeout=5).json()

    def accepted(self, batch_id: str | None = None) -> list[dict[str, Any]]:
        """The accepted rows, optionally of one batch."""
        return [
            row
            for row in self.ledger()["batches"]
            if row["status"] == "accepted" and (batch_id is None or row["batch_id"] == batch_id)
        ]


@contextmanager
def running_city(
    data_path: Path, secret: str | None = None, **app_options: Any
) -> Iterator[RunningCity]:
    """Serve a city-sim on a free loopback port in a thread until the block ends."""
    secret = secret or signing.new_secret()
    app = create_city_app(
        signing.parse_secrets(secret), data_path, faults_enabled=True, **app_options
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_city_asgi(app), log_level="critical", lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the city server did not start")
        time.sleep(0.01)
    try:
        yield RunningCity(url=f"http://127.0.0.1:{port}", secret=secret, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def sample_allocation(
    batch_id: str = "seoul-pb-2027", revision: int = 1, items: int = 2
) -> dict[str, Any]:
    """A valid PB allocation batch body with ``items`` projects."""
    from datetime import UTC, datetime

    from portal.connector.batches import AllocationLine, BatchHeader, allocation_batch

    moment = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    header = BatchHeader(
        batch_id=batch_id,
        revision=revision,
        fiscal_year=2027,
        cycle="2027",
        approvals=[("u-81f", moment), ("u-22c", moment)],
        generated_at=moment,
        closed_at=moment,
        results_sha256="0" * 64,
        audit_head="1" * 64,
    )
    lines = [
        AllocationLine(
            line_id=f"2027-{n:04d}",
            project_code=f"PB-{n:04d}",
            title=f"한강 산책로 조명 {n}",
            district_code="11680",
            district_name="Gangnam-gu",
            category="transportation",
            amount=250_000_000,
            votes=18_000 - n,
            rank=n,
            rule="equal-shares",
        )
        for n in range(1, items + 1)
    ]
    return allocation_batch(header, lines)


def sample_award(batch_id: str = "ai50-2027", revision: int = 1, items: int = 3) -> dict[str, Any]:
    """A valid AI 50 Challenge award batch body."""
    from datetime import UTC, datetime

    from portal.connector.batches import AwardLine, BatchHeader, award_batch

    moment = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    header = BatchHeader(
        batch_id=batch_id,
        revision=revision,
        fiscal_year=2027,
        cycle="ai50-2027",
        approvals=[("u-81f", moment), ("u-22c", moment)],
        generated_at=moment,
    )
    lines = [
        AwardLine(
            line_id=f"A-{n:03d}",
            award_code=f"AI50-{n:03d}",
            title=f'=HYPERLINK("http://x") startup {n}' if n == 1 else f"Smart crossing {n}",
            recipient_id=f"org-{n}",
            recipient_name=f"(주)한강AI {n}",
            category="mobility",
            amount=100_000_000,
            rank=n,
            score=f"{90 - n}.50",
        )
        for n in range(1, items + 1)
    ]
    return award_batch(header, lines)
