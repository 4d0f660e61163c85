"""Run the identity provider simulator for real on 127.0.0.1, for tests and rehearsals."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from portal.idp.app import create_idp_app
from portal.idp.provider import RegisteredClient


@dataclass
class RunningIdp:
    """An idp-sim listening on loopback, registered for one client."""

    url: str
    client_id: str
    client_secret: str
    app: Any

    def faults(self, **knobs: Any) -> None:
        """Set the fault knobs (``POST /_faults``)."""
        httpx.post(f"{self.url}/_faults", json=knobs, timeout=5).raise_for_status()


@contextmanager
def running_idp(redirect_uri: str, client_id: str = "hangang-portal", client_secret: str = "sim-secret") -> Iterator[RunningIdp]:
    """Serve an idp-sim on a free loopback port in a thread until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_idp_app(url, RegisteredClient(client_id, client_secret, (redirect_uri,)), faults_enabled=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the identity provider simulator did not start")
        time.sleep(0.01)
    try:
        yield RunningIdp(url=url, client_id=client_id, client_secret=client_secret, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
