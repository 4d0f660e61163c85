"""The officials' export of a stage's feedback: one row per comment (or one per criterion without
comments), as the startup sees it (judges as letters), plus each comment's moderation."""

from __future__ import annotations

from typing import Any

from judging.services import feedback, feedback_moderation
from portal import i18n
from portal.connector.exports import _csv_bytes as csv_bytes
from portal.spreadsheet import SCORE, Column, xlsx_bytes

FILE_NAMES = ("feedback.csv", "feedback.xlsx")
COLUMNS = (
    Column("entry", "Entry ID"),
    Column("title", "Title"),
    Column("rank", "Rank"),
    Column("ranked", "Ranked entries"),
    Column("band", "Rank band"),
    Column("score", "Calibrated score", SCORE),
    Column("outcome", "Outcome"),
    Column("distance", "Distance to the cut", SCORE),
    Column("criterion", "Criterion"),
    Column("criterion_score", "Calibrated score on the criterion", SCORE),
    Column("stage_mean", "Stage mean on the criterion", SCORE),
    Column("judge", "Judge"),
    Column("comment", "Comment"),
    Column("status", "Moderation"),
    Column("reason", "Reason"),
    Column("shown", "Shown to the applicant"),
)


def feedback_rows(items: list[feedback.StageFeedback], language: str) -> list[list[Any]]:
    """The export's rows; numbers stay numbers, criterion names in ``language``."""
    rows: list[list[Any]] = []
    for item in items:
        head = [
            item.entry,
            item.title,
            item.rank,
            item.ranked,
            item.band,
            item.score,
            "advanced" if item.advanced else "did-not-advance",
            item.distance,
        ]
        for c in item.criteria:
            name = c.name.get(language) or c.name.get("en") or c.key
            tail = [name, c.score, c.stage_mean]
            if not c.comments:
                rows.append([*head, *tail, "", "", "", "", False])
            for x in c.comments:
                rows.append(
                    [*head, *tail, f"Judge {x.letter}", x.text, x.status, x.reason, x.shown]
                )
    return rows


async def feedback_file(round_id: int, name: str) -> bytes:
    """feedback.csv (machine keys) or feedback.xlsx (headers in the reader's language)."""
    view = await feedback_moderation.moderation_page(round_id)
    language = i18n.current_language.get()
    rows = feedback_rows(view.feedback, language)
    if name == "feedback.csv":
        return csv_bytes(
            tuple(c.key for c in COLUMNS),
            [
                [
                    "" if v is None else ("yes" if v is True else "no" if v is False else v)
                    for v in r
                ]
                for r in rows
            ],
        )
    return xlsx_bytes(COLUMNS, rows, "feedback", language)
