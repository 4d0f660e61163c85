"""Fraud screening signals from the web layer: who the client is, as the screening keys it.

The address and User-Agent go to the voting room's in-memory list (``pb.note_signal``) and are kept
only as keyed HMACs per cycle from there (docs/pb.md, "Fraud screening"). Never fails a request.
"""

from __future__ import annotations

import logging

from litestar import Request

from portal.manifest import domain_service

log = logging.getLogger("hangang.portal")


def client_of(request: Request) -> tuple[str, str]:
    """(client address, User-Agent) of a request; the User-Agent is the coarse device fingerprint."""
    address = request.client.host if request.client else "unknown"
    return address, request.headers.get("user-agent", "")[:512]


def note_signal(kind: str, request: Request) -> None:
    """Note a sign-up or an identity verification for the screening (no I/O)."""
    try:
        domain_service("pb.note_signal")(kind, *client_of(request))
    except Exception:  # screening is best effort: a sign-up never fails for it
        log.warning("screening signal not noted", extra={"kind": kind})
