"""The identity provider simulator's Litestar app: discovery, JWKS, the person page, the token endpoint, the knobs."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
import re
from typing import Any

from authlib.oauth2 import OAuth2Error
from litestar import Litestar, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, URLEncodedBody

from portal.idp.faults import FaultState, IdpFaults, spoil_id_token
from portal.idp.provider import Person, RegisteredClient, SimProvider, SimRequest

PERSON_FIELDS = ("name", "birthdate", "phone")
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


def _provider(request: Request) -> SimProvider:
    return request.app.state["provider"]


def _faults(request: Request) -> FaultState:
    return request.app.state["faults"]


def _as_response(answer: tuple[int, Any, dict[str, str]]) -> Response:
    status, body, headers = answer
    if isinstance(body, dict):
        return Response(json.dumps(body), status_code=status, headers={**headers, **NO_STORE}, media_type="application/json")
    return Response(body or "", status_code=status, headers=headers, media_type="text/plain")


def _oauth_request(request: Request, data: dict[str, str]) -> SimRequest:
    return SimRequest(request.method, str(request.url), request.headers, data)


def _error_answer(provider: SimProvider, oauth_request: SimRequest, error: OAuth2Error) -> Response:
    """Redirect the error to the client when its redirect URI is known, else show it here."""
    if error.redirect_uri:
        return _as_response(provider.handle_error_response(oauth_request, error))
    return Response(
        _page("Request refused / 요청 거부", f"<p>{html.escape(error.error)}: {html.escape(error.description or '')}</p>"),
        status_code=400,
        media_type="text/html",
    )


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def person_page(params: dict[str, str], values: dict[str, str], errors: dict[str, str]) -> str:
    """The simulated phone check: the person types who they are, as a carrier's check would confirm."""
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k not in PERSON_FIELDS and k != "decision"
    )
    labels = {"name": "Name / 이름", "birthdate": "Birth date / 생년월일 (YYYY-MM-DD)", "phone": "Mobile phone / 휴대전화"}
    fields = "".join(
        f'<p><label for="{f}">{labels[f]}</label><br>'
        f'<input id="{f}" name="{f}" value="{html.escape(values.get(f, ""))}" maxlength="40">'
        + (f' <strong role="alert" id="{f}-error">{html.escape(errors[f])}</strong>' if f in errors else "")
        + "</p>"
        for f in PERSON_FIELDS
    )
    body = (
        "<p>Hangang identity provider simulator: the person is whoever you type. / 휴대전화 본인확인 시뮬레이터</p>"
        f'<form method="post" action="/authorize">{hidden}{fields}'
        '<button type="submit" name="decision" value="allow">Verify / 인증</button> '
        '<button type="submit" name="decision" value="deny">Cancel / 취소</button></form>'
    )
    return _page("Phone verification / 휴대전화 본인확인", body)


def read_person(values: dict[str, str], today: dt.date) -> tuple[Person | None, dict[str, str]]:
    """The person typed on the page, or the problems with it."""
    errors: dict[str, str] = {}
    name = values.get("name", "").strip()
    if not 1 <= len(name) <= 40:
        errors["name"] = "Enter a name of 1 to 40 characters."
    try:
        birth = dt.date.fromisoformat(values.get("birthdate", "").strip())
        if not dt.date(1900, 1, 1) <= birth <= today:
            raise ValueError
    except ValueError:
        errors["birthdate"] = "Enter a birth date as YYYY-MM-DD, not in the future."
    digits = re.sub(r"[\s-]", "", values.get("phone", ""))
    if digits.startswith("+82"):
        digits = "0" + digits[3:]
    if not re.fullmatch(r"01[016789]\d{7,8}", digits):
        errors["phone"] = "Enter a Korean mobile number such as 010-1234-5678."
    if errors:
        return None, errors
    return Person(name=name, birthdate=birth.isoformat(), phone_number="+82" + digits[1:]), {}


@get("/.well-known/openid-configuration", sync_to_thread=False)
def discovery(request: Request) -> dict[str, Any]:
    return _provider(request).discovery()


@get("/jwks.json", sync_to_thread=False)
def jwks(request: Request) -> dict[str, Any]:
    return _provider(request).jwks()


@get("/authorize", sync_to_thread=False)
def authorize_page(request: Request) -> Response:
    """Check the client's request (client, redirect URI, PKCE, nonce), then ask who the person is."""
    provider = _provider(request)
    params = dict(request.query_params)
    oauth_request = _oauth_request(request, params)
    try:
        provider.get_consent_grant(oauth_request)
    except OAuth2Error as error:
        return _error_answer(provider, oauth_request, error)
    return Response(person_page(params, {}, {}), media_type="text/html", headers=NO_STORE)


@post("/authorize")
async def authorize(request: Request, data: URLEncodedBody[dict[str, str]]) -> Response:
    """Issue a code for the typed person (or refuse, by choice or by fault) and send them back."""
    provider = _provider(request)
    oauth_request = _oauth_request(request, data)
    try:
        grant = provider.get_consent_grant(oauth_request)
    except OAuth2Error as error:
        return _error_answer(provider, oauth_request, error)
    person = None
    if data.get("decision") != "deny" and not _faults(request).take("refuse_next"):
        person, errors = read_person(data, dt.date.today())
        if person is None:
            return Response(person_page(data, data, errors), status_code=400, media_type="text/html")
    try:
        return _as_response(provider.create_authorization_response(oauth_request, grant_user=person, grant=grant))
    except OAuth2Error as error:
        return _error_answer(provider, oauth_request, error)


@post("/token")
async def token(request: Request, data: URLEncodedBody[dict[str, str]]) -> Response:
    """Exchange a code (with its PKCE verifier and the client's secret) for an ID token."""
    faults = _faults(request)
    if faults.knobs.delay:
        await asyncio.sleep(faults.knobs.delay)
    if faults.take("fail_next"):
        return Response({"error": "temporarily_unavailable"}, status_code=503, headers=NO_STORE)
    provider = _provider(request)
    status, body, headers = provider.create_token_response(_oauth_request(request, data))
    if status == 200 and isinstance(body, dict) and "id_token" in body:
        body["id_token"] = spoil_id_token(body["id_token"], faults, provider.key)
    return _as_response((status, body, headers))


@post("/_faults", status_code=204)
async def set_faults(request: Request, data: JSONBody[IdpFaults]) -> None:
    """Set the fault knobs (loopback or ``--faults`` only)."""
    _faults(request).configure(data)


@delete("/_faults", status_code=204)
async def clear_faults(request: Request) -> None:
    _faults(request).configure(IdpFaults())


def create_idp_app(issuer: str, client: RegisteredClient, faults_enabled: bool = False) -> Litestar:
    """Build the simulator for one registered client (the portal)."""
    handlers: list[Any] = [discovery, jwks, authorize_page, authorize, token]
    if faults_enabled:
        handlers += [set_faults, clear_faults]
    return Litestar(
        route_handlers=handlers,
        state=State({"provider": SimProvider(issuer, client), "faults": FaultState()}),
        openapi_config=None,
    )
