"""Participatory budgeting: cycles, pots, secret ballots, who voted, result runs and approvals.

Secrecy (V5): ``Ballot`` rows carry no user id, a random id and no time finer than the day.
A ballot is found again for replacement through ``Ballot.voter_key``, a keyed HMAC of
(user id, pot id) with the server secret. Nothing per voter is written with a ballot:
``VoterRecord`` holds only aggregate turnout counts, and the mixer (``voting.mixer``) rewrites
each pot's ballots in shuffled order so that transaction ids and physical order say nothing
about who cast them (see docs/pb.md).
"""

from __future__ import annotations

from piccolo.columns import (
    BigInt,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from portal import storage
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
    # The support (공감) phase, optional: from proposals_close_at to support_close_at (None: no such phase).
    # When it ends, each pot's proposals with at least ``support_cutoff`` supports ("threshold"), or its
    # ``support_cutoff`` most supported ("top", ties at the boundary all in), go to feasibility review.
    support_close_at = Timestamptz(null=True, default=None)
    support_rule = Varchar(length=10, default="")
    support_cutoff = Integer(null=True, default=None)
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
    # Lifecycle (voting.compute.rules.CYCLE_STATES), moved only by voting.services' transitions.
    state = Varchar(length=20, default="proposals")
    state_changed_at = Timestamptz(null=True, default=None)
    min_voting_age = Integer(default=14)  # checked at every channel (some districts vote from 14)
    # Weighted channels (voting.compute.channels): canonical JSON {channel: whole percent}, "" = none.
    channel_weights = Text(default="")
    stations_with_online = Boolean(default=True)  # station and paper ballots count as online
    created_by = ForeignKey(User, null=True, default=None)
    created_at = Timestamptz()


class Pot(Table, tablename="pb_pot"):
    """A budget voted on separately: the city-wide pot (no district) or one district's pot."""

    cycle = ForeignKey(Cycle, index=True)
    district_code = Varchar(length=5, null=True, default=None)
    amount = BigInt()


def _new_ballot_id() -> int:
    from voting.compute.rules import new_ballot_id

    return new_ballot_id()


class Ballot(Table, tablename="pb_ballot"):
    """What was voted, never by whom. One row per voter and pot, replaced in place."""

    id = BigInt(primary_key=True, default=_new_ballot_id)  # random, never sequential
    pot = ForeignKey(Pot, index=True)
    voter_key = Varchar(length=64)  # HMAC(server secret, user id, pot id): not a user id
    receipt = Varchar(length=24, unique=True)
    content = Text()  # canonical JSON: {"project_ids": [...]} or {"points": {...}}
    channel = Varchar(length=20, default="online")  # voting.channels.CHANNELS: how it was cast, never by whom
    version = Integer(default=1)
    cast_at = Timestamptz()  # the start of the (Seoul) day it was stored: never a finer time


class VoterRecord(Table, tablename="pb_voter_record"):
    """Turnout: how many voters of a district voted in a pot. A count, never a person.

    Incremented in the ballot's transaction when a voter's first ballot in the pot is stored.
    """

    cycle = ForeignKey(Cycle, index=True)
    pot = ForeignKey(Pot)
    district_code = Varchar(length=5, default="")  # the voters' district
    voters = Integer(default=0)


class BallotMix(Table, tablename="pb_ballot_mix"):
    """What a pot's ballots looked like at its last mix, so the mixer knows when to mix again."""

    pot = ForeignKey(Pot, unique=True)
    ballots = Integer(default=0)  # COUNT(*) of the pot's ballots when mixed
    versions = BigInt(default=0)  # SUM(version): grows with every replacement


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


class Participation(Table, tablename="pb_participation"):
    """That a person took part in a cycle, and through which channel: one person, one vote across channels.

    ``person_key`` is a keyed HMAC of the person (their resident-register hash when known, else their
    account) and the cycle: no user id, and nothing that links the person to a ballot.
    """

    cycle = ForeignKey(Cycle, index=True)
    person_key = Varchar(length=64)
    channel = Varchar(length=20)
    recorded_on = Timestamptz()  # the start of the (Seoul) day: never a finer time
    # For the statistics frozen at close (voting.compute.statistics): never a birth date, only its band.
    district_code = Varchar(length=5, null=True, default=None)
    age_band = Varchar(length=10, null=True, default=None)
    station = Integer(null=True, default=None)  # the station of a check-in; None online


class Station(Table, tablename="pb_station"):
    """An in-person voting station (현장전자투표소) of one cycle, in a district office."""

    cycle = ForeignKey(Cycle, index=True)
    district_code = Varchar(length=5)
    name = Varchar(length=200)
    address = Varchar(length=300, default="")
    opens_at = Timestamptz()
    closes_at = Timestamptz()
    closed_at = Timestamptz(null=True, default=None)  # set once its tally sheet reconciles
    created_at = Timestamptz()


class StationWorker(Table, tablename="pb_station_worker"):
    """A poll worker assigned to a station."""

    station = ForeignKey(Station, index=True)
    user = ForeignKey(User, index=True)


class PaperBatch(Table, tablename="pb_paper_batch"):
    """A bundle of a station's paper ballots for one pot, keyed twice (voting.services.paper).

    ``state``: open -> keyed-once -> keyed-twice (both agree) or mismatch -> resolved -> counted.
    """

    station = ForeignKey(Station, index=True)
    pot = ForeignKey(Pot)
    number = Integer()  # the batch's number within its station, as written on the bundle
    state = Varchar(length=20, default="open")
    opened_by = ForeignKey(User, null=True, default=None)
    created_at = Timestamptz()
    counted_at = Timestamptz(null=True, default=None)
    valid = Integer(default=0)  # sheets written as paper ballots when counted
    invalid = Integer(default=0)  # sheets the ballot rules refused: spoiled
    spoiled_reasons = Text(default="")  # canonical JSON {sheet: English reason}, no content


class PaperKeying(Table, tablename="pb_paper_keying"):
    """One person's reading of a whole batch: the first or second keying, or the resolution of
    the mismatched sheets by a third person. ``sheets``: canonical JSON {sheet: {project: points}}."""

    batch = ForeignKey(PaperBatch, index=True)
    worker = ForeignKey(User)
    purpose = Varchar(length=20)  # first | second | resolution
    sheets = Text()
    keyed_at = Timestamptz()


class StationTally(Table, tablename="pb_station_tally"):
    """A station's tally sheet: ballots handed out, returned (in the box) and spoiled."""

    station = ForeignKey(Station, unique=True)
    handed_out = Integer()
    returned = Integer()
    spoiled = Integer()
    entered_by = ForeignKey(User, null=True, default=None)
    entered_at = Timestamptz()
    reconciled_at = Timestamptz(null=True, default=None)
class KioskBallot(Table, tablename="pb_kiosk_ballot"):
    """A one-time tablet ballot opened by a check-in: the station and the district's pots, never the person.

    Only a SHA-256 of the random code is kept; the row is deleted when the ballot is cast, so nothing
    says when it was used.
    """

    token_hash = Varchar(length=64, unique=True)
    station = ForeignKey(Station, index=True)
    district_code = Varchar(length=5)  # which district pot the tablet shows beside the city-wide one
    expires_at = Timestamptz()


class StationCount(Table, tablename="pb_station_count"):
    """How many tablet ballots a station opened and how many paper ballots it handed out (the tally sheet)."""

    station = ForeignKey(Station, unique=True)
    tablet_ballots = Integer(default=0)
    paper_ballots = Integer(default=0)


class CommitteeMember(Table, tablename="pb_committee_member"):
    """A participation committee member of a cycle: their ballots go to the committee channel."""

    cycle = ForeignKey(Cycle, index=True)
    user = ForeignKey(User, index=True)
    added_by = ForeignKey(User, null=True, default=None)
    added_at = Timestamptz()


class AssemblyCount(Table, tablename="pb_assembly_count"):
    """The district assembly's approvals for one project of a pot, entered by an official."""

    cycle = ForeignKey(Cycle, index=True)
    pot = ForeignKey(Pot, index=True)
    project = Integer()  # the project's id on the ballot (voting.projects)
    approvals = Integer(default=0)
    entered_by = ForeignKey(User, null=True, default=None)
    entered_at = Timestamptz()


class ParticipationStats(Table, tablename="pb_participation_stats"):
    """A closed cycle's participation statistics, computed once at close and never changed."""

    cycle = ForeignKey(Cycle, unique=True)
    snapshot = Text()  # canonical JSON of voting.compute.statistics.snapshot
    frozen_at = Timestamptz()


class ScreenSignal(Table, tablename="pb_screen_signal"):
    """Fraud screening: how many sign-ups, verifications or casts came from one keyed client in one minute.

    ``address_key``/``device_key`` are HMACs of the client address and the User-Agent under a key
    per cycle; no user, ballot or finer time. Deleted when the cycle's results are approved.
    """

    cycle = ForeignKey(Cycle, index=True)
    kind = Varchar(length=12)  # signup | verification | cast
    address_key = Varchar(length=32)
    device_key = Varchar(length=32)
    minute = Timestamptz()
    events = Integer(default=0)


class ScreenCast(Table, tablename="pb_screen_cast"):
    """The one link quarantine needs: a cast's keyed client and minute beside a keyed tag of its ballot.

    ``ballot_tag`` is an HMAC of the ballot's voter key: without the server secret it joins nothing.
    Deleted with the signals when the results are approved (docs/pb.md, "Fraud screening").
    """

    cycle = ForeignKey(Cycle, index=True)
    address_key = Varchar(length=32)
    device_key = Varchar(length=32)
    minute = Timestamptz()
    ballot_tag = Varchar(length=64)


class Quarantine(Table, tablename="pb_quarantine"):
    """Ballots an official set aside from the count pending review, by their tags (never their content)."""

    cycle = ForeignKey(Cycle, index=True)
    group_id = Varchar(length=64)
    reason = Text()
    ballot_tags = Text()  # canonical JSON list of ballot tags
    ballots = Integer(default=0)
    official = ForeignKey(User, null=True, default=None)
    quarantined_at = Timestamptz()


class ScreeningAck(Table, tablename="pb_screening_ack"):
    """An official's acknowledgement of the cycle's fraud screening report (needed before approval)."""

    cycle = ForeignKey(Cycle, index=True)
    official = ForeignKey(User, null=True, default=None)
    flags = Integer(default=0)
    report_sha256 = Varchar(length=64)
    acknowledged_at = Timestamptz()


class Delivery(Table, tablename="pb_delivery"):
    """How a funded project of an approved cycle is being carried out (voting.services.delivery).

    Created at the first update (by an official or the connector's pull); a funded project without a
    row is "planned" with nothing recorded. ``status`` moves only through ``voting.compute.delivery``.
    """

    cycle = ForeignKey(Cycle, index=True)
    pot = ForeignKey(Pot)
    project = Integer(unique=True)  # the project's id (voting.projects); funded once, in one cycle
    project_code = Varchar(length=20, default="")  # as pushed to the city: PB-00012
    status = Varchar(length=20, default="planned")  # planned | in-progress | completed | cancelled
    status_reason = Text(default="")  # required for a cancellation and for a correction
    status_changed_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz()
    created_at = Timestamptz()


class DeliveryMilestone(Table, tablename="pb_delivery_milestone"):
    """A dated step of a funded project; ``external_key`` is the city's id when the connector pulled it."""

    delivery = ForeignKey(Delivery, index=True)
    title = Varchar(length=200)
    due_on = Date()
    done = Boolean(default=False)
    source = Varchar(length=20, default="official")  # official | connector
    external_key = Varchar(length=64, default="")
    updated_at = Timestamptz()
    created_at = Timestamptz()


class DeliveryPhoto(Table, tablename="pb_delivery_photo"):
    """A photo of a funded project's works (PNG or JPEG in portal.storage) with its alternative text."""

    delivery = ForeignKey(Delivery, index=True)
    file_id = Varchar(length=64)
    alt_text = Varchar(length=300)
    added_by = ForeignKey(User, null=True, default=None)
    added_at = Timestamptz()


storage.references(DeliveryPhoto.file_id)


class DeliveryPayment(Table, tablename="pb_delivery_payment"):
    """Money spent on a funded project (whole KRW); ``external_key`` is the city's id when pulled."""

    delivery = ForeignKey(Delivery, index=True)
    amount = BigInt()
    paid_on = Date()
    note = Varchar(length=200, default="")
    source = Varchar(length=20, default="official")  # official | connector
    external_key = Varchar(length=64, default="")
    entered_by = ForeignKey(User, null=True, default=None)
    created_at = Timestamptz()
