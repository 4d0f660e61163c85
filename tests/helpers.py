"""Small factories and a browser-like client shared by the integration tests."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp

from portal import clock

_counter = itertools.count(1)
DEFAULT_PASSWORD = "a long and quiet river walk at dawn"


def all_tables() -> list:
    """Every table of every registered Piccolo app."""
    from piccolo.conf.apps import Finder

    return Finder().get_table_classes()


@dataclass
class Account:
    id: int
    email: str
    password: str
    roles: list[str]
    totp_secret: str | None = None
    district: str | None = None

    def totp_now(self) -> str:
        assert self.totp_secret
        return pyotp.TOTP(self.totp_secret).at(clock.now())


class UserFactory:
    async def create(
        self,
        roles: list[str] | None = None,
        *,
        district: str | None = "11680",
        verified: bool = False,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        language: str = "en",
    ) -> Account:
        from portal import accounts
        from portal.tables import PRIVILEGED_ROLES

        roles = roles or ["citizen"]
        email = email or f"user{next(_counter)}@example.kr"
        secret = pyotp.random_base32() if set(roles) & set(PRIVILEGED_ROLES) else None
        user_id = await accounts.create_user(
            email, password, roles, district_code=district, verified=verified, totp_secret=secret,
            language=language, check_password=False,
        )
        return Account(user_id, email, password, roles, secret, district)


class PortalClient(httpx.AsyncClient):
    """An httpx client on the app's ASGI interface that handles CSRF like a browser does."""

    account: Account | None = None

    @classmethod
    def for_app(cls, app) -> PortalClient:
        # Tests read English messages unless they ask for Korean (the portal's default is Korean).
        return cls(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            follow_redirects=False,
            headers={"accept-language": "en"},
        )

    async def csrf_token(self) -> str:
        token = self.cookies.get("csrftoken")
        if not token:
            await self.get("/healthz")
            token = self.cookies.get("csrftoken")
        assert token, "the app did not set a CSRF cookie"
        return token

    async def post_form(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        data = dict(data or {})
        data.setdefault("_csrf_token", await self.csrf_token())
        return await self.post(url, data=data, **kwargs)

    async def send_json(self, method: str, url: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        headers = {"x-csrftoken": await self.csrf_token(), **kwargs.pop("headers", {})}
        return await self.request(method, url, json=body, headers=headers, **kwargs)

    async def login(self, account: Account) -> None:
        """Log in through the JSON API (with a TOTP code for privileged accounts)."""
        body: dict[str, Any] = {"email": account.email, "password": account.password}
        if account.totp_secret:
            clock.advance(dt.timedelta(seconds=31))  # a fresh time step: codes are single-use
            body["totp"] = account.totp_now()
        response = await self.send_json("POST", "/api/v1/auth/login", body)
        assert response.status_code == 200, response.text
        self.account = account


def field_error(response: httpx.Response) -> str:
    """The first per-field error message of an HTML form page or JSON body."""
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        return (body.get("errors") or [{}])[0].get("message", body.get("detail", ""))
    match = re.search(r'class="error"[^>]*>([^<]+)<', response.text)
    return match.group(1) if match else ""


def use_production_settings(monkeypatch) -> None:
    """Settings that pass production's start checks (the caller clears ``get_settings``'s cache after)."""
    from portal.settings import get_settings

    monkeypatch.setenv("HANGANG_ENV", "production")
    monkeypatch.setenv("HANGANG_BASE_URL", "https://portal.example.kr")
    monkeypatch.setenv("HANGANG_AUDIT_KEY", "an-audit-key-for-the-production-test-0123456789")
    monkeypatch.setenv("HANGANG_SMTP_HOST", "127.0.0.1")
    get_settings.cache_clear()
