"""The public delivery pages of funded projects: a cycle's dashboard (with CSV) and each project's page."""

from __future__ import annotations

import csv
import io

from litestar import Controller, Request, Response, get
from litestar.params import FromPath
from litestar.response import Template

from portal import i18n
from portal.auth import public
from portal.districts import district_name
from portal.notifications import followed_among
from portal.spreadsheet import escape_cell
from portal.web.pages import current_user, page
from voting.categories import category_label
from voting.compute import delivery as machine
from voting.compute.rules import CITY_WIDE_CODE
from voting.pages.cycle_header import cycle_context
from voting.services import delivery, delivery_photos
from voting.services.delivery_progress import Dashboard, dashboard

CSV_COLUMNS = (
    "project_code",
    "title",
    "pot",
    "category",
    "status",
    "funded_krw",
    "spent_krw",
)


def pot_label(key: str, language: str | None = None) -> str:
    """The city-wide pot by its name, a district pot by its district's name."""
    if key in (CITY_WIDE_CODE, "", None):
        return i18n.translate("City-wide", language)
    return district_name(key, language or i18n.current_language.get()) or key


def status_label(status: str, language: str | None = None) -> str:
    return i18n.translate(machine.STATUS_LABELS.get(status, status), language)


def charts_of(board: Dashboard) -> dict[str, object]:
    return {
        "pot": machine.progress_chart(board.by_pot, [pot_label(g.key) for g in board.by_pot]),
        "category": machine.progress_chart(
            board.by_category, [category_label(g.key) for g in board.by_category]
        ),
    }


class DeliveryPages(Controller):
    """Everyone follows how the funded projects of an approved cycle are carried out."""

    path = "/pb/cycles/{cycle_id:int}/delivery"
    guards = [public]

    @get("/")
    async def dashboard(self, request: Request, cycle_id: FromPath[int]) -> Template:
        """Progress by pot and category: projects per status, money spent against money funded."""
        board = await dashboard(cycle_id)
        return page(
            request,
            "voting/delivery/dashboard.html",
            **cycle_context(board.cycle),
            board=board,
            charts=charts_of(board),
            pot_label=pot_label,
            status_label=status_label,
            statuses=machine.STATUSES,
            colours=machine.STATUS_COLOURS,
        )

    @get("/export/delivery.csv")
    async def csv_export(self, cycle_id: FromPath[int]) -> Response:
        """Every funded project's status and spending (English values, machine column names)."""
        board = await dashboard(cycle_id)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for row in board.rows:
            project = row.project
            writer.writerow(
                [
                    escape_cell(v)
                    for v in (
                        project.project_code,
                        project.title,
                        delivery.pot_key(project),
                        project.category,
                        row.status,
                        project.funded,
                        row.spent,
                    )
                ]
            )
        return Response(
            content=("\ufeff" + out.getvalue()).encode(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="pb-cycle-{cycle_id}-delivery.csv"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    @get("/projects/{project_id:int}")
    async def project(
        self, request: Request, cycle_id: FromPath[int], project_id: FromPath[int]
    ) -> Template:
        """A funded project's status, milestones, photos and spending against its budget."""
        found = await delivery.delivery_of(cycle_id, project_id)
        cycle = await delivery.approved_cycle(cycle_id)
        user = current_user(request)
        return page(
            request,
            "voting/delivery/project.html",
            **cycle_context(cycle),
            d=found,
            # Following the project's proposal brings its delivery news (docs/notifications.md).
            following=await followed_among(user and user.id, [("proposal", project_id)]),
            pot_label=pot_label,
            status_label=status_label,
            statuses=machine.STATUSES,
            colours=machine.STATUS_COLOURS,
        )

    @get("/projects/{project_id:int}/photos/{photo_id:int}/image")
    async def photo(
        self, cycle_id: FromPath[int], project_id: FromPath[int], photo_id: FromPath[int]
    ) -> Response:
        """A photo, shown on the project's page: PNG or JPEG by its bytes, never sniffed as anything else."""
        stored = await delivery_photos.photo_content(cycle_id, project_id, photo_id)
        return Response(
            content=stored.content,
            media_type=stored.file_type.media_type,
            headers={
                "Content-Disposition": f'inline; filename="project-{project_id}-photo-{photo_id}.{stored.file_type.extension}"',
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
                "Cache-Control": "public, max-age=3600",
            },
        )
