"""A stage's rubric editor: criteria (Korean and English names, weights, level descriptors) and the
stage's scale, editable until the stage's first review is saved (``stages.require_rubric_editable``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from judging.services.common import update_audited
from judging.services.editions import get_round
from judging.services.stages import require_rubric_editable
from judging.tables import Round
from portal.db import write_transaction
from portal.errors import InvalidInput, NotFoundError

MAX_CRITERIA = 12
MAX_SCALE = 1000
LEVEL_LINE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*\|(.*)\|(.*)$")


@dataclass
class CriterionForm:
    """One criterion as typed in the editor (row ``index``); ``levels`` is one descriptor a line:
    ``low-high | English | 한국어``."""

    index: int
    key: str = ""
    name_ko: str = ""
    name_en: str = ""
    weight: int | None = None
    levels: str = ""

    def is_blank(self) -> bool:
        return not (self.name_ko.strip() or self.name_en.strip() or self.levels.strip()) and (
            self.weight in (None, 0)
        )


@dataclass
class RubricForm:
    scale_min: int
    scale_max: int
    criteria: list[CriterionForm] = field(default_factory=list)


def levels_text(levels: list[dict[str, Any]]) -> str:
    """Stored level descriptors as the editor shows them."""
    return "\n".join(f"{lv['low']}-{lv['high']} | {lv['en']} | {lv['ko']}" for lv in levels)


def _levels(row: CriterionForm, scale: tuple[int, int]) -> list[dict[str, Any]]:
    levels: list[dict[str, Any]] = []
    for line in row.levels.splitlines():
        if not line.strip():
            continue
        match = LEVEL_LINE.match(line)
        low, high = (int(match.group(1)), int(match.group(2))) if match else (1, 0)
        if not match or not scale[0] <= low <= high <= scale[1]:
            raise InvalidInput(
                "Write each descriptor as low-high | English | Korean, within the scale %(low)s-%(high)s.",
                field=f"levels_{row.index}",
                low=scale[0],
                high=scale[1],
            )
        if any(not (high < lv["low"] or low > lv["high"]) for lv in levels):
            raise InvalidInput("Descriptor ranges must not overlap.", field=f"levels_{row.index}")
        en, ko = match.group(3).strip(), match.group(4).strip()
        if not en or not ko or len(en) > 300 or len(ko) > 300:
            raise InvalidInput(
                "Each descriptor needs English and Korean text (up to 300 characters).",
                field=f"levels_{row.index}",
            )
        levels.append({"low": low, "high": high, "en": en, "ko": ko})
    return sorted(levels, key=lambda lv: lv["low"])


def _criterion(row: CriterionForm, scale: tuple[int, int], used: set[str]) -> dict[str, Any]:
    name_ko, name_en = row.name_ko.strip(), row.name_en.strip()
    for value, name in ((name_ko, f"name_ko_{row.index}"), (name_en, f"name_en_{row.index}")):
        if not 1 <= len(value) <= 120:
            raise InvalidInput("Give the criterion a name (up to 120 characters).", field=name)
    if row.weight is None or not 1 <= row.weight <= 100:
        raise InvalidInput("A weight is a whole number from 1 to 100.", field=f"weight_{row.index}")
    key = row.key.strip() if re.fullmatch(r"[a-z][a-z0-9_]{0,39}", row.key.strip()) else ""
    if not key or key in used:
        key = next(f"criterion_{n}" for n in range(1, 100) if f"criterion_{n}" not in used)
    used.add(key)
    return {
        "key": key,
        "name": {"en": name_en, "ko": name_ko},
        "weight": row.weight,
        "levels": _levels(row, scale),
    }


def validate_rubric(form: RubricForm) -> list[dict[str, Any]]:
    """The stored rubric; each problem is raised beside its field (weights must sum to 100)."""
    if not 0 <= form.scale_min < form.scale_max <= MAX_SCALE:
        raise InvalidInput(
            "The scale runs from a lower to a higher whole number, between 0 and %(max)s.",
            field="scale_max",
            max=MAX_SCALE,
        )
    rows = [row for row in form.criteria if not row.is_blank()]
    if not rows:
        raise InvalidInput("A rubric needs at least one criterion.", field="weights")
    if len(rows) > MAX_CRITERIA:
        raise InvalidInput("At most %(max)s criteria.", field="weights", max=MAX_CRITERIA)
    used: set[str] = set()
    criteria = [_criterion(row, (form.scale_min, form.scale_max), used) for row in rows]
    total = sum(c["weight"] for c in criteria)
    if total != 100:
        raise InvalidInput(
            "The weights add up to %(total)s; they must add up to 100.",
            field="weights",
            total=total,
        )
    return criteria


async def update_rubric(official_id: int, round_id: int, form: RubricForm) -> None:
    """Replace a stage's rubric and scale; refused once the stage's first review is saved."""
    rnd = await get_round(round_id)
    if rnd["kind"] == "screening":
        raise NotFoundError("We could not find that stage.")
    criteria = validate_rubric(form)
    async with write_transaction(lock_key=f"challenge-edition-{rnd['edition']}"):
        await require_rubric_editable(rnd)
        await update_audited(
            Round,
            round_id,
            {"rubric": criteria, "scale_min": form.scale_min, "scale_max": form.scale_max},
            rnd,
            "challenge.stage.rubric",
            actor_id=official_id,
            subject=f"round:{round_id}",
        )
