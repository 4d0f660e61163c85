"""The officials' stage pages: an edition's funnel of stages, a stage's name and advance rule, its
rubric editor, the advancement preview with the borderline explained, two approvals and exports."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import FromPath
from litestar.response import Redirect, Template

from judging import exports, stage_exports
from judging.pages.officials import parse_quotas
from judging.schemas import RowId
from judging.services import editions, stage_rubric, stages
from judging.services.standings import stage_standings
from portal import i18n
from portal.auth import requires_official
from portal.errors import DomainError, NotFoundError
from portal.web.forms import form_errors, parse_small_number
from portal.web.pages import back_to, page, signed_in_user

BLANK_CRITERIA = 2  # empty rows the rubric editor offers for new criteria


def _download(name: str, data: bytes) -> Response:
    return Response(
        content=data,
        media_type=exports.MEDIA_TYPES[name.rsplit(".", 1)[-1]],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


def _optional_number(value: Any, field: str) -> int | None:
    return None if value in (None, "") else parse_small_number(value, field)


def _rule_form(form: FormMultiDict) -> stages.RuleForm:
    mode = str(form.get("mode") or "")
    return stages.RuleForm(
        mode=mode,
        count=_optional_number(form.get("count"), "count"),
        cut=str(form.get("cut") or ""),
        categories=parse_quotas(str(form.get("quotas") or "{}")) if mode == "quotas" else None,
    )


def _rubric_form(form: FormMultiDict) -> stage_rubric.RubricForm:
    rows = []
    for index in range(stage_rubric.MAX_CRITERIA + BLANK_CRITERIA):
        if f"name_ko_{index}" not in form and f"weight_{index}" not in form:
            continue
        rows.append(
            stage_rubric.CriterionForm(
                index=index,
                key=str(form.get(f"key_{index}") or ""),
                name_ko=str(form.get(f"name_ko_{index}") or ""),
                name_en=str(form.get(f"name_en_{index}") or ""),
                weight=_optional_number(form.get(f"weight_{index}"), f"weight_{index}"),
                levels=str(form.get(f"levels_{index}") or ""),
            )
        )
    return stage_rubric.RubricForm(
        scale_min=parse_small_number(form.get("scale_min"), "scale_min"),
        scale_max=parse_small_number(form.get("scale_max"), "scale_max"),
        criteria=rows,
    )


class OfficialStagePages(Controller):
    """An edition's stages, each stage's rule and rubric, and its advancement decisions."""

    path = "/officials/challenge"
    guards = [requires_official]

    async def _stages_page(self, request: Request, edition_id: int, status_code: int = 200, **extra: Any) -> Template:
        return page(
            request,
            "judging/officials/stages.html",
            status_code=status_code,
            edition=await editions.get_edition(edition_id),
            stages=await stages.stage_overview(edition_id),
            decisions=await stages.decisions_of(edition_id),
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/{edition_id:int}/stages")
    async def funnel(self, request: Request, edition_id: RowId) -> Template:
        """Every stage in order: state, rule, entries, reviews and its advancement."""
        return await self._stages_page(request, edition_id)

    @post("/{edition_id:int}/stages")
    async def add_stage(self, request: Request, edition_id: RowId) -> Template | Redirect:
        form = await request.form()
        try:
            await stages.add_stage(signed_in_user(request).id, edition_id, str(form.get("name") or ""))
        except DomainError as exc:
            return await self._stages_page(request, edition_id, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = i18n.gettext("The stage was added.")
        return back_to(f"/officials/challenge/{edition_id}/stages")

    async def _stage_page(self, request: Request, round_id: int, status_code: int = 200, **extra: Any) -> Template:
        rnd = await editions.get_round(round_id)
        if rnd["kind"] == "screening":
            raise NotFoundError("We could not find that stage.")
        return page(
            request,
            "judging/officials/stage.html",
            status_code=status_code,
            stage=rnd,
            edition=await editions.get_edition(rnd["edition"]),
            standings=await stage_standings(round_id),
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/rounds/{round_id:int}/stage")
    async def stage(self, request: Request, round_id: RowId) -> Template:
        """A stage's name and advance rule, its standings, and the button that proposes who advances."""
        return await self._stage_page(request, round_id)

    @post("/rounds/{round_id:int}/stage")
    async def update_stage(self, request: Request, round_id: RowId) -> Template | Redirect:
        form = await request.form()
        try:
            rule = _rule_form(form)
            await stages.update_stage(signed_in_user(request).id, round_id, str(form.get("name") or ""), rule)
        except DomainError as exc:
            return await self._stage_page(request, round_id, exc.status_code, errors=form_errors(exc), form=dict(form))
        request.session["flash"] = i18n.gettext("The stage was saved.")
        return back_to(f"/officials/challenge/rounds/{round_id}/stage")

    @post("/rounds/{round_id:int}/advancement")
    async def compute(self, request: Request, round_id: RowId) -> Template | Redirect:
        """Propose who advances (the preview); two officials approve it on the decision page."""
        try:
            decision_id = await stages.compute_advancement(signed_in_user(request).id, round_id)
        except DomainError as exc:
            return await self._stage_page(request, round_id, exc.status_code, errors=form_errors(exc))
        return back_to(f"/officials/challenge/stage-decisions/{decision_id}")

    async def _rubric_page(self, request: Request, round_id: int, status_code: int = 200, **extra: Any) -> Template:
        rnd = await editions.get_round(round_id)
        if rnd["kind"] == "screening":
            raise NotFoundError("We could not find that stage.")
        return page(
            request,
            "judging/officials/rubric.html",
            status_code=status_code,
            stage=rnd,
            edition=await editions.get_edition(rnd["edition"]),
            rows=len(rnd["rubric"]) + BLANK_CRITERIA,
            levels_text=stage_rubric.levels_text,
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/rounds/{round_id:int}/rubric")
    async def rubric(self, request: Request, round_id: RowId) -> Template:
        """The stage's rubric editor: criteria, weights, scale and level descriptors."""
        return await self._rubric_page(request, round_id)

    @post("/rounds/{round_id:int}/rubric")
    async def update_rubric(self, request: Request, round_id: RowId) -> Template | Redirect:
        form = await request.form()
        try:
            await stage_rubric.update_rubric(signed_in_user(request).id, round_id, _rubric_form(form))
        except DomainError as exc:
            return await self._rubric_page(request, round_id, exc.status_code, errors=form_errors(exc), form=dict(form))
        request.session["flash"] = i18n.gettext("The rubric was saved.")
        return back_to(f"/officials/challenge/rounds/{round_id}/rubric")

    async def _decision_page(self, request: Request, decision_id: int, status_code: int = 200, **extra: Any) -> Template:
        sheet = await stages.decision_sheet(decision_id)
        return page(
            request,
            "judging/officials/stage_decision.html",
            status_code=status_code,
            sheet=sheet,
            files=stage_exports.file_names(sheet.decision),
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/stage-decisions/{decision_id:int}")
    async def decision(self, request: Request, decision_id: RowId) -> Template:
        """Who advances and why (the borderline explained), approvals, exports."""
        return await self._decision_page(request, decision_id)

    @post("/stage-decisions/{decision_id:int}/approve")
    async def approve(self, request: Request, decision_id: RowId) -> Template | Redirect:
        try:
            final = await stages.approve_advancement(signed_in_user(request).id, decision_id)
        except DomainError as exc:
            return await self._decision_page(request, decision_id, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = i18n.gettext(
            "The advancement is approved; the advancing entries can be assigned in the next stage."
            if final
            else "Your approval was recorded. A second, different official must approve too."
        )
        return back_to(f"/officials/challenge/stage-decisions/{decision_id}")

    @get("/stage-decisions/{decision_id:int}/export/{name:str}")
    async def export(self, request: Request, decision_id: RowId, name: FromPath[str]) -> Response:
        """One export file, or all of them as advancement.zip (only after two approvals)."""
        if name == "advancement.zip":
            files = await stage_exports.advancement_files(decision_id)
            return _download(f"ai50-advancement-{decision_id}.zip", exports.zip_files(files))
        if name not in stage_exports.FILE_NAMES + stage_exports.BLEND_FILE_NAMES:
            raise NotFoundError("We could not find that page.")
        files = await stage_exports.advancement_files(decision_id)
        if name not in files:
            raise NotFoundError("We could not find that page.")
        return _download(name, files[name])
