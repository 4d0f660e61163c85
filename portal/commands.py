"""The portal's own commands: serve, migrate, demo, create-user, audit verify, hash-residents."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from portal.tables import ROLES


def _run(coro):
    """Run one command's coroutine, then close the database connections it opened."""
    from portal import db

    async def run_and_close():
        try:
            return await coro
        finally:
            await db.close_pool()

    return asyncio.run(run_and_close())


async def migrate() -> None:
    """Apply every app's migrations; raise with Piccolo's message if one fails."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from portal import db

    await db.prepare_sqlite()
    result = await run_forwards("all")
    if not result.success:
        raise SystemExit(f"Migration failed: {result.message}")


def cmd_migrate(args: argparse.Namespace) -> int:
    _run(migrate())
    print("Migrations applied.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from portal.demo import load_demo

    _run(migrate())
    printed = _run(load_demo(force=True))
    print(printed)
    return 0


def served_address(host: str, port: int) -> str:
    """The address a browser on this machine reaches ``hangang serve --host --port`` at."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal in a URL
    return f"http://{host}:{port}"


def use_served_address(host: str, port: int) -> None:
    """Mailed links point where the portal serves, unless HANGANG_BASE_URL says otherwise.

    Set in the environment (not only in this process's settings) so uvicorn's workers read it too.
    """
    from portal.settings import get_settings

    if not os.environ.get("HANGANG_BASE_URL"):
        os.environ["HANGANG_BASE_URL"] = served_address(host, port)
        get_settings.cache_clear()


def cmd_serve(args: argparse.Namespace) -> int:
    """Migrate as its own step (never inside the workers), then serve."""
    import uvicorn

    from portal.settings import UnsafeSettingsError, get_settings

    use_served_address(args.host, args.port)
    try:
        get_settings().check_safe_for_production()
    except UnsafeSettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    _run(migrate())
    if args.demo:
        from portal.demo import load_demo

        print(_run(load_demo(force=False)))
    print(f"Hangang Portal: open http://{args.host}:{args.port}", flush=True)
    uvicorn.run(
        "portal.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
    )
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    from portal import accounts
    from portal.errors import DomainError
    from portal.i18n import translate

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            print("The passwords do not match.", file=sys.stderr)
            return 2
    _run(migrate())
    try:
        user_id = _run(
            accounts.create_user(
                args.email,
                password,
                args.role or ["citizen"],
                display_name=args.display_name,
                district_code=args.district,
                verified=args.verified,
            )
        )
    except DomainError as exc:
        print(translate(exc.message, "en", **exc.params), file=sys.stderr)
        return 2
    print(f"Created user {user_id} ({args.email}) with roles {', '.join(sorted(set(args.role or ['citizen'])))}.")
    if set(args.role or []) & {"judge", "official", "admin"}:
        print("This account must set up two-factor authentication at its first login.")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from portal.audit import verify_chain

    result = _run(verify_chain())
    if result.ok:
        print(f"ok {result.events} events")
        return 0
    print(f"broken at event {result.broken_at} (after {result.events} good events): {result.problem}")
    return 1


def cmd_hash_residents(args: argparse.Namespace) -> int:
    """Turn ``identifier,district_code`` lines into the salted register the portal imports."""
    import csv

    from portal.accounts import resident_identifier_hash

    writer = csv.writer(sys.stdout)
    writer.writerow(["identifier_hash", "district_code"])
    for line_number, row in enumerate(csv.reader(open(args.file, encoding="utf-8-sig")), start=1):
        if not row or row[0].strip().lower() == "identifier":
            continue
        if len(row) != 2:
            print(f"line {line_number}: expected identifier,district_code", file=sys.stderr)
            return 2
        writer.writerow([resident_identifier_hash(row[0].strip()), row[1].strip()])
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="migrate, then serve the portal with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", action="store_true", help="load demo data into an empty database and print the demo accounts")
    serve.add_argument("--proxy-headers", action="store_true", help="trust X-Forwarded-For from --forwarded-allow-ips")
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1")
    serve.set_defaults(handler=cmd_serve)

    subparsers.add_parser("migrate", help="apply database migrations").set_defaults(handler=cmd_migrate)
    subparsers.add_parser("demo", help="load demo data (accounts, PB cycles, an AI 50 edition)").set_defaults(handler=cmd_demo)

    create = subparsers.add_parser("create-user", help="create an account (password from a prompt or stdin)")
    create.add_argument("--email", required=True)
    create.add_argument("--role", action="append", choices=ROLES, help="repeat to combine roles")
    create.add_argument("--district", help="5-digit Seoul district code, e.g. 11680")
    create.add_argument("--verified", action="store_true", help="mark the residency as verified")
    create.add_argument("--display-name")
    create.add_argument("--password-stdin", action="store_true")
    create.set_defaults(handler=cmd_create_user)

    audit = subparsers.add_parser("audit", help="audit log tools")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    audit_sub.add_parser("verify", help="walk the hash chain").set_defaults(handler=cmd_audit_verify)

    hashing = subparsers.add_parser("hash-residents", help="prepare a resident register CSV (salted hashes)")
    hashing.add_argument("file", help="CSV with identifier,district_code")
    hashing.set_defaults(handler=cmd_hash_residents)
