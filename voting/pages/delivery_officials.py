"""Officials update a funded project's delivery: status, milestones, photos and spending (all audited)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from litestar.response import Redirect, Template

from portal.auth import requires_official
from portal.errors import DomainError
from portal.web.forms import form_errors, krw_from_form, parse_date
from portal.web.pages import back_to, page, signed_in_user
from voting.compute import delivery as machine
from voting.pages.cycle_header import cycle_context
from voting.pages.delivery import pot_label, status_label
from voting.services import delivery, delivery_photos, delivery_spending
from voting.services.delivery_progress import dashboard

# A photo is refused beside its field up to this body size; only larger bodies get the bare 413.
UPLOAD_LIMIT = 12 * 1024 * 1024
UPLOAD_OPT = {"upload_limit_mb": delivery_photos.MAX_PHOTO_BYTES // (1024 * 1024)}
PROJECT = "/projects/{project_id:int}"


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


class OfficialDeliveryPages(Controller):
    """/officials/pb/cycles/{c}/delivery: the funded projects, and one page per project to update."""

    path = "/officials/pb/cycles/{cycle_id:int}/delivery"
    guards = [requires_official]

    @get("/")
    async def index(self, request: Request, cycle_id: FromPath[int]) -> Template:
        """Every funded project with its status and spending, each linking to its update page."""
        board = await dashboard(cycle_id)
        return page(
            request,
            "voting/delivery/officials_index.html",
            **cycle_context(board.cycle),
            board=board,
            pot_label=pot_label,
            status_label=status_label,
        )

    async def _show(
        self, request: Request, cycle_id: int, project_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        found = await delivery.delivery_of(cycle_id, project_id)
        cycle = await delivery.approved_cycle(cycle_id)
        return page(
            request,
            "voting/delivery/officials_project.html",
            status_code=status_code,
            **cycle_context(cycle),
            d=found,
            pot_label=pot_label,
            status_label=status_label,
            statuses=machine.STATUSES,
            flash=request.session.pop("flash", None),
            **extra,
        )

    def _done(self, request: Request, cycle_id: int, project_id: int, flash: str) -> Redirect:
        request.session["flash"] = flash
        return back_to(f"/officials/pb/cycles/{cycle_id}/delivery/projects/{project_id}")

    @get(PROJECT)
    async def project(
        self, request: Request, cycle_id: FromPath[int], project_id: FromPath[int]
    ) -> Template:
        """The update page of one funded project."""
        return await self._show(request, cycle_id, project_id)

    @post(PROJECT + "/status")
    async def status(
        self, request: Request, cycle_id: FromPath[int], project_id: FromPath[int]
    ) -> Template | Redirect:
        """Move the status (planned, in progress, completed; cancelled or corrected with a reason)."""
        form = await request.form()
        typed = {"status": _text(form, "status"), "reason": _text(form, "reason")}
        try:
            await delivery.change_status(
                signed_in_user(request).id, cycle_id, project_id, typed["status"], typed["reason"]
            )
        except DomainError as exc:
            return await self._show(
                request, cycle_id, project_id, exc.status_code, errors=form_errors(exc), form=typed
            )
        return self._done(request, cycle_id, project_id, "The project's status is updated.")

    def _milestone(self, form: Any) -> delivery.MilestoneInput:
        return delivery.MilestoneInput(
            title=_text(form, "title"),
            due_on=parse_date(form.get("due_on"), "due_on"),
            done=form.get("done") == "on",
        )

    @post(PROJECT + "/milestones")
    async def add_milestone(
        self, request: Request, cycle_id: FromPath[int], project_id: FromPath[int]
    ) -> Template | Redirect:
        """Add a dated milestone (not before the vote closed)."""
        form = await request.form()
        typed = {
            "title": _text(form, "title"),
            "due_on": _text(form, "due_on"),
            "done": _text(form, "done"),
        }
        try:
            await delivery.add_milestone(
                signed_in_user(request).id, cycle_id, project_id, self._milestone(form)
            )
        except DomainError as exc:
            return await self._show(
                request, cycle_id, project_id, exc.status_code, errors=form_errors(exc), form=typed
            )
        return self._done(request, cycle_id, project_id, "The milestone is added.")

    @post(PROJECT + "/milestones/{milestone_id:int}")
    async def update_milestone(
        self,
        request: Request,
        cycle_id: FromPath[int],
        project_id: FromPath[int],
        milestone_id: FromPath[int],
    ) -> Template | Redirect:
        """Change a milestone's title or date, or mark it done."""
        form = await request.form()
        typed = {
            "title": _text(form, "title"),
            "due_on": _text(form, "due_on"),
            "done": _text(form, "done"),
        }
        try:
            await delivery.update_milestone(
                signed_in_user(request).id,
                cycle_id,
                project_id,
                milestone_id,
                self._milestone(form),
            )
        except DomainError as exc:
            errors = {
                f"{k}-m{milestone_id}" if k != "form" else k: v for k, v in form_errors(exc).items()
            }
            return await self._show(
                request,
                cycle_id,
                project_id,
                exc.status_code,
                errors=errors,
                editing=milestone_id,
                edit_form=typed,
            )
        return self._done(request, cycle_id, project_id, "The milestone is updated.")

    @post(PROJECT + "/photos", request_max_body_size=UPLOAD_LIMIT, opt=UPLOAD_OPT)
    async def add_photo(
        self, request: Request, cycle_id: FromPath[int], project_id: FromPath[int]
    ) -> Template | Redirect:
        """Add a PNG or JPEG photo with its alternative text."""
        form = await request.form()
        upload = form.get("photo")
        content = await upload.read() if isinstance(upload, UploadFile) else b""
        typed = {"alt_text": _text(form, "alt_text")}
        try:
            await delivery_photos.add_photo(
                signed_in_user(request).id, cycle_id, project_id, content, typed["alt_text"]
            )
        except DomainError as exc:
            return await self._show(
                request, cycle_id, project_id, exc.status_code, errors=form_errors(exc), form=typed
            )
        return self._done(request, cycle_id, project_id, "The photo is added.")

    @post(PROJECT + "/photos/{photo_id:int}/remove")
    async def remove_photo(
        self,
        request: Request,
        cycle_id: FromPath[int],
        project_id: FromPath[int],
        photo_id: FromPath[int],
    ) -> Template | Redirect:
        """Remove a photo (its file is deleted)."""
        try:
            await delivery_photos.remove_photo(signed_in_user(request).id, cycle_id, project_id, photo_id)
        except DomainError as exc:
            return await self._show(
                request, cycle_id, project_id, exc.status_code, errors=form_errors(exc)
            )
        return self._done(request, cycle_id, project_id, "The photo is removed.")

    @post(PROJECT + "/payments")
    async def add_payment(
        self, request: Request, cycle_id: FromPath[int], project_id: FromPath[int]
    ) -> Template | Redirect:
        """Record money spent; above the funded amount it is kept and a warning is shown."""
        form = await request.form()
        typed = {
            "amount": _text(form, "amount"),
            "paid_on": _text(form, "paid_on"),
            "note": _text(form, "note"),
        }
        try:
            result = await delivery_spending.add_payment(
                signed_in_user(request).id,
                cycle_id,
                project_id,
                krw_from_form(typed["amount"], "amount") or 0,
                parse_date(typed["paid_on"], "paid_on"),
                typed["note"],
            )
        except DomainError as exc:
            return await self._show(
                request, cycle_id, project_id, exc.status_code, errors=form_errors(exc), form=typed
            )
        flash = (
            "The spending is recorded. The project has now spent more than its funded amount."
            if result.over_by
            else "The spending is recorded."
        )
        return self._done(request, cycle_id, project_id, flash)

    @post(PROJECT + "/payments/{payment_id:int}/remove")
    async def remove_payment(
        self,
        request: Request,
        cycle_id: FromPath[int],
        project_id: FromPath[int],
        payment_id: FromPath[int],
    ) -> Template | Redirect:
        """Remove a payment entered by mistake."""
        try:
            await delivery_spending.remove_payment(
                signed_in_user(request).id, cycle_id, project_id, payment_id
            )
        except DomainError as exc:
            return await self._show(
                request, cycle_id, project_id, exc.status_code, errors=form_errors(exc)
            )
        return self._done(request, cycle_id, project_id, "The payment is removed.")
