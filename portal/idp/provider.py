"""The simulator's OpenID Connect provider on Authlib: one registered client, codes in memory, RS256 ID tokens.

Authlib does the protocol (authorization code grant, PKCE S256 with ``CodeChallenge(required=True)``,
nonce and ID token with ``OpenIDCode``); this module gives it the client, the codes, the person and a
Litestar adapter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import RSAKey

CODE_LIFETIME = 300  # seconds; RFC 6749 recommends at most 10 minutes
SCOPES = "openid profile phone"
# Stable across restarts, so the same person always gets the same key (as Korea's CI is stable).
PERSON_KEY_SALT = b"hangang-idp-sim person key v1"


@dataclass(frozen=True)
class Person:
    """The simulated person who verifies on the phone."""

    name: str
    birthdate: str  # YYYY-MM-DD
    phone_number: str  # E.164, e.g. +821012345678

    @property
    def person_key(self) -> str:
        """A stable key like Korea's CI (연계정보): the same for the same name, birth date and phone."""
        text = unicodedata.normalize("NFC", f"{self.name.strip()}|{self.birthdate}|{self.phone_number}")
        digest = hmac.new(PERSON_KEY_SALT, text.encode(), hashlib.sha512).digest()
        return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class RegisteredClient(ClientMixin):
    """The portal, as the provider knows it."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set(SCOPES.split())
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class IssuedCode(AuthorizationCodeMixin):
    """An authorization code waiting for its token request."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    person: Person
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> list[str]:
        return ["sms"]

    def is_expired(self) -> bool:
        return time.time() > self.auth_time + CODE_LIFETIME


class SimRequest(OAuth2Request):
    """An already-read HTTP request in Authlib's shape (Litestar reads bodies asynchronously)."""

    def __init__(self, method: str, uri: str, headers: Mapping[str, str], data: dict[str, str]) -> None:
        super().__init__(method, uri, headers=headers)
        self.payload = BasicOAuth2Payload(data)
        self._values = data

    @property
    def args(self) -> dict[str, str]:
        return self._values

    @property
    def form(self) -> dict[str, str]:
        return self._values


class CodeGrant(AuthorizationCodeGrant):
    """Codes live in the provider's memory, are used once and expire."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.server.codes.put(
            IssuedCode(
                code=code,
                client_id=request.client.get_client_id(),
                redirect_uri=data.get("redirect_uri", ""),
                scope=request.client.get_allowed_scope(data.get("scope", "")),
                person=request.user,
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
            )
        )

    def query_authorization_code(self, code: str, client: ClientMixin) -> IssuedCode | None:
        issued = self.server.codes.get(code)
        if issued and issued.client_id == client.get_client_id() and not issued.is_expired():
            return issued
        return None

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        self.server.codes.pop(authorization_code.code)

    def authenticate_user(self, authorization_code: IssuedCode) -> Person:
        return authorization_code.person


class PersonIdToken(OpenIDCode):
    """The ID token: RS256 under the provider's key, with name, birth date, phone and person key."""

    def __init__(self, server: SimProvider) -> None:
        super().__init__(require_nonce=True)
        self.provider = server

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return self.provider.codes.has_nonce(nonce)

    def resolve_client_private_key(self, client: ClientMixin) -> RSAKey:
        return self.provider.key

    def get_client_algorithm(self, client: ClientMixin) -> str:
        return "RS256"

    def get_encode_header(self, client: ClientMixin) -> dict[str, str]:
        return {"alg": "RS256", "kid": self.provider.key.kid, "typ": "JWT"}

    def get_client_claims(self, client: ClientMixin) -> dict[str, Any]:
        return {"iss": self.provider.issuer, "aud": [client.get_client_id()]}

    def generate_user_info(self, user: Person, scope: str) -> UserInfo:
        key = user.person_key
        return UserInfo(
            sub=key,
            ci=key,
            name=user.name,
            birthdate=user.birthdate,
            phone_number=user.phone_number,
            phone_number_verified=True,
        )


class CodeStore:
    """Issued codes, shared by uvicorn's threads."""

    def __init__(self) -> None:
        self._codes: dict[str, IssuedCode] = {}
        self._lock = threading.Lock()

    def put(self, issued: IssuedCode) -> None:
        with self._lock:
            self._codes = {c: i for c, i in self._codes.items() if not i.is_expired()}
            self._codes[issued.code] = issued

    def get(self, code: str) -> IssuedCode | None:
        with self._lock:
            return self._codes.get(code)

    def pop(self, code: str) -> None:
        with self._lock:
            self._codes.pop(code, None)

    def has_nonce(self, nonce: str) -> bool:
        with self._lock:
            return any(i.nonce == nonce for i in self._codes.values())


class SimProvider(AuthorizationServer):
    """Authlib's authorization server for one client, answering through the caller's adapter."""

    def __init__(self, issuer: str, client: RegisteredClient, key: RSAKey | None = None) -> None:
        super().__init__(scopes_supported=SCOPES.split())
        self.issuer = issuer.rstrip("/")
        self.client = client
        self.key = key or RSAKey.generate_key(2048, parameters={"kid": secrets.token_urlsafe(8)})
        self.codes = CodeStore()
        self.register_token_generator(
            "default", BearerTokenGenerator(lambda **_: secrets.token_urlsafe(32))
        )
        self.register_grant(CodeGrant, [CodeChallenge(required=True), PersonIdToken(self)])

    def query_client(self, client_id: str) -> RegisteredClient | None:
        return self.client if client_id == self.client.client_id else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Access tokens are not kept: the simulator has no userinfo endpoint; the ID token says it all."""

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, dict[str, str]]:
        return status, body, dict(headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No listeners in the simulator."""

    def discovery(self) -> dict[str, Any]:
        """The OpenID Provider metadata (``/.well-known/openid-configuration``)."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks.json",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": SCOPES.split(),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "ci", "name", "birthdate", "phone_number", "phone_number_verified", "nonce"],
        }

    def jwks(self) -> dict[str, Any]:
        """The public keys (``/jwks.json``)."""
        public = self.key.as_dict(private=False)
        return {"keys": [{**public, "use": "sig", "alg": "RS256"}]}
