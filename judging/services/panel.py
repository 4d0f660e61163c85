"""The citizen panel of a stage: the eligible list, the draw from the published seed, the panelists'
notifications, their scores on the short rubric, and the panel's mean score per entry.

Eligible: accounts of verified residents (``residency_verified`` with a district), other than judges,
officials and administrators. Each is published only as a keyed key (HMAC of stage and account), with
district and age band (from the verified birth date; ``unknown`` without one), so anyone can replay the
draw (``judging.compute.panel_draw``) without learning who is on the list.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import sqlite3
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import asyncpg

from judging.citizen_tables import CitizenStage, PanelMember, PanelScore
from judging.compute import panel_draw
from judging.services.citizens import citizen_settings, stage_entries
from judging.services.common import require_undecided
from judging.services.editions import get_edition, get_round
from judging.services.reviews import weighted_total_centi
from portal import accounts, audit, clock
from portal.ages import age_band_of, seoul_date
from portal.db import write_transaction
from portal.errors import Conflict as ConflictError
from portal.errors import InvalidInput, NotAllowed, NotFoundError
from portal.settings import get_settings
from portal.tables import User

PANEL_ENTRIES_EACH = 12  # a panelist scores every entry of a stage up to this many, else this many in rotation
NOT_ELIGIBLE_ROLES = frozenset({"judge", "official", "admin"})


def resident_key(round_id: int, user_id: int) -> str:
    """The keyed, non-reversible key a resident has in a stage's published eligible list."""
    secret = get_settings().secret_key.encode()
    return hmac.new(secret, f"challenge-panel|{round_id}|{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


async def eligible_residents(round_id: int, day: dt.date) -> dict[str, tuple[int, panel_draw.Eligible]]:
    """Every eligible resident's published row, by key, with the account it stands for."""
    rows = await User.select(User.id, User.district_code, User.birth_date, User.roles).where(
        (User.residency_verified == True) & User.district_code.is_not_null()  # noqa: E712
    )
    out: dict[str, tuple[int, panel_draw.Eligible]] = {}
    for r in rows:
        if NOT_ELIGIBLE_ROLES & set(r["roles"].split(",")) or not r["district_code"]:
            continue
        key = resident_key(round_id, r["id"])
        out[key] = (r["id"], panel_draw.Eligible(key, r["district_code"], age_band_of(r["birth_date"], day)))
    return out


async def draw_panel(official_id: int, round_id: int) -> int:
    """Draw the stage's panel from its published seed, assign the entries and notify the panelists."""
    settings = await citizen_settings(round_id)
    if not settings.has_panel:
        raise ConflictError("This stage has no citizen panel; choose a drawn panel first.")
    if settings.drawn_at is not None:
        raise ConflictError("The panel is already drawn.")
    rnd = await get_round(round_id)
    edition = await get_edition(rnd["edition"])
    entries = [e["id"] for e in await stage_entries(round_id, strict=True)]
    if not entries:
        raise ConflictError("The stage has no entries yet.")
    eligible = await eligible_residents(round_id, seoul_date())
    try:
        seats = panel_draw.draw_panel([p for _, p in eligible.values()], settings.panel_size, settings.seed)
    except panel_draw.PanelDrawError:
        raise InvalidInput(
            "Only %(n)s residents are eligible; the panel cannot have %(size)s members.",
            field="panel_size",
            n=len(eligible),
            size=settings.panel_size,
        ) from None
    listing = panel_draw.eligible_csv(p for _, p in eligible.values())
    work = panel_draw.panel_entries([s.key for s in seats], entries, PANEL_ENTRIES_EACH)
    now = clock.now()
    async with write_transaction(lock_key=f"challenge-edition-{rnd['edition']}"):
        await require_undecided(rnd["edition"], "The winners are approved; this round can no longer change.")
        if (await citizen_settings(round_id)).drawn_at is not None:
            raise ConflictError("The panel is already drawn.")
        await PanelMember.insert(
            *[
                PanelMember(
                    round=round_id,
                    user=eligible[s.key][0],
                    seat_key=f"{round_id}:{eligible[s.key][0]}",
                    position=s.position,
                    resident_key=s.key,
                    district_code=s.district,
                    age_band=s.age_band,
                    entries=work[s.key],
                    drawn_at=now,
                )
                for s in seats
            ]
        )
        await CitizenStage.update(
            {
                CitizenStage.drawn_at: now,
                CitizenStage.eligible_csv: listing,
                CitizenStage.eligible_sha256: hashlib.sha256(listing.encode()).hexdigest(),
            }
        ).where(CitizenStage.round == round_id)
        await audit.record(
            "challenge.panel.drawn",
            actor_id=official_id,
            subject=f"round:{round_id}",
            seed=settings.seed,
            size=len(seats),
            eligible=len(eligible),
            eligible_sha256=hashlib.sha256(listing.encode()).hexdigest(),
        )
        for s in seats:
            await accounts.notify(
                eligible[s.key][0],
                "You were drawn for the citizen panel of %(edition)s. Score your entries on the panel page before %(deadline)s.",
                "/challenge/panel",
                edition=edition["name"],
                deadline=clock.format_datetime(rnd["deadline"]),
            )
    return len(seats)


@dataclass(frozen=True)
class PanelistRow:
    """One panelist as officials see them: seat, stratum, progress (no name: the panel is by district and age)."""

    position: int
    district_code: str
    age_band: str
    assigned: int
    scored: int


async def panel_members(round_id: int) -> list[PanelistRow]:
    members = await PanelMember.select().output(load_json=True).where(PanelMember.round == round_id).order_by(PanelMember.position)
    scored: dict[int, int] = {}
    for s in await PanelScore.select(PanelScore.panelist).where(PanelScore.round == round_id):
        scored[s["panelist"]] = scored.get(s["panelist"], 0) + 1
    return [
        PanelistRow(m["position"], m["district_code"], m["age_band"], len(m["entries"]), scored.get(m["user"], 0))
        for m in members
    ]


async def eligible_list(round_id: int) -> str:
    """The published eligible list of a drawn panel (``key,district,age_band``)."""
    row = await CitizenStage.select(CitizenStage.eligible_csv, CitizenStage.drawn_at).where(CitizenStage.round == round_id).first()
    if row is None or row["drawn_at"] is None:
        raise NotFoundError("The panel is not drawn yet.")
    return row["eligible_csv"]


# ---------------------------------------------------------------- the panelists' side


@dataclass(frozen=True)
class PanelSeatView:
    """A stage a resident sits on the panel of, with their progress."""

    round_id: int
    edition_name: str
    round_kind: str
    deadline: dt.datetime
    open: bool
    entries: list[dict[str, Any]]  # id, title, category, scored (bool), total


async def my_panels(user_id: int) -> list[PanelSeatView]:
    seats = await PanelMember.select().output(load_json=True).where(PanelMember.user == user_id).order_by(PanelMember.round)
    views = []
    for seat in seats:
        rnd = await get_round(seat["round"])
        edition = await get_edition(rnd["edition"])
        mine = {
            s["entry"]: s["total_centi"]
            for s in await PanelScore.select(PanelScore.entry, PanelScore.total_centi).where(
                (PanelScore.round == seat["round"]) & (PanelScore.panelist == user_id)
            )
        }
        titles = {e["id"]: e for e in await stage_entries(seat["round"])}
        entries = [
            {
                "id": e,
                "title": titles[e]["title"] if e in titles else "",
                "category": titles[e]["category"] if e in titles else "",
                "scored": e in mine,
                "total": mine[e] / 100 if e in mine else None,
            }
            for e in seat["entries"]
        ]
        views.append(
            PanelSeatView(
                seat["round"], edition["name"], rnd["kind"], rnd["deadline"],
                _takes_scores(rnd, edition), entries,
            )
        )
    return views


def _takes_scores(rnd: dict[str, Any], edition: dict[str, Any]) -> bool:
    return edition["state"] != "decided" and clock.now() < rnd["deadline"]


async def _seat(user_id: int, round_id: int, entry_id: int) -> dict[str, Any]:
    """The resident's seat, if the entry is theirs to score; 404 otherwise (nothing about others' work)."""
    seat = (
        await PanelMember.select().output(load_json=True)
        .where((PanelMember.round == round_id) & (PanelMember.user == user_id))
        .first()
    )
    if seat is None or entry_id not in seat["entries"]:
        raise NotFoundError("We could not find that entry on your panel.")
    return seat


@dataclass(frozen=True)
class PanelEntryView:
    """An entry as a panelist sees it (no organization or team), the short rubric and their scores."""

    round_id: int
    entry: dict[str, Any]
    rubric: list[dict[str, Any]]
    scores: dict[str, int]
    open: bool
    deadline: dt.datetime
    scale: tuple[int, int] = (1, 10)  # the stage's rubric scale the panel scores on


async def panel_entry(user_id: int, round_id: int, entry_id: int) -> PanelEntryView:
    await _seat(user_id, round_id, entry_id)
    rnd = await get_round(round_id)
    edition = await get_edition(rnd["edition"])
    settings = await citizen_settings(round_id)
    entry = next((e for e in await stage_entries(round_id) if e["id"] == entry_id), None)
    if entry is None:
        raise NotFoundError("We could not find that entry on your panel.")
    mine = (
        await PanelScore.select(PanelScore.scores).output(load_json=True)
        .where(PanelScore.score_key == f"{round_id}:{entry_id}:{user_id}")
        .first()
    )
    return PanelEntryView(
        round_id, entry, settings.rubric, mine["scores"] if mine else {}, _takes_scores(rnd, edition), rnd["deadline"],
        (rnd["scale_min"], rnd["scale_max"]),
    )


async def save_panel_score(user_id: int, round_id: int, entry_id: int, scores: dict[str, int]) -> int:
    """Store (or change, until the deadline) a panelist's one score for an entry; audited."""
    await _seat(user_id, round_id, entry_id)
    rnd = await get_round(round_id)
    edition = await get_edition(rnd["edition"])
    if not _takes_scores(rnd, edition):
        raise NotAllowed("The stage's deadline has passed; scores can no longer change.")
    settings = await citizen_settings(round_id)
    total = weighted_total_centi(settings.rubric, scores, (rnd["scale_min"], rnd["scale_max"]))
    key = f"{round_id}:{entry_id}:{user_id}"
    now = clock.now()
    try:
        async with write_transaction(lock_key=f"challenge-panel-score-{key}"):
            await require_undecided(rnd["edition"], "The winners are approved; scores can no longer change.", NotAllowed)
            old = await PanelScore.select(PanelScore.id, PanelScore.total_centi).where(PanelScore.score_key == key).first()
            if old:
                await PanelScore.update(
                    {PanelScore.scores: scores, PanelScore.total_centi: total, PanelScore.updated_at: now}
                ).where(PanelScore.id == old["id"])
            else:
                await PanelScore.insert(
                    PanelScore(
                        round=round_id, entry=entry_id, panelist=user_id, score_key=key,
                        scores=scores, total_centi=total, created_at=now, updated_at=now,
                    )
                )
            await audit.record(
                "challenge.panel.scored",
                actor_id=user_id,
                subject=f"round:{round_id}:entry:{entry_id}",
                old=old["total_centi"] if old else None,
                new=total,
            )
    except (sqlite3.IntegrityError, asyncpg.UniqueViolationError):
        raise ConflictError("Your score for this entry was saved by another window; reload to change it.") from None
    return total


async def panel_means(round_id: int) -> dict[int, Fraction]:
    """The mean of the panelists' totals per entry, on the stage's rubric scale (exact)."""
    sums: dict[int, list[int]] = {}
    for s in await PanelScore.select(PanelScore.entry, PanelScore.total_centi).where(PanelScore.round == round_id):
        sums.setdefault(s["entry"], []).append(s["total_centi"])
    return {e: Fraction(sum(v), 100 * len(v)) for e, v in sums.items()}
