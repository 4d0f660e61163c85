"""Screening: officials decide each eligibility gate once the intake closes; the last gate screens an
entry in or out and tells its organization."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from judging.categories import GATE_LABELS
from judging.services.common import require_undecided
from judging.services.editions import get_edition
from judging.tables import Entry, OrganizationMember, ScreeningDecision
from portal import accounts, audit, clock
from portal.db import write_transaction
from portal.errors import Conflict as ConflictError
from portal.errors import InvalidInput, NotFoundError


def _intake_closed(edition: dict[str, Any]) -> bool:
    return clock.now() >= edition["intake_closes_at"]


async def screening_decisions(edition_id: int) -> dict[int, dict[str, dict[str, Any]]]:
    rows = await ScreeningDecision.select().where(ScreeningDecision.entry.edition == edition_id)
    found: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        found[row["entry"]][row["gate"]] = row
    return found


async def decide_gate(official_id: int, entry_id: int, gate: str, passed: bool, reason: str) -> str:
    """Record one gate; once every gate is decided the entry is screened in or out and its organization told."""
    reason = (reason or "").strip()
    if len(reason) > 1000:
        raise InvalidInput("Keep this under %(limit)s characters.", field="reason", limit=1000)
    if not passed and not reason:
        raise InvalidInput("Give a reason when an entry fails a gate.", field="reason")
    entry = await Entry.select().output(load_json=True).where(Entry.id == entry_id).first()
    if entry is None:
        raise NotFoundError("We could not find that entry.")
    edition = await get_edition(entry["edition"])
    if gate not in edition["gates"]:
        raise InvalidInput("Unknown screening gate.", field="gate")
    if not _intake_closed(edition):
        raise ConflictError("Screening starts when the intake closes.")
    if entry["status"] not in ("submitted", "screened-in", "screened-out"):
        raise ConflictError("Only submitted entries are screened.")
    async with write_transaction(lock_key=f"challenge-entry-{entry_id}"):
        await require_undecided(
            edition["id"], "The winners are approved; screening decisions can no longer change."
        )
        await ScreeningDecision.delete().where(
            (ScreeningDecision.entry == entry_id) & (ScreeningDecision.gate == gate)
        )
        await ScreeningDecision.insert(
            ScreeningDecision(
                entry=entry_id,
                gate=gate,
                passed=passed,
                reason=reason,
                decided_by=official_id,
                decided_at=clock.now(),
            )
        )
        decisions = await ScreeningDecision.select().where(ScreeningDecision.entry == entry_id)
        decided = {d["gate"]: d for d in decisions}
        status = entry["status"]
        if set(edition["gates"]) <= set(decided):
            status = "screened-in" if all(d["passed"] for d in decided.values()) else "screened-out"
            await Entry.update({Entry.status: status}).where(Entry.id == entry_id)
        await audit.record(
            "challenge.screening.decided",
            actor_id=official_id,
            subject=f"entry:{entry_id}",
            gate=gate,
            passed=passed,
            status=status,
        )
    if status != entry["status"] and status in ("screened-in", "screened-out"):
        await _notify_organization(entry, status, decided, edition["gates"])
    return status


async def _notify_organization(
    entry: dict[str, Any], status: str, decided: dict[str, dict[str, Any]], gates: list[str]
) -> None:
    members = await OrganizationMember.select(OrganizationMember.user).where(
        OrganizationMember.organization == entry["organization"]
    )
    if status == "screened-in":
        message = 'Your entry "%(title)s" passed screening and goes on to evaluation.'
        params: dict[str, Any] = {"title": entry["title"]}
    else:
        message = 'Your entry "%(title)s" did not pass screening. Reasons: %(reasons)s'
        params = {
            "title": entry["title"],
            # Translated when read, in the reader's language (see accounts.notification_text).
            "reasons": [
                {
                    "message": "%(gate)s: %(reason)s",
                    "params": {
                        "gate": {"message": GATE_LABELS.get(g, g)},
                        "reason": decided[g]["reason"],
                    },
                }
                for g in gates
                if not decided[g]["passed"]
            ],
        }
    for member in members:
        await accounts.notify_and_mail(
            member["user"],
            "Screening result for your entry",
            message,
            f"/challenge/entries/{entry['id']}",
            **params,
        )
