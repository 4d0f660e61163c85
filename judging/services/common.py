"""Shared by the judging services: the decided-edition lock, audited row changes and the steps of a
selection's lifecycle.

A selection moves proposed -> approved (two officials); proposed -> stale (the rules or the score sheet
changed since it was computed: it cannot be approved); proposed | stale -> superseded (computed
again). Every step is audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from piccolo.columns import Column
from piccolo.table import Table

from judging.tables import Edition, Selection
from portal import audit
from portal.canonical import canonical_json
from portal.errors import Conflict as ConflictError
from portal.errors import DomainError

SELECTION_STEPS = frozenset(
    {
        ("proposed", "approved"),
        ("proposed", "stale"),
        ("proposed", "superseded"),
        ("stale", "superseded"),
    }
)


async def require_undecided(
    edition_id: int, message: str, error: type[DomainError] = ConflictError
) -> None:
    """Refuse a change once the winners are approved; call inside the writing transaction."""
    row = await Edition.select(Edition.state).where(Edition.id == edition_id).first()
    if row is not None and row["state"] == "decided":
        raise error(message)


async def update_audited(
    table: type[Table],
    row_id: int,
    new: dict[str, Any],
    old: Mapping[str, Any],
    action: str,
    *,
    actor_id: int,
    subject: str,
    also: dict[Column, Any] | None = None,
) -> None:
    """Write ``new`` (column name -> value) on one row, with ``also`` (bookkeeping columns not worth
    auditing), and record the old and new values of those columns; inside the caller's transaction."""
    columns = {getattr(table, name): value for name, value in new.items()}
    await table.update({**columns, **(also or {})}).where(table.id == row_id)
    await audit.record(
        action,
        actor_id=actor_id,
        subject=subject,
        old={name: old[name] for name in new},
        new=new,
    )


async def selection_step(
    selection: dict[str, Any], new: str, actor_id: int | None, **details: Any
) -> None:
    """Move a selection one step (inside the caller's transaction), audited."""
    if (selection["status"], new) not in SELECTION_STEPS:
        raise ConflictError("Only a proposed selection can be approved.")
    values: dict[Any, Any] = {Selection.status: new}
    if new == "stale":
        values[Selection.stale_reason] = details["reason"]
    await Selection.update(values).where(Selection.id == selection["id"])
    await audit.record(
        "challenge.selection.state",
        actor_id=actor_id,
        subject=f"selection:{selection['id']}",
        old=selection["status"],
        new=new,
        **details,
    )


def quotas_document(edition: dict[str, Any]) -> dict[str, Any]:
    """The QUOTAS.json that ``hangang challenge rank --quotas`` reads."""
    return {
        "winners": edition["winners"],
        "categories": edition["quotas"],
        "max_per_organization": edition["max_per_organization"],
    }


def rules_changed(selection: dict[str, Any], edition: dict[str, Any]) -> bool:
    """Whether the edition's quotas or seed differ from those the selection was computed with."""
    snapshot = {"quotas": selection["parameters"]["quotas"], "seed": selection["seed"]}
    current = {"quotas": quotas_document(edition), "seed": edition["seed"]}
    return canonical_json(snapshot) != canonical_json(current)
