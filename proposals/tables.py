"""Participatory budgeting proposals: intake by residents, feasibility review by officials.

Feasible proposals are the projects on the ballot of their pot; their cost on the
ballot is the revised cost when the review set one, else the estimate.
"""

from __future__ import annotations

from piccolo.columns import BigInt, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from portal import storage
from portal.tables import User
from voting.tables import Cycle, Pot

STATUSES = ("submitted", "withdrawn", "feasible", "infeasible", "merged")


class Proposal(Table, tablename="pb_proposal"):
    """A project idea for one pot of one cycle."""

    cycle = ForeignKey(Cycle, index=True)
    pot = ForeignKey(Pot, index=True)
    author = ForeignKey(User, null=True, default=None)  # None for imported (demo) projects
    title = Varchar(length=200)
    summary = Varchar(length=500)
    description = Text(default="")
    category = Varchar(length=40)
    estimated_cost = BigInt()
    revised_cost = BigInt(null=True, default=None)
    location = Varchar(length=200, default="")
    dong = Varchar(length=60, default="")  # "<district code>:<Korean name>" from portal.districts.DONGS
    image_name = Varchar(length=64, null=True, default=None)  # the image's id in portal.storage
    image_alt = Varchar(length=300, default="")  # what the image shows, for people who cannot see it
    thumb_name = Varchar(length=64, null=True, default=None)  # the server-made thumbnail's id
    status = Varchar(length=20, default="submitted", index=True)
    review_reason = Text(default="")
    reviewed_by = ForeignKey(User, null=True, default=None)
    reviewed_at = Timestamptz(null=True, default=None)
    merged_into = Integer(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


storage.references(Proposal.image_name)
storage.references(Proposal.thumb_name)
