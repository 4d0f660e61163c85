"""The account JSON API under ``/api/v1`` and the health check."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromQuery, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from portal import accounts, db, i18n, login, money
from portal.auth import (
    STAGE_FULL,
    begin_session,
    end_session,
    login_stage_for,
    public,
    requires_login,
    to_current_user,
)
from portal.errors import NotAllowed, Unauthenticated
from portal.identity import CurrentUser
from portal.schemas import (
    AmountRead,
    Health,
    LoginRequest,
    RegisterRequest,
    RegisterResponse,
    UserRead,
)
from portal.web import forms
from portal.web.openapi import ERRORS
from portal.web.pages import signed_in_user
from portal.web.signals import note_signal


def user_read(user: CurrentUser) -> UserRead:
    return UserRead(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        roles=sorted(user.roles),
        language=user.language,
        district_code=user.district_code,
        residency_verified=user.residency_verified,
        totp_enabled=user.totp_enabled,
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class AuthApi(Controller):
    """Register, log in and out with JSON."""

    path = "/api/v1/auth"
    tags = ["accounts"]

    @post("/register", guards=[public], status_code=HTTP_201_CREATED, responses=ERRORS)
    async def register(self, request: Request, data: JSONBody[RegisterRequest]) -> RegisterResponse:
        """Create a citizen account. A taken email gets the same answer (no enumeration)."""
        await accounts.register(
            accounts.Registration(
                email=data.email,
                password=data.password,
                display_name=data.display_name,
                district_code=data.district_code,
                language=data.language,
            )
        )
        note_signal("signup", request)
        return RegisterResponse(message=i18n.gettext("Your account is ready. You can log in now."))

    @post("/login", guards=[public], status_code=200, responses=ERRORS)
    async def login(self, request: Request, data: JSONBody[LoginRequest]) -> UserRead:
        """Log in with email, password and (for judges, officials and admins) the TOTP code."""
        row = await login.authenticate(data.email, data.password, client_address(request))
        stage = login_stage_for(row)
        if stage == "enroll":
            raise NotAllowed("Set up two-factor authentication on the website first.")
        if stage == "totp":
            if not data.totp:
                raise Unauthenticated("Enter the 6-digit code from your authenticator app.")
            row = await login.verify_totp(row["id"], data.totp, client_address(request))
        begin_session(request.session, row, STAGE_FULL)
        return user_read(to_current_user(row))

    @post("/logout", guards=[requires_login], status_code=HTTP_204_NO_CONTENT)
    async def logout(self, request: Request) -> None:
        """End this session."""
        end_session(request.session)


class MeApi(Controller):
    path = "/api/v1/me"
    tags = ["accounts"]

    @get("/", guards=[requires_login], responses=ERRORS)
    async def me(self, request: Request) -> UserRead:
        """The signed-in account (401 when anonymous)."""
        user = signed_in_user(request)
        return user_read(user)


@get("/api/v1/amounts/krw", guards=[public], tags=["operations"], responses=ERRORS, opt={"skip_session": True})
async def read_amount(text: FromQuery[str]) -> AmountRead:
    """What a typed KRW amount ("2억 5천만", "250,000,000원", "２억") reads as; 422 when it is not one.

    KRW form fields call this as the user types to say what the server will read.
    """
    amount = forms.krw_from_form(text, "text") or 0  # never None: the field is not optional
    return AmountRead(
        amount=amount, shown=money.krw_text(amount), exact=money.exact_krw(amount), echo=money.echo_text(amount)
    )


@get("/healthz", guards=[public], tags=["operations"], opt={"skip_session": True})
async def healthz(state: State) -> Response[Health]:
    """200 when the database answers, 503 otherwise."""
    reachable = await db.ping()
    return Response(Health(status="ok" if reachable else "degraded", database=reachable), status_code=200 if reachable else 503)
