"""Bulk screening: pass or fail one gate for many entries at once, with one reason.

Everything is checked before anything is written (the gate, the reason a failure needs, that every
entry belongs to the edition and is screenable); then each entry is decided through
``screening.decide_gate``, so each is audited and its organization told exactly as one by one.
"""

from __future__ import annotations

from judging.services.editions import get_edition
from judging.services.screening import decide_gate
from judging.tables import Entry
from portal.errors import Conflict as ConflictError
from portal.errors import InvalidInput

MAX_BULK = 500


async def decide_gate_for_many(
    official_id: int, edition_id: int, entry_ids: list[int], gate: str, passed: bool, reason: str
) -> int:
    """Decide ``gate`` for every entry in ``entry_ids``; returns how many were decided."""
    edition = await get_edition(edition_id)
    ids = sorted(set(entry_ids))
    if not ids:
        raise InvalidInput("Tick at least one entry.", field="entries")
    if len(ids) > MAX_BULK:
        raise InvalidInput("Decide at most %(limit)s entries at once.", field="entries", limit=MAX_BULK)
    if gate not in edition["gates"]:
        raise InvalidInput("Unknown screening gate.", field="gate")
    reason = (reason or "").strip()
    if not passed and not reason:
        raise InvalidInput("Give a reason when an entry fails a gate.", field="reason")
    if len(reason) > 1000:
        raise InvalidInput("Keep this under %(limit)s characters.", field="reason", limit=1000)
    rows = await Entry.select(Entry.id).where(
        (Entry.edition == edition_id)
        & Entry.id.is_in(ids)
        & Entry.status.is_in(["submitted", "screened-in", "screened-out"])
    )
    if len(rows) != len(ids):
        raise ConflictError("Some ticked entries are not submitted entries of this edition.", field="entries")
    for entry_id in ids:
        await decide_gate(official_id, entry_id, gate, passed, reason)
    return len(ids)
