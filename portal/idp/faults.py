"""The fault knobs of the identity provider simulator: each counter spoils that many next requests."""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from typing import Annotated

import msgspec
from joserfc import jwt
from joserfc.jwk import RSAKey


class IdpFaults(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What the next requests should suffer (``POST /_faults``)."""

    refuse_next: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0  # authorization: access_denied
    fail_next: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0  # token endpoint: 503
    delay: Annotated[float, msgspec.Meta(ge=0, le=120)] = 0.0  # seconds before each token answer
    bad_signature_next: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0  # signed by a stray key
    unsigned_next: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0  # alg "none"
    wrong_nonce_next: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0
    wrong_audience_next: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0


@dataclass
class FaultState:
    """The live counters, shared by the handlers (uvicorn may call from several threads)."""

    knobs: IdpFaults = field(default_factory=IdpFaults)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, knobs: IdpFaults) -> None:
        with self.lock:
            self.knobs = knobs

    def take(self, name: str) -> bool:
        """Use up one count of a counter, if any is left."""
        with self.lock:
            left = getattr(self.knobs, name)
            if left <= 0:
                return False
            setattr(self.knobs, name, left - 1)
            return True


def _claims_of(id_token: str) -> dict:
    payload = id_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def spoil_id_token(id_token: str, faults: FaultState, key: RSAKey) -> str:
    """Apply the ID-token knobs: a wrong nonce or audience (validly signed), a stray signature, no signature."""
    claims = _claims_of(id_token)
    header = {"alg": "RS256", "kid": key.kid}
    if faults.take("wrong_nonce_next"):
        claims["nonce"] = "not-the-nonce-you-sent"
        return jwt.encode(header, claims, key)
    if faults.take("wrong_audience_next"):
        claims["aud"] = ["someone-else"]
        return jwt.encode(header, claims, key)
    if faults.take("bad_signature_next"):
        stray = RSAKey.generate_key(2048, parameters={"kid": key.kid})
        return jwt.encode(header, claims, stray)
    if faults.take("unsigned_next"):
        return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    return id_token
