"""Imports run one way between the rooms, and the web layer stays on top (docs/architecture.md).

Every ``import`` in ``portal/``, ``voting/``, ``proposals/`` and ``judging/`` is read with ``ast``, at
module level and inside functions alike, so a late import cannot hide a wrong arrow. Each failure lists
every offending import with its file and line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("portal", "voting", "proposals", "judging")
# Which of our packages each room may import (stdlib and third-party packages are always allowed).
MAY_IMPORT = {
    "portal": {"portal"},
    "voting": {"portal", "voting"},
    "proposals": {"portal", "voting", "proposals"},
    "judging": {"portal", "judging"},
}
NEVER_IMPORTED = ("tests", "bench", "scripts")

# The web layer and the command lines: what people and scripts call. Everything below them (services,
# pure computation, tables, the core's plumbing) must not reach up into them.
UPPER_LAYER = (
    "portal.web",
    "portal.app",
    "portal.controllers",
    "portal.api",
    "portal.cli",
    "portal.commands",
    "portal.connector.controllers",
    "portal.connector.routes",
    "portal.connector.cli",
    "portal.identity_pages",
    "portal.notification_pages",
    "portal.idp.cli",
)
DOMAIN_UPPER_PARTS = ("pages", "api", "cli", "routes", "controllers", "entry_routes")


@dataclass(frozen=True)
class Import:
    path: str  # relative to the repository root
    line: int
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted and absolute
    names: tuple[str, ...] = ()  # ``from target import a, b``: a and b may be submodules

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module} imports {self.target}"

    def modules(self) -> list[str]:
        """What this import may load: the target, and each imported name taken as its submodule."""
        return [self.target, *(f"{self.target}.{name}" for name in self.names)]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an ``ImportFrom`` names, resolving ``from . import x`` style imports."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_in(path: Path) -> list[Import]:
    """Every import in one file, module-level and function-level, with what it names."""
    module = module_name(path)
    rel = str(path.relative_to(ROOT))
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=rel)):
        if isinstance(node, ast.Import):
            found += [Import(rel, node.lineno, module, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, path.name == "__init__.py")
            found.append(Import(rel, node.lineno, module, base, tuple(alias.name for alias in node.names)))
    return found


@cache
def all_imports() -> list[Import]:
    """Every import in the four packages."""
    return [imp for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py")) for imp in imports_in(path)]


def _within(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


def is_upper_layer(target: str) -> bool:
    """A web-layer or command-line module: the core's, or a domain's pages, API, routes or CLI."""
    if any(_within(target, prefix) for prefix in UPPER_LAYER):
        return True
    parts = target.split(".")
    return parts[0] in PACKAGES[1:] and len(parts) > 1 and parts[1] in DOMAIN_UPPER_PARTS


def is_lower_layer(module: str) -> bool:
    """A module below the web: services, pure computation, tables and schemas, and the core's plumbing.

    In the core that is every module that is not itself in the upper layer (and not the demo loader,
    which is a command's helper); in a domain it is ``services``, ``compute``, ``tables`` and ``schemas``.
    """
    parts = module.split(".")
    if parts[0] == "portal":
        return not is_upper_layer(module) and module != "portal.demo"
    return any(part in ("services", "compute", "tables", "schemas") for part in parts[1:])


def test_the_checker_sees_late_and_relative_imports() -> None:
    """The reader itself: function-level and relative imports are found and made absolute."""
    sample = ROOT / "voting" / "services" / "__probe__.py"
    tree = ast.parse("from ..compute import tally\n\ndef f():\n    from portal.web import forms\n")
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert _absolute(nodes[0], module_name(sample), False) == "voting.compute"
    assert _absolute(nodes[1], module_name(sample), False) == "portal.web"
    assert is_upper_layer("portal.web.forms") and is_upper_layer("judging.pages.judges")
    assert is_lower_layer("voting.services.ballots") and not is_lower_layer("voting.pages.citizens")


@pytest.mark.parametrize("room", PACKAGES)
def test_rooms_import_one_way(room: str) -> None:
    """portal imports no domain; voting only portal; proposals portal and voting; judging only portal."""
    allowed = MAY_IMPORT[room]
    wrong = [
        str(imp)
        for imp in all_imports()
        if imp.module.split(".")[0] == room
        and imp.target.split(".")[0] in PACKAGES
        and imp.target.split(".")[0] not in allowed
    ]
    assert wrong == [], f"{room} may import only {sorted(allowed)}:\n" + "\n".join(wrong)


def test_no_package_imports_tests_or_benchmarks() -> None:
    wrong = [str(imp) for imp in all_imports() if imp.target.split(".")[0] in NEVER_IMPORTED]
    assert wrong == [], "\n".join(wrong)


def test_services_do_not_import_the_web_layer_or_a_cli() -> None:
    """Services, pure modules, tables and the core's plumbing never reach up to pages, APIs or CLIs."""
    wrong = [
        f"{imp.path}:{imp.line}: {imp.module} imports {target}"
        for imp in all_imports()
        if is_lower_layer(imp.module)
        for target in imp.modules()
        if is_upper_layer(target)
    ]
    assert wrong == [], "Lower layers import the web layer or a command line:\n" + "\n".join(wrong)


def test_the_connector_reaches_domains_only_through_their_services() -> None:
    """The city connector is core: it asks for domain services by name (portal.manifest.domain_service)."""
    wrong = [
        str(imp)
        for imp in all_imports()
        if imp.module.startswith("portal.connector") and imp.target.split(".")[0] in PACKAGES[1:]
    ]
    assert wrong == [], "\n".join(wrong)


def test_no_missing_module_is_swallowed() -> None:
    """Loading a domain fails loudly: no ``except ModuleNotFoundError`` (or ``ImportError``) anywhere."""
    wrong = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ExceptHandler) and node.type is not None:
                    names = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
                    if names & {"ModuleNotFoundError", "ImportError"}:
                        wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert wrong == [], "Missing modules must fail loudly:\n" + "\n".join(wrong)
