"""The officials' AI 50 Challenge pages: editions and rules, entries, screening, conflicts, selection,
approvals and exports (rounds, assignment and calibration are in ``officials_rounds``)."""

from __future__ import annotations

import json
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from judging import exports
from judging.categories import CATEGORIES
from judging.pages import listing
from judging.pages.attachments import attachment_response
from judging.schemas import RowId
from judging.services import (
    approvals,
    attachments,
    conflicts,
    editions,
    intake,
    quotas_form,
    screening,
    selection,
)
from judging.tables import Attachment
from portal.auth import requires_official
from portal.errors import DomainError, InvalidInput, NotFoundError
from portal.web.forms import (
    form_errors,
    krw_from_form,
    parse_seoul_datetime,
    parse_small_number,
    seoul_datetime_input,
)
from portal.web.pages import back_to, page, signed_in_user

FormData = URLEncodedBody[dict[str, str]]


def parse_quotas(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        raise InvalidInput("Quotas must be a JSON object of categories.", field="quotas") from None
    if not isinstance(value, dict):
        # "[]" or "0" would otherwise slip through as "no quotas" and break later pages.
        raise InvalidInput("Quotas must be a JSON object of categories.", field="quotas")
    return value


def _quotas(data: dict[str, str], categories: list[str]) -> dict[str, Any]:
    """The quotas form's per-category fields, or (as before the form) a JSON ``quotas`` field."""
    if quotas_form.has_quota_fields(data):
        winners = parse_small_number(data.get("winners"), "winners", 50)
        return quotas_form.quotas_from_form(data, categories, winners)
    return parse_quotas(data.get("quotas", ""))


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


class OfficialChallengePages(Controller):
    """Editions, rules, entries, screening, conflicts, selection, approvals and exports."""

    path = "/officials/challenge"
    guards = [requires_official]

    async def _editions_page(
        self, request: Request, status_code: int = 200, **extra: Any
    ) -> Template:
        return page(
            request,
            "judging/officials/editions.html",
            status_code=status_code,
            editions=await editions.list_editions(),
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
            form = editions.EditionForm(
                name=data.get("name", ""),
                intake_opens_at=parse_seoul_datetime(
                    data.get("intake_opens_at", ""), "intake_opens_at"
                ),
                intake_closes_at=parse_seoul_datetime(
                    data.get("intake_closes_at", ""), "intake_closes_at"
                ),
                winners=parse_small_number(data.get("winners"), "winners", 50),
                quotas=_quotas(data, list(CATEGORIES)),
                max_per_organization=parse_small_number(
                    data.get("max_per_organization"), "max_per_organization", 1
                ),
                seed=parse_small_number(data.get("seed"), "seed") if data.get("seed") else None,
                award_amount=krw_from_form(data.get("award_amount") or "10000000", "award_amount")
                or 0,
            )
            edition_id = await editions.create_edition(signed_in_user(request).id, form)
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
        edition = await editions.get_edition(edition_id)
        all_entries = await editions.entries_of(edition_id)
        counts: dict[str, int] = {}
        for e in all_entries:
            counts[e["status"]] = counts.get(e["status"], 0) + 1
        shown, state = entry_listing(request, all_entries)
        return page(
            request,
            "judging/officials/edition.html",
            status_code=status_code,
            edition=edition,
            rounds=await editions.rounds_of(edition_id),
            entries=shown,
            state=state,
            counts=counts,
            intake=intake.intake_state(edition),
            quotas_text=json.dumps(edition["quotas"], ensure_ascii=False),
            selections=await selection.selections_of(edition_id),
            flash=request.session.pop("flash", None),
            local_input=seoul_datetime_input,
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
        """The rules; quotas come from the per-category form (or, as before, a JSON ``quotas`` field)."""
        try:
            winners = parse_small_number(data.get("winners"), "winners")
            edition = await editions.get_edition(edition_id)
            quotas = _quotas(data, edition["categories"])
            await editions.update_edition_rules(
                signed_in_user(request).id,
                edition_id,
                winners,
                quotas,
                parse_small_number(data.get("max_per_organization"), "max_per_organization"),
                parse_small_number(data.get("seed"), "seed"),
            )
        except DomainError as exc:
            return await self._edition_page(
                request, edition_id, exc.status_code, errors=form_errors(exc), form=data
            )
        request.session["flash"] = "The rules were saved."
        return back_to(f"/officials/challenge/{edition_id}")

    @get("/{edition_id:int}/entries/{entry_id:int}")
    async def entry(self, request: Request, edition_id: RowId, entry_id: RowId) -> Template:
        """The full entry, organization included, for officials."""
        edition = await editions.get_edition(edition_id)
        rows = [e for e in await editions.entries_of(edition_id) if e["id"] == entry_id]
        if not rows:
            raise NotFoundError("We could not find that entry.")
        decisions = (await screening.screening_decisions(edition_id)).get(entry_id, {})
        return page(
            request,
            "judging/officials/entry.html",
            edition=edition,
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
        return await screening_page(request, edition_id, status_code, **extra)

    @get("/{edition_id:int}/screening")
    async def screening(self, request: Request, edition_id: RowId) -> Template:
        """Eligibility gates for every submitted entry."""
        return await self._screening_page(request, edition_id)

    @post("/{edition_id:int}/screening/{entry_id:int}")
    async def decide(
        self, request: Request, edition_id: RowId, entry_id: RowId, data: FormData
    ) -> Template | Redirect:
        try:
            await screening.decide_gate(
                signed_in_user(request).id,
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
        edition = await editions.get_edition(edition_id)
        rows = await conflicts.register_rows(edition_id)
        return page(request, "judging/officials/conflicts.html", edition=edition, rows=rows)

    async def _selection_list(
        self, request: Request, edition_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        edition = await editions.get_edition(edition_id)
        return page(
            request,
            "judging/officials/selections.html",
            status_code=status_code,
            edition=edition,
            rounds=[
                r
                for r in await editions.rounds_of(edition_id)
                if r["kind"] in editions.SCORING_KINDS
            ],
            selections=await selection.selections_of(edition_id),
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
            selection_id = await selection.run_selection(
                signed_in_user(request).id,
                edition_id,
                parse_small_number(data.get("round"), "round"),
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
        sheet = await selection.selection_sheet(selection_id)
        return page(
            request,
            "judging/officials/selection.html",
            status_code=status_code,
            selection=sheet.selection,
            edition=sheet.edition,
            ranking=sheet.ranking,
            borderline=sheet.borderline,
            approvals=sheet.approvals,
            gaps=sheet.gaps,
            stale_message=sheet.stale_message,
            missing_reviews=sheet.missing_reviews,
            me=signed_in_user(request).id,
            files=exports.file_names(sheet.selection),
            replay=sheet.replay,
            blended=sheet.blended,
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
            final = await approvals.approve_selection(signed_in_user(request).id, selection_id)
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
        files = await exports.export_files(selection_id)
        if name not in files:
            raise NotFoundError("We could not find that page.")
        return _download(name, files[name])


ENTRY_SORTS = {
    "id": lambda r: r["id"],
    "title": lambda r: r["title"].casefold(),
    "organization": lambda r: (r["organization_name"] or "").casefold(),
    "category": lambda r: (r["category"], r["id"]),
    "status": lambda r: (r["status"], r["id"]),
}


def entry_listing(
    request: Request, rows: list[dict[str, Any]], **filters: str
) -> tuple[list[dict[str, Any]], listing.ListState]:
    """An edition's entries searched, filtered by status and category (and ``filters``) and sorted."""
    return listing.apply(
        request,
        rows,
        sorts=ENTRY_SORTS,
        default_sort="id",
        filters={"status": "status", "category": "category", **filters},
        search=("title", "organization_name"),
    )


async def screening_page(
    request: Request, edition_id: int, status_code: int = 200, **extra: Any
) -> Template:
    """Eligibility gates for the submitted entries: filter, search and sort them (kept in the URL),
    decide one gate of one entry, or tick many and decide a gate for all at once."""
    edition = await editions.get_edition(edition_id)
    decisions = await screening.screening_decisions(edition_id)
    rows = [
        {**e, "undecided": "yes" if set(edition["gates"]) - set(decisions.get(e["id"], {})) else "no"}
        for e in await editions.entries_of(edition_id, ("submitted", "screened-in", "screened-out"))
    ]
    shown, state = entry_listing(request, rows, undecided="undecided")
    return page(
        request,
        "judging/officials/screening.html",
        status_code=status_code,
        edition=edition,
        entries=shown,
        state=state,
        categories=edition["categories"],
        decisions=decisions,
        intake=intake.intake_state(edition),
        flash=request.session.pop("flash", None),
        **extra,
    )
