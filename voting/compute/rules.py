"""Pure PB rules: phases from the clock, pot splits, ballot validation, receipts (no I/O)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from portal.errors import InvalidInput
from voting.compute.channels import WEIGHTED_CHANNELS, weights_of, weights_problem

PHASES = ("proposals", "support", "review", "voting", "closed", "published")
# The stored lifecycle of a cycle; each state follows the one before it and nothing else.
# "support" (공감) is entered only by cycles that have a support phase (``Schedule.support_close_at``).
CYCLE_STATES = ("proposals", "support", "review", "voting", "closed", "approved")
NEXT_STATE = {
    "proposals": "review",
    "support": "review",
    "review": "voting",
    "voting": "closed",
    "closed": "approved",
}
SUPPORT_RULES = ("threshold", "top")
BALLOT_KINDS = ("approval", "knapsack", "cumulative")
RESULT_RULES = ("greedy", "greedy-threshold", "equal-shares", "weighted-channels")
TIE_BREAKS = ("city", "pabutools")
RECEIPT_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: easy to read aloud
CITY_WIDE_CODE = "11000"  # Seoul Metropolitan Government, for the city-wide pot in pushes
SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")


@dataclass(frozen=True)
class Schedule:
    """The dates of a cycle (UTC) and an early close, if any."""

    proposals_open_at: dt.datetime
    proposals_close_at: dt.datetime
    voting_open_at: dt.datetime
    voting_close_at: dt.datetime
    publish_at: dt.datetime
    closed_early_at: dt.datetime | None = None
    support_close_at: dt.datetime | None = None  # a support phase from proposals_close_at, if any

    def check(self) -> None:
        """Dates must follow the phase order."""
        order = [
            self.proposals_open_at,
            self.proposals_close_at,
            *([self.support_close_at] if self.support_close_at is not None else []),
            self.voting_open_at,
            self.voting_close_at,
            self.publish_at,
        ]
        if any(later < earlier for earlier, later in zip(order, order[1:], strict=False)):
            raise InvalidInput(
                "The dates must follow the order: proposals open, review starts, voting opens, voting closes, results are published.",
                field="voting_open_at",
            )

    def phase(self, now: dt.datetime) -> str:
        """The phase at ``now``: the server clock decides, an early close ends voting at once."""
        end_of_voting = self.voting_close_at
        if self.closed_early_at is not None and self.closed_early_at < end_of_voting:
            end_of_voting = self.closed_early_at
        if now >= end_of_voting:
            return "published" if now >= self.publish_at else "closed"
        if now < self.proposals_close_at:
            return "proposals"
        if self.support_close_at is not None and now < self.support_close_at:
            return "support"
        if now < self.voting_open_at:
            return "review"
        return "voting"

    def due_state(self, now: dt.datetime) -> str:
        """The lifecycle state the schedule has reached at ``now`` ("approved" needs two officials)."""
        phase = self.phase(now)
        return "closed" if phase == "published" else phase

    def starts(self, state: str) -> dt.datetime:
        """When the schedule enters ``state`` (voting ends at an early close, if any)."""
        if state == "closed" and self.closed_early_at is not None:
            return min(self.closed_early_at, self.voting_close_at)
        return {
            "proposals": self.proposals_open_at,
            "support": self.proposals_close_at,
            "review": self.support_close_at or self.proposals_close_at,
            "voting": self.voting_open_at,
            "closed": self.voting_close_at,
        }[state]


def next_state(current: str, with_support: bool = False) -> str | None:
    """The state after ``current``: intake is followed by the support phase when the cycle has one."""
    if current == "proposals" and with_support:
        return "support"
    return NEXT_STATE.get(current)


def states_between(current: str, target: str, with_support: bool = False) -> list[str]:
    """The states entered, in order, going from ``current`` forward to ``target`` (empty if not behind)."""
    steps: list[str] = []
    state = current
    while CYCLE_STATES.index(state) < CYCLE_STATES.index(target):
        state = next_state(state, with_support) or target
        steps.append(state)
    return steps


@dataclass(frozen=True)
class BallotRules:
    """How a ballot is filled in and how results are computed."""

    ballot_kind: str = "approval"
    min_projects: int = 1
    max_projects: int | None = None
    min_share_percent: int = 0
    total_points: int | None = None
    max_points_per_project: int | None = None
    results_rule: str = "equal-shares"
    vote_threshold: int | None = None
    tie_break: str = "city"
    tie_seed: int = 0
    channel_weights: str = ""  # JSON {channel: whole percent} (voting.compute.channels); "" = none
    stations_with_online: bool = True

    def check(self) -> None:
        """Refuse rules that cannot be voted on or counted."""
        if self.ballot_kind not in BALLOT_KINDS:
            raise InvalidInput(
                "Choose approval, knapsack or cumulative ballots.", field="ballot_kind"
            )
        if self.results_rule not in RESULT_RULES:
            raise InvalidInput(
                "Choose greedy, greedy with a vote threshold, or Equal Shares.",
                field="results_rule",
            )
        if self.tie_break not in TIE_BREAKS:
            raise InvalidInput("Choose how ties are broken: city or pabutools.", field="tie_break")
        if self.min_projects < 0 or (
            self.max_projects is not None and self.max_projects < max(1, self.min_projects)
        ):
            raise InvalidInput(
                "The least and most number of projects do not fit together.", field="max_projects"
            )
        if not 0 <= self.min_share_percent <= 100:
            raise InvalidInput(
                "The minimum share spent must be between 0 and 100 percent.",
                field="min_share_percent",
            )
        if self.ballot_kind == "cumulative":
            if not self.total_points or self.total_points < 1:
                raise InvalidInput(
                    "Cumulative ballots need a total number of points.", field="total_points"
                )
            if (
                not self.max_points_per_project
                or not 1 <= self.max_points_per_project <= self.total_points
            ):
                raise InvalidInput(
                    "The most points per project must be between 1 and the total.",
                    field="max_points_per_project",
                )
        if self.results_rule == "greedy-threshold" and (
            self.vote_threshold is None or self.vote_threshold < 1
        ):
            raise InvalidInput(
                "Greedy with a threshold needs the least number of votes a project must get.",
                field="vote_threshold",
            )

        self._check_channels()

    def _check_channels(self) -> None:
        """Weighted channels need declared weights, and count approvals (not points)."""
        if self.channel_weights:
            problem = weights_problem(weights_of(self.channel_weights), self.stations_with_online)
            if problem:
                raise InvalidInput(problem, field="channel_weights")
        if self.results_rule == "weighted-channels":
            if not self.channel_weights:
                raise InvalidInput(
                    "Weighted channels need the channels and their weights.", field="results_rule"
                )
            if self.ballot_kind == "cumulative":
                raise InvalidInput(
                    "Weighted channels count approvals: choose approval or knapsack ballots.",
                    field="results_rule",
                )

    def as_dict(self) -> dict:
        return asdict(self)

    def form_values(self) -> dict:
        """The rules as the officials' form shows them: one weight field per channel."""
        weights = weights_of(self.channel_weights)
        return self.as_dict() | {f"weight_{c}": weights.get(c) for c in WEIGHTED_CHANNELS}


def split_by_population(total: int, floor: int, population: Mapping[str, int]) -> dict[str, int]:
    """Split ``total`` KRW over districts: each gets ``floor``, the rest goes by population.

    Whole KRW by the largest-remainder method, so the parts add up to ``total`` exactly.
    """
    codes = sorted(population)
    if total < 0 or floor < 0:
        raise InvalidInput("Amounts cannot be negative.", field="district_total")
    if floor * len(codes) > total:
        raise InvalidInput(
            "The floor per district times 25 is more than the district budget.",
            field="district_floor",
        )
    rest = total - floor * len(codes)
    people = sum(population[c] for c in codes)
    shares = {c: floor + rest * population[c] // people for c in codes}
    remainders = sorted(codes, key=lambda c: (-(rest * population[c] % people), c))
    for code in remainders[: total - sum(shares.values())]:
        shares[code] += 1
    return shares


def new_receipt() -> str:
    """A tracker code like ``K7QF-2M9X-P4RT`` (about 59 random bits)."""
    raw = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def new_ballot_id() -> int:
    """A random positive 63-bit ballot id: the id says nothing about when or in what order."""
    return secrets.randbits(63) or 1


def ballot_day(moment: dt.datetime) -> dt.datetime:
    """The start (in UTC) of the Seoul day of ``moment``: a ballot keeps no finer time."""
    seoul = moment.astimezone(SEOUL)
    return dt.datetime(seoul.year, seoul.month, seoul.day, tzinfo=SEOUL).astimezone(dt.UTC)


def voter_key(secret: str, user_id: int, pot_id: int) -> str:
    """The ballot's lookup key: a keyed HMAC, so the table alone names no voter."""
    return hmac.new(
        secret.encode(), f"pb-ballot|{user_id}|{pot_id}".encode(), hashlib.sha256
    ).hexdigest()


@dataclass(frozen=True)
class BallotChoice:
    """A submitted ballot: project ids (approval, knapsack) or points per project (cumulative)."""

    project_ids: tuple[int, ...] | None = None
    points: tuple[tuple[int, int], ...] | None = None

    def content(self) -> dict:
        if self.points is not None:
            return {"points": {str(pid): n for pid, n in sorted(self.points)}}
        return {"project_ids": sorted(self.project_ids or ())}


def validate_ballot(
    rules: BallotRules, pot_amount: int, costs: Mapping[int, int], choice: BallotChoice
) -> dict:
    """Check a ballot against the cycle's rules on the server; return its canonical content."""
    if rules.ballot_kind == "cumulative":
        return _points_content(rules, costs, choice)
    return _selection_content(rules, pot_amount, costs, choice)


def _points_content(rules: BallotRules, costs: Mapping[int, int], choice: BallotChoice) -> dict:
    """A cumulative ballot: points per project, within the per-project and total limits."""
    if choice.points is None or choice.project_ids is not None:
        raise InvalidInput("This ballot gives points: send points per project.", field="points")
    seen: set[int] = set()
    total = 0
    for pid, n in choice.points:
        if pid not in costs:
            raise InvalidInput("Project %(id)s is not on this ballot.", field="points", id=pid)
        if pid in seen:
            raise InvalidInput("Project %(id)s is listed twice.", field="points", id=pid)
        seen.add(pid)
        if n < 0 or n > (rules.max_points_per_project or 0):
            raise InvalidInput(
                "Give each project between 0 and %(max)s points.",
                field="points",
                max=rules.max_points_per_project,
            )
        total += n
    if total > (rules.total_points or 0):
        raise InvalidInput(
            "You gave %(given)s points; you have %(total)s.",
            field="points",
            given=total,
            total=rules.total_points,
        )
    if total == 0:
        raise InvalidInput("Give at least one point.", field="points")
    return {"points": {str(pid): n for pid, n in sorted(choice.points) if n > 0}}


def _selection_content(
    rules: BallotRules, pot_amount: int, costs: Mapping[int, int], choice: BallotChoice
) -> dict:
    """An approval or knapsack ballot: distinct projects of this ballot, as many as the rules allow."""
    if choice.project_ids is None or choice.points is not None:
        raise InvalidInput(
            "This ballot selects projects: send a list of project ids.", field="project_ids"
        )
    chosen = list(choice.project_ids)
    if len(set(chosen)) != len(chosen):
        raise InvalidInput("A project is listed twice.", field="project_ids")
    for pid in chosen:
        if pid not in costs:
            raise InvalidInput("Project %(id)s is not on this ballot.", field="project_ids", id=pid)
    least = max(rules.min_projects, 1)
    if len(chosen) < least:
        raise InvalidInput("Choose at least %(min)s projects.", field="project_ids", min=least)
    if rules.max_projects is not None and len(chosen) > rules.max_projects:
        raise InvalidInput(
            "Choose at most %(max)s projects.", field="project_ids", max=rules.max_projects
        )
    if rules.ballot_kind == "knapsack":
        _check_knapsack_spend(rules, pot_amount, sum(costs[pid] for pid in chosen))
    return {"project_ids": sorted(chosen)}


def _check_knapsack_spend(rules: BallotRules, pot_amount: int, spent: int) -> None:
    if spent > pot_amount:
        raise InvalidInput(
            "Your projects cost %(spent)s KRW, more than the %(cap)s KRW budget.",
            field="project_ids",
            spent=f"{spent:,}",
            cap=f"{pot_amount:,}",
        )
    if spent * 100 < pot_amount * rules.min_share_percent:
        raise InvalidInput(
            "Spend at least %(pct)s%% of the budget (your projects cost %(spent)s KRW).",
            field="project_ids",
            pct=rules.min_share_percent,
            spent=f"{spent:,}",
        )


def ballots_sha256(contents: Sequence[str]) -> str:
    """Hash of a pot's input ballots, independent of storage order."""
    digest = hashlib.sha256()
    for text in sorted(contents):
        digest.update(text.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def counted_ballots_sha256(counted: Sequence[tuple[str, int]]) -> str:
    """``ballots_sha256`` of the ballots given as (content, how many): the same digest."""
    digest = hashlib.sha256()
    for text, n in sorted(counted):
        digest.update((text + "\n").encode() * n)
    return digest.hexdigest()
