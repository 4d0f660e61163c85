"""The one XLSX writer for every export: numbers stay numbers, headers speak the reader's language.

CSV and JSON exports keep machine column names (they are contracts read by programs); the XLSX
copy is for people: each column has an English label (the catalog msgid) shown in the language of
the request, numbers are stored as numbers with a number format (sums and sorting work), and text
that a spreadsheet would run as a formula is kept as text (S19).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from portal import i18n

# Spreadsheet programs run cells that start with these as formulas (S19, OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

AMOUNT = "#,##0"  # whole KRW and counts: 1,234,567
WHOLE = "0"  # ids, years, ranks: no thousands separator
SCORE = "0.000000"
_DECIMAL = re.compile(r"-?\d{1,15}(\.\d{1,15})?")


@dataclass(frozen=True)
class Column:
    """One column: its machine key (the CSV/JSON name), its English label and its number format."""

    key: str
    label: str
    number_format: str = WHOLE


def escape_cell(value: Any) -> Any:
    """Make a text cell inert in spreadsheets by prefixing ``'`` to formula-like text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def as_number(text: str) -> float | str:
    """A decimal written as text (a score "90.50") as a number; other text unchanged."""
    return float(text) if _DECIMAL.fullmatch(text) else text


def xlsx_bytes(
    columns: Sequence[Column],
    rows: Sequence[Sequence[Any]],
    sheet_title: str,
    language: str | None = None,
) -> bytes:
    """A workbook of one sheet: translated headers, then the rows with typed cells."""
    from openpyxl import Workbook

    language = language or i18n.current_language.get()
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = sheet_title[:31]
    sheet.append([i18n.translate(column.label, language) for column in columns])
    for row_number, row in enumerate(rows, start=2):
        for index, (column, value) in enumerate(zip(columns, row, strict=True), start=1):
            cell = sheet.cell(row=row_number, column=index)
            if isinstance(value, bool):
                cell.value = i18n.translate("yes" if value else "no", language)
            elif isinstance(value, int | float | Decimal):
                cell.value = value
                cell.number_format = column.number_format
            elif isinstance(value, Fraction):
                cell.value = float(value)
                cell.number_format = column.number_format
            elif value is None or value == "":
                continue
            else:
                cell.value = escape_cell(str(value))
                cell.data_type = "s"  # openpyxl would otherwise store "=..." as a formula
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
