"""A poll worker's pages: their stations and the check-in of a resident (tablet or paper ballot)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Template

from portal import clock
from portal.auth import requires_role
from portal.errors import DomainError
from portal.web.forms import form_errors
from portal.web.pages import page, signed_in_user
from voting.services import check_in, stations
from voting.services.cycles import pot_name

requires_poll_worker = requires_role("poll_worker")


class PollWorkerPages(Controller):
    """Stations a poll worker is assigned to, and checking residents in there."""

    path = "/pb/stations"
    guards = [requires_poll_worker]

    @get("/")
    async def index(self, request: Request) -> Template:
        """The stations the poll worker is assigned to."""
        return page(
            request,
            "voting/stations/worker_index.html",
            stations=await stations.stations_of_worker(signed_in_user(request)),
            now=clock.now(),
        )

    async def _check_in_page(
        self, request: Request, station_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        station = await stations.station_for_worker(signed_in_user(request), station_id)
        return page(
            request,
            "voting/stations/check_in.html",
            status_code=status_code,
            station=station,
            is_open=station.is_open(clock.now()),
            form=extra.pop("form", {}),
            errors=extra.pop("errors", {}),
            result=extra.pop("result", None),
            pot_name=pot_name,
            **extra,
        )

    @get("/{station_id:int}")
    async def station(self, request: Request, station_id: FromPath[int]) -> Template:
        """The check-in form of one station."""
        return await self._check_in_page(request, station_id)

    @post("/{station_id:int}/check-in")
    async def check_in(self, request: Request, station_id: FromPath[int]) -> Template:
        """Check a resident in: look only, open a tablet ballot, or record a paper ballot handed out.

        The page answers directly (no redirect): the tablet code is shown once and never stored.
        """
        worker = signed_in_user(request)
        form = await request.form()
        typed = check_in.CheckInForm(
            identifier=form.get("identifier", ""), email=form.get("email", ""), birth_date=form.get("birth_date", "")
        )
        action = form.get("action", "check")
        try:
            result = await check_in.check_in(worker, station_id, typed, action)
        except DomainError as exc:
            kept = {"identifier": typed.identifier, "email": typed.email, "birth_date": typed.birth_date}
            return await self._check_in_page(
                request, station_id, exc.status_code, form=kept, errors=form_errors(exc)
            )
        # After a tablet or paper ballot the form starts empty for the next person; a look keeps it.
        kept = {} if action != "check" else {"identifier": typed.identifier, "email": typed.email,
                                             "birth_date": typed.birth_date}
        return await self._check_in_page(request, station_id, form=kept, result=result)
