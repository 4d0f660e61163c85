"""A stage's citizens: none, a drawn panel, a public vote or both, and the blend weights (expert/panel/public).

Officials set them on the round page; every change is audited. The stage's entries (what the panel
scores and the public votes on) are the stage's entries in the funnel: the screened-in entries that
advanced from every earlier stage (``judging/services/funnel.py``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from judging.citizen_tables import CITIZEN_MODES, CitizenMode, CitizenStage, has_panel, has_public
from judging.compute.blend import Weights
from judging.services import funnel
from judging.services.common import require_undecided
from judging.services.editions import SCORING_KINDS, get_round
from portal import audit, clock
from portal.db import write_transaction
from portal.errors import InvalidInput

PANEL_SIZE_MAX = 500
PANEL_CRITERIA_MIN, PANEL_CRITERIA_MAX = 2, 3


@dataclass(frozen=True)
class CitizenForm:
    """What the officials' form sends."""

    mode: str
    panel_size: int
    seed: int
    criteria: tuple[str, ...]
    weight_expert: int
    weight_panel: int
    weight_public: int


@dataclass(frozen=True)
class CitizenSettings(CitizenMode):
    """A stage's citizen settings as the pages and services read them."""

    round_id: int
    mode: str = "none"
    panel_size: int = 0
    seed: int = 0
    rubric: list[dict[str, Any]] = field(default_factory=list)
    weights: Weights = Weights(100, 0, 0)
    drawn_at: dt.datetime | None = None
    eligible_sha256: str = ""
    report_sha256: str = ""
    report_acknowledged_at: dt.datetime | None = None

    @property
    def criteria(self) -> list[str]:
        return [c["key"] for c in self.rubric]


async def citizen_settings(round_id: int) -> CitizenSettings:
    """The stage's settings (the defaults, experts only, until officials set them)."""
    row = (
        await CitizenStage.select()
        .output(load_json=True)
        .where(CitizenStage.round == round_id)
        .first()
    )
    if row is None:
        return CitizenSettings(round_id)
    return CitizenSettings(
        round_id=round_id,
        mode=row["mode"],
        panel_size=row["panel_size"],
        seed=row["seed"],
        rubric=row["rubric"] or [],
        weights=Weights(row["weight_expert"], row["weight_panel"], row["weight_public"]),
        drawn_at=row["drawn_at"],
        eligible_sha256=row["eligible_sha256"],
        report_sha256=row["report_sha256"],
        report_acknowledged_at=row["report_acknowledged_at"],
    )


def check_weights(form: CitizenForm) -> Weights:
    """Whole points 0-100 summing to 100; a source the stage does not have must weigh 0."""
    weights = Weights(form.weight_expert, form.weight_panel, form.weight_public)
    for name, value in zip(("weight_expert", "weight_panel", "weight_public"), (weights.expert, weights.panel, weights.public), strict=True):
        if not 0 <= value <= 100:
            raise InvalidInput("Each weight is a whole number from 0 to 100.", field=name)
    total = weights.expert + weights.panel + weights.public
    if total != 100:
        raise InvalidInput(
            "The weights must add up to 100; these add up to %(total)s.", field="weight_expert", total=total
        )
    if not has_panel(form.mode) and weights.panel:
        raise InvalidInput("Without a citizen panel the panel's weight must be 0.", field="weight_panel")
    if not has_public(form.mode) and weights.public:
        raise InvalidInput("Without a public vote the public's weight must be 0.", field="weight_public")
    return weights


def panel_rubric(round_rubric: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """The panel's short rubric: 2 or 3 of the stage's criteria, with their weights and descriptors."""
    chosen = [c for c in round_rubric if c["key"] in set(keys)]
    if len(chosen) != len(set(keys)) or not PANEL_CRITERIA_MIN <= len(chosen) <= PANEL_CRITERIA_MAX:
        raise InvalidInput("Choose two or three criteria for the panel.", field="criteria")
    return chosen


async def update_citizen_settings(official_id: int, round_id: int, form: CitizenForm) -> None:
    """Save a stage's citizens and weights; the panel's size, seed and rubric are fixed once it is drawn."""
    rnd = await get_round(round_id)
    if rnd["kind"] not in SCORING_KINDS:
        raise InvalidInput("Citizens take part only in scoring rounds.", field="mode")
    if form.mode not in CITIZEN_MODES:
        raise InvalidInput("Choose none, a drawn panel, a public vote or both.", field="mode")
    weights = check_weights(form)
    rubric: list[dict[str, Any]] = []
    if has_panel(form.mode):
        if not 1 <= form.panel_size <= PANEL_SIZE_MAX:
            raise InvalidInput(
                "The panel has 1 to %(max)s members.", field="panel_size", max=PANEL_SIZE_MAX
            )
        rubric = panel_rubric(rnd["rubric"], form.criteria)
    if not 0 <= form.seed < 2**31:
        raise InvalidInput("Enter a whole number.", field="seed")
    async with write_transaction(lock_key=f"challenge-edition-{rnd['edition']}"):
        await require_undecided(
            rnd["edition"], "The winners are approved; this round can no longer change."
        )
        current = await citizen_settings(round_id)
        if current.drawn_at is not None and (
            form.mode != current.mode
            or form.panel_size != current.panel_size
            or form.seed != current.seed
            or [c["key"] for c in rubric] != current.criteria
        ):
            raise InvalidInput(
                "The panel is drawn: only the weights can change now.", field="mode"
            )
        values = {
            "mode": form.mode,
            "panel_size": form.panel_size if has_panel(form.mode) else 0,
            "seed": form.seed,
            "rubric": rubric,
            "weight_expert": weights.expert,
            "weight_panel": weights.panel,
            "weight_public": weights.public,
        }
        old = {
            "mode": current.mode,
            "panel_size": current.panel_size,
            "seed": current.seed,
            "criteria": current.criteria,
            "weights": current.weights.label(),
        }
        columns = {getattr(CitizenStage, k): v for k, v in values.items()}
        columns[CitizenStage.updated_by] = official_id
        columns[CitizenStage.updated_at] = clock.now()
        exists = await CitizenStage.exists().where(CitizenStage.round == round_id)
        if exists:
            await CitizenStage.update(columns).where(CitizenStage.round == round_id)
        else:
            await CitizenStage.insert(
                CitizenStage(round=round_id, **values, updated_by=official_id, updated_at=clock.now())
            )
        await audit.record(
            "challenge.citizens.updated",
            actor_id=official_id,
            subject=f"round:{round_id}",
            old=old,
            new={
                "mode": form.mode,
                "panel_size": values["panel_size"],
                "seed": form.seed,
                "criteria": [c["key"] for c in rubric],
                "weights": weights.label(),
            },
        )


async def stage_entries(round_id: int, *, strict: bool = False) -> list[dict[str, Any]]:
    """The stage's entries, by id: the screened-in entries that advanced into it
    (``judging/services/funnel.py``). With ``strict`` a stage still waiting for its predecessor's
    approved advancement raises ``Conflict``; otherwise it holds no entries yet."""
    return await funnel.stage_entries(round_id, strict=strict)
