"""The station tablet (kiosk mode): a one-time ballot opened by a code, no account needed.

The code travels only in form bodies (never in a URL, so never in an access log), and the ballot
requests never write a session.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from portal.auth import public
from portal.errors import DomainError, InvalidInput
from portal.web.forms import form_errors
from portal.web.pages import page
from voting.compute.rules import BallotChoice
from voting.pages.citizens import BALLOT_REQUEST, ballot_choice_from_form
from voting.services import kiosk
from voting.services.cycles import pot_name


class _PotForm:
    """One pot's fields of the tablet form (``project_ids-<pot>``, ``points-<pot>-<project>``) as a ballot form."""

    def __init__(self, form: Any, pot_id: int):
        self._form, self._prefix = form, f"-{pot_id}"

    def __iter__(self):
        prefix = f"points{self._prefix}-"
        return (f"points-{key.removeprefix(prefix)}" for key in self._form if key.startswith(prefix))

    def get(self, key: str, default: Any = None) -> Any:
        if key.startswith("points-"):
            return self._form.get(f"points{self._prefix}-{key.removeprefix('points-')}", default)
        return self._form.get(f"{key}{self._prefix}", default)

    def getall(self, key: str, default: Any = None) -> list[Any]:
        return self._form.getall(f"{key}{self._prefix}", default or [])


def choices_from_form(form: Any, view: kiosk.KioskBallotView) -> dict[int, BallotChoice]:
    """Each pot's choice on the tablet form; a problem is reported beside that pot."""
    choices = {}
    for item in view.pots:
        pot_id = item.pot["id"]
        try:
            choices[pot_id] = ballot_choice_from_form(_PotForm(form, pot_id), view.rules.ballot_kind)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field=f"pot-{pot_id}", **exc.params) from None
    return choices


class KioskPages(Controller):
    """The tablet's code form, its one-time ballot and the receipts on screen."""

    path = "/pb/kiosk"
    guards = [public]
    opt = BALLOT_REQUEST

    @get("/")
    async def code_form(self, request: Request) -> Template:
        """Where the tablet asks for the ballot code the poll worker gives."""
        return page(request, "voting/stations/kiosk_code.html", form={}, errors={})

    async def _ballot(self, request: Request, code: str, status_code: int = 200, **extra: Any) -> Template:
        try:
            view = await kiosk.open_kiosk_ballot(code)
        except DomainError as exc:
            return page(
                request, "voting/stations/kiosk_code.html", status_code=exc.status_code,
                form={"code": code}, errors=form_errors(exc),
            )
        return page(
            request,
            "voting/stations/kiosk_ballot.html",
            status_code=status_code,
            view=view,
            code=code,
            pot_name=pot_name,
            typed=extra.pop("typed", {}),
            errors=extra.pop("errors", {}),
        )

    @post("/")
    async def open_ballot(self, request: Request) -> Template:
        """Open the ballot of a valid, unused code (the code form again otherwise)."""
        form = await request.form()
        return await self._ballot(request, form.get("code", ""))

    @post("/ballot")
    async def cast(self, request: Request) -> Template:
        """Cast the tablet's ballots; the receipts are shown on screen, once."""
        form = await request.form()
        code = form.get("code", "")
        try:
            view = await kiosk.open_kiosk_ballot(code)
            receipts = await kiosk.cast_kiosk_ballot(code, choices_from_form(form, view))
        except DomainError as exc:
            typed = {key: form.getall(key) for key in form}
            return await self._ballot(request, code, exc.status_code, typed=typed, errors=form_errors(exc))
        return page(
            request,
            "voting/stations/kiosk_receipt.html",
            cycle=view.cycle,
            receipts=receipts,
            pot_name=pot_name,
        )
