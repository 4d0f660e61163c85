"""The demo's Korean projects, mapped one to one onto real pabulib projects (docs/demo.md).

The ballots stay the real ones: a voter who approved pabulib project ``c8`` of Świecie approves
the project that takes its place here ("호수공원 수변 데크 보수"). Each Korean project keeps the
idea of the original (a pier stays a pier, a fire-brigade vehicle stays one), moved to Seoul.

The rows are data, in ``voting/data/demo_projects.tsv``: pabulib file and ``project_id``, category,
Korean title, English title, Korean summary, English summary. Titles on the portal are Korean (one
title column); the English title and summary open the description, followed by where the project
comes from (file, id and original name).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

TABLE = Path(__file__).resolve().parent / "data" / "demo_projects.tsv"


class DemoProject(NamedTuple):
    project_id: str
    category: str
    title_ko: str
    title_en: str
    summary_ko: str
    summary_en: str


def _read(path: Path) -> dict[str, tuple[DemoProject, ...]]:
    """The table's rows by pabulib file, in file order; ``#`` lines are notes, the first row names the columns."""
    rows = [line.split("\t") for line in path.read_text("utf-8").splitlines() if not line.startswith("#")]
    projects: dict[str, list[DemoProject]] = {}
    for file_name, *fields in rows[1:]:
        projects.setdefault(file_name, []).append(DemoProject(*fields))
    return {file_name: tuple(found) for file_name, found in projects.items()}


PROJECTS = _read(TABLE)


def mapping_of(file_name: str) -> dict[str, DemoProject]:
    """The Korean project of each pabulib project id of one file."""
    return {row.project_id: row for row in PROJECTS[file_name]}
