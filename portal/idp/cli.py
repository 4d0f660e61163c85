"""The ``hangang idp-sim`` command: serve the reference identity provider."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``idp-sim`` to the ``hangang`` parser."""
    sim = subparsers.add_parser(
        "idp-sim",
        help="run the reference identity provider (phone verification)",
        description="Run the reference OpenID Connect provider that simulates phone verification "
        "(docs/identity.md). Its one client is the portal: HANGANG_IDP_CLIENT_ID and "
        "HANGANG_IDP_CLIENT_SECRET (in development the secret kept under HANGANG_VAR_DIR), "
        "redirecting to HANGANG_BASE_URL/account/identity/callback.",
    )
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8950)
    sim.add_argument("--issuer", help="the issuer URL the portal reaches (default http://HOST:PORT)")
    sim.add_argument("--faults", action="store_true", help="enable the fault knobs (POST /_faults) off loopback too")
    sim.set_defaults(handler=run_idp_sim)


def run_idp_sim(args: argparse.Namespace) -> int:
    """Serve the simulator until interrupted."""
    import uvicorn

    from portal.connector.city_sim.app import is_loopback
    from portal.idp.app import create_idp_app
    from portal.idp.provider import RegisteredClient
    from portal.settings import get_settings

    if not 0 < args.port < 65536:
        print("error: --port must be between 1 and 65535", file=sys.stderr)
        return 2
    settings = get_settings()
    if not settings.idp_client_secret:
        print("error: HANGANG_IDP_CLIENT_SECRET is not set", file=sys.stderr)
        return 2
    issuer = (args.issuer or f"http://{args.host}:{args.port}").rstrip("/")
    client = RegisteredClient(
        settings.idp_client_id, settings.idp_client_secret, (f"{settings.base_url}/account/identity/callback",)
    )
    faults_enabled = args.faults or is_loopback(args.host)
    app = create_idp_app(issuer, client, faults_enabled=faults_enabled)
    print(
        f"idp-sim on {issuer} (client {client.client_id}, redirect {client.redirect_uris[0]}, "
        f"fault knobs {'on' if faults_enabled else 'off'})",
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0
