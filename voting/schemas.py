"""JSON shapes of the PB API (``/api/v1/pb``). Write shapes refuse unknown fields (S15)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from portal.schemas import StrictStruct


class PotRead(msgspec.Struct):
    id: int
    name: str
    district_code: str | None
    amount: int


class BallotRulesRead(msgspec.Struct):
    ballot_kind: str
    min_projects: int
    max_projects: int | None
    min_share_percent: int
    total_points: int | None
    max_points_per_project: int | None
    results_rule: str
    vote_threshold: int | None
    tie_break: str


class ChannelsRead(msgspec.Struct):
    """Weighted channels (results rule ``weighted-channels``): each channel's published weight."""

    weights: dict[str, int]  # channel -> whole percent: online, committee, assembly, stations
    stations_with_online: bool  # station and paper ballots counted in the online channel


class CycleRead(msgspec.Struct):
    id: int
    name: str
    fiscal_year: int
    phase: str
    state: str  # the lifecycle step taken: proposals, review, voting, closed or approved
    total_budget: int
    proposals_open_at: dt.datetime
    proposals_close_at: dt.datetime
    voting_open_at: dt.datetime
    voting_close_at: dt.datetime
    publish_at: dt.datetime
    closed_early_at: dt.datetime | None
    close_reason: str
    rules_frozen: bool
    ballot_rules: BallotRulesRead
    categories: list[str]
    pots: list[PotRead]
    channels: ChannelsRead | None = None  # None unless the cycle weighs channels


class ProjectRead(msgspec.Struct):
    id: int
    title: str
    cost: int
    category: str
    summary: str
    location: str


class BallotCast(StrictStruct):
    """Approval and knapsack ballots send ``project_ids``; cumulative ballots send ``points``."""

    project_ids: (
        Annotated[
            list[Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]], msgspec.Meta(max_length=500)
        ]
        | None
    ) = None
    points: (
        Annotated[
            dict[str, Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]],
            msgspec.Meta(max_length=500),
        ]
        | None
    ) = None


class BallotReceipt(msgspec.Struct):
    receipt: str
    version: int


class BallotRead(msgspec.Struct):
    receipt: str
    version: int
    cast_at: dt.datetime
    project_ids: list[int] | None = None
    points: dict[str, int] | None = None


class ProjectResult(msgspec.Struct):
    id: int
    title: str
    cost: int
    votes: int
    selected: bool
    rank: int | None
    why_not: dict | None


class RuleResult(msgspec.Struct):
    rule: str
    official: bool
    selected: list[int]
    total_cost: int
    voters: int
    ballots_sha256: str
    computed_at: dt.datetime
    projects: list[ProjectResult]


class PotResult(msgspec.Struct):
    pot: PotRead
    results: list[RuleResult]


class CycleResults(msgspec.Struct):
    cycle_id: int
    phase: str
    results_rule: str
    pots: list[PotResult]
