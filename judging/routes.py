"""AI 50 Challenge pages and API for officials and judges (startup controllers come from proposals)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, URLEncodedBody
from litestar.response import Redirect, Template

from judging import exports, services
from judging.api.intake import EntryApi
from judging.pages.attachments import attachment_response
from judging.pages.startups import ChallengePages, StartupPages
from judging.schemas import (
    AssignmentRead,
    BlindEntryRead,
    JudgeProgressRead,
    ReviewRead,
    ReviewWrite,
    RowId,
)
from judging.services import attachments, intake
from judging.tables import CATEGORIES, CATEGORY_LABELS, CONFLICT_TYPES, Attachment
from portal import clock, i18n
from portal.auth import requires_judge, requires_official
from portal.clock import SEOUL
from portal.errors import DomainError, InvalidInput, NotFoundError
from portal.web.forms import form_errors, krw_from_form, parse_whole_number
from portal.web.openapi import ERRORS
from portal.web.pages import back_to, page, signed_in_user

FormData = URLEncodedBody[dict[str, str]]


def parse_local_time(value: str, field: str) -> dt.datetime:
    """A ``datetime-local`` value read as Seoul time, stored in UTC."""
    try:
        moment = dt.datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise InvalidInput("Enter a date and time like 2027-03-31 18:00.", field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SEOUL)
    return moment.astimezone(dt.UTC)


def local_input(moment: dt.datetime) -> str:
    return moment.astimezone(SEOUL).strftime("%Y-%m-%dT%H:%M")


def parse_int(value: str | None, field: str, default: int | None = None) -> int:
    if (value is None or value == "") and default is not None:
        return default
    number = parse_whole_number(value, field) or 0
    if not -(2**31) < number < 2**31:
        raise InvalidInput("Enter a whole number.", field=field)
    return number


def parse_quotas(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        raise InvalidInput("Quotas must be a JSON object of categories.", field="quotas") from None
    if not isinstance(value, dict):
        # "[]" or "0" would otherwise slip through as "no quotas" and break later pages.
        raise InvalidInput("Quotas must be a JSON object of categories.", field="quotas")
    return value


def _me(request: Request) -> int:
    user = signed_in_user(request)
    return user.id


def _named(reason: str, names: dict[str, str]) -> str:
    """The selection explains itself with pseudonymous ids; officials read titles."""
    for pseudonym, title in names.items():
        if pseudonym in reason:
            reason = reason.replace(pseudonym, title)
    return reason


def borderline_reason(note: dict[str, Any]) -> str:
    """A borderline reason in the reader's language (stored English text for older selections)."""
    message = note.get("message")
    if not message:
        return note["reason"]
    params = dict(note.get("params") or {})
    if "step" in params:
        params["step"] = i18n.gettext(params["step"])
    if "category" in params:
        label = CATEGORY_LABELS.get(params["category"])
        params["category"] = i18n.gettext(label) if label else params["category"]
    return i18n.gettext(message, **params)


def _download(name: str, data: bytes) -> Response:
    media = exports.MEDIA_TYPES[name.rsplit(".", 1)[-1]]
    return Response(
        content=data,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


# ---------------------------------------------------------------- officials


class OfficialChallengePages(Controller):
    """Editions, rounds, screening, judges, assignment, calibration, selection, approvals and exports."""

    path = "/officials/challenge"
    guards = [requires_official]

    async def _editions_page(
        self, request: Request, status_code: int = 200, **extra: Any
    ) -> Template:
        return page(
            request,
            "judging/officials/editions.html",
            status_code=status_code,
            editions=await services.list_editions(),
            categories=CATEGORIES,
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/")
    async def editions(self, request: Request) -> Template:
        """All editions and a form to create one."""
        return await self._editions_page(request)

    @post("/")
    async def create_edition(self, request: Request, data: FormData) -> Template | Redirect:
        try:
            form = services.EditionForm(
                name=data.get("name", ""),
                intake_opens_at=parse_local_time(
                    data.get("intake_opens_at", ""), "intake_opens_at"
                ),
                intake_closes_at=parse_local_time(
                    data.get("intake_closes_at", ""), "intake_closes_at"
                ),
                winners=parse_int(data.get("winners"), "winners", 50),
                quotas=parse_quotas(data.get("quotas", "")),
                max_per_organization=parse_int(
                    data.get("max_per_organization"), "max_per_organization", 1
                ),
                seed=parse_int(data.get("seed"), "seed") if data.get("seed") else None,
                award_amount=krw_from_form(data.get("award_amount") or "10000000", "award_amount") or 0,
            )
            edition_id = await services.create_edition(_me(request), form)
        except DomainError as exc:
            return await self._editions_page(
                request, exc.status_code, errors=form_errors(exc), form=data
            )
        request.session["flash"] = (
            "The edition was created with screening, evaluation and final rounds."
        )
        return back_to(f"/officials/challenge/{edition_id}")

    async def _edition_page(
        self, request: Request, edition_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        edition = await services.get_edition(edition_id)
        all_entries = await services.entries_of(edition_id)
        counts: dict[str, int] = {}
        for e in all_entries:
            counts[e["status"]] = counts.get(e["status"], 0) + 1
        return page(
            request,
            "judging/officials/edition.html",
            status_code=status_code,
            edition=edition,
            rounds=await services.rounds_of(edition_id),
            entries=all_entries,
            counts=counts,
            intake=intake.intake_state(edition),
            quotas_text=json.dumps(edition["quotas"], ensure_ascii=False),
            selections=await services.selections_of(edition_id),
            flash=request.session.pop("flash", None),
            local_input=local_input,
            **extra,
        )

    @get("/{edition_id:int}")
    async def edition(self, request: Request, edition_id: RowId) -> Template:
        """An edition: rules, rounds, entries by status, selections."""
        return await self._edition_page(request, edition_id)

    @post("/{edition_id:int}/rules")
    async def rules(
        self, request: Request, edition_id: RowId, data: FormData
    ) -> Template | Redirect:
        try:
            await services.update_edition_rules(
                _me(request),
                edition_id,
                parse_int(data.get("winners"), "winners"),
                parse_quotas(data.get("quotas", "")),
                parse_int(data.get("max_per_organization"), "max_per_organization"),
                parse_int(data.get("seed"), "seed"),
            )
        except DomainError as exc:
            return await self._edition_page(
                request, edition_id, exc.status_code, errors=form_errors(exc)
            )
        request.session["flash"] = "The rules were saved."
        return back_to(f"/officials/challenge/{edition_id}")

    @get("/{edition_id:int}/entries/{entry_id:int}")
    async def entry(self, request: Request, edition_id: RowId, entry_id: RowId) -> Template:
        """The full entry, organization included, for officials."""
        rows = [e for e in await services.entries_of(edition_id) if e["id"] == entry_id]
        if not rows:
            raise NotFoundError("We could not find that entry.")
        decisions = (await services.screening_decisions(edition_id)).get(entry_id, {})
        return page(
            request,
            "judging/officials/entry.html",
            edition=await services.get_edition(edition_id),
            entry=rows[0],
            attachments=await attachments.attachments_of(entry_id),
            decisions=decisions,
        )

    @get("/attachments/{attachment_id:int}")
    async def attachment(self, request: Request, attachment_id: RowId) -> Response:
        row = await Attachment.select().where(Attachment.id == attachment_id).first()
        if row is None:
            raise NotFoundError("We could not find that page.")
        return await attachment_response(row)

    async def _screening_page(
        self, request: Request, edition_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        edition = await services.get_edition(edition_id)
        return page(
            request,
            "judging/officials/screening.html",
            status_code=status_code,
            edition=edition,
            entries=await services.entries_of(
                edition_id, ("submitted", "screened-in", "screened-out")
            ),
            decisions=await services.screening_decisions(edition_id),
            intake=intake.intake_state(edition),
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/{edition_id:int}/screening")
    async def screening(self, request: Request, edition_id: RowId) -> Template:
        """Eligibility gates for every submitted entry."""
        return await self._screening_page(request, edition_id)

    @post("/{edition_id:int}/screening/{entry_id:int}")
    async def decide(
        self, request: Request, edition_id: RowId, entry_id: RowId, data: FormData
    ) -> Template | Redirect:
        try:
            await services.decide_gate(
                _me(request),
                entry_id,
                data.get("gate", ""),
                data.get("passed") == "1",
                data.get("reason", ""),
            )
        except DomainError as exc:
            return await self._screening_page(
                request, edition_id, exc.status_code, errors=form_errors(exc)
            )
        request.session["flash"] = "The screening decision was recorded."
        return back_to(f"/officials/challenge/{edition_id}/screening#entry-{entry_id}")

    @get("/{edition_id:int}/conflicts")
    async def conflicts(self, request: Request, edition_id: RowId) -> Template:
        """The conflicts register: declared and detected, judge by entry."""
        edition = await services.get_edition(edition_id)
        register = await services.conflict_register(edition_id)
        judges = {j["id"]: j for j in await services.all_judges()}
        titles = {e["id"]: e for e in await services.entries_of(edition_id)}
        rows = [
            {
                "judge": judges[j]["email"],
                "entry": titles[e]["title"],
                "entry_id": e,
                "organization": titles[e]["organization_name"],
                "kind": kind,
                "source": "declared" if kind in CONFLICT_TYPES else "detected",
            }
            for j, e, kind in register
        ]
        return page(request, "judging/officials/conflicts.html", edition=edition, rows=rows)

    async def _round_page(
        self, request: Request, round_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        rnd = await services.get_round(round_id)
        edition = await services.get_edition(rnd["edition"])
        return page(
            request,
            "judging/officials/round.html",
            status_code=status_code,
            round=rnd,
            round_state=services.round_state(rnd, edition),
            gaps=await services.coverage_gaps(round_id),
            edition=edition,
            judges=await services.all_judges(),
            progress=await services.round_progress(round_id),
            assignments=await services.round_assignments(round_id),
            screened=await services.entries_of(edition["id"], ("screened-in",)),
            local_input=local_input,
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/rounds/{round_id:int}")
    async def round(self, request: Request, round_id: RowId) -> Template:
        """A round: deadline, judge pool, assignment, per-judge progress and missing reviews."""
        return await self._round_page(request, round_id)

    async def _round_action(
        self, request: Request, round_id: int, action: Any, flash: str
    ) -> Template | Redirect:
        try:
            result = await action()
        except DomainError as exc:
            return await self._round_page(
                request, round_id, exc.status_code, errors=form_errors(exc)
            )
        request.session["flash"] = i18n.gettext(flash, n=result if isinstance(result, int) else 0)
        return back_to(f"/officials/challenge/rounds/{round_id}")

    @post("/rounds/{round_id:int}")
    async def update_round(self, request: Request, round_id: RowId) -> Template | Redirect:
        form = await request.form()
        pool = [parse_int(v, "judge_pool") for v in (form.getall("judge_pool", []))]

        async def action() -> None:
            await services.update_round(
                _me(request),
                round_id,
                parse_local_time(str(form.get("deadline") or ""), "deadline"),
                parse_int(str(form.get("judges_per_entry") or ""), "judges_per_entry", 3),
                pool,
            )

        return await self._round_action(request, round_id, action, "The round was saved.")

    @post("/rounds/{round_id:int}/assign")
    async def assign(self, request: Request, round_id: RowId) -> Template | Redirect:
        return await self._round_action(
            request,
            round_id,
            lambda: services.run_assignment(_me(request), round_id),
            "%(n)s assignments were made.",
        )

    @post("/rounds/{round_id:int}/assignments/add")
    async def add(self, request: Request, round_id: RowId, data: FormData) -> Template | Redirect:
        async def action() -> None:
            await services.add_assignment(
                _me(request),
                round_id,
                parse_int(data.get("entry"), "entry"),
                parse_int(data.get("judge"), "judge"),
            )

        return await self._round_action(request, round_id, action, "The assignment was added.")

    @post("/rounds/{round_id:int}/assignments/remove")
    async def remove(
        self, request: Request, round_id: RowId, data: FormData
    ) -> Template | Redirect:
        async def action() -> None:
            await services.remove_assignment(
                _me(request),
                round_id,
                parse_int(data.get("entry"), "entry"),
                parse_int(data.get("judge"), "judge"),
            )

        return await self._round_action(request, round_id, action, "The assignment was removed.")

    @post("/rounds/{round_id:int}/reassign")
    async def reassign(
        self, request: Request, round_id: RowId, data: FormData
    ) -> Template | Redirect:
        return await self._round_action(
            request,
            round_id,
            lambda: services.reassign_unreviewed(
                _me(request), round_id, parse_int(data.get("judge"), "judge")
            ),
            "%(n)s unreviewed entries were moved to other judges.",
        )

    @post("/rounds/{round_id:int}/coverage/{entry_id:int}")
    async def fill_gap(
        self, request: Request, round_id: RowId, entry_id: RowId
    ) -> Template | Redirect:
        """One click: assign an eligible judge to an entry short of reviewers (a coverage gap)."""
        return await self._round_action(
            request,
            round_id,
            lambda: services.fill_coverage_gap(_me(request), round_id, entry_id),
            "Another judge was assigned to the entry.",
        )

    @post("/rounds/{round_id:int}/remind")
    async def remind(self, request: Request, round_id: RowId) -> Template | Redirect:
        return await self._round_action(
            request,
            round_id,
            lambda: services.send_reminders(_me(request), round_id),
            "Reminders were sent to %(n)s judges.",
        )

    @get("/rounds/{round_id:int}/calibration")
    async def calibration(self, request: Request, round_id: RowId) -> Template:
        """Raw mean, z-score and additive model side by side, with disagreement and review counts."""
        rnd = await services.get_round(round_id)
        return page(
            request,
            "judging/officials/calibration.html",
            round=rnd,
            edition=await services.get_edition(rnd["edition"]),
            table=await services.calibration_view(round_id),
        )

    async def _selection_list(
        self, request: Request, edition_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        edition = await services.get_edition(edition_id)
        return page(
            request,
            "judging/officials/selections.html",
            status_code=status_code,
            edition=edition,
            rounds=[
                r
                for r in await services.rounds_of(edition_id)
                if r["kind"] in services.SCORING_KINDS
            ],
            selections=await services.selections_of(edition_id),
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/{edition_id:int}/selections")
    async def selections(self, request: Request, edition_id: RowId) -> Template:
        """Computed selections and a form to run one with the published seed."""
        return await self._selection_list(request, edition_id)

    @post("/{edition_id:int}/selections")
    async def run_selection(
        self, request: Request, edition_id: RowId, data: FormData
    ) -> Template | Redirect:
        try:
            selection_id = await services.run_selection(
                _me(request),
                edition_id,
                parse_int(data.get("round"), "round"),
                data.get("method", "additive"),
            )
        except DomainError as exc:
            return await self._selection_list(
                request, edition_id, exc.status_code, errors=form_errors(exc)
            )
        request.session["flash"] = (
            "The selection was computed. Two different officials must approve it."
        )
        return back_to(f"/officials/challenge/selections/{selection_id}")

    async def _selection_page(
        self, request: Request, selection_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        selection = await services.get_selection(selection_id)
        edition = await services.get_edition(selection["edition"])
        result = selection["result"]
        entry_ids = result["entry_ids"]
        titles = {e["id"]: e for e in await services.entries_of(edition["id"])}
        ranking = [
            {
                **r,
                "winner": result["winner_flags"].get(r["entry_id"], False),
                "entry": entry_ids[r["entry_id"]],
                "title": titles[entry_ids[r["entry_id"]]]["title"],
                "category": titles[entry_ids[r["entry_id"]]]["category"],
                "organization": titles[entry_ids[r["entry_id"]]]["organization_name"],
            }
            for r in result["ranking"]
        ]
        names = {p: f"«{titles[i]['title']}»" for p, i in entry_ids.items()}
        # Officials know the organizations: show names instead of the export's pseudonyms.
        for row in titles.values():
            pseudonym = services.pseudonym("org", edition["id"], row["organization"])
            names.setdefault(pseudonym, row["organization_name"])
        borderline = [
            {
                **b,
                "title": titles[entry_ids[b["entry_id"]]]["title"],
                "reason": _named(borderline_reason(b), names),
            }
            for b in result["borderline"]
        ]
        return page(
            request,
            "judging/officials/selection.html",
            status_code=status_code,
            selection=selection,
            edition=edition,
            ranking=ranking,
            borderline=borderline,
            approvals=await services.approvals_of(selection_id),
            gaps=await services.coverage_gaps(selection["round"])
            if selection["status"] in ("proposed", "stale")
            else [],
            stale_message=services.STALE_MESSAGES.get(selection["stale_reason"], "")
            if selection["status"] == "stale"
            else "",
            me=_me(request),
            # Reviews the round still lacks: approving now would leave them out of the decision.
            missing_reviews=sum(
                len(r["missing"]) for r in await services.round_progress(selection["round"])
            )
            if selection["status"] == "proposed"
            else 0,
            files=exports.FILE_NAMES,
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/selections/{selection_id:int}")
    async def selection(self, request: Request, selection_id: RowId) -> Template:
        """Winners, ranking, the borderline explanation, approvals and exports."""
        return await self._selection_page(request, selection_id)

    @post("/selections/{selection_id:int}/approve")
    async def approve(self, request: Request, selection_id: RowId) -> Template | Redirect:
        try:
            final = await services.approve_selection(_me(request), selection_id)
        except DomainError as exc:
            return await self._selection_page(
                request, selection_id, exc.status_code, errors=form_errors(exc)
            )
        request.session["flash"] = (
            "The winners are approved. Exports are ready and the award batch is queued for the city."
            if final
            else "Your approval was recorded. A second, different official must approve too."
        )
        return back_to(f"/officials/challenge/selections/{selection_id}")

    @get("/selections/{selection_id:int}/export/{name:str}")
    async def export(self, request: Request, selection_id: RowId, name: FromPath[str]) -> Response:
        """One export file (only after two approvals)."""
        if name == "bundle.zip":
            return _download(
                f"ai50-selection-{selection_id}.zip",
                exports.zip_files(await exports.export_files(selection_id)),
            )
        if name not in exports.FILE_NAMES:
            raise NotFoundError("We could not find that page.")
        return _download(name, (await exports.export_files(selection_id))[name])


# ---------------------------------------------------------------- judges


class JudgePages(Controller):
    """A judge's dashboard, profile and conflicts, and the blind scoring form."""

    path = "/judging"
    guards = [requires_judge]

    @get("/")
    async def dashboard(self, request: Request) -> Template:
        """My assignments, progress, deadlines and the next entry to review."""
        rows = await services.judge_assignments(_me(request))
        # Open rounds first: locked past rounds are history, not work.
        rows.sort(key=lambda r: not r["open"])
        pending = [r for r in rows if not r["reviewed"] and r["open"]]
        # Progress is about the work still open; locked rounds count only when nothing is open.
        current = [r for r in rows if r["open"]] or rows
        return page(
            request,
            "judging/judges/dashboard.html",
            assignments=rows,
            next_up=pending[0] if pending else None,
            done=sum(1 for r in current if r["reviewed"]),
            total=len(current),
            flash=request.session.pop("flash", None),
        )

    async def _profile_page(
        self, request: Request, status_code: int = 200, **extra: Any
    ) -> Template:
        me = _me(request)
        return page(
            request,
            "judging/judges/profile.html",
            status_code=status_code,
            profile=await services.judge_profile(me),
            conflicts=await services.my_conflicts(me),
            organizations=await services.organizations_for_declaration(),
            categories=CATEGORIES,
            conflict_types=CONFLICT_TYPES,
            format_brn=intake.format_registration_number,
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/profile")
    async def profile(self, request: Request) -> Template:
        """Affiliations, expertise and holdings; declared conflicts."""
        return await self._profile_page(request)

    @post("/profile")
    async def save_profile(self, request: Request) -> Template | Redirect:
        form = await request.form()
        try:
            await services.save_judge_profile(
                _me(request),
                str(form.get("affiliations") or ""),
                [str(c) for c in (form.getall("expertise", []))],
                str(form.get("holdings") or ""),
            )
        except DomainError as exc:
            return await self._profile_page(request, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = "Your profile was saved."
        return back_to("/judging/profile")

    @post("/conflicts")
    async def declare(self, request: Request, data: FormData) -> Template | Redirect:
        try:
            await services.declare_conflict(
                _me(request),
                parse_int(data.get("organization"), "organization"),
                data.get("kind", ""),
                data.get("note", ""),
            )
        except DomainError as exc:
            return await self._profile_page(request, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = (
            "Your conflict was declared. You will not see this organization's entries."
        )
        return back_to("/judging/profile")

    async def _review_page(
        self, request: Request, round_id: int, entry_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        me = _me(request)
        entry = await services.entry_for_judge(me, round_id, entry_id)
        rnd = await services.get_round(round_id)
        review = await services.my_review(me, round_id, entry_id)
        return page(
            request,
            "judging/judges/review.html",
            status_code=status_code,
            entry=entry,
            round=rnd,
            review=review,
            attachments=await attachments.attachments_of(entry_id),
            locked=clock.now() >= rnd["deadline"],
            **extra,
        )

    @get("/rounds/{round_id:int}/entries/{entry_id:int}")
    async def review(self, request: Request, round_id: RowId, entry_id: RowId) -> Template:
        """The blind entry and the scoring form with the rubric's level descriptors."""
        return await self._review_page(request, round_id, entry_id)

    @post("/rounds/{round_id:int}/entries/{entry_id:int}")
    async def score(
        self, request: Request, round_id: RowId, entry_id: RowId, data: FormData
    ) -> Template | Redirect:
        rnd = await services.get_round(round_id)
        keys = [c["key"] for c in rnd["rubric"]]
        try:
            scores = {k: parse_int(data.get(f"score_{k}"), f"score_{k}") for k in keys}
            comments = {k: data.get(f"comment_{k}", "") for k in keys}
            await services.save_review(
                _me(request),
                round_id,
                entry_id,
                scores,
                comments,
                parse_int(data.get("confidence"), "confidence"),
            )
        except DomainError as exc:
            return await self._review_page(
                request, round_id, entry_id, exc.status_code, errors=form_errors(exc), form=data
            )
        request.session["flash"] = (
            "Your review was saved. You can change it until the round deadline."
        )
        return back_to("/judging")

    @get("/attachments/{attachment_id:int}")
    async def attachment(self, request: Request, attachment_id: RowId) -> Response:
        """An assigned entry's file; nothing of a conflicted entry (S14)."""
        row = await Attachment.select().where(Attachment.id == attachment_id).first()
        if row is None or not await services.judge_may_read_entry(_me(request), row["entry"]):
            raise NotFoundError("We could not find that page.")
        return await attachment_response(row, blind_name=await services.blind_attachment_name(row))


def blind_read(view: dict[str, Any]) -> BlindEntryRead:
    return BlindEntryRead(
        id=view["id"],
        title=view["title"],
        summary=view["summary"],
        problem=view["problem"],
        ai_approach=view["ai_approach"],
        data_protection=view["data_protection"],
        target_users=view["target_users"],
        category=view["category"],
        sector=view["sector"],
        districts=list(view["districts"]),
        organization_name=view.get("organization_name"),
    )


def review_read(row: dict[str, Any]) -> ReviewRead:
    return ReviewRead(
        id=row["id"],
        round_id=row["round"],
        entry_id=row["entry"],
        scores=row["scores"],
        comments=row["comments"],
        confidence=row["confidence"],
        total=row["total_centi"] / 100,
        updated_at=row["updated_at"],
    )


class JudgeApi(Controller):
    """A judge's assignments and reviews as JSON."""

    path = "/api/v1/challenge"
    tags = ["challenge"]
    guards = [requires_judge]

    @get("/assignments", responses=ERRORS)
    async def assignments(self, request: Request) -> list[AssignmentRead]:
        """My assignments (never a conflicted entry)."""
        return [
            AssignmentRead(
                round_id=r["round"],
                round_kind=r["round_kind"],
                entry_id=r["entry"],
                title=r["title"],
                category=r["category"],
                deadline=r["deadline"],
                reviewed=r["reviewed"],
                open=r["open"],
                total=r["total"],
            )
            for r in await services.judge_assignments(_me(request))
        ]

    @get("/rounds/{round_id:int}/entries/{entry_id:int}", responses=ERRORS)
    async def entry(self, request: Request, round_id: RowId, entry_id: RowId) -> BlindEntryRead:
        """An assigned entry, blind (404 when not assigned or conflicted)."""
        return blind_read(await services.entry_for_judge(_me(request), round_id, entry_id))

    @get("/rounds/{round_id:int}/entries/{entry_id:int}/review", responses=ERRORS)
    async def read_review(self, request: Request, round_id: RowId, entry_id: RowId) -> ReviewRead:
        me = _me(request)
        await services.entry_for_judge(me, round_id, entry_id)
        row = await services.my_review(me, round_id, entry_id)
        if row is None:
            raise NotFoundError("You have not reviewed this entry yet.")
        return review_read(row)

    @put("/rounds/{round_id:int}/entries/{entry_id:int}/review", responses=ERRORS)
    async def write_review(
        self,
        request: Request,
        round_id: RowId,
        entry_id: RowId,
        data: JSONBody[ReviewWrite],
    ) -> ReviewRead:
        """Score every criterion 1-10 with optional comments and a confidence 1-5; locked after the deadline."""
        me = _me(request)
        await services.save_review(
            me, round_id, entry_id, dict(data.scores), dict(data.comments), data.confidence
        )
        row = await services.my_review(me, round_id, entry_id)
        assert row is not None
        return review_read(row)


class OfficialChallengeApi(Controller):
    """Round progress for officials, as JSON."""

    path = "/api/v1/challenge/officials"
    tags = ["challenge"]
    guards = [requires_official]

    @get("/rounds/{round_id:int}/progress", responses=ERRORS)
    async def progress(
        self, round_id: RowId, sort: FromQuery[str | None] = None
    ) -> list[JudgeProgressRead]:
        """Per-judge progress and missing reviews."""
        await services.get_round(round_id)
        rows = [
            JudgeProgressRead(
                judge_id=r["judge"],
                email=r["email"],
                assigned=r["assigned"],
                reviewed=r["reviewed"],
                missing_entry_ids=[m["entry"] for m in r["missing"]],
            )
            for r in await services.round_progress(round_id)
        ]
        if sort not in (None, "email", "missing"):
            raise InvalidInput("Sort by email or missing.", field="sort")
        if sort == "email":
            rows.sort(key=lambda r: r.email)
        elif sort == "missing":
            # Most missing reviews first: the judges to chase.
            rows.sort(key=lambda r: (-len(r.missing_entry_ids), r.email))
        return rows


ROUTE_HANDLERS = [
    ChallengePages,
    StartupPages,
    EntryApi,
    OfficialChallengePages,
    JudgePages,
    JudgeApi,
    OfficialChallengeApi,
]

# The officials' hub lists these (title, path, description), translated.
