"""Officials update a funded project's delivery: status, milestones, photos and spending (all audited)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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


def _typed(form: Any, *names: str) -> dict[str, str]:
    """What was typed into a form's text fields (anything else reads as empty)."""
    return {name: value if isinstance(value := form.get(name), str) else "" for name in names}


def _milestone(typed: dict[str, str]) -> delivery.MilestoneInput:
    return delivery.MilestoneInput(
        title=typed["title"],
        due_on=parse_date(typed["due_on"], "due_on"),
        done=typed["done"] == "on",
    )


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

    async def _submit(
        self,
        request: Request,
        cycle_id: int,
        project_id: int,
        act: Callable[[int], Awaitable[str]],
        typed: dict[str, str] | None = None,
        milestone_id: int | None = None,
    ) -> Template | Redirect:
        """Run one update as the signed-in official. Done: back to the page with ``act``'s flash message.
        Refused: the page again with the message beside its field (a milestone's own form when editing one)."""
        try:
            flash = await act(signed_in_user(request).id)
        except DomainError as exc:
            errors = form_errors(exc)
            extra: dict[str, Any] = {"form": typed or {}}
            if milestone_id is not None:
                errors = {
                    k if k == "form" else f"{k}-m{milestone_id}": v for k, v in errors.items()
                }
                extra = {"editing": milestone_id, "edit_form": typed or {}}
            return await self._show(
                request, cycle_id, project_id, exc.status_code, errors=errors, **extra
            )
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
        typed = _typed(await request.form(), "status", "reason")

        async def act(official: int) -> str:
            await delivery.change_status(
                official, cycle_id, project_id, typed["status"], typed["reason"]
            )
            return "The project's status is updated."

        return await self._submit(request, cycle_id, project_id, act, typed)

    @post(PROJECT + "/milestones")
    async def add_milestone(
        self, request: Request, cycle_id: FromPath[int], project_id: FromPath[int]
    ) -> Template | Redirect:
        """Add a dated milestone (not before the vote closed)."""
        typed = _typed(await request.form(), "title", "due_on", "done")

        async def act(official: int) -> str:
            await delivery.add_milestone(official, cycle_id, project_id, _milestone(typed))
            return "The milestone is added."

        return await self._submit(request, cycle_id, project_id, act, typed)

    @post(PROJECT + "/milestones/{milestone_id:int}")
    async def update_milestone(
        self,
        request: Request,
        cycle_id: FromPath[int],
        project_id: FromPath[int],
        milestone_id: FromPath[int],
    ) -> Template | Redirect:
        """Change a milestone's title or date, or mark it done."""
        typed = _typed(await request.form(), "title", "due_on", "done")

        async def act(official: int) -> str:
            await delivery.update_milestone(
                official, cycle_id, project_id, milestone_id, _milestone(typed)
            )
            return "The milestone is updated."

        return await self._submit(
            request, cycle_id, project_id, act, typed, milestone_id=milestone_id
        )

    @post(PROJECT + "/photos", request_max_body_size=UPLOAD_LIMIT, opt=UPLOAD_OPT)
    async def add_photo(
        self, request: Request, cycle_id: FromPath[int], project_id: FromPath[int]
    ) -> Template | Redirect:
        """Add a PNG or JPEG photo with its alternative text."""
        form = await request.form()
        upload = form.get("photo")
        content = await upload.read() if isinstance(upload, UploadFile) else b""
        typed = _typed(form, "alt_text")

        async def act(official: int) -> str:
            await delivery_photos.add_photo(
                official, cycle_id, project_id, content, typed["alt_text"]
            )
            return "The photo is added."

        return await self._submit(request, cycle_id, project_id, act, typed)

    @post(PROJECT + "/photos/{photo_id:int}/remove")
    async def remove_photo(
        self,
        request: Request,
        cycle_id: FromPath[int],
        project_id: FromPath[int],
        photo_id: FromPath[int],
    ) -> Template | Redirect:
        """Remove a photo (its file is deleted)."""

        async def act(official: int) -> str:
            await delivery_photos.remove_photo(official, cycle_id, project_id, photo_id)
            return "The photo is removed."

        return await self._submit(request, cycle_id, project_id, act)

    @post(PROJECT + "/payments")
    async def add_payment(
        self, request: Request, cycle_id: FromPath[int], project_id: FromPath[int]
    ) -> Template | Redirect:
        """Record money spent; above the funded amount it is kept and a warning is shown."""
        typed = _typed(await request.form(), "amount", "paid_on", "note")

        async def act(official: int) -> str:
            result = await delivery_spending.add_payment(
                official,
                cycle_id,
                project_id,
                krw_from_form(typed["amount"], "amount") or 0,
                parse_date(typed["paid_on"], "paid_on"),
                typed["note"],
            )
            if result.over_by:
                return "The spending is recorded. The project has now spent more than its funded amount."
            return "The spending is recorded."

        return await self._submit(request, cycle_id, project_id, act, typed)

    @post(PROJECT + "/payments/{payment_id:int}/remove")
    async def remove_payment(
        self,
        request: Request,
        cycle_id: FromPath[int],
        project_id: FromPath[int],
        payment_id: FromPath[int],
    ) -> Template | Redirect:
        """Remove a payment entered by mistake."""

        async def act(official: int) -> str:
            await delivery_spending.remove_payment(official, cycle_id, project_id, payment_id)
            return "The payment is removed."

        return await self._submit(request, cycle_id, project_id, act)
