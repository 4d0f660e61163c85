"""Standard Webhooks signing, idempotency keys and body canonicalisation (pure, no I/O).

The same functions sign on the portal side and verify on the city side, so both agree
byte for byte on what was signed and what ``body_sha256`` means.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any

from portal.canonical import canonical_json

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
TOLERANCE_SECONDS = 5 * 60

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
HEADER_KEY_ID = "x-key-id"
HEADER_IDEMPOTENCY_KEY = "idempotency-key"

_IDEMPOTENCY_KEY = re.compile(
    r"^(?P<batch_id>[A-Za-z0-9][A-Za-z0-9._-]{0,127}):(?P<revision>[1-9][0-9]{0,8})$"
)


class SigningError(ValueError):
    """A secret, key or signature that cannot be used; the message names the problem."""


def parse_secret(secret: str) -> bytes:
    """Return the HMAC key of a ``whsec_<base64>`` secret."""
    secret = secret.strip()
    if not secret.startswith(SECRET_PREFIX):
        raise SigningError("the secret must have the form whsec_<base64>")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SigningError("the secret after whsec_ is not valid base64") from exc
    if len(key) < 16:
        # Shorter keys make HMAC guessable; Standard Webhooks uses 24 to 64 bytes.
        raise SigningError("the secret must hold at least 16 bytes of key")
    return key


def parse_secrets(secrets: str) -> list[bytes]:
    """Return the keys of one or more space-separated secrets (several during a key rotation)."""
    keys = [parse_secret(part) for part in secrets.split()]
    if not keys:
        raise SigningError("no secret given")
    return keys


def new_secret() -> str:
    """Make a fresh random secret in the ``whsec_`` form (for setting up a city adapter)."""
    import secrets as _secrets

    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(32)).decode("ascii")


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return one ``v1,<base64>`` signature over ``{id}.{timestamp}.{body}``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signature_header(keys: Iterable[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` value: one signature per key, space-separated."""
    return " ".join(sign(key, msg_id, timestamp, body) for key in keys)


def signing_headers(
    keys: Iterable[bytes], key_id: str, msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """Return every header that authenticates one request."""
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: signature_header(keys, msg_id, timestamp, body),
        HEADER_KEY_ID: key_id,
    }


def verify(
    keys: Iterable[bytes],
    headers: Mapping[str, str],
    body: bytes,
    now: int,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Check the signature headers of a request; raise ``SigningError`` naming what is wrong.

    ``headers`` must look up names case-insensitively or hold lower-case names.
    """
    msg_id = headers.get(HEADER_ID)
    raw_timestamp = headers.get(HEADER_TIMESTAMP)
    raw_signatures = headers.get(HEADER_SIGNATURE)
    if not msg_id or not raw_timestamp or not raw_signatures:
        raise SigningError("missing webhook-id, webhook-timestamp or webhook-signature header")
    if not raw_timestamp.isdigit() or len(raw_timestamp) > 12:
        raise SigningError("webhook-timestamp must be unix seconds")
    timestamp = int(raw_timestamp)
    if abs(now - timestamp) > tolerance:
        raise SigningError("webhook-timestamp is more than 5 minutes off the receiver's clock")
    expected = [sign(key, msg_id, timestamp, body).encode() for key in keys]
    offered = [part.encode() for part in raw_signatures.split() if part.startswith("v1,")]
    # Compare every pair without stopping early, so timing tells nothing about which part matched.
    matched = False
    for candidate in offered:
        for wanted in expected:
            matched |= hmac.compare_digest(candidate, wanted)
    if not matched:
        raise SigningError("no webhook-signature matches a known secret")


def idempotency_key(batch_id: str, revision: int) -> str:
    """Return the deterministic ``<batch_id>:<revision>`` key, the same on every retry."""
    key = f"{batch_id}:{revision}"
    if not _IDEMPOTENCY_KEY.match(key):
        raise SigningError(
            f"batch id {batch_id!r} or revision {revision!r} cannot form an idempotency key"
        )
    return key


def parse_idempotency_key(key: str) -> tuple[str, int]:
    """Split an idempotency key into batch id and revision."""
    match = _IDEMPOTENCY_KEY.match(key)
    if not match:
        raise SigningError("Idempotency-Key must have the form <batch_id>:<revision>")
    return match["batch_id"], int(match["revision"])


def body_bytes(value: Any) -> bytes:
    """A body as the city receives it: canonical JSON in UTF-8, floats refused."""
    _refuse_floats(value)
    return canonical_json(value).encode("utf-8")


def body_sha256(payload: Mapping[str, Any]) -> str:
    """Return the hex SHA-256 of a batch body's canonical JSON without its ``dry_run`` member.

    Leaving ``dry_run`` out makes a dry run and the real push of the same batch hash alike.
    """
    content = {name: value for name, value in payload.items() if name != "dry_run"}
    return hashlib.sha256(body_bytes(content)).hexdigest()


def sha256_hex(data: bytes) -> str:
    """Return the hex SHA-256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def message_id(kind: str, key: str, dry_run: bool) -> str:
    """Return a ``webhook-id`` that stays the same when the same message is sent again."""
    digest = hashlib.sha256(f"{kind}|{key}|{'dry' if dry_run else 'push'}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def _refuse_floats(value: Any) -> None:
    if isinstance(value, float):
        raise SigningError("floats are not allowed in a batch; amounts are decimal strings")
    if isinstance(value, Mapping):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_floats(item)
