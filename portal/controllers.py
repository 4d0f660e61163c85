"""HTML pages for accounts: home, sign-up, login with TOTP, profile, password reset, officials' residency tools."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from portal import accounts, i18n, login, password_reset
from portal import notifications as notify
from portal.api import client_address
from portal.auth import (
    LANGUAGE_COOKIE,
    STAGE_ENROLL,
    STAGE_FULL,
    STAGE_TOTP,
    begin_session,
    end_session,
    login_stage_for,
    public,
    requires_admin,
    requires_login,
    requires_official,
    requires_pending_login,
)
from portal.errors import DomainError, TooManyAttempts
from portal.settings import get_settings
from portal.tables import ROLES, User
from portal.web.forms import form_errors, saved_or_shown_again
from portal.web.pages import back_to, context_of, current_user, page, safe_next, signed_in_user
from portal.web.signals import note_signal

FormData = URLEncodedBody[dict[str, str]]


class PublicPages(Controller):
    """Pages anyone can open."""

    @get("/", guards=[public])
    async def home(self, request: Request) -> Template:
        """What the portal is: participatory budgeting and the AI 50 Challenge."""
        return page(request, "home.html")

    @post("/language", guards=[public])
    async def switch_language(self, request: Request, data: FormData) -> Redirect:
        """Switch the language (kept on the account when signed in, in a cookie otherwise)."""
        language = data.get("language", "")
        if language not in i18n.LANGUAGES:
            language = i18n.DEFAULT_LANGUAGE
        user = current_user(request)
        if user:
            await accounts.set_language(user.id, language)
        response = back_to(safe_next(data.get("next")))
        response.cookies.append(
            Cookie(
                key=LANGUAGE_COOKIE, value=language, max_age=365 * 86400, samesite="lax", httponly=True,
                secure=get_settings().cookies_secure,
            )
        )
        return response


class AccountPages(Controller):
    """Sign-up, login, TOTP, logout and password reset."""

    @get("/register", guards=[public])
    async def register_form(self, request: Request) -> Template:
        return page(request, "auth/register.html")

    @post("/register", guards=[public])
    async def register(self, request: Request, data: FormData) -> Template | Redirect:
        """Create a citizen account, then ask the person to log in."""
        try:
            await accounts.register(
                accounts.Registration(
                    email=data.get("email", ""),
                    password=data.get("password", ""),
                    display_name=data.get("display_name", ""),
                    district_code=data.get("district_code") or None,
                    language=data.get("language", context_of(request).language),
                )
            )
        except DomainError as exc:
            form = {k: v for k, v in data.items() if "password" not in k}
            return page(request, "auth/register.html", status_code=exc.status_code, errors=form_errors(exc), form=form)
        note_signal("signup", request)
        request.session["flash"] = "Your account is ready. You can log in now."
        return back_to("/login")

    @get("/login", guards=[public])
    async def login_form(self, request: Request, next_: FromQuery[str | None] = None) -> Template:
        flash = request.session.pop("flash", None) if request.session else None
        return page(request, "auth/login.html", next=safe_next(next_, ""), flash=flash)

    @post("/login", guards=[public])
    async def login(self, request: Request, data: FormData) -> Template | Redirect:
        """Check the password; continue to the TOTP step or TOTP enrolment when needed."""
        target = safe_next(data.get("next"))
        try:
            row = await login.authenticate(data.get("email", ""), data.get("password", ""), client_address(request))
        except DomainError as exc:
            status = exc.status_code
            return page(
                request,
                "auth/login.html",
                status_code=status,
                errors=form_errors(exc),
                form={"email": data.get("email", "")[:254]},
                next=target,
                headers_retry=exc.retry_after if isinstance(exc, TooManyAttempts) else None,
            )
        stage = login_stage_for(row)
        begin_session(request.session, row, stage)
        request.session["next"] = target
        if stage == STAGE_TOTP:
            return back_to("/login/totp")
        if stage == STAGE_ENROLL:
            return back_to("/account/totp/setup")
        request.session.pop("next", None)
        return back_to(target)

    @get("/login/totp", guards=[requires_pending_login])
    async def totp_form(self, request: Request) -> Template:
        return page(request, "auth/totp.html")

    @post("/login/totp", guards=[requires_pending_login])
    async def totp(self, request: Request, data: FormData) -> Template | Redirect:
        """Second factor; the session id is rotated again once it passes."""
        ctx = context_of(request)
        if ctx.extra.get("stage") != STAGE_TOTP:
            return back_to("/")
        try:
            row = await login.verify_totp(ctx.pending_totp_user_id or 0, data.get("totp", ""), client_address(request))
        except DomainError as exc:
            return page(request, "auth/totp.html", status_code=exc.status_code, errors=form_errors(exc))
        target = request.session.get("next") or "/"
        begin_session(request.session, row, STAGE_FULL)
        return back_to(safe_next(target))

    @get("/account/totp/setup", guards=[requires_pending_login])
    async def totp_setup_form(self, request: Request) -> Template:
        """Enrolment: a fresh secret kept in the session until the first code proves the phone has it."""
        ctx = context_of(request)
        user_id = ctx.user.id if ctx.user else ctx.pending_totp_user_id
        row = await User.select(User.email).where(User.id == user_id).first()
        secret = request.session.get("totp_setup") or login.new_totp_secret()
        request.session["totp_setup"] = secret
        return page(
            request, "auth/totp_setup.html", secret=secret, qr=login.totp_qr_data_uri(secret, row["email"]),
            replacing=bool(ctx.user and ctx.user.totp_enabled),
        )

    @post("/account/totp/setup", guards=[requires_pending_login])
    async def totp_setup(self, request: Request, data: FormData) -> Template | Redirect:
        ctx = context_of(request)
        if ctx.user is None and ctx.extra.get("stage") != STAGE_ENROLL:
            raise NotAuthorizedException()
        user_id = ctx.user.id if ctx.user else ctx.pending_totp_user_id
        secret = request.session.get("totp_setup")
        if not secret or not user_id:
            return back_to("/account/totp/setup")
        try:
            await login.enable_totp(
                user_id, secret, data.get("totp", ""),
                current_code=data.get("current_totp", ""), address=client_address(request),
            )
        except DomainError as exc:
            row = await User.select(User.email).where(User.id == user_id).first()
            return page(
                request, "auth/totp_setup.html", status_code=exc.status_code, errors=form_errors(exc),
                secret=secret, qr=login.totp_qr_data_uri(secret, row["email"]),
                replacing=bool(ctx.user and ctx.user.totp_enabled),
            )
        request.session.pop("totp_setup", None)
        row = await User.select().where(User.id == user_id).first()
        target = request.session.get("next") or "/account"
        begin_session(request.session, row, STAGE_FULL)
        return back_to(safe_next(target))

    @post("/logout", guards=[public])
    async def logout(self, request: Request) -> Redirect:
        end_session(request.session)
        return back_to("/")

    @get("/password-reset", guards=[public])
    async def reset_request_form(self, request: Request) -> Template:
        return page(request, "auth/reset_request.html")

    @post("/password-reset", guards=[public])
    async def reset_request(self, request: Request, data: FormData) -> Template:
        """Always the same answer, whether or not the address has an account (rate-limited per address and client)."""
        try:
            await password_reset.request_password_reset(data.get("email", ""), client_address(request))
        except DomainError as exc:
            return page(
                request, "auth/reset_request.html", status_code=exc.status_code, errors=form_errors(exc),
                form={"email": data.get("email", "")[:254]},
                headers_retry=exc.retry_after if isinstance(exc, TooManyAttempts) else None,
            )
        return page(request, "auth/reset_request.html", sent=True)

    @get("/password-reset/{token:str}", guards=[public])
    async def reset_form(self, request: Request, token: FromPath[str]) -> Template:
        valid = await password_reset.reset_token_valid(token)
        return page(request, "auth/reset_confirm.html", token=token, valid=valid, status_code=200 if valid else 400)

    @post("/password-reset/{token:str}", guards=[public])
    async def reset(self, request: Request, token: FromPath[str], data: FormData) -> Template | Redirect:
        try:
            await password_reset.reset_password(token, data.get("password", ""))
        except DomainError as exc:
            return page(request, "auth/reset_confirm.html", status_code=exc.status_code, token=token, valid=True, errors=form_errors(exc))
        end_session(request.session)
        request.session["flash"] = "Your password was changed. Log in with the new one."
        return back_to("/login")


class ProfilePages(Controller):
    """The signed-in person's own account."""

    path = "/account"
    guards = [requires_login]

    async def _profile(self, request: Request, status_code: int = 200, **extra: Any) -> Template:
        user = signed_in_user(request)
        # The latest notices (the same page as /account/notifications shows first), in the reader's language.
        latest = await notify.notifications_page(user.id, context_of(request).language)
        notifications = latest.items
        flash = request.session.pop("flash", None)
        extra.setdefault("preferences", await notify.preferences_of(user.id))
        return page(
            request, "auth/profile.html", status_code=status_code, notifications=notifications, flash=flash,
            notification_kinds=notify.KINDS, **extra,
        )

    @get("/")
    async def profile(self, request: Request) -> Template:
        return await self._profile(request)

    @post("/")
    async def update_profile(self, request: Request, data: FormData) -> Template | Redirect:
        user = signed_in_user(request)
        saving = accounts.update_profile(
            user.id, data.get("display_name", ""), data.get("language", user.language), data.get("district_code") or None
        )
        return await saved_or_shown_again(request, saving, self._profile, flash="Your profile was saved.", then="/account")

    @post("/password")
    async def change_password(self, request: Request, data: FormData) -> Template | Redirect:
        """Change the password; other sessions end, this one continues on a new id."""
        user = signed_in_user(request)

        async def change() -> None:
            row = await accounts.change_password(user.id, data.get("current_password", ""), data.get("new_password", ""))
            begin_session(request.session, row, STAGE_FULL)

        return await saved_or_shown_again(request, change(), self._profile, flash="Your password was changed.", then="/account")

    @post("/totp/remove")
    async def remove_totp(self, request: Request, data: FormData) -> Template | Redirect:
        """Turn two-factor authentication off: needs the password and a current code."""
        user = signed_in_user(request)
        turning_off = login.disable_totp(
            user.id, data.get("off_password", ""), data.get("off_totp", ""), client_address(request)
        )
        return await saved_or_shown_again(
            request, turning_off, self._profile, flash="Two-factor authentication is off.", then="/account"
        )

    @post("/residency")
    async def claim_residency(self, request: Request, data: FormData) -> Template | Redirect:
        user = signed_in_user(request)
        return await saved_or_shown_again(
            request,
            accounts.claim_residency(user.id, data.get("identifier", "")[:64]),
            self._profile,
            flash="Your residency is verified. You can vote in your district.",
            then="/account",
        )

    @post("/notifications/read")
    async def mark_read(self, request: Request, data: FormData) -> Redirect:
        """Mark every notification as read."""
        user = signed_in_user(request)
        await notify.mark_read(user.id)
        return back_to(safe_next(data.get("next"), "/account"))

    @post("/notifications/settings")
    async def notification_settings(self, request: Request) -> Template | Redirect:
        """Which kinds of notice come in the portal and by mail, and whether mail comes at once or daily."""
        user = signed_in_user(request)
        form = await request.form()
        app_on, mail_on = ([str(v).replace("\x00", "") for v in form.getall(name, [])] for name in ("app", "mail"))
        mode = str(form.get("mail_mode") or "").replace("\x00", "")
        sent = notify.Preferences(
            frozenset(k.key for k in notify.KINDS if k.key not in app_on),
            frozenset(k.key for k in notify.KINDS if k.key not in mail_on),
            str(mode)[:20],
        )
        return await saved_or_shown_again(
            request,
            notify.save_preferences(user.id, app_on, mail_on, str(mode)),
            lambda *args, **kw: self._profile(*args, preferences=sent, **kw),
            flash="Your notification settings were saved.",
            then="/account#notification-settings",
        )


class OfficialAccountPages(Controller):
    """Residency verification and the resident register, for officials; roles for admins."""

    path = "/officials/accounts"
    guards = [requires_official]

    @get("/")
    async def accounts_list(self, request: Request, q: FromQuery[str | None] = None) -> Template:
        query = User.select(
            User.id, User.email, User.display_name, User.district_code, User.residency_verified, User.roles
        ).order_by(User.id, ascending=False).limit(100)
        if q:
            needle = f"%{q[:100]}%"
            query = query.where(User.email.ilike(needle) | User.display_name.ilike(needle))
        users = await query
        flash = request.session.pop("flash", None)
        return page(request, "officials/accounts.html", users=users, q=q or "", roles=ROLES, flash=flash)

    @post("/{user_id:int}/residency")
    async def set_residency(self, request: Request, user_id: FromPath[int], data: FormData) -> Redirect:
        official = signed_in_user(request)
        await accounts.set_residency(official.id, user_id, data.get("verified") == "1")
        return back_to("/officials/accounts")

    @post("/resident-register", request_max_body_size=5 * 1024 * 1024)
    async def import_register(self, request: Request) -> Template | Redirect:
        """Import the city's CSV of salted identifier hashes (``identifier_hash,district_code``)."""
        official = signed_in_user(request)
        form = await request.form()
        upload = form.get("file")
        text = ""
        if upload is not None and hasattr(upload, "read"):
            raw = await upload.read()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = "\x00"
        try:
            added, known = await accounts.import_resident_hashes(official.id, text)
        except DomainError as exc:
            users = await User.select(User.id, User.email, User.display_name, User.district_code, User.residency_verified, User.roles).limit(100)
            return page(request, "officials/accounts.html", status_code=exc.status_code, users=users, q="", roles=ROLES, errors=form_errors(exc))
        request.session["flash"] = i18n.gettext("Imported %(added)s residents (%(known)s already known).", added=added, known=known)
        return back_to("/officials/accounts")

    @post("/{user_id:int}/roles", guards=[requires_admin])
    async def set_roles(self, request: Request, user_id: FromPath[int]) -> Redirect:
        admin = signed_in_user(request)
        form = await request.form()
        await accounts.set_roles(admin.id, user_id, form.getall("roles", []))
        return back_to("/officials/accounts")


class OfficialHub(Controller):
    """The officials' start page: links to every domain's tools."""

    path = "/officials"
    guards = [requires_official]

    @get("/")
    async def hub(self, request: Request) -> Template:
        links = [("Accounts and residency", "/officials/accounts", "Verify residents, import the resident register, manage roles.")]
        links += list(request.app.state.official_links)
        return page(request, "officials/hub.html", links=links)
