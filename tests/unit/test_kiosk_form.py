"""The tablet form's fields per pot read as ordinary ballot forms (voting.pages.kiosk)."""

from litestar.datastructures import MultiDict

from voting.compute.rules import BallotChoice, BallotRules
from voting.pages.kiosk import choices_from_form
from voting.services.kiosk import KioskBallotView, KioskPot


def _view(kind: str) -> KioskBallotView:
    import datetime as dt

    pots = (KioskPot({"id": 7}, ()), KioskPot({"id": 9}, ()))
    return KioskBallotView({}, BallotRules(ballot_kind=kind), "Station", dt.datetime.now(dt.UTC), pots)


def test_approval_fields_per_pot():
    form = MultiDict([("code", "X"), ("project_ids-7", "1"), ("project_ids-7", "2"), ("project_ids-9", "5")])
    assert choices_from_form(form, _view("approval")) == {
        7: BallotChoice(project_ids=(1, 2)), 9: BallotChoice(project_ids=(5,))
    }


def test_cumulative_fields_per_pot():
    form = MultiDict([("points-7-1", "3"), ("points-7-2", ""), ("points-9-4", "2")])
    choices = choices_from_form(form, _view("cumulative"))
    assert choices[7] == BallotChoice(points=((1, 3),)) and choices[9] == BallotChoice(points=((4, 2),))
