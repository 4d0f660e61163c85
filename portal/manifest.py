"""What each domain brings to the portal, declared once in its ``manifest.py``.

The core imports no domain code: it reads the manifests listed in ``MANIFEST_MODULES`` and resolves the
``"module:attribute"`` references in them when it needs them (the app factory for routes and tasks, the
CLI for commands, ``piccolo_conf`` for tables, the demo for demo data). A missing manifest or a wrong
reference fails loudly at start-up; nothing is skipped silently.

References are strings, not imports, because ``piccolo_conf`` reads the manifests before any table module
may be imported (tables bind to the engine it creates).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

# Order matters twice: demo data loads in this order (proposals and judging build on PB's demo accounts and
# cycles), and the officials' hub lists the links in it.
MANIFEST_MODULES = (
    "voting.manifest",
    "proposals.manifest",
    "judging.manifest",
    "portal.connector.manifest",
)


@dataclass(frozen=True)
class OfficialLink:
    """A card on the officials' hub (label and description are translated when shown)."""

    label: str
    path: str
    description: str


@dataclass(frozen=True)
class Manifest:
    """One domain's declaration; every reference is ``"module:attribute"``."""

    name: str
    piccolo_app: str  # module holding APP_CONFIG, e.g. "voting.piccolo_app"
    routes: str  # a list of controllers and handlers
    official_links: tuple[OfficialLink, ...] = ()
    demo: str | None = None  # async def load_demo(users: dict[str, int]) -> list[str]
    cli: str | None = None  # def register(subparsers) -> None
    background_tasks: tuple[str, ...] = ()  # async def loop(stop: asyncio.Event) -> None
    template_globals: str | None = None  # a dict of names added to every template (labels, helpers)
    # Services other rooms may call without importing the domain (the city connector uses these).
    provides: dict[str, str] = field(default_factory=dict)


def resolve(reference: str) -> Any:
    """The object a ``"module:attribute"`` reference names; raises if either part is missing."""
    module_name, _, attribute = reference.partition(":")
    if not attribute:
        raise ValueError(f"{reference!r} is not a 'module:attribute' reference")
    return getattr(importlib.import_module(module_name), attribute)


@cache
def manifests() -> tuple[Manifest, ...]:
    """Every domain's manifest, in ``MANIFEST_MODULES`` order."""
    found = []
    for module_name in MANIFEST_MODULES:
        manifest = importlib.import_module(module_name).MANIFEST
        if not isinstance(manifest, Manifest):
            raise TypeError(f"{module_name}.MANIFEST is not a portal.manifest.Manifest")
        found.append(manifest)
    return tuple(found)


def route_handlers() -> list[Any]:
    return [handler for manifest in manifests() for handler in resolve(manifest.routes)]


def official_links() -> list[OfficialLink]:
    return [link for manifest in manifests() for link in manifest.official_links]


def background_tasks() -> list[Callable[..., Any]]:
    return [resolve(task) for manifest in manifests() for task in manifest.background_tasks]


def template_globals() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for manifest in manifests():
        if manifest.template_globals:
            merged.update(resolve(manifest.template_globals))
    return merged


def demo_loaders() -> Iterator[Callable[..., Any]]:
    for manifest in manifests():
        if manifest.demo:
            yield resolve(manifest.demo)


def cli_registrars() -> Iterator[Callable[..., Any]]:
    for manifest in manifests():
        if manifest.cli:
            yield resolve(manifest.cli)


def piccolo_apps() -> list[str]:
    return [manifest.piccolo_app for manifest in manifests()]


def domain_service(name: str) -> Callable[..., Any]:
    """A service a domain provides to the core by name, e.g. ``"pb.apply_envelopes"``."""
    for manifest in manifests():
        if name in manifest.provides:
            return resolve(manifest.provides[name])
    raise LookupError(f"No domain provides the service {name!r}; check the manifests in portal.manifest")
