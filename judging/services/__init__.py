"""AI 50 Challenge services: editions and rounds, screening, judges and conflicts, assignment, scoring,
calibration, selection, approvals and the award batch. The only place that writes the judging tables
(entry intake is in ``proposals/entries.py``).

Pure computation (assignment, calibration, selection, the rubric) lives in ``judging/compute/assignment.py``,
``judging/compute/calibration.py``, ``judging/compute/selection.py`` and ``judging/compute/rubric.py``; this module feeds them
plain data read from the database and stores what they return.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import importlib
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from judging.compute import assignment, calibration, rubric
from judging.tables import (
    CATEGORIES,
    CATEGORY_LABELS,
    CONFLICT_TYPES,
    DEFAULT_GATES,
    GATE_LABELS,
    ROUND_KINDS,
    Assignment,
    Attachment,
    Conflict,
    Edition,
    Entry,
    JudgeProfile,
    Organization,
    OrganizationMember,
    Review,
    Round,
    ScreeningDecision,
    Selection,
    SelectionApproval,
)
from portal import accounts, audit, clock, i18n
from portal.db import write_transaction
from portal.errors import Conflict as ConflictError
from portal.errors import DomainError, InvalidInput, NotAllowed, NotFoundError
from portal.settings import get_settings
from portal.tables import User

# Webmail domains say nothing about an affiliation; matching on them would flag everyone.
PUBLIC_EMAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "naver.com",
        "daum.net",
        "hanmail.net",
        "kakao.com",
        "nate.com",
        "outlook.com",
        "hotmail.com",
        "yahoo.com",
        "icloud.com",
        "proton.me",
        "protonmail.com",
        "example.kr",
        "example.com",
    }
)
SCORING_KINDS = ("evaluation", "final")


# ---------------------------------------------------------------- bridges to the pure modules


def default_rubric() -> list[dict[str, Any]]:
    """The default rubric as stored in a round (criteria with weights and level descriptors)."""
    return [criterion.to_dict() for criterion in rubric.DEFAULT_CRITERIA]


def criteria_of(stored: list[dict[str, Any]]) -> tuple[rubric.Criterion, ...]:
    return tuple(
        rubric.Criterion(
            c["key"],
            c["name"]["en"],
            c["name"]["ko"],
            c["weight"],
            tuple(rubric.Level(lv["low"], lv["high"], lv["en"], lv["ko"]) for lv in c["levels"]),
        )
        for c in stored
    )


def weighted_total_centi(stored: list[dict[str, Any]], scores: dict[str, int]) -> int:
    """The weighted rubric total in hundredths (an int, so the stored value is exact)."""
    try:
        total = rubric.weighted_total(scores, criteria_of(stored))
    except rubric.RubricError:
        raise InvalidInput("Score every criterion from 1 to 10.", field="scores") from None
    return round(total * 100)


def calibrate_all(rows: list[dict[str, str]]) -> dict[str, Any]:
    """The three calibrations side by side, one row per entry, ordered by the additive score."""
    reviews = [(r["entry_id"], r["judge_id"], float(r["score"])) for r in rows]
    methods = calibration.compare_methods(reviews)
    additive = methods["additive"]
    table = []
    for entry_id, item in additive.entries.items():
        table.append(
            {
                "entry_id": entry_id,
                "mean": methods["mean"].entries[entry_id].score,
                "zscore": methods["zscore"].entries[entry_id].score,
                "additive": item.score,
                "disagreement": item.disagreement,
                "reviews": item.reviews,
                "raw_scores": list(item.raw_scores),
            }
        )
    table.sort(key=lambda r: (-r["additive"], r["entry_id"]))
    return {
        "rows": table,
        "judge_offsets": dict(additive.judge_offsets),
        "components": additive.components,
    }


def rank_sheet(csv_text: str, *, method: str, quotas: dict[str, Any], seed: int) -> dict[str, Any]:
    """Rank a score sheet with the very function behind ``hangang challenge rank`` (replayable).

    Raises ``ValueError`` (``ScoreSheetError``) with a readable reason when the quotas cannot be met.
    """
    import csv
    import io

    from judging import cli

    rows = list(csv.DictReader(io.StringIO(csv_text)))
    result = cli.rank_score_sheet(rows, method, quotas["winners"], quotas, seed)
    return {
        **result.to_json(),
        "winner_flags": {r.entry_id: r.winner for r in result.selection.ranking},
        "borderline": [
            {
                "entry_id": b.entry_id,
                "selected": b.selected,
                "rank": b.rank,
                "score": b.score,
                "reason": b.reason,
                "message": b.message,
                "params": dict(b.params),
            }
            for b in result.selection.borderline
        ],
        "total_score": result.selection.total_score,
    }


def assign_judges(
    *,
    entries: list[tuple[int, str]],
    judges: list[tuple[int, list[str]]],
    conflicts: set[tuple[int, int]],
    per_entry: int,
    seed: int = 0,
) -> list[tuple[int, int]]:
    """(entry, judge) pairs from ``judging.compute.assignment`` (min-cost flow, conflicts as hard blocks)."""
    try:
        result = assignment.assign_judges(
            [assignment.Entry(e, category) for e, category in entries],
            [assignment.Judge(j, frozenset(expertise)) for j, expertise in judges],
            conflicts=conflicts,
            reviews_per_entry=per_entry,
            seed=seed,
        )
    except assignment.AssignmentInfeasible as exc:
        raise ConflictError("No assignment is possible: %(reason)s", reason=str(exc)) from None
    return [(e, j) for j, e in result.pairs]


# ---------------------------------------------------------------- editions and rounds


# ---------------------------------------------------------------- lifecycles
# Edition: open -> decided, the second official's approval of its winners. A decided edition's
# rules, screening, rounds, assignments, reviews and results no longer change (V8).
# Round: open until its deadline, then closed; approved once its edition is decided.
# Selection: proposed -> approved (two officials); proposed -> stale (the rules or the score sheet
# changed since it was computed: it cannot be approved); proposed | stale -> superseded (computed
# again). Every step is audited.

SELECTION_STEPS = frozenset(
    {
        ("proposed", "approved"),
        ("proposed", "stale"),
        ("proposed", "superseded"),
        ("stale", "superseded"),
    }
)
STALE_MESSAGES = {
    "rules": "The edition's rules changed after this selection was computed; run the selection again before approving.",
    "score-sheet": "The reviews changed after this selection was computed; run the selection again before approving.",
}


def round_state(rnd: dict[str, Any], edition: dict[str, Any]) -> str:
    """``open`` until the deadline, then ``closed``; ``approved`` once the edition is decided."""
    if edition["state"] == "decided":
        return "approved"
    return "open" if clock.now() < rnd["deadline"] else "closed"


async def _require_undecided(
    edition_id: int, message: str, error: type[DomainError] = ConflictError
) -> None:
    """Refuse a change once the winners are approved; call inside the writing transaction."""
    row = await Edition.select(Edition.state).where(Edition.id == edition_id).first()
    if row is not None and row["state"] == "decided":
        raise error(message)


async def _selection_step(
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


def _snapshot_rules(selection: dict[str, Any]) -> dict[str, Any]:
    """The rules a selection was computed with: its quotas document and seed."""
    return {"quotas": selection["parameters"]["quotas"], "seed": selection["seed"]}


def _current_rules(edition: dict[str, Any]) -> dict[str, Any]:
    return {"quotas": quotas_document(edition), "seed": edition["seed"]}


async def _stale_reason(selection: dict[str, Any]) -> str:
    """Why a selection no longer matches its edition ("" when it still does)."""
    edition = await get_edition(selection["edition"])
    if canonical(_snapshot_rules(selection)) != canonical(_current_rules(edition)):
        return "rules"
    sheet = await score_sheet(selection["round"])
    if hashlib.sha256(sheet.csv_text().encode()).hexdigest() != selection["sheet_sha256"]:
        return "score-sheet"
    return ""


@dataclass
class EditionForm:
    name: str
    intake_opens_at: dt.datetime
    intake_closes_at: dt.datetime
    winners: int = 50
    categories: tuple[str, ...] = CATEGORIES
    quotas: dict[str, dict[str, int]] | None = None
    max_per_organization: int = 1
    seed: int | None = None
    award_amount: int = 10_000_000


def validate_quotas(quotas: Any, categories: list[str], winners: int) -> dict[str, dict[str, int]]:
    """``{category: {"min": a, "max": b}}`` with 0 <= a <= b, minimums summing to at most the winners."""
    if not isinstance(quotas, dict):
        raise InvalidInput("Quotas must be a JSON object of categories.", field="quotas")
    clean: dict[str, dict[str, int]] = {}
    for category, bounds in quotas.items():
        if category not in categories:
            raise InvalidInput(
                "Unknown category %(category)s in the quotas.",
                field="quotas",
                category=str(category)[:40],
            )
        if not isinstance(bounds, dict) or set(bounds) - {"min", "max"}:
            raise InvalidInput("Each quota needs min and max.", field="quotas")
        low, high = bounds.get("min", 0), bounds.get("max", winners)
        if (
            not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high))
            or not 0 <= low <= high
        ):
            raise InvalidInput("Each quota needs 0 <= min <= max.", field="quotas")
        clean[category] = {"min": low, "max": high}
    if sum(b["min"] for b in clean.values()) > winners:
        raise InvalidInput(
            "The category minimums add up to more than the number of winners.", field="quotas"
        )
    return clean


async def create_edition(official_id: int, form: EditionForm) -> int:
    """Create an edition with the default rounds (screening, evaluation, final) and rubric."""
    name = (form.name or "").strip()
    if not 1 <= len(name) <= 120:
        raise InvalidInput("Give the edition a name (up to 120 characters).", field="name")
    if form.intake_closes_at <= form.intake_opens_at:
        raise InvalidInput("The intake must close after it opens.", field="intake_closes_at")
    if not 1 <= form.winners <= 1000:
        raise InvalidInput("The number of winners must be between 1 and 1000.", field="winners")
    if not 1 <= form.max_per_organization <= 1000:
        raise InvalidInput(
            "At most per organization must be at least 1.", field="max_per_organization"
        )
    if not 0 <= form.award_amount <= 2_000_000_000:
        raise InvalidInput(
            "The award amount must be between 0 and 2,000,000,000 KRW.", field="award_amount"
        )
    categories = list(form.categories)
    quotas = validate_quotas(form.quotas or {}, categories, form.winners)
    seed = (
        form.seed
        if form.seed is not None
        else int.from_bytes(hashlib.sha256(name.encode()).digest()[:3], "big")
    )
    async with write_transaction():
        edition = Edition(
            name=name,
            intake_opens_at=form.intake_opens_at,
            intake_closes_at=form.intake_closes_at,
            winners=form.winners,
            categories=categories,
            quotas=quotas,
            max_per_organization=form.max_per_organization,
            gates=list(DEFAULT_GATES),
            seed=seed,
            award_amount=form.award_amount,
            blind_review=True,
            created_by=official_id,
            created_at=clock.now(),
        )
        await edition.save()
        for position, (kind, weeks) in enumerate(
            (("screening", 1), ("evaluation", 3), ("final", 5)), start=1
        ):
            await Round.insert(
                Round(
                    edition=edition.id,
                    kind=kind,
                    position=position,
                    deadline=form.intake_closes_at + dt.timedelta(weeks=weeks),
                    judges_per_entry=3,
                    judge_pool=[],
                    rubric=default_rubric() if kind in SCORING_KINDS else [],
                )
            )
        await audit.record(
            "challenge.edition.created",
            actor_id=official_id,
            subject=f"edition:{edition.id}",
            winners=form.winners,
            quotas=quotas,
            seed=seed,
        )
    return edition.id


async def update_edition_rules(
    official_id: int,
    edition_id: int,
    winners: int,
    quotas: Any,
    max_per_organization: int,
    seed: int,
) -> None:
    """Change winners, quotas, the per-organization cap and the seed until a selection is approved."""
    edition = await get_edition(edition_id)
    if not 1 <= winners <= 1000:
        raise InvalidInput("The number of winners must be between 1 and 1000.", field="winners")
    if not 1 <= max_per_organization <= 1000:
        raise InvalidInput(
            "At most per organization must be at least 1.", field="max_per_organization"
        )
    if not 0 <= seed < 2**31:
        raise InvalidInput("The seed must be a whole number from 0 to 2147483647.", field="seed")
    clean = validate_quotas(quotas, edition["categories"], winners)
    async with write_transaction(lock_key=f"challenge-edition-{edition_id}"):
        await _require_undecided(
            edition_id, "The winners are approved; the rules can no longer change."
        )
        await Edition.update(
            {
                Edition.winners: winners,
                Edition.quotas: clean,
                Edition.max_per_organization: max_per_organization,
                Edition.seed: seed,
            }
        ).where(Edition.id == edition_id)
        await audit.record(
            "challenge.edition.rules",
            actor_id=official_id,
            subject=f"edition:{edition_id}",
            old={
                "winners": edition["winners"],
                "quotas": edition["quotas"],
                "seed": edition["seed"],
                "max_per_organization": edition["max_per_organization"],
            },
            new={
                "winners": winners,
                "quotas": clean,
                "seed": seed,
                "max_per_organization": max_per_organization,
            },
        )
        # A computed selection keeps the rules it was computed with; if they differ now it is stale.
        current = _current_rules(await get_edition(edition_id))
        for selection in await selections_of(edition_id):
            if selection["status"] == "proposed" and canonical(
                _snapshot_rules(selection)
            ) != canonical(current):
                await _selection_step(selection, "stale", official_id, reason="rules")


async def get_edition(edition_id: int) -> dict[str, Any]:
    edition = await Edition.select().output(load_json=True).where(Edition.id == edition_id).first()
    if edition is None:
        raise NotFoundError("We could not find that edition.")
    return edition


async def list_editions() -> list[dict[str, Any]]:
    return await Edition.select().output(load_json=True).order_by(Edition.id, ascending=False)


async def get_round(round_id: int) -> dict[str, Any]:
    row = await Round.select().output(load_json=True).where(Round.id == round_id).first()
    if row is None:
        raise NotFoundError("We could not find that round.")
    return row


async def rounds_of(edition_id: int) -> list[dict[str, Any]]:
    return (
        await Round.select()
        .output(load_json=True)
        .where(Round.edition == edition_id)
        .order_by(Round.position)
    )


async def update_round(
    official_id: int,
    round_id: int,
    deadline: dt.datetime,
    judges_per_entry: int,
    judge_pool: list[int],
) -> None:
    """Set a round's deadline, reviews per entry and judge pool (judge accounts only)."""
    current = await get_round(round_id)
    if not 1 <= judges_per_entry <= 10:
        raise InvalidInput("Reviews per entry must be between 1 and 10.", field="judges_per_entry")
    pool = sorted(set(judge_pool))
    if pool:
        judges = await User.select(User.id, User.roles).where(User.id.is_in(pool))
        if len(judges) != len(pool) or any("judge" not in r["roles"].split(",") for r in judges):
            raise InvalidInput("The judge pool may only hold judge accounts.", field="judge_pool")
    async with write_transaction(lock_key=f"challenge-edition-{current['edition']}"):
        await _require_undecided(
            current["edition"], "The winners are approved; this round can no longer change."
        )
        await Round.update(
            {
                Round.deadline: deadline,
                Round.judges_per_entry: judges_per_entry,
                Round.judge_pool: pool,
            }
        ).where(Round.id == round_id)
        await audit.record(
            "challenge.round.updated",
            actor_id=official_id,
            subject=f"round:{round_id}",
            old={
                "deadline": current["deadline"],
                "judges_per_entry": current["judges_per_entry"],
                "judge_pool": current["judge_pool"],
            },
            new={"deadline": deadline, "judges_per_entry": judges_per_entry, "judge_pool": pool},
        )


async def all_judges() -> list[dict[str, Any]]:
    rows = await User.select(User.id, User.email, User.display_name, User.roles).order_by(User.id)
    return [r for r in rows if "judge" in r["roles"].split(",")]


# ---------------------------------------------------------------- screening


def _intake_closed(edition: dict[str, Any]) -> bool:
    return clock.now() >= edition["intake_closes_at"]


async def entries_of(
    edition_id: int, statuses: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    query = (
        Entry.select(Entry.all_columns(), Entry.organization.name.as_alias("organization_name"))
        .where(Entry.edition == edition_id)
        .output(load_json=True)
    )
    if statuses:
        query = query.where(Entry.status.is_in(list(statuses)))
    return await query.order_by(Entry.id)


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
        await _require_undecided(
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


# ---------------------------------------------------------------- judges and conflicts


async def judge_profile(user_id: int) -> dict[str, Any]:
    row = (
        await JudgeProfile.select()
        .output(load_json=True)
        .where(JudgeProfile.user == user_id)
        .first()
    )
    return row or {"user": user_id, "affiliations": [], "expertise": [], "holdings": []}


def _lines(text: str, limit: int, length: int) -> list[str]:
    items = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(items) > limit or any(len(i) > length for i in items):
        raise InvalidInput(
            "Up to %(n)s lines of %(length)s characters.",
            field="affiliations",
            n=limit,
            length=length,
        )
    return items


async def save_judge_profile(
    user_id: int, affiliations: str, expertise: list[str], holdings: str
) -> None:
    """Affiliations (one a line), expertise categories, holdings as registration numbers (one a line)."""
    from judging.services.intake import normalise_registration_number

    clean_affiliations = _lines(affiliations, 20, 200)
    if any(c not in CATEGORIES for c in expertise):
        raise InvalidInput("Choose expertise from the categories.", field="expertise")
    clean_holdings = []
    for line in _lines(holdings, 50, 20):
        try:
            clean_holdings.append(normalise_registration_number(line))
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="holdings", **exc.params) from None
    async with write_transaction():
        old = await judge_profile(user_id)
        values = {
            "affiliations": clean_affiliations,
            "expertise": sorted(set(expertise)),
            "holdings": sorted(set(clean_holdings)),
        }
        if "id" in old:
            await JudgeProfile.update(
                {
                    JudgeProfile.affiliations: values["affiliations"],
                    JudgeProfile.expertise: values["expertise"],
                    JudgeProfile.holdings: values["holdings"],
                    JudgeProfile.updated_at: clock.now(),
                }
            ).where(JudgeProfile.user == user_id)
        else:
            await JudgeProfile.insert(JudgeProfile(user=user_id, updated_at=clock.now(), **values))
        await audit.record(
            "challenge.judge.profile",
            actor_id=user_id,
            subject=f"user:{user_id}",
            old={k: old[k] for k in values},
            new=values,
        )
        await _drop_conflicted_work(user_id)


async def declare_conflict(user_id: int, organization_id: int, kind: str, note: str) -> None:
    """A judge declares a conflict with an organization; any work on its entries is withdrawn from them."""
    if kind not in CONFLICT_TYPES:
        raise InvalidInput("Choose a conflict type.", field="kind")
    note = (note or "").strip()
    if len(note) > 500:
        raise InvalidInput("Keep this under %(limit)s characters.", field="note", limit=500)
    if not await Organization.exists().where(Organization.id == organization_id):
        raise NotFoundError("We could not find that organization.", field="organization")
    async with write_transaction():
        if not await Conflict.exists().where(
            (Conflict.judge == user_id)
            & (Conflict.organization == organization_id)
            & (Conflict.kind == kind)
        ):
            await Conflict.insert(
                Conflict(
                    judge=user_id,
                    organization=organization_id,
                    kind=kind,
                    note=note,
                    declared_at=clock.now(),
                )
            )
        await audit.record(
            "challenge.conflict.declared",
            actor_id=user_id,
            subject=f"organization:{organization_id}",
            kind=kind,
        )
        await _drop_conflicted_work(user_id)


async def _drop_conflicted_work(judge_id: int) -> None:
    """Remove assignments and reviews that a (new) conflict forbids; call inside a transaction.

    Work in decided editions stays: what two officials approved never changes. A submitted review
    removed here leaves its entry short of reviewers: ``coverage_gaps`` flags it on the round and
    selection pages with a one-click reassignment.
    """
    blocked = {
        entry_id
        for j, entry_id, _kind in await conflict_register(judge_ids=[judge_id])
        if j == judge_id
    }
    if not blocked:
        return
    open_work = await Assignment.select(
        Assignment.id,
        Assignment.entry,
        Assignment.round,
        Assignment.round.edition.state.as_alias("edition_state"),
    ).where((Assignment.judge == judge_id) & Assignment.entry.is_in(sorted(blocked)))
    open_work = [a for a in open_work if a["edition_state"] != "decided"]
    if open_work:
        rounds = sorted({a["round"] for a in open_work})
        entries = sorted({a["entry"] for a in open_work})
        reviewed = await Review.select(Review.round, Review.entry).where(
            (Review.judge == judge_id)
            & Review.entry.is_in(entries)
            & Review.round.is_in(rounds)
        )
        await Assignment.delete().where(Assignment.id.is_in([a["id"] for a in open_work]))
        await Review.delete().where(
            (Review.judge == judge_id) & Review.entry.is_in(entries) & Review.round.is_in(rounds)
        )
        await audit.record(
            "challenge.conflict.work_removed",
            subject=f"user:{judge_id}",
            entries=entries,
            reviews_removed=sorted([r["round"], r["entry"]] for r in reviewed),
        )


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()


async def conflict_register(
    edition_id: int | None = None, judge_ids: list[int] | None = None
) -> list[tuple[int, int, str]]:
    """Every (judge, entry, kind) conflict, declared or detected, computed now (never stale).

    Detected: the judge is a member of the entry's organization, shares a non-webmail email domain
    with one of its members, or declared its registration number among their holdings.
    """
    judges = await all_judges()
    if judge_ids is not None:
        judges = [j for j in judges if j["id"] in judge_ids]
    if not judges:
        return []
    entry_query = Entry.select(
        Entry.id, Entry.organization, Entry.organization.registration_number.as_alias("brn")
    )
    if edition_id is not None:
        entry_query = entry_query.where(Entry.edition == edition_id)
    entries = await entry_query
    if not entries:
        return []
    org_ids = sorted({e["organization"] for e in entries})
    members = await OrganizationMember.select(
        OrganizationMember.organization,
        OrganizationMember.user,
        OrganizationMember.user.email.as_alias("email"),
    ).where(OrganizationMember.organization.is_in(org_ids))
    member_ids: dict[int, set[int]] = defaultdict(set)
    member_domains: dict[int, set[str]] = defaultdict(set)
    for m in members:
        member_ids[m["organization"]].add(m["user"])
        member_domains[m["organization"]].add(email_domain(m["email"]))
    judge_list = [j["id"] for j in judges]
    declared = await Conflict.select().where(Conflict.judge.is_in(judge_list))
    declared_by: dict[tuple[int, int], str] = {}
    for c in declared:
        declared_by.setdefault((c["judge"], c["organization"]), c["kind"])
    profiles = {
        p["user"]: p
        for p in await JudgeProfile.select()
        .output(load_json=True)
        .where(JudgeProfile.user.is_in(judge_list))
    }
    found: list[tuple[int, int, str]] = []
    for judge in judges:
        domain = email_domain(judge["email"])
        holdings = set((profiles.get(judge["id"]) or {}).get("holdings") or [])
        for entry in entries:
            org = entry["organization"]
            kind = declared_by.get((judge["id"], org))
            if kind is None:
                if judge["id"] in member_ids[org]:
                    kind = "same-organization"
                elif domain not in PUBLIC_EMAIL_DOMAINS and domain in member_domains[org]:
                    kind = "same-email-domain"
                elif entry["brn"] in holdings:
                    kind = "holding"
            if kind is not None:
                found.append((judge["id"], entry["id"], kind))
    return found


async def is_conflicted(judge_id: int, entry_id: int) -> bool:
    entry = await Entry.select(Entry.edition).where(Entry.id == entry_id).first()
    if entry is None:
        return False
    return any(e == entry_id for _j, e, _k in await conflict_register(entry["edition"], [judge_id]))


async def organizations_for_declaration() -> list[dict[str, Any]]:
    """Organizations a judge may declare a conflict with (names only: no entries are revealed)."""
    return await Organization.select(
        Organization.id, Organization.name, Organization.registration_number
    ).order_by(Organization.name)


async def my_conflicts(user_id: int) -> list[dict[str, Any]]:
    return await Conflict.select(
        Conflict.id,
        Conflict.kind,
        Conflict.note,
        Conflict.declared_at,
        Conflict.organization.name.as_alias("organization_name"),
    ).where(Conflict.judge == user_id)


# ---------------------------------------------------------------- assignment


async def _scoring_round(round_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    rnd = await get_round(round_id)
    if rnd["kind"] not in SCORING_KINDS:
        raise ConflictError("The screening round has no judges; screen entries instead.")
    return rnd, await get_edition(rnd["edition"])


async def run_assignment(official_id: int, round_id: int) -> int:
    """Assign every screened-in entry to R judges of the pool (min-cost flow in ``judging.compute.assignment``)."""
    rnd, edition = await _scoring_round(round_id)
    pool = list(rnd["judge_pool"])
    if not pool:
        raise ConflictError("Add judges to the round's pool first.")
    entries = await entries_of(edition["id"], ("screened-in",))
    if not entries:
        raise ConflictError("No screened-in entries to assign yet.")
    blocked = {(j, e) for j, e, _ in await conflict_register(edition["id"], pool)}
    profiles = {
        p["user"]: p
        for p in await JudgeProfile.select()
        .output(load_json=True)
        .where(JudgeProfile.user.is_in(pool))
    }
    pairs = assign_judges(
        entries=[(e["id"], e["category"]) for e in entries],
        judges=[(j, list((profiles.get(j) or {}).get("expertise") or [])) for j in pool],
        conflicts=blocked,
        per_entry=rnd["judges_per_entry"],
        seed=edition["seed"],
    )
    async with write_transaction(lock_key=f"challenge-round-{round_id}"):
        await _require_undecided(edition["id"], "The winners are approved; this round can no longer change.")
        if await Review.exists().where(Review.round == round_id):
            raise ConflictError(
                "Scoring has started in this round; adjust assignments by hand instead."
            )
        await Assignment.delete().where(Assignment.round == round_id)
        now = clock.now()
        if pairs:
            await Assignment.insert(
                *[
                    Assignment(round=round_id, entry=e, judge=j, source="auto", created_at=now)
                    for e, j in pairs
                ]
            )
        await audit.record(
            "challenge.assignment.run",
            actor_id=official_id,
            subject=f"round:{round_id}",
            assignments=len(pairs),
            judges=len(pool),
            entries=len(entries),
        )
    return len(pairs)


async def add_assignment(official_id: int, round_id: int, entry_id: int, judge_id: int) -> None:
    """Assign by hand; a conflict is a hard block."""
    rnd, edition = await _scoring_round(round_id)
    entry = await Entry.select(Entry.edition, Entry.status).where(Entry.id == entry_id).first()
    if entry is None or entry["edition"] != edition["id"] or entry["status"] != "screened-in":
        raise InvalidInput("Choose a screened-in entry of this edition.", field="entry")
    if judge_id not in rnd["judge_pool"]:
        raise InvalidInput("Choose a judge from the round's pool.", field="judge")
    if await is_conflicted(judge_id, entry_id):
        raise ConflictError("This judge has a conflict of interest with this entry.", field="judge")
    async with write_transaction(lock_key=f"challenge-round-{round_id}"):
        await _require_undecided(edition["id"], "The winners are approved; this round can no longer change.")
        if await Assignment.exists().where(
            (Assignment.round == round_id)
            & (Assignment.entry == entry_id)
            & (Assignment.judge == judge_id)
        ):
            raise ConflictError("This judge is already assigned to this entry.", field="judge")
        await Assignment.insert(
            Assignment(
                round=round_id,
                entry=entry_id,
                judge=judge_id,
                source="manual",
                created_at=clock.now(),
            )
        )
        await audit.record(
            "challenge.assignment.added",
            actor_id=official_id,
            subject=f"round:{round_id}",
            entry=entry_id,
            judge=judge_id,
        )


async def remove_assignment(official_id: int, round_id: int, entry_id: int, judge_id: int) -> None:
    rnd = await get_round(round_id)
    async with write_transaction(lock_key=f"challenge-round-{round_id}"):
        await _require_undecided(rnd["edition"], "The winners are approved; this round can no longer change.")
        if await Review.exists().where(
            (Review.round == round_id) & (Review.entry == entry_id) & (Review.judge == judge_id)
        ):
            raise ConflictError("This judge already scored the entry; the assignment stays.")
        await Assignment.delete().where(
            (Assignment.round == round_id)
            & (Assignment.entry == entry_id)
            & (Assignment.judge == judge_id)
        )
        await audit.record(
            "challenge.assignment.removed",
            actor_id=official_id,
            subject=f"round:{round_id}",
            entry=entry_id,
            judge=judge_id,
        )


async def reassign_unreviewed(official_id: int, round_id: int, judge_id: int) -> int:
    """Move a lagging judge's unreviewed entries to other judges of the pool, lowest loads first."""
    rnd, edition = await _scoring_round(round_id)
    pool = list(rnd["judge_pool"])
    if judge_id not in pool or len(pool) < 2:
        raise ConflictError("No other judge in the pool can take over.")
    blocked = {(j, e) for j, e, _ in await conflict_register(edition["id"], pool)}
    profiles = {
        p["user"]: p
        for p in await JudgeProfile.select()
        .output(load_json=True)
        .where(JudgeProfile.user.is_in(pool))
    }
    async with write_transaction(lock_key=f"challenge-round-{round_id}"):
        await _require_undecided(edition["id"], "The winners are approved; this round can no longer change.")
        current = await Assignment.select().where(Assignment.round == round_id)
        finished = [
            r["entry"]
            for r in await Review.select(Review.entry).where(
                (Review.round == round_id) & (Review.judge == judge_id)
            )
        ]
        categories = {
            e["id"]: e["category"]
            for e in await Entry.select(Entry.id, Entry.category).where(
                Entry.id.is_in(sorted({a["entry"] for a in current}) or [0])
            )
        }
        try:
            result = assignment.reassign_unfinished(
                [(a["judge"], a["entry"]) for a in current],
                judge_id,
                finished,
                [assignment.Entry(e, c) for e, c in categories.items()],
                [
                    assignment.Judge(j, frozenset((profiles.get(j) or {}).get("expertise") or []))
                    for j in pool
                ],
                conflicts=blocked,
                seed=edition["seed"],
                require_connected=False,
            )
        except assignment.AssignmentInfeasible as exc:
            raise ConflictError("No assignment is possible: %(reason)s", reason=str(exc)) from None
        before = {(a["judge"], a["entry"]) for a in current}
        after = set(result.pairs)
        added, removed = after - before, before - after
        if removed:
            await Assignment.delete().where(
                (Assignment.round == round_id)
                & (Assignment.judge == judge_id)
                & Assignment.entry.is_in(sorted(e for _j, e in removed))
            )
        now = clock.now()
        if added:
            await Assignment.insert(
                *[
                    Assignment(round=round_id, entry=e, judge=j, source="manual", created_at=now)
                    for j, e in added
                ]
            )
        await audit.record(
            "challenge.assignment.reassigned",
            actor_id=official_id,
            subject=f"round:{round_id}",
            judge=judge_id,
            moved=len(removed),
        )
    return len(removed)


async def coverage_gaps(round_id: int) -> list[dict[str, Any]]:
    """Screened-in entries with fewer judges than the round asks for, once assignment has run.

    A late conflict declaration removes the judge's assignment (and submitted review): the entry
    shows up here until an official assigns another judge.
    """
    rnd = await get_round(round_id)
    if rnd["kind"] not in SCORING_KINDS:
        return []
    assigned = await Assignment.select(Assignment.entry).where(Assignment.round == round_id)
    if not assigned:
        return []
    counts: dict[int, int] = defaultdict(int)
    for a in assigned:
        counts[a["entry"]] += 1
    return [
        {
            "entry": e["id"],
            "title": e["title"],
            "have": counts.get(e["id"], 0),
            "need": rnd["judges_per_entry"],
        }
        for e in await entries_of(rnd["edition"], ("screened-in",))
        if counts.get(e["id"], 0) < rnd["judges_per_entry"]
    ]


async def fill_coverage_gap(official_id: int, round_id: int, entry_id: int) -> list[int]:
    """Assign eligible judges to an entry short of reviewers, with the pool's assignment logic.

    The missing places are handed over as if a departed judge had left them unfinished, so
    ``reassign_unfinished`` gives them to the least-loaded judges without a conflict. Returns the
    judges added.
    """
    rnd, edition = await _scoring_round(round_id)
    gap = next((g for g in await coverage_gaps(round_id) if g["entry"] == entry_id), None)
    if gap is None:
        raise ConflictError("This entry already has all the judges the round asks for.")
    pool = list(rnd["judge_pool"])
    blocked = {(j, e) for j, e, _ in await conflict_register(edition["id"], pool)}
    profiles = {
        p["user"]: p
        for p in await JudgeProfile.select()
        .output(load_json=True)
        .where(JudgeProfile.user.is_in(pool or [0]))
    }
    added: list[int] = []
    async with write_transaction(lock_key=f"challenge-round-{round_id}"):
        await _require_undecided(
            edition["id"], "The winners are approved; this round can no longer change."
        )
        current = await Assignment.select().where(Assignment.round == round_id)
        # Loads count within the pool; pairs a later-detected conflict forbids are not kept.
        pairs = [
            (a["judge"], a["entry"])
            for a in current
            if a["judge"] in pool and (a["judge"], a["entry"]) not in blocked
        ]
        taken = {a["judge"] for a in current if a["entry"] == entry_id}
        categories = {
            e["id"]: e["category"]
            for e in await Entry.select(Entry.id, Entry.category).where(
                Entry.id.is_in(sorted({e for _j, e in pairs} | {entry_id}))
            )
        }
        judges = [
            assignment.Judge(j, frozenset((profiles.get(j) or {}).get("expertise") or []))
            for j in pool
        ]
        for _ in range(gap["need"] - gap["have"]):
            departed = -1  # a stand-in judge (no account has this id) holding the place to fill
            try:
                result = assignment.reassign_unfinished(
                    [*pairs, (departed, entry_id)],
                    departed,
                    [],
                    [assignment.Entry(e, c) for e, c in categories.items()],
                    [*judges, assignment.Judge(departed, frozenset())],
                    conflicts=blocked,
                    seed=edition["seed"],
                    require_connected=False,
                )
            except assignment.AssignmentInfeasible:
                break
            new = [
                j
                for j, e in set(result.pairs) - set(pairs)
                if e == entry_id and j != departed and j not in taken
            ]
            if not new:
                break
            pairs.append((new[0], entry_id))
            taken.add(new[0])
            added.append(new[0])
        if not added:
            raise ConflictError(
                "No eligible judge in the pool can review this entry: add judges to the pool."
            )
        now = clock.now()
        await Assignment.insert(
            *[
                Assignment(round=round_id, entry=entry_id, judge=j, source="manual", created_at=now)
                for j in added
            ]
        )
        await audit.record(
            "challenge.assignment.gap_filled",
            actor_id=official_id,
            subject=f"round:{round_id}",
            entry=entry_id,
            judges=added,
        )
    return added


async def round_assignments(round_id: int) -> list[dict[str, Any]]:
    return (
        await Assignment.select(
            Assignment.id,
            Assignment.entry,
            Assignment.judge,
            Assignment.source,
            Assignment.entry.title.as_alias("title"),
            Assignment.judge.email.as_alias("judge_email"),
        )
        .where(Assignment.round == round_id)
        .order_by(Assignment.entry)
    )


async def round_progress(round_id: int) -> list[dict[str, Any]]:
    """Per judge: assigned, reviewed, and the entries still missing a review."""
    assignments = await round_assignments(round_id)
    reviewed = {
        (r["entry"], r["judge"])
        for r in await Review.select(Review.entry, Review.judge).where(Review.round == round_id)
    }
    per_judge: dict[int, dict[str, Any]] = {}
    for a in assignments:
        row = per_judge.setdefault(
            a["judge"],
            {
                "judge": a["judge"],
                "email": a["judge_email"],
                "assigned": 0,
                "reviewed": 0,
                "missing": [],
            },
        )
        row["assigned"] += 1
        if (a["entry"], a["judge"]) in reviewed:
            row["reviewed"] += 1
        else:
            row["missing"].append({"entry": a["entry"], "title": a["title"]})
    return sorted(per_judge.values(), key=lambda r: (r["reviewed"] - r["assigned"], r["email"]))


async def send_reminders(official_id: int, round_id: int) -> int:
    """Email every judge who still has reviews to write in this round."""
    rnd = await get_round(round_id)
    reminded = 0
    for row in await round_progress(round_id):
        if row["missing"]:
            await accounts.notify_and_mail(
                row["judge"],
                "Reminder: reviews due",
                "You have %(missing)s reviews left to write before %(deadline)s.",
                "/judging",
                missing=len(row["missing"]),
                deadline=_kst(rnd["deadline"]),
            )
            reminded += 1
    async with write_transaction():
        await audit.record(
            "challenge.reminders.sent",
            actor_id=official_id,
            subject=f"round:{round_id}",
            judges=reminded,
        )
    return reminded


def _kst(moment: dt.datetime) -> str:
    from portal.clock import format_datetime

    return format_datetime(moment)


# ---------------------------------------------------------------- judges' view (S14)


async def judge_assignments(judge_id: int) -> list[dict[str, Any]]:
    """My assignments across rounds, conflicted entries filtered out again at read time."""
    rows = (
        await Assignment.select(
            Assignment.round,
            Assignment.entry,
            Assignment.entry.title.as_alias("title"),
            Assignment.entry.category.as_alias("category"),
            Assignment.entry.edition.as_alias("edition"),
            Assignment.round.deadline.as_alias("deadline"),
            Assignment.round.kind.as_alias("round_kind"),
            Assignment.round.edition.name.as_alias("edition_name"),
        )
        .where(Assignment.judge == judge_id)
        .order_by(Assignment.round.deadline, Assignment.entry)
    )
    if not rows:
        return []
    blocked = {e for _j, e, _k in await conflict_register(None, [judge_id])}
    reviews = {
        (r["round"], r["entry"]): r
        for r in await Review.select(
            Review.round, Review.entry, Review.total_centi, Review.updated_at
        ).where(Review.judge == judge_id)
    }
    now = clock.now()
    visible = []
    for row in rows:
        if row["entry"] in blocked:
            continue
        review = reviews.get((row["round"], row["entry"]))
        row["reviewed"] = review is not None
        row["total"] = review["total_centi"] / 100 if review else None
        row["open"] = now < row["deadline"]
        visible.append(row)
    return visible


async def entry_for_judge(judge_id: int, round_id: int, entry_id: int) -> dict[str, Any]:
    """The blind view of an assigned entry; 404 for anything not assigned or conflicted (S14)."""
    assigned = await Assignment.exists().where(
        (Assignment.round == round_id)
        & (Assignment.entry == entry_id)
        & (Assignment.judge == judge_id)
    )
    if not assigned or await is_conflicted(judge_id, entry_id):
        raise NotFoundError("We could not find that page.")
    entry = await Entry.select().output(load_json=True).where(Entry.id == entry_id).first()
    edition = await get_edition(entry["edition"])
    blind_fields = ("organization", "created_by", "team", "demo_url")
    view = {k: v for k, v in entry.items() if not (edition["blind_review"] and k in blind_fields)}
    if not edition["blind_review"]:
        org = (
            await Organization.select(Organization.name)
            .where(Organization.id == entry["organization"])
            .first()
        )
        view["organization_name"] = org["name"]
    return view


async def judge_may_read_entry(judge_id: int, entry_id: int) -> bool:
    """Attachments: only for an assigned, unconflicted judge."""
    assigned = await Assignment.exists().where(
        (Assignment.entry == entry_id) & (Assignment.judge == judge_id)
    )
    return assigned and not await is_conflicted(judge_id, entry_id)


async def blind_attachment_name(attachment: dict[str, Any]) -> str:
    """A judge's download name: the entry's pseudonym (plus the file's position when there are
    several), never the uploader's file name, which can name the company in a blind review."""
    entry = await Entry.select(Entry.edition).where(Entry.id == attachment["entry"]).first()
    name = pseudonym("entry", entry["edition"], attachment["entry"])
    siblings = [
        a["id"]
        for a in await Attachment.select(Attachment.id)
        .where(Attachment.entry == attachment["entry"])
        .order_by(Attachment.id)
    ]
    if len(siblings) > 1:
        name += f"-{siblings.index(attachment['id']) + 1}"
    return name


async def my_review(judge_id: int, round_id: int, entry_id: int) -> dict[str, Any] | None:
    return (
        await Review.select()
        .output(load_json=True)
        .where((Review.round == round_id) & (Review.entry == entry_id) & (Review.judge == judge_id))
        .first()
    )


# ---------------------------------------------------------------- scoring (V7)


async def save_review(
    judge_id: int,
    round_id: int,
    entry_id: int,
    scores: dict[str, int],
    comments: dict[str, str],
    confidence: int,
) -> int:
    """Create or change my review until the round deadline; every change is audited with old and new values."""
    rnd = await get_round(round_id)
    await entry_for_judge(judge_id, round_id, entry_id)  # 404 unless assigned and unconflicted
    if clock.now() >= rnd["deadline"]:
        raise NotAllowed("The round deadline has passed; scores are locked.")
    keys = [c["key"] for c in rnd["rubric"]]
    if set(scores) != set(keys):
        raise InvalidInput("Score every criterion from 1 to 10.", field="scores")
    for key in keys:
        value = scores[key]
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10:
            raise InvalidInput("Score every criterion from 1 to 10.", field=f"score_{key}")
    if set(comments) - set(keys):
        raise InvalidInput("Comments are per criterion.", field="comments")
    clean_comments = {k: (comments.get(k) or "").strip() for k in keys}
    if any(len(c) > 2000 for c in clean_comments.values()):
        raise InvalidInput("Keep this under %(limit)s characters.", field="comments", limit=2000)
    if not isinstance(confidence, int) or isinstance(confidence, bool) or not 1 <= confidence <= 5:
        raise InvalidInput("Confidence is from 1 to 5.", field="confidence")
    total_centi = weighted_total_centi(rnd["rubric"], scores)
    async with write_transaction(lock_key=f"challenge-review-{round_id}-{entry_id}-{judge_id}"):
        if clock.now() >= rnd["deadline"]:
            raise NotAllowed("The round deadline has passed; scores are locked.")
        # Locked scores answer 403 as after the deadline (the review API's documented answer).
        await _require_undecided(
            rnd["edition"], "The winners are approved; scores are locked.", NotAllowed
        )
        old = await my_review(judge_id, round_id, entry_id)
        new_values = {
            "scores": scores,
            "comments": clean_comments,
            "confidence": confidence,
            "total_centi": total_centi,
        }
        if old is None:
            review = Review(
                round=round_id,
                entry=entry_id,
                judge=judge_id,
                created_at=clock.now(),
                updated_at=clock.now(),
                **new_values,
            )
            await review.save()
            review_id = review.id
            await audit.record(
                "challenge.review.created",
                actor_id=judge_id,
                subject=f"review:{review_id}",
                old=None,
                new=new_values,
            )
        else:
            review_id = old["id"]
            await Review.update(
                {
                    Review.scores: scores,
                    Review.comments: clean_comments,
                    Review.confidence: confidence,
                    Review.total_centi: total_centi,
                    Review.updated_at: clock.now(),
                }
            ).where(Review.id == review_id)
            await audit.record(
                "challenge.review.changed",
                actor_id=judge_id,
                subject=f"review:{review_id}",
                old={k: old[k] for k in new_values},
                new=new_values,
            )
    return review_id


# ---------------------------------------------------------------- score sheet, calibration, selection


def pseudonym(kind: str, edition_id: int, object_id: int) -> str:
    """A stable pseudonymous id for exports (keyed by the server secret, so not reversible by guessing)."""
    digest = hmac.new(
        get_settings().secret_key.encode(),
        f"{kind}:{edition_id}:{object_id}".encode(),
        hashlib.sha256,
    ).hexdigest()
    return f"{kind[0].upper()}-{digest[:10]}"


@dataclass
class Sheet:
    """A round's score sheet with pseudonymous ids, and the maps back to database ids."""

    rows: list[dict[str, str]]
    entry_ids: dict[str, int]
    judge_ids: dict[str, int]

    def csv_text(self) -> str:
        lines = ["entry_id,judge_id,score,category,organization"]
        lines += [
            f"{r['entry_id']},{r['judge_id']},{r['score']},{r['category']},{r['organization']}"
            for r in self.rows
        ]
        return "\n".join(lines) + "\n"


async def score_sheet(round_id: int) -> Sheet:
    """Every review of screened-in entries in the round (conflicted pairs never have reviews)."""
    rnd = await get_round(round_id)
    edition_id = rnd["edition"]
    reviews = (
        await Review.select(
            Review.entry,
            Review.judge,
            Review.total_centi,
            Review.entry.category.as_alias("category"),
            Review.entry.organization.as_alias("organization"),
            Review.entry.status.as_alias("status"),
        )
        .where(Review.round == round_id)
        .order_by(Review.entry, Review.judge)
    )
    rows: list[dict[str, str]] = []
    entry_ids: dict[str, int] = {}
    judge_ids: dict[str, int] = {}
    for r in reviews:
        if r["status"] != "screened-in":
            continue
        e, j = (
            pseudonym("entry", edition_id, r["entry"]),
            pseudonym("judge", edition_id, r["judge"]),
        )
        entry_ids[e], judge_ids[j] = r["entry"], r["judge"]
        rows.append(
            {
                "entry_id": e,
                "judge_id": j,
                "score": f"{r['total_centi'] // 100}.{r['total_centi'] % 100:02d}",
                "category": r["category"],
                "organization": pseudonym("org", edition_id, r["organization"]),
            }
        )
    rows.sort(key=lambda row: (row["entry_id"], row["judge_id"]))
    return Sheet(rows, entry_ids, judge_ids)


def quotas_document(edition: dict[str, Any]) -> dict[str, Any]:
    """The QUOTAS.json that ``hangang challenge rank --quotas`` reads."""
    return {
        "winners": edition["winners"],
        "categories": edition["quotas"],
        "max_per_organization": edition["max_per_organization"],
    }


async def calibration_view(round_id: int) -> dict[str, Any]:
    """Raw mean, per-judge z-score and the additive model side by side, with disagreement and review counts."""
    sheet = await score_sheet(round_id)
    if not sheet.rows:
        return {"rows": [], "judge_offsets": {}}
    table = calibrate_all(sheet.rows)
    titles = {
        e["id"]: e["title"]
        for e in await Entry.select(Entry.id, Entry.title).where(
            Entry.id.is_in(list(sheet.entry_ids.values()))
        )
    }
    for row in table["rows"]:
        row["entry"] = sheet.entry_ids[row["entry_id"]]
        row["title"] = titles.get(row["entry"], "")
    emails = {
        u["id"]: u["email"]
        for u in await User.select(User.id, User.email).where(
            User.id.is_in(list(sheet.judge_ids.values()))
        )
    }
    table["judges"] = [
        {"judge_id": j, "email": emails.get(sheet.judge_ids[j], ""), "offset": off}
        for j, off in sorted(table["judge_offsets"].items(), key=lambda kv: kv[1])
    ]
    return table


async def run_selection(
    official_id: int, edition_id: int, round_id: int, method: str = "additive"
) -> int:
    """Rank with calibration and choose the winners under the quotas, exactly as the CLI would on the export."""
    edition = await get_edition(edition_id)
    rnd = await get_round(round_id)
    if rnd["edition"] != edition_id or rnd["kind"] not in SCORING_KINDS:
        raise InvalidInput("Choose a scoring round of this edition.", field="round")
    if method not in ("additive", "zscore", "mean"):
        raise InvalidInput("Choose additive, zscore or mean.", field="method")
    sheet = await score_sheet(round_id)
    if not sheet.rows:
        raise ConflictError("There are no reviews in this round yet.")
    quotas = quotas_document(edition)
    try:
        outcome = rank_sheet(sheet.csv_text(), method=method, quotas=quotas, seed=edition["seed"])
    except ValueError as exc:
        raise InvalidInput(
            "The selection is not possible: %(reason)s", field="quotas", reason=_reason_in_words(exc)
        ) from None
    sheet_text = sheet.csv_text()
    sheet_sha = hashlib.sha256(sheet_text.encode()).hexdigest()
    async with write_transaction(lock_key=f"challenge-edition-{edition_id}"):
        await _require_undecided(edition_id, "The winners are already approved.")
        for earlier in await selections_of(edition_id):
            if earlier["status"] in ("proposed", "stale"):
                await _selection_step(earlier, "superseded", official_id)
        # The snapshot: exactly the rules, quotas, seed and score sheet this selection uses.
        selection = Selection(
            edition=edition_id,
            round=round_id,
            method=method,
            seed=edition["seed"],
            parameters={
                "method": method,
                "seed": edition["seed"],
                "round": round_id,
                "quotas": quotas,
            },
            result={**outcome, "entry_ids": sheet.entry_ids},
            sheet_sha256=sheet_sha,
            sheet_csv=sheet_text,
            status="proposed",
            computed_by=official_id,
            computed_at=clock.now(),
        )
        await selection.save()
        await audit.record(
            "challenge.selection.computed",
            actor_id=official_id,
            subject=f"selection:{selection.id}",
            method=method,
            seed=edition["seed"],
            sheet_sha256=sheet_sha,
            winners=len(outcome["winners"]),
        )
    return selection.id


def _reason_in_words(exc: ValueError) -> str:
    """Why the quotas cannot be met, in the reader's language (a category by its label)."""
    from judging.compute.selection import QuotaInfeasible

    # The ranking re-raises quota problems as score sheet errors, with the original as the cause.
    quota = exc if isinstance(exc, QuotaInfeasible) else exc.__cause__
    if not isinstance(quota, QuotaInfeasible):
        return str(exc)
    params = dict(quota.params)
    if params.get("category") in CATEGORY_LABELS:
        params["category"] = i18n.translate(CATEGORY_LABELS[str(params["category"])])
    return i18n.translate(quota.message, **params)


async def get_selection(selection_id: int) -> dict[str, Any]:
    row = (
        await Selection.select().output(load_json=True).where(Selection.id == selection_id).first()
    )
    if row is None:
        raise NotFoundError("We could not find that selection.")
    return row


async def selections_of(edition_id: int) -> list[dict[str, Any]]:
    return (
        await Selection.select()
        .output(load_json=True)
        .where(Selection.edition == edition_id)
        .order_by(Selection.id, ascending=False)
    )


async def approvals_of(selection_id: int) -> list[dict[str, Any]]:
    return (
        await SelectionApproval.select(
            SelectionApproval.official,
            SelectionApproval.approved_at,
            SelectionApproval.official.email.as_alias("email"),
        )
        .where(SelectionApproval.selection == selection_id)
        .order_by(SelectionApproval.id)
    )


async def approve_selection(official_id: int, selection_id: int) -> bool:
    """Record one official's approval; the second different official makes it final (V8).

    A selection whose edition rules or score sheet changed since it was computed is marked stale
    and refused. The final approval decides the edition and writes the award batch to the
    connector's outbox in the same transaction (A5). Returns True when the selection became approved.
    """
    selection = await get_selection(selection_id)
    if selection["status"] == "proposed":
        reason = await _stale_reason(selection)
        if reason:
            async with write_transaction(lock_key=f"challenge-edition-{selection['edition']}"):
                current = await get_selection(selection_id)
                if current["status"] == "proposed":
                    await _selection_step(current, "stale", official_id, reason=reason)
    async with write_transaction(lock_key=f"challenge-edition-{selection['edition']}"):
        selection = await get_selection(selection_id)
        if selection["status"] == "stale":
            raise ConflictError(
                STALE_MESSAGES.get(selection["stale_reason"], STALE_MESSAGES["rules"])
            )
        if selection["status"] == "approved":
            raise ConflictError("The winners are already approved.")
        if selection["status"] != "proposed":
            raise ConflictError("Only a proposed selection can be approved.")
        await _require_undecided(selection["edition"], "The winners are already approved.")
        approvals = await approvals_of(selection_id)
        if any(a["official"] == official_id for a in approvals):
            raise ConflictError(
                "You already approved this selection; a second, different official must approve it."
            )
        now = clock.now()
        await SelectionApproval.insert(
            SelectionApproval(selection=selection_id, official=official_id, approved_at=now)
        )
        final = len({a["official"] for a in approvals} | {official_id}) >= 2
        await audit.record(
            "challenge.selection.approved",
            actor_id=official_id,
            subject=f"selection:{selection_id}",
            final=final,
        )
        if final:
            await _selection_step(selection, "approved", official_id)
            await Selection.update({Selection.approved_at: now}).where(
                Selection.id == selection_id
            )
            await Edition.update({Edition.state: "decided", Edition.decided_at: now}).where(
                Edition.id == selection["edition"]
            )
            await audit.record(
                "challenge.edition.state",
                actor_id=official_id,
                subject=f"edition:{selection['edition']}",
                old="open",
                new="decided",
                selection=selection_id,
            )
            await _enqueue_award_batch(selection_id, official_id)
    if final:
        await _notify_outcome(selection_id)
    return final


async def _enqueue_award_batch(selection_id: int, official_id: int) -> None:
    """The one place that hands the awards to the connector's outbox (inside the approval transaction)."""
    payload = await award_batch_payload(selection_id)
    try:
        services = importlib.import_module("portal.connector.services")
    except ModuleNotFoundError:
        services = None
    enqueue = getattr(services, "enqueue_batch", None) if services else None
    if enqueue is None:
        # The connector's outbox is not part of this build; the signed file export remains the channel.
        await audit.record("challenge.award_batch.not_queued", subject=f"selection:{selection_id}")
        return
    await enqueue(
        "award",
        payload,
        title=payload["source"]["cycle"],
        source=f"selection:{selection_id}",
        actor_id=official_id,
    )
    await audit.record(
        "challenge.award_batch.queued",
        subject=f"selection:{selection_id}",
        batch_id=payload["batch_id"],
    )


async def winners_of(selection_id: int) -> list[dict[str, Any]]:
    """The approved winners in rank order with their entries and organizations."""
    selection = await get_selection(selection_id)
    result = selection["result"]
    entry_ids: dict[str, int] = result["entry_ids"]
    scores = {r["entry_id"]: r for r in result["ranking"]}
    ids = [entry_ids[p] for p in result["winners"]]
    rows = {
        r["id"]: r
        for r in await Entry.select(
            Entry.id,
            Entry.title,
            Entry.category,
            Entry.organization,
            Entry.organization.name.as_alias("organization_name"),
            Entry.organization.registration_number.as_alias("registration_number"),
        ).where(Entry.id.is_in(ids or [0]))
    }
    ordered = sorted(result["winners"], key=lambda p: scores[p]["rank"])
    return [
        {
            **rows[entry_ids[p]],
            "pseudonym": p,
            "rank": scores[p]["rank"],
            "score": scores[p]["score"],
        }
        for p in ordered
    ]


async def award_batch_payload(selection_id: int) -> dict[str, Any]:
    """The contract v1 award batch for an approved selection (``POST /v1/award-batches``)."""
    from portal.connector.batches import AwardLine, BatchHeader, award_batch

    selection = await get_selection(selection_id)
    edition = await get_edition(selection["edition"])
    approvals = await approvals_of(selection_id)
    winners = await winners_of(selection_id)
    year = edition["intake_closes_at"].year
    lines = [
        AwardLine(
            line_id=f"{year}-{w['rank']:04d}",
            award_code=f"AI50-{year}-{w['id']:05d}",
            title=w["title"][:300],
            recipient_id=w["registration_number"],
            recipient_name=w["organization_name"],
            category=w["category"],
            amount=edition["award_amount"],
            rank=w["rank"],
            score=f"{w['score']:.4f}",
        )
        for w in winners
    ]
    header = BatchHeader(
        batch_id=f"seoul-ai50-{year}-e{edition['id']}",
        revision=selection_id,
        fiscal_year=year,
        cycle=edition["name"][:300],
        approvals=[(f"u-{a['official']}", a["approved_at"]) for a in approvals],
        generated_at=selection["approved_at"] or clock.now(),
        closed_at=selection["computed_at"],
        results_sha256=selection["sheet_sha256"],
        audit_head=await audit.head(),
    )
    return award_batch(header, lines)


async def _notify_outcome(selection_id: int) -> None:
    """Tell every organization with a screened-in entry whether it won."""
    selection = await get_selection(selection_id)
    edition = await get_edition(selection["edition"])
    winning = {w["id"] for w in await winners_of(selection_id)}
    entries = await entries_of(edition["id"], ("screened-in",))
    for entry in entries:
        won = entry["id"] in winning
        members = await OrganizationMember.select(OrganizationMember.user).where(
            OrganizationMember.organization == entry["organization"]
        )
        for member in members:
            await accounts.notify_and_mail(
                member["user"],
                "AI 50 Challenge result",
                'Congratulations: your entry "%(title)s" is one of the winners of %(edition)s.'
                if won
                else 'Thank you for taking part: your entry "%(title)s" was not selected among the winners of %(edition)s.',
                f"/challenge/entries/{entry['id']}",
                title=entry["title"],
                edition=edition["name"],
            )


def kinds_label() -> tuple[str, ...]:
    return ROUND_KINDS


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
