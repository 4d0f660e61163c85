"""The ways a PB vote arrives, one person one vote across all of them (issue #12).

``Ballot.channel`` and ``Participation.channel`` hold one of these values.
"""

from __future__ import annotations

CHANNEL_LABELS = {
    "online": "Online (phone-verified)",
    "station": "Voting station tablet",
    "paper": "Paper ballot at a station",
    "committee": "Participation committee",
    "assembly": "District assembly",
}
CHANNELS = tuple(CHANNEL_LABELS)
