"""The app factory: wires settings, database, sessions, CSRF, templates, i18n and every domain's routes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from portal import db, manifest
from portal.api import AuthApi, MeApi, healthz, read_amount
from portal.audit import audit_seal_loop
from portal.auth import RequestContextMiddleware
from portal.controllers import (
    AccountPages,
    OfficialAccountPages,
    OfficialHub,
    ProfilePages,
    PublicPages,
)
from portal.housekeeping import housekeeping_loop
from portal.identity_pages import IdentityPages
from portal.logs import install_log_hygiene
from portal.notification_mail import notification_mail_loop
from portal.notification_pages import FollowPages, NotificationPages
from portal.password_reset import password_reset_loop
from portal.sessions import DatabaseStore, session_config
from portal.settings import STATIC_DIR, get_settings
from portal.web.errors import EXCEPTION_HANDLERS
from portal.web.keep_typed import KeepTypedMiddleware
from portal.web.openapi import (
    ApiReferencePage,
    csrf_cookie_name,
    document_csrf,
    security_components,
)
from portal.web.pages import JINJA_ENV, add_security_headers, template_engine

log = logging.getLogger("hangang")

# The core's own loops; each domain adds its loops in its manifest.
CORE_BACKGROUND_TASKS = (housekeeping_loop, password_reset_loop, notification_mail_loop, audit_seal_loop)

DEFAULT_BODY_LIMIT = 256 * 1024  # upload routes raise their own limit (S16)


def background_tasks() -> list:
    """Every loop the server runs beside the requests: the core's, then each domain's."""
    return [*CORE_BACKGROUND_TASKS, *manifest.background_tasks()]


GC_YOUNG_THRESHOLD = 20_000  # allocations between collections of the young generation (Python's default: 700)


def tune_garbage_collector() -> None:
    """Collect the young generation less often: a request allocates thousands of short-lived objects,
    and Python's default ran a collection every 700 of them (bench/vote_day.py, docs/pb.md "Fourth
    round"). Cycles are still collected, in larger batches."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def create_app(*, run_background_tasks: bool = True) -> Litestar:
    """Build the portal application (uvicorn calls this with ``--factory``)."""
    settings = get_settings()
    settings.check_safe_for_production()
    install_log_hygiene()

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await db.start_pool()
        problems = await db.check_durability()
        if problems and settings.is_production:
            raise RuntimeError("Refusing to start: " + "; ".join(problems))
        for problem in problems:
            log.warning("durability: %s", problem)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(func(stop)) for func in (background_tasks() if run_background_tasks else [])]
        tune_garbage_collector()
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await db.close_pool()

    JINJA_ENV.globals.update(manifest.template_globals())
    official_links = [(link.label, link.path, link.description) for link in manifest.official_links()]
    sessions = session_config(secure=settings.cookies_secure, absolute_hours=settings.session_absolute_hours)
    app = Litestar(
        route_handlers=[
            PublicPages,
            ApiReferencePage,
            AccountPages,
            ProfilePages,
            OfficialAccountPages,
            AuthApi,
            MeApi,
            healthz,
            read_amount,
            create_static_files_router(path="/static", directories=[STATIC_DIR], guards=[], opt={"skip_session": True}),
            OfficialHub,
            IdentityPages,
            NotificationPages,
            FollowPages,
            *manifest.route_handlers(),
        ],
        middleware=[sessions.middleware, RequestContextMiddleware(), KeepTypedMiddleware()],
        stores={"sessions": DatabaseStore()},
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name=csrf_cookie_name(settings.cookies_secure),
            cookie_secure=settings.cookies_secure,
            cookie_samesite="lax",
            header_name="x-csrftoken",
            cookie_httponly=True,  # forms post the token; API clients read their own cookie jar
        ),
        template_config=TemplateConfig(instance=template_engine),
        openapi_config=OpenAPIConfig(
            title="Hangang Portal API",
            version="1.0.0",
            path="/schema",
            render_plugins=[JsonRenderPlugin(), YamlRenderPlugin()],
            components=security_components(settings.cookies_secure, sessions.key),
            description="Participatory budgeting and the AI 50 Challenge. Errors share one shape: "
            '`{"status_code", "detail", "errors": [{"field", "message"}]}` in the caller\'s language. '
            "Unsafe calls (POST, PUT, PATCH, DELETE) need the CSRF token: GET first, then send the "
            "`csrftoken` cookie back and its value in the `x-csrftoken` header (see the csrfHeader "
            "security scheme). A readable reference is served at /api-reference.",
        ),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        before_send=[add_security_headers],
        lifespan=[lifespan],
        state=State({"official_links": official_links}),
        request_max_body_size=DEFAULT_BODY_LIMIT,
        debug=settings.debug,
        logging_config=LoggingConfig(
            root={"level": "INFO", "handlers": ["queue_listener"]},
            log_exceptions="debug",
        ),
    )
    document_csrf(app)
    return app
