"""The OpenAPI document's security (CSRF on unsafe calls) and a self-hosted API reference page.

The reference page is rendered on the server from the same OpenAPI document that
``/schema/openapi.json`` serves: no CDN, no script and no inline style, so it passes the portal's
strict Content-Security-Policy (Litestar's Swagger/ReDoc/Scalar plugins load JavaScript from CDNs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Controller, Litestar, Request, get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme
from litestar.response import Template
from litestar.routes import HTTPRoute

from portal.auth import public
from portal.schemas import ErrorResponse
from portal.web.pages import page

API_PREFIXES = ("/api/", "/healthz")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "x-csrftoken"
CSRF_REQUIREMENT = {"csrfHeader": [], "csrfCookie": []}  # both: the header must match the cookie


def csrf_cookie_name(secure: bool) -> str:
    """The CSRF cookie: ``__Host-`` prefixed when cookies are Secure (production)."""
    return "__Host-csrftoken" if secure else "csrftoken"


def security_components(secure: bool, session_cookie: str) -> Components:
    """The security schemes every unsafe call refers to, and the session cookie."""
    cookie = csrf_cookie_name(secure)
    return Components(
        security_schemes={
            "csrfHeader": SecurityScheme(
                type="apiKey",
                name=CSRF_HEADER,
                security_scheme_in="header",
                description=(
                    "Every unsafe call (POST, PUT, PATCH, DELETE) needs the CSRF token. GET any page or"
                    f" API path first: the response sets the `{cookie}` cookie. Send that cookie back"
                    f" and its value in the `{CSRF_HEADER}` header. HTML forms send it as the"
                    " `_csrf_token` field instead. A missing or wrong token is refused with 403."
                ),
            ),
            "csrfCookie": SecurityScheme(
                type="apiKey",
                name=cookie,
                security_scheme_in="cookie",
                description="The CSRF cookie set on safe (GET) responses; sent back with unsafe calls.",
            ),
            "sessionCookie": SecurityScheme(
                type="apiKey",
                name=session_cookie,
                security_scheme_in="cookie",
                description=(
                    "The session, set by `POST /api/v1/auth/login` (and the login pages). Which calls"
                    " need which role is said in each call's description and its 401/403 replies."
                ),
            ),
        }
    )


def document_csrf(app: Litestar) -> None:
    """Mark every unsafe operation of ``app`` as needing the CSRF header and cookie.

    Set on this app's own copies of the route handlers (Litestar copies them per app), before the
    OpenAPI document is first built.
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if isinstance(handler, HTTPRouteHandler) and handler.http_methods & UNSAFE_METHODS:
                handler.security = [CSRF_REQUIREMENT]


# ---------------------------------------------------------------- the reference page


@dataclass
class Parameter:
    name: str
    location: str
    required: bool
    type: str
    description: str


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    description: str
    anchor: str
    parameters: list[Parameter] = field(default_factory=list)
    body: str = ""
    responses: list[tuple[str, str]] = field(default_factory=list)
    needs_csrf: bool = False

    @property
    def path_parts(self) -> list[str]:
        """The path cut after each "/", so a long path can wrap on a phone."""
        return [part for part in self.path.replace("/", "/\n").split("\n") if part]


def _type_of(schema: dict[str, Any]) -> str:
    """A short readable type: ``integer``, ``string (date-time)``, ``UserRead``, ``array of X``."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "oneOf" in schema or "anyOf" in schema:
        return " | ".join(_type_of(s) for s in schema.get("oneOf") or schema.get("anyOf"))
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = " | ".join(kind)
    if kind == "array":
        return f"array of {_type_of(schema.get('items', {}))}"
    if schema.get("format"):
        return f"{kind} ({schema['format']})"
    return str(kind)


def reference_of(document: dict[str, Any]) -> dict[str, Any]:
    """The view of an OpenAPI document the reference page shows: operations by tag, then schemas."""
    by_tag: dict[str, list[Operation]] = {}
    for path, item in sorted(document.get("paths", {}).items()):
        if not path.startswith(API_PREFIXES):
            continue  # the HTML pages are in the document too, but people read them in a browser
        for method in ("get", "post", "put", "patch", "delete"):
            spec = item.get(method)
            if spec is None:
                continue
            body = spec.get("requestBody", {}).get("content", {})
            body_schema = next(iter(body.values()), {}).get("schema", {}) if body else {}
            operation = Operation(
                method=method.upper(),
                path=path,
                summary=spec.get("summary", ""),
                description=spec.get("description", ""),
                anchor=f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
                parameters=[
                    Parameter(
                        p.get("name", ""),
                        p.get("in", ""),
                        bool(p.get("required")),
                        _type_of(p.get("schema", {})),
                        p.get("description", ""),
                    )
                    for p in spec.get("parameters", [])
                ],
                body=_type_of(body_schema) if body else "",
                responses=[
                    (code, reply.get("description", ""))
                    for code, reply in sorted(spec.get("responses", {}).items())
                ],
                needs_csrf=CSRF_REQUIREMENT in spec.get("security", []),
            )
            by_tag.setdefault((spec.get("tags") or ["other"])[0], []).append(operation)
    schemas = {
        name: [
            (prop, _type_of(sub), prop in schema.get("required", []))
            for prop, sub in schema.get("properties", {}).items()
        ]
        for name, schema in sorted(document.get("components", {}).get("schemas", {}).items())
    }
    return {
        "info": document.get("info", {}),
        "tags": sorted(by_tag.items()),
        "schemas": schemas,
        "security": document.get("components", {}).get("securitySchemes", {}),
    }


class ApiReferencePage(Controller):
    """The API reference, rendered from the OpenAPI document (works under the strict CSP)."""

    path = "/api-reference"
    include_in_schema = False

    @get("/", guards=[public])
    async def reference(self, request: Request) -> Template:
        """Every API call with its parameters, body, replies and CSRF needs; then the schemas."""
        state = request.app.state
        if "api_reference" not in state:  # the document never changes while the app runs
            state["api_reference"] = reference_of(request.app.openapi_schema.to_schema())
        return page(request, "api_reference.html", reference=state["api_reference"])


# The one map of error replies every /api/v1 operation documents (add codes per operation with `|`).
ERRORS = {
    400: ResponseSpec(data_container=ErrorResponse, description="Malformed request or a field is not valid"),
    401: ResponseSpec(data_container=ErrorResponse, description="Not signed in, or wrong credentials"),
    403: ResponseSpec(data_container=ErrorResponse, description="Signed in but not allowed"),
    422: ResponseSpec(data_container=ErrorResponse, description="A rule was broken; see errors"),
    429: ResponseSpec(data_container=ErrorResponse, description="Too many attempts; see Retry-After"),
}
