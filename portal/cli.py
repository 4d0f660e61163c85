"""The `hangang` command line.

Each domain contributes its subcommands through a ``register(subparsers)``
function in its own ``cli`` module, listed in ``COMMAND_MODULES``; the
portal's own commands (serve, migrate, demo, create-user, audit) live here.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "portal.commands",
    "voting.cli",
    "judging.cli",
    "portal.connector.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """Collect every domain's subcommands under one parser."""
    parser = argparse.ArgumentParser(
        prog="hangang",
        description="Hangang Portal: participatory budgeting and the AI 50 Challenge.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # a domain that is not part of this build
        module.register(subparsers)
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
