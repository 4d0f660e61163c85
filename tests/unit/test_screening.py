"""Fraud screening's pure checks: planted clusters are flagged, honest spread-out traffic is not."""

from __future__ import annotations

import datetime as dt

from voting.compute import screening as s

T0 = dt.datetime(2027, 5, 1, 9, 0, tzinfo=dt.UTC)


def _at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _honest(kind: str = "cast", people: int = 200) -> list[s.Signal]:
    """One event per person, each from its own address, two a minute, common browsers."""
    return [s.Signal(kind, f"a{i}", f"d{i % 7}", _at(i // 2), 1) for i in range(people)]


def test_honest_traffic_raises_no_flag():
    signals = _honest() + _honest("signup", 100) + _honest("verification", 100)
    assert s.screen(signals, [], [30, 45, 70], 14) == []


def test_twenty_casts_from_one_address_in_two_minutes_are_one_flagged_group():
    planted = [s.Signal("cast", "evil", f"d{i}", _at(60 + i // 10), 1) for i in range(20)]
    flags = s.screen(_honest() + planted, [], [], 14)
    assert [(f.check, f.kind, f.key, f.count) for f in flags] == [("address-cluster", "cast", "evil", 20)]
    flag = flags[0]
    assert flag.quarantinable and flag.key_type == "address"
    assert (flag.first, flag.last) == (_at(60), _at(61))


def test_the_same_cluster_spread_over_an_hour_is_not_flagged():
    spread = [s.Signal("cast", "cafe", "d", _at(i * (s.CLUSTER_WINDOW_MINUTES + 1)), 1) for i in range(20)]
    assert s.clusters(spread) == []


def test_a_device_cluster_needs_more_events_than_an_address_cluster():
    below = [s.Signal("signup", f"a{i}", "bot", _at(i % 3), 1) for i in range(s.DEVICE_CLUSTER_MIN_EVENTS - 1)]
    assert s.clusters(below) == []
    at = below + [s.Signal("signup", "a-last", "bot", _at(2), 1)]
    assert [(f.check, f.count) for f in s.clusters(at)] == [("device-cluster", s.DEVICE_CLUSTER_MIN_EVENTS)]


def test_a_burst_minute_far_above_the_typical_rate_is_flagged():
    burst = [s.Signal("signup", f"b{i}", f"x{i}", _at(30), 1) for i in range(40)]
    flags = s.bursts(_honest("signup") + burst)
    assert [(f.check, f.kind, f.first, f.count) for f in flags] == [("burst", "signup", _at(30), 42)]
    assert flags[0].detail == {"typical": 2}


def test_verifications_followed_by_votes_from_one_address():
    verified = [s.Signal("verification", "farm", f"p{i}", _at(i * 6), 1) for i in range(6)]
    votes = [s.Signal("cast", "farm", f"p{i}", _at(40 + i * 6), 1) for i in range(6)]
    flags = s.verifications_then_votes(verified + votes)
    assert [(f.check, f.key, f.count, f.detail) for f in flags] == [
        ("verify-then-vote", "farm", 6, {"verifications": 6})
    ]
    late = [s.Signal("cast", "farm", "p", _at(30 + s.VERIFY_THEN_VOTE_MINUTES + 10 + i), 1) for i in range(6)]
    assert s.verifications_then_votes(verified + late) == []


def test_stations_that_do_not_reconcile_or_were_never_entered():
    stations = [
        s.StationState("Jongno", True, True, 0),
        s.StationState("Mapo", False, False, 0),
        s.StationState("Gangnam", True, False, 2),
    ]
    assert [(f.key, f.count) for f in s.station_gaps(stations)] == [("Mapo", 0), ("Gangnam", 2)]


def test_improbable_ages_are_counted_never_named():
    flags = s.improbable_ages([15, 40, 111, 130, 12], 14)
    assert [(f.check, f.count, f.detail) for f in flags] == [
        ("improbable-age", 3, {"over_max": 2, "under_min": 1})
    ]
    assert s.improbable_ages([14, 110], 14) == []


def test_group_ids_and_the_report_digest_are_stable():
    planted = [s.Signal("cast", "evil", "d", _at(1), 20)]
    assert s.screen(planted, [], [], 14) == s.screen(list(planted), [], [], 14)
    first = s.report_sha256(s.screen(planted, [], [], 14))
    assert first != s.report_sha256([])
