"""Participatory budgeting: cycles, pots, secret ballots, who voted, result runs and approvals.

Secrecy (V5): ``Ballot`` rows carry no user id. ``VoterRecord`` says who voted in
which pot and nothing about what. A ballot is found again for replacement through
``Ballot.voter_key``, a keyed HMAC of (user id, pot id) with the server secret, so the
two tables cannot be joined without that secret (see docs/pb.md).
"""

from __future__ import annotations

from piccolo.columns import (
    BigInt,
    Boolean,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from portal.tables import User


class Cycle(Table, tablename="pb_cycle"):
    """One participatory budgeting year: its dates, pots, ballot rules and results rule."""

    name = Varchar(length=200)
    fiscal_year = Integer()
    total_budget = BigInt()
    categories = Varchar(length=500, default="")
    proposals_open_at = Timestamptz()
    proposals_close_at = Timestamptz()  # review starts
    voting_open_at = Timestamptz()  # review ends, ballot rules freeze
    voting_close_at = Timestamptz()
    publish_at = Timestamptz()
    closed_early_at = Timestamptz(null=True, default=None)
    close_reason = Text(default="")
    # Ballot rules: approval | knapsack | cumulative.
    ballot_kind = Varchar(length=20, default="approval")
    min_projects = Integer(default=1)
    max_projects = Integer(null=True, default=None)
    min_share_percent = Integer(default=0)  # knapsack: least share of the pot a ballot must spend
    total_points = Integer(null=True, default=None)  # cumulative
    max_points_per_project = Integer(null=True, default=None)  # cumulative
    # Results: greedy | greedy-threshold | equal-shares (with completion); ties: city | pabutools.
    results_rule = Varchar(length=40, default="equal-shares")
    vote_threshold = Integer(null=True, default=None)
    tie_break = Varchar(length=20, default="city")
    tie_seed = Integer(default=0)
    rules_frozen_at = Timestamptz(null=True, default=None)
    frozen_rules = Text(default="")  # canonical JSON snapshot taken when voting opened
    # Lifecycle (voting.rules.CYCLE_STATES), moved only by voting.services' transitions.
    state = Varchar(length=20, default="proposals")
    state_changed_at = Timestamptz(null=True, default=None)
    created_by = ForeignKey(User, null=True, default=None)
    created_at = Timestamptz()


class Pot(Table, tablename="pb_pot"):
    """A budget voted on separately: the city-wide pot (no district) or one district's pot."""

    cycle = ForeignKey(Cycle, index=True)
    district_code = Varchar(length=5, null=True, default=None)
    amount = BigInt()


class Ballot(Table, tablename="pb_ballot"):
    """What was voted, never by whom. One row per voter and pot, replaced in place."""

    pot = ForeignKey(Pot, index=True)
    voter_key = Varchar(length=64)  # HMAC(server secret, user id, pot id): not a user id
    receipt = Varchar(length=24, unique=True)
    content = Text()  # canonical JSON: {"project_ids": [...]} or {"points": {...}}
    version = Integer(default=1)
    cast_at = Timestamptz()


class VoterRecord(Table, tablename="pb_voter_record"):
    """Who voted in which pot (turnout, eligibility), never what. No time, no ballot link."""

    cycle = ForeignKey(Cycle, index=True)
    pot = ForeignKey(Pot)
    user = ForeignKey(User)
    district_code = Varchar(length=5, default="")  # the voter's district, for turnout


class ResultRun(Table, tablename="pb_result_run"):
    """An immutable computation of one pot's results under one rule."""

    cycle = ForeignKey(Cycle, index=True)
    pot = ForeignKey(Pot)
    rule = Varchar(length=40)
    official = Boolean(default=False)  # the cycle's published rule (else a comparison)
    parameters = Text()  # canonical JSON
    ballots_sha256 = Varchar(length=64)
    outcome = Text()  # canonical JSON
    computed_at = Timestamptz()
    superseded = Boolean(default=False)


class ResultApproval(Table, tablename="pb_result_approval"):
    """An official's approval of a cycle's winners; two different officials are needed (V8)."""

    cycle = ForeignKey(Cycle, index=True)
    official = ForeignKey(User)
    approved_at = Timestamptz()
