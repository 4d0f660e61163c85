"""Phone identity verification: the portal as an OpenID Connect relying party of the identity provider.

The flow: ``begin_verification`` keeps a fresh state, nonce and PKCE verifier in the server-side session
and returns the provider's authorization URL; the provider sends the person back with a code;
``finish_verification`` checks the state, exchanges the code with the verifier (httpx, client_secret_basic),
checks the ID token's signature against the provider's JWKS and its issuer, audience, expiry and nonce
(joserfc), and ``store_identity`` keeps the verified name, birth date and phone with the person key only
as a keyed HMAC (one account per person). Nothing of the person, the code or the tokens is logged.
The resident register, not this, decides the district (docs/identity.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from portal import audit, clock
from portal.db import write_transaction
from portal.errors import Conflict, DomainError, NotAllowed
from portal.settings import get_settings
from portal.tables import User

log = logging.getLogger("hangang.identity")

SESSION_KEY = "phone_verification"
FLOW_SECONDS = 600  # a verification must come back within ten minutes
SCOPE = "openid profile phone"
CALLBACK_PATH = "/account/identity/callback"
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class VerificationFailed(DomainError):
    """The provider's answer cannot be trusted or used; the person starts again."""

    status_code = 400


UNAVAILABLE = "Phone verification is not available right now. Please try again later."
START_AGAIN = "The phone verification could not be completed. Please start again."


@dataclass(frozen=True)
class VerifiedIdentity:
    """What the provider vouches for (the person key stays out of reprs and logs)."""

    name: str
    birth_date: dt.date
    phone_number: str
    person_key: str = field(repr=False)


@dataclass(frozen=True)
class IdentityStatus:
    """What the account page shows about the verification."""

    verified: bool
    name: str | None
    birth_date: dt.date | None
    phone_hint: str | None  # the last four digits only
    verified_at: dt.datetime | None


def _http() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)


def _redirect_uri() -> str:
    return get_settings().base_url + CALLBACK_PATH


async def _provider_metadata(client: httpx.AsyncClient) -> dict[str, Any]:
    """The discovery document; its issuer must be the configured provider URL."""
    issuer = get_settings().idp_url
    if not issuer:
        raise Conflict(UNAVAILABLE)
    try:
        reply = await client.get(f"{issuer}/.well-known/openid-configuration")
        reply.raise_for_status()
        metadata = reply.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("identity provider discovery failed: %s", type(exc).__name__)
        raise Conflict(UNAVAILABLE) from exc
    if metadata.get("issuer") != issuer or "S256" not in metadata.get("code_challenge_methods_supported", []):
        log.warning("identity provider discovery document does not match HANGANG_IDP_URL or lacks PKCE S256")
        raise Conflict(UNAVAILABLE)
    return metadata


async def begin_verification(session: dict[str, Any]) -> str:
    """Start a verification: remember state, nonce and PKCE verifier; return where to send the person."""
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    async with _http() as client:
        metadata = await _provider_metadata(client)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": get_settings().idp_client_id,
            "redirect_uri": _redirect_uri(),
            "scope": SCOPE,
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    session[SESSION_KEY] = {"state": state, "nonce": nonce, "verifier": verifier, "started": int(time.time())}
    return f"{metadata['authorization_endpoint']}?{query}"


async def finish_verification(
    session: dict[str, Any], state: str | None, code: str | None, error: str | None
) -> VerifiedIdentity:
    """Check the provider's answer to the flow this session started, and read the verified identity."""
    flow = session.pop(SESSION_KEY, None)  # used once, whatever happens next
    if not flow or time.time() - flow["started"] > FLOW_SECONDS:
        raise VerificationFailed("This verification has expired or was not started here. Please start again.")
    if not state or not hmac.compare_digest(state, flow["state"]):
        raise VerificationFailed("The answer does not belong to the verification you started. Please start again.")
    if error or not code:
        raise NotAllowed("The phone verification was cancelled or refused.")
    settings = get_settings()
    async with _http() as client:
        metadata = await _provider_metadata(client)
        try:
            reply = await client.post(
                metadata["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": _redirect_uri(),
                    "code_verifier": flow["verifier"],
                },
                auth=(settings.idp_client_id, settings.idp_client_secret),  # client_secret_basic
            )
            token = reply.raise_for_status().json()
            keys = (await client.get(metadata["jwks_uri"])).raise_for_status().json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("identity provider token exchange failed: %s", type(exc).__name__)
            raise VerificationFailed(START_AGAIN) from exc
    return read_id_token(token.get("id_token", ""), keys, metadata["issuer"], flow["nonce"])


def read_id_token(id_token: str, keys: dict[str, Any], issuer: str, nonce: str) -> VerifiedIdentity:
    """Verify the ID token's RS256 signature, issuer, audience, expiry and nonce; read the person."""
    try:
        decoded = jwt.decode(id_token, KeySet.import_key_set(keys), algorithms=["RS256"])
        jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": get_settings().idp_client_id},
            nonce={"essential": True, "value": nonce},
            exp={"essential": True},
            sub={"essential": True},
        ).validate(decoded.claims)
        claims = decoded.claims
        identity = VerifiedIdentity(
            name=str(claims["name"]).strip()[:80],
            birth_date=dt.date.fromisoformat(claims["birthdate"]),
            phone_number=str(claims["phone_number"])[:20],
            person_key=str(claims.get("ci") or claims["sub"]),
        )
    except (JoseError, KeyError, ValueError, TypeError) as exc:
        # The reason only: never the token, its claims or the person.
        log.warning("identity provider ID token refused: %s", type(exc).__name__)
        raise VerificationFailed(START_AGAIN) from exc
    if not identity.name or not identity.person_key:
        raise VerificationFailed(START_AGAIN)
    return identity


def person_key_hash(person_key: str) -> str:
    """The person key as stored: an HMAC under the portal's secret, so the table alone reveals no CI."""
    secret = get_settings().secret_key.encode()
    return hmac.new(secret, b"person-key:" + person_key.encode(), hashlib.sha256).hexdigest()


SECOND_ACCOUNT = (
    "This person has already verified another account. Each person may have only one account: "
    "log in to that one, or ask the city for help."
)


async def store_identity(user_id: int, identity: VerifiedIdentity) -> None:
    """Keep the verified identity on the account; a second account for the same person is refused."""
    digest = person_key_hash(identity.person_key)
    try:
        async with write_transaction():
            holder = await User.select(User.id).where(User.person_key_hash == digest).first()
            if holder is not None and holder["id"] != user_id:
                raise Conflict(SECOND_ACCOUNT)
            mine = await User.select(User.person_key_hash).where(User.id == user_id).first()
            if mine and mine["person_key_hash"] not in (None, digest):
                raise Conflict("This account is already verified as another person.")
            await User.update(
                {
                    User.verified_name: identity.name,
                    User.birth_date: identity.birth_date,
                    User.phone_number: identity.phone_number,
                    User.person_key_hash: digest,
                    User.identity_verified_at: clock.now(),
                }
            ).where(User.id == user_id)
            await audit.record("identity.verified", actor_id=user_id, subject=f"user:{user_id}", method="phone")
    except (sqlite3.IntegrityError, asyncpg.UniqueViolationError) as exc:
        # The unique index caught a race between two accounts of one person.
        raise Conflict(SECOND_ACCOUNT) from exc


async def identity_status(user_id: int) -> IdentityStatus:
    """The account's verification, for its own page (the phone shown by its last four digits)."""
    row = await User.select(
        User.verified_name, User.birth_date, User.phone_number, User.identity_verified_at
    ).where(User.id == user_id).first()
    if not row or row["identity_verified_at"] is None:
        return IdentityStatus(False, None, None, None, None)
    phone = row["phone_number"] or ""
    return IdentityStatus(True, row["verified_name"], row["birth_date"], phone[-4:] or None, row["identity_verified_at"])

