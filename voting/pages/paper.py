"""Paper ballot pages: a station's batches, the keying form, the mismatch resolution, the tally
sheet (poll workers of the station and officials), and the officials' list of stations."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from portal.auth import requires_official, requires_role
from portal.errors import DomainError, InvalidInput, NotAllowed
from portal.identity import CurrentUser
from portal.paging import paginate
from portal.web.forms import form_errors, parse_row_id, parse_small_number
from portal.web.pages import back_to, page, signed_in_user
from portal.web.pagination import pager, requested_page
from voting.compute import paper
from voting.projects import pot_projects
from voting.services import cycles
from voting.services import paper as service

ROWS = 10  # sheet rows on a new keying form; a bundle of more is keyed with ?rows=


def _rows(value: Any) -> int:
    return min(max(parse_row_id(value) or ROWS, 1), 100)


def _reading(form: Any, prefix: str, projects: list[Any], cumulative: bool) -> paper.Reading:
    """The ticks (or points) of one sheet row of a form."""
    if not cumulative:
        ticked = {parse_row_id(v) for v in form.getall(f"{prefix}-marks", [])}
        return paper.reading_of(p.id for p in projects if p.id in ticked)
    return paper.reading_of(
        {p.id: parse_small_number(form.get(f"{prefix}-p{p.id}"), f"{prefix}-p{p.id}", default=0) for p in projects}
    )


def parse_keying(form: Any, projects: list[Any], cumulative: bool) -> dict[int, paper.Reading]:
    """Sheet rows of the keying form; a row with ticks needs its sheet number, once per batch."""
    keying: dict[int, paper.Reading] = {}
    for row in range(1, _rows(form.get("rows")) + 1):
        reading = _reading(form, f"s{row}", projects, cumulative)
        typed = (form.get(f"s{row}-sheet") or "").strip()
        if not typed and not reading:
            continue
        if not typed:
            raise InvalidInput("Enter the number printed on this sheet.", field=f"s{row}-sheet")
        number = parse_small_number(typed, f"s{row}-sheet")
        if number < 1:
            raise InvalidInput("Enter the number printed on this sheet.", field=f"s{row}-sheet")
        if number in keying:
            raise InvalidInput("Sheet %(sheet)s is keyed twice in this form.", field=f"s{row}-sheet", sheet=number)
        keying[number] = reading
    return keying


def parse_resolution(form: Any, sheets: list[int], projects: list[Any], cumulative: bool) -> dict[int, paper.Reading | None]:
    return {
        sheet: None if form.get(f"r{sheet}-missing") else _reading(form, f"r{sheet}", projects, cumulative)
        for sheet in sheets
    }


def _typed(form: Any) -> dict[str, Any]:
    """The form as typed, to fill it again (checkbox groups as lists)."""
    return {k: form.getall(k) if k.endswith("-marks") else form.get(k) for k in form}


class PaperPages(Controller):
    """A station's paper ballots, for its poll workers and for officials."""

    path = "/pb/stations"
    guards = [requires_role("poll_worker", "official")]

    async def _may_see(self, user: CurrentUser, station_id: int) -> None:
        if not (user.has_role("official", "admin") or await service.is_station_worker(station_id, user.id)):
            raise NotAllowed("Only poll workers assigned to this station can do that.")

    @get("/paper")
    async def mine(self, request: Request) -> Template:
        user = signed_in_user(request)
        return page(request, "voting/paper/stations.html", stations=await service.stations_of_worker(user.id))

    async def _station(self, request: Request, station_id: int, status_code: int = 200, **extra: Any) -> Template:
        user = signed_in_user(request)
        await self._may_see(user, station_id)
        overview = await service.station_paper(station_id)
        pots = [p for p in await cycles.pots_of(overview.station["cycle"]) if p["district_code"] in (None, overview.station["district_code"])]
        extra.setdefault("form", {"number": str(len(overview.batches) + 1)})
        batches = paginate(overview.batches, requested_page(request))
        return page(
            request, "voting/paper/station.html", status_code=status_code, overview=overview, pots=pots,
            batches=batches.items, pager=pager(request, batches),
            pot_name=cycles.pot_name, flash=request.session.pop("flash", None), **extra,
        )

    @get("/{station_id:int}/paper")
    async def station(self, request: Request, station_id: FromPath[int]) -> Template:
        return await self._station(request, station_id)

    @post("/{station_id:int}/paper/batches")
    async def open_batch(self, request: Request, station_id: FromPath[int]) -> Template | Redirect:
        user = signed_in_user(request)
        form = await request.form()
        try:
            number = parse_small_number(form.get("number"), "number")
            batch_id = await service.open_batch(user, station_id, parse_row_id(form.get("pot")), number)
        except DomainError as exc:
            return await self._station(request, station_id, exc.status_code, errors=form_errors(exc), form=_typed(form))
        return back_to(f"/pb/stations/{station_id}/paper/batches/{batch_id}")

    @post("/{station_id:int}/paper/tally")
    async def tally(self, request: Request, station_id: FromPath[int]) -> Template | Redirect:
        """Save the tally sheet; the station closes when it reconciles, else the page says why."""
        user = signed_in_user(request)
        form = await request.form()
        try:
            sheet = paper.TallySheet(
                *(parse_small_number(form.get(name), name) for name in ("handed_out", "returned", "spoiled"))
            )
            result = await service.enter_tally(user, station_id, sheet)
        except DomainError as exc:
            return await self._station(request, station_id, exc.status_code, tally_errors=form_errors(exc), tally_form=_typed(form))
        if not result.reconciles:
            return await self._station(request, station_id, 422, tally_form=_typed(form))
        request.session["flash"] = "The tally sheet reconciles: the station is closed."
        return back_to(f"/pb/stations/{station_id}/paper")

    async def _batch(self, request: Request, station_id: int, batch_id: int, status_code: int = 200, **extra: Any) -> Template:
        user = signed_in_user(request)
        await self._may_see(user, station_id)
        overview = await service.station_paper(station_id)
        batch = await service.get_batch(station_id, batch_id)
        pot = next(p for p in await cycles.pots_of(overview.station["cycle"]) if p["id"] == batch.pot_id)
        cycle = await cycles.get_cycle(overview.station["cycle"])
        worker = await service.is_station_worker(station_id, user.id)
        third = user.id not in batch.keyers and (worker or user.has_role("official", "admin"))
        # The keyers never see each other's readings: only a third person sees the mismatches.
        comparison = await service.mismatches(station_id, batch_id) if batch.state == "mismatch" and third else None
        extra.setdefault("form", {})
        projects = await pot_projects(batch.pot_id)
        return page(
            request, "voting/paper/batch.html", status_code=status_code, station=overview.station, batch=batch,
            pot=pot, pot_name=cycles.pot_name, projects=projects, titles={p.id: p.title for p in projects},
            cumulative=cycle["ballot_kind"] == "cumulative", rows=_rows(request.query_params.get("rows") or extra["form"].get("rows")),
            may_key=worker and third and batch.state in ("open", "keyed-once") and overview.station["closed_at"] is None,
            comparison=comparison, flash=request.session.pop("flash", None), **extra,
        )

    @get("/{station_id:int}/paper/batches/{batch_id:int}")
    async def batch(self, request: Request, station_id: FromPath[int], batch_id: FromPath[int]) -> Template:
        return await self._batch(request, station_id, batch_id)

    async def _projects(self, station_id: int, batch_id: int) -> tuple[list[Any], bool]:
        batch = await service.get_batch(station_id, batch_id)
        station = await service.get_station(station_id)
        cycle = await cycles.get_cycle(station["cycle"])
        return await pot_projects(batch.pot_id), cycle["ballot_kind"] == "cumulative"

    @post("/{station_id:int}/paper/batches/{batch_id:int}/keying")
    async def key(self, request: Request, station_id: FromPath[int], batch_id: FromPath[int]) -> Template | Redirect:
        user = signed_in_user(request)
        form = await request.form()
        try:
            projects, cumulative = await self._projects(station_id, batch_id)
            batch = await service.key_batch(user, station_id, batch_id, parse_keying(form, projects, cumulative))
        except DomainError as exc:
            return await self._batch(request, station_id, batch_id, exc.status_code, errors=form_errors(exc), form=_typed(form))
        request.session["flash"] = {
            "keyed-once": "Your keying was saved. A second poll worker must now key the same sheets.",
            "keyed-twice": "Both keyings agree: the batch can be counted.",
        }.get(batch.state, "The keyings differ: a third person must resolve the marked sheets.")
        return back_to(f"/pb/stations/{station_id}/paper/batches/{batch_id}")

    @post("/{station_id:int}/paper/batches/{batch_id:int}/resolution")
    async def resolve(self, request: Request, station_id: FromPath[int], batch_id: FromPath[int]) -> Template | Redirect:
        user = signed_in_user(request)
        form = await request.form()
        try:
            projects, cumulative = await self._projects(station_id, batch_id)
            sheets = [m.sheet for m in (await service.mismatches(station_id, batch_id)).mismatches]
            await service.resolve_batch(user, station_id, batch_id, parse_resolution(form, sheets, projects, cumulative))
        except DomainError as exc:
            return await self._batch(request, station_id, batch_id, exc.status_code, errors=form_errors(exc), form=_typed(form))
        request.session["flash"] = "The mismatched sheets were resolved: the batch can be counted."
        return back_to(f"/pb/stations/{station_id}/paper/batches/{batch_id}")

    @post("/{station_id:int}/paper/batches/{batch_id:int}/count")
    async def count(self, request: Request, station_id: FromPath[int], batch_id: FromPath[int]) -> Template | Redirect:
        user = signed_in_user(request)
        try:
            await service.count_batch(user, station_id, batch_id)
        except DomainError as exc:
            return await self._batch(request, station_id, batch_id, exc.status_code, errors=form_errors(exc))
        request.session["flash"] = "The batch was counted."
        return back_to(f"/pb/stations/{station_id}/paper/batches/{batch_id}")


class OfficialPaperPages(Controller):
    """Every station's paper ballots at a glance, for officials."""

    path = "/officials/pb/stations"
    guards = [requires_official]

    @get("/")
    async def index(self, request: Request) -> Template:
        listed = paginate(await service.all_stations(), requested_page(request))
        stations = [await service.station_paper(s["id"]) for s in listed.items]
        return page(request, "voting/paper/officials.html", stations=stations, pager=pager(request, listed))
