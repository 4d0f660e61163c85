"""Participation statistics: no published cell below 10 people, and every chart adds up to the total."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from voting.compute.statistics import (
    AGE_BANDS,
    MIN_CELL,
    Row,
    age_band,
    age_band_of,
    band_range_label,
    merge_ordered,
    merge_unordered,
    snapshot,
)

DISTRICTS = ("11110", "11140", "11170", "11200")
CHANNELS = ("online", "station", "paper", "committee")
STATIONS = {1: "11110", 2: "11110", 3: "11140", 4: "11200"}

rows_strategy = st.lists(
    st.builds(
        Row,
        district=st.sampled_from(DISTRICTS),
        channel=st.sampled_from(CHANNELS),
        age_band=st.sampled_from(AGE_BANDS),
        station=st.sampled_from(sorted(STATIONS)),
        count=st.integers(min_value=1, max_value=30),
    ),
    max_size=40,
)


def _with_stations(rows: list[Row]) -> list[Row]:
    """Only station and paper participations carry a station."""
    return [
        Row(r.district, r.channel, r.age_band, r.station if r.channel in ("station", "paper") else None, r.count)
        for r in rows
    ]


@settings(max_examples=300, deadline=None)
@given(rows_strategy)
def test_no_published_cell_below_ten_and_totals_kept(rows: list[Row]) -> None:
    rows = _with_stations(rows)
    snap = snapshot(rows, STATIONS)
    total = sum(r.count for r in rows)
    if total < MIN_CELL:
        assert not snap["published"] and snap["total"] is None and snap["cells"] == []
    else:
        assert snap["published"] and snap["total"] == total
        for key in ("cells", "by_channel", "by_age", "by_district"):
            assert all(int(c["count"]) >= MIN_CELL for c in snap[key]), key
            assert sum(int(c["count"]) for c in snap[key]) == total, key
        # Each chart is a one-way table: every channel, age band and district in exactly one group.
        for key, of in (("by_channel", "channel"), ("by_age", "age_band"), ("by_district", "district")):
            listed = [k for c in snap[key] for k in c["keys"]]
            assert sorted(listed) == sorted({getattr(r, of) for r in rows}), key
        # Each district's channels add up to the district, and a person is in exactly one cell.
        for district in DISTRICTS:
            counted = sum(int(c["count"]) for c in snap["cells"] if district in c["districts"] and len(c["districts"]) == 1)
            if counted:
                assert counted == sum(r.count for r in rows if r.district == district)
    at_stations = sum(r.count for r in rows if r.station is not None)
    if at_stations < MIN_CELL:
        assert snap["stations"] == []
    else:
        assert all(c["count"] >= MIN_CELL for c in snap["stations"])
        assert sum(c["count"] for c in snap["stations"]) == at_stations
        listed = [s for c in snap["stations"] for s in c["stations"]]
        assert len(listed) == len(set(listed))


@given(st.dictionaries(st.sampled_from(AGE_BANDS), st.integers(0, 25)))
def test_age_bands_merge_only_with_neighbours(counts: dict[str, int]) -> None:
    groups = merge_ordered(counts, AGE_BANDS)
    present = [b for b in AGE_BANDS if counts.get(b, 0) > 0]
    assert [b for keys, _ in groups for b in keys] == present  # in order, each once
    if sum(counts.values()) >= MIN_CELL:
        assert all(n >= MIN_CELL for _, n in groups)


def test_merging_rules_by_example() -> None:
    assert merge_unordered({"a": 12, "b": 3, "c": 4}) == [(("a", "b", "c"), 19)]
    assert merge_unordered({"a": 12, "b": 30, "c": 6, "d": 5}) == [(("a",), 12), (("b",), 30), (("c", "d"), 11)]
    assert merge_ordered({"-19": 4, "20-29": 7, "30-39": 20, "70+": 2}, AGE_BANDS) == [
        (("-19", "20-29"), 11),
        (("30-39", "70+"), 22),
    ]
    assert band_range_label(("-19", "20-29")) == "-29"
    assert band_range_label(("30-39", "70+")) == "30+"
    assert band_range_label(("60-69", "70+", "unknown")) == "60+ / unknown"
    assert band_range_label(("20-29",)) == "20-29"
    assert band_range_label(("unknown",)) == "unknown"
    assert band_range_label(("70+",)) == "70+" and band_range_label(("60-69", "70+")) == "60+"


def test_age_bands() -> None:
    assert [age_band(a) for a in (14, 19, 20, 35, 69, 70, 101)] == ["-19", "-19", "20-29", "30-39", "60-69", "70+", "70+"]
    assert age_band(None) == "unknown"
    assert age_band_of(dt.date(2006, 12, 8), dt.date(2026, 12, 7)) == "-19"
    assert age_band_of(dt.date(2006, 12, 7), dt.date(2026, 12, 7)) == "20-29"
    assert age_band_of(None, dt.date(2026, 12, 7)) == "unknown"


def test_age_groups_read_in_both_languages() -> None:
    from voting.pages.statistics import age_text

    assert age_text("-29", "en") == "29 or younger" and age_text("-29", "ko") == "29세 이하"
    assert age_text("60+ / unknown", "en") == "60 or older / age unknown"
    assert age_text("30-69", "ko") == "30-69" and age_text("unknown", "ko") == "연령 미상"


def test_bar_chart_scales_to_the_largest_group() -> None:
    from voting.compute.statistics import bar_chart

    chart = bar_chart([("a", 40), ("b", 10)])
    assert [b["width"] for b in chart["bars"]] == [290, 72] and chart["height"] == 80
