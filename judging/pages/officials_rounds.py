"""The officials' round pages: deadline and judge pool, assignment (automatic and by hand), coverage
gaps, reminders, per-judge progress and calibration."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from judging.pages import listing
from judging.schemas import RowId
from judging.services import (
    assignment,
    bids,
    calibration_checks,
    citizens,
    conflicts,
    editions,
    funnel,
    reviews,
)
from portal import i18n
from portal.auth import requires_official
from portal.errors import DomainError
from portal.web.forms import (
    form_errors,
    parse_seoul_datetime,
    parse_small_number,
    seoul_datetime_input,
)
from portal.web.pages import back_to, page, signed_in_user

FormData = URLEncodedBody[dict[str, str]]


async def round_page(request: Request, round_id: int, status_code: int = 200, **extra: Any) -> Template:
    """The round page (with ``errors`` and what was typed when a form on it was refused)."""
    rnd = await editions.get_round(round_id)
    edition = await editions.get_edition(rnd["edition"])
    extra.setdefault("citizens", await citizens.citizen_settings(round_id))
    return page(
        request,
        "judging/officials/round.html",
        status_code=status_code,
        round=rnd,
        round_state=editions.round_state(rnd, edition),
        gaps=await assignment.coverage_gaps(round_id),
        edition=edition,
        judges=await conflicts.all_judges(),
        progress=await assignment.round_progress(round_id),
        **_assignment_list(request, await assignment.round_assignments(round_id)),
        screened=await funnel.stage_entries(round_id, strict=False),  # the entries in this stage
        bid_summary=await bids.assignment_bid_summary(round_id),
        local_input=seoul_datetime_input,
        flash=request.session.pop("flash", None),
        **extra,
    )


def _assignment_list(request: Request, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The round's assignments searched, filtered by source and sorted, the state kept in the URL."""
    shown, state = listing.apply(
        request,
        rows,
        sorts={
            "entry": lambda r: (r["entry"], r["judge"]),
            "judge": lambda r: (r["judge_email"], r["entry"]),
        },
        default_sort="entry",
        filters={"source": "source"},
        search=("title", "judge_email"),
    )
    return {"assignments": shown, "list_state": state}


class OfficialRoundPages(Controller):
    """A round: deadline, judge pool, assignment, per-judge progress, missing reviews and calibration."""

    path = "/officials/challenge"
    guards = [requires_official]

    async def _round_page(
        self, request: Request, round_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        return await round_page(request, round_id, status_code, **extra)

    @get("/rounds/{round_id:int}")
    async def round(self, request: Request, round_id: RowId) -> Template:
        """A round: deadline, judge pool, assignment, per-judge progress and missing reviews."""
        return await self._round_page(request, round_id)

    async def _round_action(
        self,
        request: Request,
        round_id: int,
        action: Callable[[], Awaitable[int | list[int] | None]],
        flash: str,
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
        pool = [parse_small_number(v, "judge_pool") for v in (form.getall("judge_pool", []))]

        async def action() -> None:
            await editions.update_round(
                signed_in_user(request).id,
                round_id,
                parse_seoul_datetime(str(form.get("deadline") or ""), "deadline"),
                parse_small_number(str(form.get("judges_per_entry") or ""), "judges_per_entry", 3),
                pool,
            )

        return await self._round_action(request, round_id, action, "The round was saved.")

    @post("/rounds/{round_id:int}/assign")
    async def assign(self, request: Request, round_id: RowId) -> Template | Redirect:
        return await self._round_action(
            request,
            round_id,
            lambda: assignment.run_assignment(signed_in_user(request).id, round_id),
            "%(n)s assignments were made.",
        )

    @post("/rounds/{round_id:int}/assignments/add")
    async def add(self, request: Request, round_id: RowId, data: FormData) -> Template | Redirect:
        async def action() -> None:
            await assignment.add_assignment(
                signed_in_user(request).id,
                round_id,
                parse_small_number(data.get("entry"), "entry"),
                parse_small_number(data.get("judge"), "judge"),
            )

        return await self._round_action(request, round_id, action, "The assignment was added.")

    @post("/rounds/{round_id:int}/assignments/remove")
    async def remove(
        self, request: Request, round_id: RowId, data: FormData
    ) -> Template | Redirect:
        async def action() -> None:
            await assignment.remove_assignment(
                signed_in_user(request).id,
                round_id,
                parse_small_number(data.get("entry"), "entry"),
                parse_small_number(data.get("judge"), "judge"),
            )

        return await self._round_action(request, round_id, action, "The assignment was removed.")

    @post("/rounds/{round_id:int}/reassign")
    async def reassign(
        self, request: Request, round_id: RowId, data: FormData
    ) -> Template | Redirect:
        return await self._round_action(
            request,
            round_id,
            lambda: assignment.reassign_unreviewed(
                signed_in_user(request).id, round_id, parse_small_number(data.get("judge"), "judge")
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
            lambda: assignment.fill_coverage_gap(signed_in_user(request).id, round_id, entry_id),
            "Another judge was assigned to the entry.",
        )

    @post("/rounds/{round_id:int}/remind")
    async def remind(self, request: Request, round_id: RowId) -> Template | Redirect:
        return await self._round_action(
            request,
            round_id,
            lambda: assignment.send_reminders(signed_in_user(request).id, round_id),
            "Reminders were sent to %(n)s judges.",
        )

    @get("/rounds/{round_id:int}/calibration")
    async def calibration(self, request: Request, round_id: RowId) -> Template:
        """Raw mean, z-score and additive model side by side, with disagreement and review counts."""
        return await calibration_page(request, round_id)


async def calibration_page(
    request: Request, round_id: int, status_code: int = 200, **extra: Any
) -> Template:
    """The calibration side by side, with the judges below the edition's minimum number of reviews flagged."""
    rnd = await editions.get_round(round_id)
    return page(
        request,
        "judging/officials/calibration.html",
        status_code=status_code,
        round=rnd,
        edition=await editions.get_edition(rnd["edition"]),
        table=await reviews.calibration_view(round_id),
        check=await calibration_checks.calibration_check(round_id),
        flash=request.session.pop("flash", None),
        **extra,
    )
