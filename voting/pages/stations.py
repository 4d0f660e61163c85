"""Officials' pages for a cycle's voting stations: define stations and assign poll workers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from portal import clock
from portal.auth import requires_official
from portal.paging import paginate
from portal.web.forms import (
    parse_row_id,
    parse_seoul_datetime,
    saved_or_shown_again,
    seoul_datetime_input,
)
from portal.web.pages import page, signed_in_user
from portal.web.pagination import pager, requested_page
from voting.services import cycles, stations


def station_from_form(form: Any) -> stations.StationInput:
    """A station as the officials' form sends it (hours in Seoul time)."""
    return stations.StationInput(
        name=form.get("name", ""),
        district_code=form.get("district_code", ""),
        address=form.get("address", ""),
        opens_at=parse_seoul_datetime(form.get("opens_at"), "opens_at"),
        closes_at=parse_seoul_datetime(form.get("closes_at"), "closes_at"),
    )


def _new_station_form(cycle: dict[str, Any]) -> dict[str, str]:
    """A new station's form: open from voting's first day 09:00 to its last day 18:00."""
    opens = cycle["voting_open_at"].astimezone(clock.SEOUL).replace(hour=9, minute=0)
    closes = cycle["voting_close_at"].astimezone(clock.SEOUL).replace(hour=18, minute=0)
    if closes <= opens:
        closes = opens + dt.timedelta(hours=9)
    return {"opens_at": seoul_datetime_input(opens), "closes_at": seoul_datetime_input(closes)}


def _station_form(station: stations.StationView) -> dict[str, str]:
    return {
        "name": station.name,
        "district_code": station.district_code,
        "address": station.address,
        "opens_at": seoul_datetime_input(station.opens_at),
        "closes_at": seoul_datetime_input(station.closes_at),
    }


class OfficialStationPages(Controller):
    """A cycle's stations and their poll workers."""

    path = "/officials/pb/cycles/{cycle_id:int}/stations"
    guards = [requires_official]

    async def _list(self, request: Request, cycle_id: int, status_code: int = 200, **extra: Any) -> Template:
        cycle = await cycles.get_cycle(cycle_id)
        listed = paginate(await stations.stations_of(cycle_id), requested_page(request))
        return page(
            request,
            "voting/stations/officials.html",
            status_code=status_code,
            cycle=cycle,
            stations=listed.items,
            pager=pager(request, listed),
            form=extra.pop("form", None) or _new_station_form(cycle),
            errors=extra.pop("errors", {}),
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/")
    async def index(self, request: Request, cycle_id: FromPath[int]) -> Template:
        """Every station of the cycle, with its workers and ballots issued, and a form for a new one."""
        return await self._list(request, cycle_id)

    @post("/")
    async def create(self, request: Request, cycle_id: FromPath[int]) -> Template | Redirect:
        user = signed_in_user(request)
        form = await request.form()
        typed = {k: form.get(k) for k in form}

        async def create() -> None:
            await stations.create_station(user.id, cycle_id, station_from_form(form))

        async def again(request: Request, status_code: int, **extra: Any) -> Template:
            return await self._list(request, cycle_id, status_code, form=typed, **extra)

        return await saved_or_shown_again(
            request, create(), again, flash="The station was added.", then=f"/officials/pb/cycles/{cycle_id}/stations"
        )

    async def _station(
        self, request: Request, cycle_id: int, station_id: int, status_code: int = 200, **extra: Any
    ) -> Template:
        station = await stations.station_of_cycle(cycle_id, station_id)
        return page(
            request,
            "voting/stations/station.html",
            status_code=status_code,
            cycle=await cycles.get_cycle(cycle_id),
            station=station,
            form=extra.pop("form", None) or _station_form(station),
            worker_form=extra.pop("worker_form", {}),
            errors=extra.pop("errors", {}),
            flash=request.session.pop("flash", None),
            **extra,
        )

    @get("/{station_id:int}")
    async def station(self, request: Request, cycle_id: FromPath[int], station_id: FromPath[int]) -> Template:
        """One station: its details, hours, poll workers and counts."""
        return await self._station(request, cycle_id, station_id)

    @post("/{station_id:int}")
    async def update(
        self, request: Request, cycle_id: FromPath[int], station_id: FromPath[int]
    ) -> Template | Redirect:
        user = signed_in_user(request)
        form = await request.form()
        typed = {k: form.get(k) for k in form}

        async def update() -> None:
            await stations.update_station(user.id, cycle_id, station_id, station_from_form(form))

        async def again(request: Request, status_code: int, **extra: Any) -> Template:
            return await self._station(request, cycle_id, station_id, status_code, form=typed, **extra)

        return await saved_or_shown_again(
            request, update(), again, flash="The station was saved.",
            then=f"/officials/pb/cycles/{cycle_id}/stations/{station_id}",
        )

    @post("/{station_id:int}/workers")
    async def assign(
        self, request: Request, cycle_id: FromPath[int], station_id: FromPath[int]
    ) -> Template | Redirect:
        """Assign a poll worker by their account's email."""
        user = signed_in_user(request)
        form = await request.form()
        email = form.get("email", "")

        async def again(request: Request, status_code: int, **extra: Any) -> Template:
            return await self._station(request, cycle_id, station_id, status_code, worker_form={"email": email}, **extra)

        return await saved_or_shown_again(
            request, stations.assign_worker(user.id, cycle_id, station_id, email), again,
            flash="The poll worker was assigned.", then=f"/officials/pb/cycles/{cycle_id}/stations/{station_id}",
        )

    @post("/{station_id:int}/workers/remove")
    async def remove(
        self, request: Request, cycle_id: FromPath[int], station_id: FromPath[int]
    ) -> Template | Redirect:
        """Take a poll worker off the station."""
        user = signed_in_user(request)
        form = await request.form()

        async def remove() -> None:
            await stations.remove_worker(user.id, cycle_id, station_id, parse_row_id(form.get("user")))

        async def again(request: Request, status_code: int, **extra: Any) -> Template:
            return await self._station(request, cycle_id, station_id, status_code, **extra)

        return await saved_or_shown_again(
            request, remove(), again, flash="The poll worker was removed.",
            then=f"/officials/pb/cycles/{cycle_id}/stations/{station_id}",
        )
