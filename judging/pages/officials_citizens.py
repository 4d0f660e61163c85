"""The officials' side of citizens in a stage: the citizen settings and blend weights (on the round page),
the panel draw, the blended standings side by side with the public vote's anomaly report, and the exports."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from judging.compute.blend import SHEET_COLUMNS
from judging.exports import BLEND_LABELS, BLEND_TEXT_COLUMNS
from judging.pages.officials_rounds import round_page
from judging.schemas import RowId
from judging.services import citizens, editions, panel, public_vote
from judging.services.blending import stage_blend
from portal.auth import requires_official
from portal.connector.exports import _csv_bytes as csv_bytes
from portal.errors import DomainError, NotFoundError
from portal.spreadsheet import Column, as_number, xlsx_bytes
from portal.web.forms import form_errors, parse_small_number
from portal.web.pages import back_to, page, signed_in_user


def citizen_form(form: Any) -> citizens.CitizenForm:
    """The citizen settings as typed; a letter in a number is refused beside its field."""
    mode = str(form.get("mode") or "none")
    return citizens.CitizenForm(
        mode=mode,
        panel_size=parse_small_number(form.get("panel_size"), "panel_size", 0),
        seed=parse_small_number(form.get("seed"), "seed", 0),
        criteria=tuple(str(c) for c in form.getall("criteria", [])),
        weight_expert=parse_small_number(form.get("weight_expert"), "weight_expert"),
        weight_panel=parse_small_number(form.get("weight_panel"), "weight_panel", 0),
        weight_public=parse_small_number(form.get("weight_public"), "weight_public", 0),
    )


class OfficialCitizenPages(Controller):
    """Citizens in a stage: settings, draw, blended standings, anomaly report and exports."""

    path = "/officials/challenge/rounds"
    guards = [requires_official]

    @post("/{round_id:int}/citizens")
    async def save_settings(self, request: Request, round_id: RowId) -> Template | Redirect:
        form = await request.form()
        try:
            await citizens.update_citizen_settings(
                signed_in_user(request).id, round_id, citizen_form(form)
            )
        except DomainError as exc:
            typed = {k: str(form.get(k) or "") for k in ("mode", "panel_size", "seed", "weight_expert", "weight_panel", "weight_public")}
            typed["criteria"] = [str(c) for c in form.getall("criteria", [])]
            return await round_page(
                request, round_id, exc.status_code, errors=form_errors(exc), citizen_typed=typed
            )
        request.session["flash"] = "The stage's citizens and weights were saved."
        return back_to(f"/officials/challenge/rounds/{round_id}#citizens-title")

    @post("/{round_id:int}/panel/draw")
    async def draw(self, request: Request, round_id: RowId) -> Template | Redirect:
        try:
            await panel.draw_panel(signed_in_user(request).id, round_id)
        except DomainError as exc:
            return await round_page(request, round_id, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = "The panel was drawn and its members were notified."
        return back_to(f"/officials/challenge/rounds/{round_id}/blend")

    async def _blend_page(self, request: Request, round_id: int, status_code: int = 200, **extra: Any) -> Template:
        rnd = await editions.get_round(round_id)
        settings = await citizens.citizen_settings(round_id)
        return page(
            request,
            "judging/officials/blend.html",
            status_code=status_code,
            round=rnd,
            edition=await editions.get_edition(rnd["edition"]),
            citizens=settings,
            blend=await stage_blend(round_id),
            members=await panel.panel_members(round_id) if settings.has_panel else [],
            report=await public_vote.anomaly_report(round_id) if settings.has_public else None,
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/{round_id:int}/blend")
    async def blend(self, request: Request, round_id: RowId) -> Template:
        """Expert, panel and public results side by side with the blended ranking."""
        return await self._blend_page(request, round_id)

    @post("/{round_id:int}/public-vote/acknowledge")
    async def acknowledge(self, request: Request, round_id: RowId) -> Template | Redirect:
        try:
            await public_vote.acknowledge_report(signed_in_user(request).id, round_id)
        except DomainError as exc:
            return await self._blend_page(request, round_id, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = "The anomaly report was acknowledged."
        return back_to(f"/officials/challenge/rounds/{round_id}/blend")

    @get("/{round_id:int}/blend/export/{name:str}")
    async def export(self, round_id: RowId, name: FromPath[str]) -> Response:
        """``blend.csv`` (replayable), ``blend.xlsx`` and ``panel-eligible.csv`` (the draw's published list)."""
        if name == "panel-eligible.csv":
            body, media = (await panel.eligible_list(round_id)).encode("utf-8"), "text/csv; charset=utf-8"
        elif name in ("blend.csv", "blend.xlsx"):
            blended = await stage_blend(round_id)
            rows = blended.sheet_rows()
            if name == "blend.csv":
                body, media = csv_bytes(SHEET_COLUMNS, rows), "text/csv; charset=utf-8"
            else:
                columns = tuple(Column(k, label, fmt) for k, label, fmt in BLEND_LABELS)
                cells = [
                    [cell if key in BLEND_TEXT_COLUMNS or cell == "" else as_number(cell) for key, cell in zip(SHEET_COLUMNS, row, strict=True)]
                    for row in rows
                ]
                body = xlsx_bytes(columns, cells, "blend")
                media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            raise NotFoundError("We could not find that export.")
        return Response(
            content=body,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="round-{round_id}-{name}"'},
        )
