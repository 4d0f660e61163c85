"""The `hangang` command line.

The portal's own commands (serve, migrate, demo, create-user, audit, backup) are in
``portal.commands``; each domain adds its subcommands through the ``cli`` entry of its manifest.
"""

from __future__ import annotations

import argparse
import sys

from portal import commands, manifest
from portal.idp import cli as idp_cli


def build_parser() -> argparse.ArgumentParser:
    """Collect every domain's subcommands under one parser."""
    parser = argparse.ArgumentParser(
        prog="hangang",
        description="Hangang Portal: participatory budgeting and the AI 50 Challenge.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.register(subparsers)
    idp_cli.register(subparsers)
    for register in manifest.cli_registrars():
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; its handler returns the process exit code."""
    from portal.logs import install_log_hygiene

    install_log_hygiene()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
