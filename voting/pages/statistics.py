"""The public participation statistics of a closed cycle: charts, tables and CSV/XLSX downloads."""

from __future__ import annotations

import csv
import io
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.params import FromPath
from litestar.response import Template

from portal import i18n
from portal.auth import public
from portal.districts import district_name
from portal.errors import NotFoundError
from portal.spreadsheet import AMOUNT, Column, escape_cell, xlsx_bytes
from portal.web.pages import page
from voting.channels import CHANNEL_LABELS
from voting.compute.statistics import bar_chart
from voting.pages.cycle_header import cycle_context
from voting.services.statistics import CycleStatistics, cycle_statistics

COLUMNS = (
    Column("table", "Table"),
    Column("districts", "Districts"),
    Column("channels", "Channels"),
    Column("age_group", "Age group"),
    Column("stations", "Stations"),
    Column("participants", "Participants", AMOUNT),
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def age_text(label: str, language: str | None = None) -> str:
    """An age group's label in the reader's language: "-29" is 29 or younger, "60+" 60 or older."""
    tr = i18n.translate
    label, _, unknown = label.partition(" / ")
    if label == "unknown":
        text = tr("age unknown", language)
    elif label == "all ages":
        text = tr("all ages", language)
    elif label.startswith("-"):
        text = tr("%(age)s or younger", language, age=label[1:])
    elif label.endswith("+"):
        text = tr("%(age)s or older", language, age=label[:-1])
    else:
        text = label
    return f"{text} / {tr('age unknown', language)}" if unknown else text


def districts_text(codes: list[str], language: str | None = None) -> str:
    language = language or i18n.current_language.get()
    return " + ".join(district_name(c, language) or i18n.translate("district unknown", language) for c in codes)


def channels_text(channels: list[str], language: str | None = None) -> str:
    return " + ".join(i18n.translate(CHANNEL_LABELS.get(c, c), language) for c in channels)


def _rows(stats: CycleStatistics, language: str) -> list[list[Any]]:
    """Every published cell, then every station group: the figures the page shows, one per row."""
    snap = stats.snapshot or {}
    rows: list[list[Any]] = [
        [
            "district-channel-age",
            districts_text(c["districts"], language),
            channels_text(c["channels"], language),
            age_text(c["age_label"], language),
            "",
            c["count"],
        ]
        for c in snap.get("cells", [])
    ]
    rows += [
        ["station", "", "", "", " + ".join(stats.station_names.get(s, str(s)) for s in c["stations"]), c["count"]]
        for c in snap.get("stations", [])
    ]
    return rows


class StatisticsPages(Controller):
    """Participation statistics, frozen when the cycle closed (404 before)."""

    path = "/pb/cycles/{cycle_id:int}/statistics"
    guards = [public]

    @get("/")
    async def statistics(self, request: Request, cycle_id: FromPath[int]) -> Template:
        """Turnout by channel, age group, district and station, with charts and downloads."""
        stats = await cycle_statistics(cycle_id)
        snap = stats.snapshot or {}
        charts = {
            "channel": bar_chart([(channels_text(c["label"].split(" + ")), c["count"]) for c in snap.get("by_channel", [])]),
            "age": bar_chart([(age_text(c["label"]), c["count"]) for c in snap.get("by_age", [])]),
        }
        return page(
            request,
            "voting/statistics/page.html",
            **cycle_context(stats.cycle),
            stats=stats,
            snap=snap,
            charts=charts,
            by_district=[(districts_text(c["label"].split(" + ")), c["count"]) for c in snap.get("by_district", [])],
            cells=_rows(stats, i18n.current_language.get()),
        )

    @get("/{name:str}")
    async def download(self, cycle_id: FromPath[int], name: FromPath[str]) -> Response:
        """participation.csv (English, machine column names) or participation.xlsx (the reader's language)."""
        if name not in ("participation.csv", "participation.xlsx"):
            raise NotFoundError("We could not find that page.")
        stats = await cycle_statistics(cycle_id)
        if stats.snapshot is None:
            raise NotFoundError("We could not find that page.")
        if name.endswith(".csv"):
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow([c.key for c in COLUMNS])
            writer.writerows([escape_cell(v) for v in row] for row in _rows(stats, "en"))
            body, media_type = ("\ufeff" + out.getvalue()).encode(), "text/csv; charset=utf-8"
        else:
            language = i18n.current_language.get()
            body, media_type = xlsx_bytes(COLUMNS, _rows(stats, language), "participation", language), XLSX
        return Response(
            content=body,
            media_type=media_type,
            headers={
                "Content-Disposition": f'attachment; filename="pb-cycle-{cycle_id}-{name}"',
                "X-Content-Type-Options": "nosniff",
            },
        )
