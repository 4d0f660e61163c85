"""Connector subcommands: ``city-sim``, ``push`` and ``verify-export``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the connector's subcommands to the ``hangang`` parser."""
    sim = subparsers.add_parser(
        "city-sim",
        help="run the reference city budget server",
        description="Run the reference city budget adapter (contract v1). "
        "The shared secret comes from HANGANG_CITY_BUDGET_SECRET.",
    )
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8900)
    sim.add_argument(
        "--data", type=Path, default=Path("city-sim.sqlite3"), help="SQLite file of the city ledger"
    )
    sim.add_argument(
        "--envelopes", type=Path, help='JSON file {"2027": [{district_code, name, amount}]}'
    )
    sim.add_argument(
        "--faults",
        action="store_true",
        help="enable the fault knobs (POST /_faults) off loopback too",
    )
    sim.set_defaults(handler=run_city_sim)

    push = subparsers.add_parser("push", help="deliver due batches to the city budget system")
    push.add_argument(
        "--once", action="store_true", help="deliver what is due, then exit (for cron)"
    )
    push.add_argument(
        "--interval", type=float, default=5.0, help="seconds between rounds when looping"
    )
    push.set_defaults(handler=run_push)

    connector = subparsers.add_parser(
        "connector", help="pull data from the city budget system", description="Pulls from the city budget system."
    )
    pulls = connector.add_subparsers(dest="connector_command", metavar="COMMAND", required=True)
    pull = pulls.add_parser(
        "pull-executions",
        help="pull how funded PB projects are carried out (GET /v1/executions)",
        description="Fetch the fiscal year's executions from the city budget system and apply them to the "
        "funded projects they name (status, milestones, payments). Pulling again changes nothing new; rows "
        "that cannot apply are listed. Exit code 1 when some rows were not applied, 2 when the city failed.",
    )
    pull.add_argument("--fiscal-year", type=int, required=True)
    pull.add_argument("--json", action="store_true", help="print the report as JSON")
    pull.set_defaults(handler=run_pull_executions)

    sim.add_argument(
        "--executions", type=Path, help='JSON file {"2026": [{project_code, status, milestones, payments}]}'
    )

    verify = subparsers.add_parser(
        "verify-export",
        help="check a signed export bundle",
        description="Check a bundle's manifest signature and file hashes. The HMAC key is the one "
        "the portal signed with: --key, else HANGANG_CITY_BUDGET_SECRET, else (development) the "
        "key kept in $HANGANG_VAR_DIR/city_budget_secret. No key is ever created.",
    )
    verify.add_argument("bundle", type=Path, help="export folder or .zip")
    verify.add_argument(
        "--key",
        help="the signing secret (whsec_...); '-' reads it from stdin, out of the process list",
    )
    verify.set_defaults(handler=run_verify_export)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run_city_sim(args: argparse.Namespace) -> int:
    """Serve the reference city server until interrupted."""
    import uvicorn

    from portal.connector import signing
    from portal.connector.city_sim.app import create_city_app, create_city_asgi, is_loopback
    from portal.connector.city_sim.envelopes import load_envelopes
    from portal.connector.city_sim.executions import load_executions

    try:
        # Through the portal's settings: in development both share the secret kept under var/.
        from portal.settings import get_settings

        keys = signing.parse_secrets(get_settings().city_budget_secret)
    except signing.SigningError as exc:
        return _fail(f"HANGANG_CITY_BUDGET_SECRET: {exc}")
    if not 0 < args.port < 65536:
        return _fail("--port must be between 1 and 65535")
    try:
        envelopes = load_envelopes(args.envelopes) if args.envelopes else {}
        executions = load_executions(args.executions) if args.executions else {}
    except ValueError as exc:
        return _fail(str(exc))
    faults_enabled = args.faults or is_loopback(args.host)
    app = create_city_app(
        keys, args.data, envelopes=envelopes, faults_enabled=faults_enabled, executions=executions
    )
    print(
        f"city-sim on http://{args.host}:{args.port} (ledger {args.data}, "
        f"fault knobs {'on' if faults_enabled else 'off'}, OpenAPI at /schema)",
        flush=True,
    )
    uvicorn.run(create_city_asgi(app), host=args.host, port=args.port, log_level="info")
    return 0


def run_pull_executions(args: argparse.Namespace) -> int:
    """Pull one fiscal year's executions and print what changed."""
    import asyncio

    from portal.connector.executions import pull_executions, report_json
    from portal.connector.retries import CityError

    if not 2000 <= args.fiscal_year <= 2100:
        return _fail("--fiscal-year must be between 2000 and 2100")

    async def pull() -> int:
        from portal import db
        from portal.connector.client import close_shared_http_client

        await db.start_pool()
        try:
            report = await pull_executions(args.fiscal_year)
        except (CityError, ValueError) as exc:
            return _fail(str(exc))
        finally:
            await close_shared_http_client()
            await db.close_pool()
        print(report_json(report).decode() if args.json else report.summary(), flush=True)
        return 1 if report.problems else 0

    return asyncio.run(pull())


def run_push(args: argparse.Namespace) -> int:
    """Deliver due outbox batches once, or keep delivering until interrupted."""
    from portal.connector.worker import run_push_command

    return run_push_command(once=args.once, interval=args.interval)


NO_KEY = (
    "no key to check the signature with: pass --key whsec_... (or --key - to read it from stdin),"
    " or set HANGANG_CITY_BUDGET_SECRET to the key the portal signed with"
)


def verification_secret(key_option: str | None) -> tuple[str, str]:
    """The signing secret and where it came from; ("", "") when there is none. Creates nothing."""
    import os

    from portal.settings import existing_development_secret

    if key_option == "-":
        return sys.stdin.readline().strip(), "stdin"
    if key_option:
        return key_option.strip(), "--key"
    if os.environ.get("HANGANG_CITY_BUDGET_SECRET", "").strip():
        return os.environ["HANGANG_CITY_BUDGET_SECRET"].strip(), "HANGANG_CITY_BUDGET_SECRET"
    kept = existing_development_secret("city_budget_secret")
    return (kept, "the development key under HANGANG_VAR_DIR") if kept else ("", "")


def run_verify_export(args: argparse.Namespace) -> int:
    """Print ``ok`` for a sound bundle or the first problem found (never makes a key)."""
    from portal.connector import signing
    from portal.connector.exports import ExportError, verify_bundle

    secret, source = verification_secret(args.key)
    if not secret:
        return _fail(NO_KEY)
    try:
        keys = signing.parse_secrets(secret)
    except signing.SigningError as exc:
        return _fail(f"the key from {source} is unusable: {exc}")
    try:
        verify_bundle(args.bundle, keys)
    except ExportError as exc:
        print(f"problem: {exc}")
        if "signature" in str(exc):
            print(f"(checked with the key from {source})", file=sys.stderr)
        return 1
    print("ok")
    print(f"(signature checked with the key from {source})", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the connector's commands alone (``python -m portal.connector.cli``)."""
    parser = argparse.ArgumentParser(prog="hangang")
    register(parser.add_subparsers(dest="command", metavar="COMMAND"))
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
