"""The officials' pages for people: judges (invite, CSV import, list), organizations (list, revoke), bulk
screening, a round's bids and the calibration minimum."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from judging.categories import CATEGORIES
from judging.pages import listing
from judging.pages.officials import screening_page
from judging.pages.officials_rounds import calibration_page
from judging.schemas import RowId
from judging.services import (
    bids,
    calibration_checks,
    conflicts,
    editions,
    judge_invitations,
    onboarding,
)
from judging.services.screening_bulk import decide_gate_for_many
from portal import i18n
from portal.auth import requires_official
from portal.errors import DomainError, InvalidInput
from portal.web.forms import form_errors, parse_row_id, parse_small_number
from portal.web.pages import back_to, page, signed_in_user

FormData = URLEncodedBody[dict[str, str]]
CSV_LIMIT = 1_000_000


def _lines(text: str) -> list[str]:
    return [part.strip() for part in (text or "").replace(",", ";").split(";") if part.strip()]


class OfficialJudgePages(Controller):
    """Judges and organizations for officials."""

    path = "/officials/challenge"
    guards = [requires_official]

    async def _judges_page(self, request: Request, status_code: int = 200, **extra: Any) -> Template:
        judges = []
        for j in await conflicts.all_judges():
            profile = await conflicts.judge_profile(j["id"])
            judges.append({**j, "expertise": profile["expertise"], "expertise_text": " ".join(profile["expertise"])})
        rows, state = listing.apply(
            request,
            judges,
            sorts={
                "email": lambda r: r["email"],
                "name": lambda r: r["display_name"].casefold(),
                "expertise": lambda r: (len(r["expertise"]), r["email"]),
            },
            default_sort="email",
            search=("email", "display_name", "expertise_text"),
        )
        return page(
            request,
            "judging/officials/judges.html",
            status_code=status_code,
            judges=rows,
            state=state,
            invitations=await judge_invitations.invitations(),
            categories=CATEGORIES,
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/judges")
    async def judges(self, request: Request) -> Template:
        """Judges (sortable, searchable), invitations, and the forms to invite or import judges."""
        return await self._judges_page(request)

    @post("/judges/invite")
    async def invite(self, request: Request) -> Template | Redirect:
        form = await request.form()
        typed = {k: str(form.get(k) or "") for k in ("name", "email", "organizations")}
        try:
            invite = judge_invitations.check_invite(
                typed["name"],
                typed["email"],
                [str(c) for c in form.getall("expertise", [])],
                _lines(typed["organizations"]),
            )
            await judge_invitations.invite_judge(signed_in_user(request).id, invite)
        except DomainError as exc:
            return await self._judges_page(request, exc.status_code, errors=form_errors(exc), form=typed)
        request.session["flash"] = "The invitation was sent."
        return back_to("/officials/challenge/judges")

    @post("/judges/import")
    async def import_csv(self, request: Request) -> Template | Redirect:
        """Import a CSV of judges: all rows or none; each wrong row is reported with its line."""
        form = await request.form()
        upload = form.get("file")
        text = str(form.get("csv") or "")
        try:
            if isinstance(upload, UploadFile) and upload.filename:
                raw = await upload.read(CSV_LIMIT + 1)
                if len(raw) > CSV_LIMIT:
                    raise InvalidInput("The file is too large.", field="csv")
                try:
                    text = raw.decode("utf-8-sig")
                except UnicodeDecodeError:
                    raise InvalidInput("The file is not UTF-8 text.", field="csv") from None
            report = await judge_invitations.import_judges_csv(signed_in_user(request).id, text)
        except DomainError as exc:
            errors = form_errors(exc)
            errors = {"csv" if k in ("file", "form") else k: v for k, v in errors.items()}
            return await self._judges_page(request, exc.status_code, errors=errors, form={"csv": text[:CSV_LIMIT]})
        if report.problems:
            return await self._judges_page(
                request,
                422,
                errors={"csv": i18n.gettext("Nothing was imported: correct the rows below and import the file again.")},
                problems=report.problems,
                form={"csv": text[:CSV_LIMIT]},
            )
        request.session["flash"] = i18n.gettext("%(n)s judges were invited.", n=report.invited)
        return back_to("/officials/challenge/judges")

    async def _organizations_page(self, request: Request, status_code: int = 200, **extra: Any) -> Template:
        rows, state = listing.apply(
            request,
            await onboarding.organizations(),
            sorts={
                "name": lambda r: r.name.casefold(),
                "created": lambda r: r.created_at,
                "entries": lambda r: (r.entries, r.id),
            },
            default_sort="name",
            filters={"status": "status"},
            search=("name", "registration_number"),
        )
        return page(
            request,
            "judging/officials/organizations.html",
            status_code=status_code,
            organizations=rows,
            state=state,
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/organizations")
    async def organizations(self, request: Request) -> Template:
        """Every registered organization (sortable, searchable), with revocation."""
        return await self._organizations_page(request)

    @post("/organizations/{organization_id:int}/revoke")
    async def revoke(self, request: Request, organization_id: RowId, data: FormData) -> Template | Redirect:
        try:
            withdrawn = await onboarding.revoke_organization(
                signed_in_user(request).id, organization_id, data.get("reason", "")
            )
        except DomainError as exc:
            return await self._organizations_page(
                request, exc.status_code, errors=form_errors(exc), form=data, failed=organization_id
            )
        request.session["flash"] = i18n.gettext(
            "The organization was revoked; %(n)s entries were withdrawn.", n=withdrawn
        )
        return back_to("/officials/challenge/organizations")

    @post("/{edition_id:int}/screening/bulk")
    async def bulk_screening(self, request: Request, edition_id: RowId) -> Template | Redirect:
        """One gate, pass or fail, for every ticked entry, with one reason (each entry audited)."""
        form = await request.form()
        try:
            decided = await decide_gate_for_many(
                signed_in_user(request).id,
                edition_id,
                [parse_row_id(v) for v in form.getall("entries", [])],
                str(form.get("gate") or ""),
                str(form.get("passed") or "") == "1",
                str(form.get("reason") or ""),
            )
        except DomainError as exc:
            return await screening_page(
                request, edition_id, exc.status_code, errors=form_errors(exc),
                form={"reason": str(form.get("reason") or ""), "gate": str(form.get("gate") or "")},
                ticked=[parse_row_id(v) for v in form.getall("entries", [])],
            )
        request.session["flash"] = i18n.gettext("%(n)s entries were decided.", n=decided)
        back = str(form.get("back") or "")
        return back_to(f"/officials/challenge/{edition_id}/screening" + (back if back.startswith("?") else ""))

    @get("/rounds/{round_id:int}/bids")
    async def round_bids(self, request: Request, round_id: RowId) -> Template:
        """The bids of a round and the bid level of each current assignment."""
        rnd = await editions.get_round(round_id)
        return page(
            request,
            "judging/officials/bids.html",
            round=rnd,
            edition=await editions.get_edition(rnd["edition"]),
            summary=await bids.assignment_bid_summary(round_id),
        )

    @post("/{edition_id:int}/calibration-minimum")
    async def calibration_minimum(self, request: Request, edition_id: RowId, data: FormData) -> Template | Redirect:
        back = data.get("round", "")
        try:
            await calibration_checks.set_min_reviews(
                signed_in_user(request).id,
                edition_id,
                parse_small_number(data.get("calibration_min_reviews"), "calibration_min_reviews"),
            )
        except DomainError as exc:
            round_id = parse_row_id(back)
            if round_id:
                return await calibration_page(request, round_id, exc.status_code, errors=form_errors(exc), form=data)
            raise
        request.session["flash"] = "The calibration minimum was saved."
        round_id = parse_row_id(back)
        return back_to(f"/officials/challenge/rounds/{round_id}/calibration" if round_id else f"/officials/challenge/{edition_id}")
