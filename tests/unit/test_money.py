"""Korean won in and out (issue 9 item 5): one parser for every KRW field, Seoul-style display."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal import i18n
from portal.errors import InvalidInput
from portal.money import (
    MAX_KRW,
    exact_krw,
    format_count,
    korean_krw,
    krw_html,
    krw_text,
    parse_krw,
    read_krw,
)
from portal.web.forms import krw_from_form

amounts = st.integers(min_value=-MAX_KRW, max_value=MAX_KRW)
FULL_WIDTH = str.maketrans("0123456789,", "０１２３４５６７８９，")


@pytest.mark.parametrize(
    ("typed", "won"),
    [
        ("2억", 200_000_000),
        ("2억 5천만", 250_000_000),
        ("2억5천만원", 250_000_000),
        ("250,000,000원", 250_000_000),
        ("250000000", 250_000_000),
        ("２억", 200_000_000),
        ("２억 ５천만 원", 250_000_000),
        ("２５０，０００，０００원", 250_000_000),
        ("2.5억", 250_000_000),
        ("1조 2,000억", 1_200_000_000_000),
        ("98억 4,579만 원", 9_845_790_000),
        ("1,500만", 15_000_000),
        ("5천", 5_000),
        ("천원", 1_000),
        ("억", 100_000_000),
        ("  1,234 KRW ", 1_234),
        ("₩1,000", 1_000),
        ("0", 0),
        ("-5", -5),  # read as typed; the service refuses it with its own message
        ("-2억", -200_000_000),
    ],
)
def test_korean_and_plain_amounts_are_read_as_whole_won(typed, won):
    assert parse_krw(typed) == won


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "1000.5", "1.5", "1e9", "--5", "5-", "abc", "2만 3억", "억억", "2억 5천만 3억", "약 2억", "2억원원", "1" * 41],
)
def test_what_is_not_a_whole_amount_is_refused(typed):
    with pytest.raises(ValueError):
        parse_krw(typed)
    assert read_krw(typed) is None


def test_form_fields_say_what_is_wrong_beside_the_field():
    assert krw_from_form("2억 5천만", "estimated_cost") == 250_000_000
    assert krw_from_form("", "revised_cost", optional=True) is None
    for typed in ("", "1e9", "2억 반"):
        with pytest.raises(InvalidInput) as caught:
            krw_from_form(typed, "estimated_cost")
        assert caught.value.field == "estimated_cost"
    with pytest.raises(InvalidInput) as caught:
        krw_from_form("9" * 19, "revised_cost")  # a 19-digit amount: a message, not "page not found"
    assert caught.value.field == "revised_cost" and "max" in caught.value.params


@pytest.mark.parametrize(
    ("won", "shown"),
    [
        (0, "0원"),
        (9_999, "9,999원"),
        (10_000, "1만 원"),
        (15_000, "1만 5,000원"),
        (4_500_000, "450만 원"),
        (4_567_800, "456만 7,800원"),
        (99_999_999, "9,999만 9,999원"),
        (250_000_000, "2억 5,000만 원"),
        (9_845_790_000, "98억 4,579만 원"),
        (9_845_794_999, "98억 4,579만 원"),
        (9_845_795_000, "98억 4,580만 원"),
        (1_200_000_000_000, "1조 2,000억 원"),
        (99_999_999_999_999, "100조 원"),
        (-250_000_000, "-2억 5,000만 원"),
    ],
)
def test_korean_pages_write_amounts_like_seouls_budget_pages(won, shown):
    assert korean_krw(won) == shown


@given(amounts, st.sampled_from(["ko", "en"]))
def test_exact_figures_read_back_unchanged(won, language):
    assert parse_krw(exact_krw(won, language)) == won


@given(amounts)
def test_korean_unit_amounts_read_back_unchanged(won):
    """Exact below 1억; from 1억 up, every amount in whole 만 won reads back unchanged."""
    shown = won if abs(won) < 10**8 else won - won % 10_000 if won >= 0 else -(-won - -won % 10_000)
    assert parse_krw(korean_krw(shown)) == shown


@given(amounts)
def test_large_korean_amounts_are_rounded_to_the_nearest_man(won):
    read = parse_krw(korean_krw(won))
    assert abs(read - won) <= 5_000 and read % 10_000 == 0 if abs(won) >= 10**8 else read == won


@given(amounts)
def test_full_width_digits_read_like_ascii(won):
    assert parse_krw(exact_krw(won, "ko").translate(FULL_WIDTH)) == won


@st.composite
def spelled_in_units(draw):
    """An amount and how a person might spell it: '3조 20억 5천만 1,200원' and the like."""
    parts, total = [], 0
    for unit, size in (("조", 10**12), ("억", 10**8), ("만", 10**4)):
        count = draw(st.integers(min_value=0, max_value=9_999))
        if count:
            thousands, rest = divmod(count, 1000)
            spoken = f"{thousands}천{rest or ''}" if thousands and draw(st.booleans()) else f"{count:,}"
            parts.append(f"{spoken}{unit}")
            total += count * size
    tail = draw(st.integers(min_value=0, max_value=9_999))
    if tail or not parts:
        parts.append(f"{tail:,}")
        total += tail
    return draw(st.sampled_from([" ", ""])).join(parts) + draw(st.sampled_from(["", "원", " 원"])), total


@given(spelled_in_units())
def test_amounts_spelled_in_units_are_read_exactly(case):
    spelled, won = case
    assert parse_krw(spelled) == won


def test_pages_keep_the_exact_figure_on_hover_and_in_data_value():
    token = i18n.current_language.set("ko")
    try:
        html = str(krw_html(9_845_790_000))
        assert html == '<data class="krw" value="9845790000" title="9,845,790,000원">98억 4,579만 원</data>'
        assert krw_text(5_000) == "5,000원"
        assert str(krw_html(5_000)) == '<data class="krw" value="5000">5,000원</data>'
    finally:
        i18n.current_language.reset(token)
    token = i18n.current_language.set("en")
    try:
        assert krw_text(9_845_790_000) == "9,845,790,000 KRW"  # English pages as before
        assert str(krw_html(9_845_790_000)) == '<data class="krw" value="9845790000">9,845,790,000 KRW</data>'
    finally:
        i18n.current_language.reset(token)
    assert str(krw_html(None)) == "" and krw_text(None) == ""


def test_counts_get_thousands_separators():
    assert format_count(6586) == "6,586"
    assert format_count(11_067) == "11,067"
    assert format_count(0) == "0"
    assert format_count(None) == ""
