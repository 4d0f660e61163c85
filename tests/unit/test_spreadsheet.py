"""The XLSX writer: typed numbers with formats, headers in the reader's language, formulas kept as text."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from portal.spreadsheet import AMOUNT, SCORE, Column, xlsx_bytes

COLUMNS = (
    Column("project_id", "Project ID"),
    Column("title", "Title"),
    Column("cost_krw", "Cost (KRW)", AMOUNT),
    Column("score", "Score", SCORE),
    Column("selected", "Selected"),
)
ROWS = [[7, "=SUM(A1)", 2_500_000_000, 8.25, True], [12, "Shade trees", 900_000_000, None, False]]


def _sheet(language: str):
    return load_workbook(io.BytesIO(xlsx_bytes(COLUMNS, ROWS, "results", language))).active


def test_numbers_are_numbers_with_a_format():
    sheet = _sheet("en")
    cost = sheet.cell(row=2, column=3)
    assert cost.value == 2_500_000_000 and cost.data_type == "n" and cost.number_format == "#,##0"
    assert sheet.cell(row=2, column=4).value == 8.25
    assert sheet.cell(row=2, column=4).number_format == "0.000000"
    assert sheet.cell(row=2, column=1).value == 7 and sheet.cell(row=2, column=1).number_format == "0"
    assert sheet.cell(row=3, column=4).value is None  # no score: an empty cell, not "None"


def test_headers_and_words_follow_the_language():
    english, korean = _sheet("en"), _sheet("ko")
    assert [c.value for c in english[1]] == ["Project ID", "Title", "Cost (KRW)", "Score", "Selected"]
    assert [c.value for c in korean[1]] == ["사업 번호", "제목", "사업비(원)", "점수", "선정"]
    assert (english.cell(row=2, column=5).value, korean.cell(row=3, column=5).value) == ("yes", "아니요")


def test_formula_like_text_stays_text():
    cell = _sheet("en").cell(row=2, column=2)
    assert cell.data_type == "s" and cell.value == "'=SUM(A1)"
