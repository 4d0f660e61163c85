"""The portal's own commands: serve, migrate, demo, create-user, audit verify and anchor, hash-residents."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from pathlib import Path

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
    from portal.audit import seal_legacy_chain

    # Events chained before the audit key existed are sealed by a first keyed event (docs/security.md).
    await seal_legacy_chain()
    await adopt_local_uploads()


async def adopt_local_uploads() -> None:
    """Move uploads that older versions kept under this host's var/uploads into the database."""
    from piccolo.conf.apps import Finder

    from portal import storage
    from portal.settings import get_settings

    Finder().get_table_classes()  # imports every domain's tables, which declare their file columns
    folder = get_settings().var_dir / "uploads"
    moved, unreferenced = await storage.adopt_local_uploads(folder)
    if moved:
        print(f"Moved {moved} uploaded files from {folder} into the database.")
    if unreferenced:
        print(f"{unreferenced} files in {folder} belong to no row (replaced images); they can be deleted.")


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
    """Walk the keyed chain; with ``--anchors`` also compare it with signed checkpoints."""
    from pathlib import Path

    from portal.audit import read_anchors, verify_chain

    anchors = None
    if args.anchors:
        path = Path(args.anchors)
        if not path.is_file():
            print(f"no anchor file at {path}", file=sys.stderr)
            return 2
        anchors = read_anchors(path)
    result = _run(verify_chain(anchors))
    if result.ok:
        suffix = f", {result.anchors} anchors match" if anchors is not None else ""
        if result.unlinked:
            suffix += f", {result.unlinked} more waiting to be chained (intact)"
        print(f"ok {result.events} events{suffix}")
        return 0
    if result.broken_at is not None:
        print(f"broken at event {result.broken_at} (after {result.events} good events): {result.problem}")
    else:
        print(f"not ok ({result.events} events): {result.problem}")
    return 1


def cmd_audit_anchor(args: argparse.Namespace) -> int:
    """Append a signed checkpoint of the chain's head to an append-only file (after checking the chain)."""
    from pathlib import Path

    from portal.audit import append_anchor, default_anchor_file, verify_chain

    path = Path(args.file) if args.file else default_anchor_file()

    async def verify_then_anchor():
        result = await verify_chain()
        return result, (await append_anchor(path) if result.ok else None)

    result, anchor = _run(verify_then_anchor())
    if anchor is None:
        print(f"not anchored: the chain does not verify: {result.problem}", file=sys.stderr)
        return 1
    print(f"anchored event {anchor['sequence']} head {anchor['head']} at {anchor['at']} in {path}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Copy the whole database (uploads included) to a new file."""
    from portal.backup import BackupError, backup_database
    from portal.settings import get_settings

    try:
        print(backup_database(get_settings().database_url, Path(args.dest)))
    except BackupError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore into an empty database, then check the audit chain and print what came back."""
    from portal.audit import verify_chain
    from portal.backup import BackupError, restore_database, restored_counts
    from portal.settings import get_settings

    try:
        print(_run(restore_database(get_settings().database_url, Path(args.src))))
    except BackupError as exc:
        print(exc, file=sys.stderr)
        return 2
    _run(migrate())  # a backup of an older version gets this version's schema
    result = _run(verify_chain())
    if result.ok:
        waiting = f", {result.unlinked} more waiting to be chained (intact)" if result.unlinked else ""
        print(f"audit verify: ok {result.events} events{waiting}")
    else:
        print(f"audit verify: broken at event {result.broken_at} (after {result.events} good events): {result.problem}")
    for label, count in _run(restored_counts()):
        print(f"{label}: {count}")
    return 0 if result.ok else 1


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


def cmd_mail_outbox(args: argparse.Namespace) -> int:
    """Count notification mails per state; optionally send the ``unknown`` ones again (docs/operations.md)."""
    from portal.notification_mail import outbox_counts, requeue_unknown

    async def run():
        requeued = await requeue_unknown() if args.requeue_unknown else None
        return requeued, await outbox_counts()

    requeued, counts = _run(run())
    if requeued is not None:
        print(f"requeued {requeued} unknown mails")
    for status in ("pending", "sending", "sent", "unknown", "failed", "cancelled"):
        print(f"{status:10} {counts.get(status, 0)}")
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
    verify = audit_sub.add_parser("verify", help="walk the keyed hash chain (and compare it with anchors)")
    verify.add_argument("--anchors", metavar="FILE", help="anchor file written by 'hangang audit anchor'")
    verify.set_defaults(handler=cmd_audit_verify)
    anchor = audit_sub.add_parser("anchor", help="append a signed checkpoint (sequence, head, time) to a file")
    anchor.add_argument("--file", metavar="F", help="anchor file (default: VAR_DIR/audit-anchors.jsonl)")
    anchor.set_defaults(handler=cmd_audit_anchor)

    backup = subparsers.add_parser("backup", help="copy the database, uploads included, to a new file (docs/operations.md)")
    backup.add_argument("dest", metavar="DEST", help="the backup file to create (must not exist)")
    backup.set_defaults(handler=cmd_backup)
    restore = subparsers.add_parser("restore", help="restore a backup into an empty database, verify the audit log, print counts")
    restore.add_argument("src", metavar="SRC", help="a file written by `hangang backup`")
    restore.set_defaults(handler=cmd_restore)

    outbox = subparsers.add_parser("mail-outbox", help="notification mails per state; --requeue-unknown sends the unknown ones again")
    outbox.add_argument("--requeue-unknown", action="store_true", help="only once the mail server's log shows they never left")
    outbox.set_defaults(handler=cmd_mail_outbox)
    hashing = subparsers.add_parser("hash-residents", help="prepare a resident register CSV (salted hashes)")
    hashing.add_argument("file", help="CSV with identifier,district_code")
    hashing.set_defaults(handler=cmd_hash_residents)
