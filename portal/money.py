"""Korean won: reading what people type ("2억 5천만", "250,000,000원", "２억") and showing amounts.

Money is an ``int`` of whole won everywhere; this module is the one place that turns text into won
and won into text.

How amounts are shown:

* English pages: the exact figure, ``1,234,567,890 KRW`` (as before).
* Korean pages, the way Seoul's budget pages write them: ``98억 4,579만 원``. Amounts of 1억 won
  or more are written in 조/억/만 units **rounded to the nearest 만 won** (half up): what is
  dropped is under 5,000 won, less than 0.005% of the amount, as budget tables in 만 원 do.
  Smaller amounts are written exactly, in 만 and won: ``450만 원``, ``456만 7,800원``, ``5,000원``.
* The exact figure is always kept: in exports, and on the page as the ``<data value>`` of the
  amount and in its hover title.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from markupsafe import Markup, escape

from portal import i18n

# The largest amount a form accepts: 1,000조 won (Seoul's yearly budget is about 48조).
MAX_KRW = 10**15

_BIG_UNITS = {"조": 10**12, "억": 10**8, "만": 10**4}
_SMALL_UNITS = {"천": 1000, "백": 100, "십": 10}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_GROUP = re.compile(r"(?P<coefficient>[\d.천백십]*)(?P<unit>[조억만])")


def _small_number(text: str) -> Decimal:
    """A number below 만 written with digits and 천/백/십: "5천" = 5000, "2천5백" = 2500, "천" = 1000."""
    if not text:
        raise ValueError("empty")
    if _NUMBER.fullmatch(text):
        return Decimal(text)
    total = Decimal(0)
    rest = text
    for unit, size in _SMALL_UNITS.items():
        if unit in rest:
            head, rest = rest.split(unit, 1)
            if head and not _NUMBER.fullmatch(head):
                raise ValueError(text)
            total += (Decimal(head) if head else Decimal(1)) * size
    if rest:
        if not _NUMBER.fullmatch(rest):
            raise ValueError(text)
        total += Decimal(rest)
    return total


def parse_krw(text: str) -> int:
    """Whole won from what a person typed; raises ``ValueError`` when it is not a whole amount.

    Accepts plain digits, thousands separators, a trailing 원/KRW, full-width digits and
    Korean units: "250000000", "250,000,000원", "２억", "2억 5천만", "2.5억", "1조 2,000억".
    A leading minus is kept (services refuse negative amounts with their own message).
    """
    normal = unicodedata.normalize("NFKC", text or "")
    normal = re.sub(r"\s+", "", normal).replace(",", "").replace("_", "")
    normal = re.sub(r"(원|krw|won|₩)$", "", normal, flags=re.IGNORECASE)
    normal = normal.removeprefix("₩")
    # A minus sign is read, not refused here: the services say which amounts a field allows.
    sign = -1 if normal.startswith(("-", "−")) else 1
    normal = (normal[1:] if sign < 0 else normal).removeprefix("₩")
    if not normal or len(normal) > 40:
        raise ValueError("empty or too long")
    if not _GROUP.search(normal):
        amount = _small_number(normal)  # digits, or 천/백/십 alone ("5천")
    else:
        amount = Decimal(0)
        position = 0
        last_size = None
        for match in _GROUP.finditer(normal):
            if match.start() != position:
                raise ValueError(text)
            size = _BIG_UNITS[match["unit"]]
            if last_size is not None and size >= last_size:
                raise ValueError(text)  # units must go down: 조, then 억, then 만
            last_size = size
            coefficient = match["coefficient"]
            amount += (_small_number(coefficient) if coefficient else Decimal(1)) * size
            position = match.end()
        tail = normal[position:]
        if tail:
            amount += _small_number(tail)
    try:
        whole = int(amount)
    except (InvalidOperation, ValueError, OverflowError):
        raise ValueError(text) from None
    if whole != amount:
        raise ValueError(text)  # not whole won (e.g. "1000.5")
    return sign * whole


def read_krw(text: object) -> int | None:
    """What ``text`` reads as in whole won, or None (for echoing a typed amount back)."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        amount = parse_krw(text)
    except ValueError:
        return None
    return amount if abs(amount) <= MAX_KRW else None


def echo_text(amount: int) -> str:
    """The hint under a KRW field: "Reads as 2억 5,000만 원 (250,000,000원)"."""
    shown, exact = krw_text(amount), exact_krw(amount)
    return i18n.gettext("Reads as %(amount)s", amount=shown if shown == exact else f"{shown} ({exact})")


def exact_krw(amount: int, language: str | None = None) -> str:
    """The exact figure: ``1,234원`` in Korean, ``1,234 KRW`` in English."""
    language = language or i18n.current_language.get()
    return f"{amount:,} KRW" if language == "en" else f"{amount:,}원"


def korean_krw(amount: int) -> str:
    """Seoul's budget style: ``98억 4,579만 원`` (from 1억 up, rounded to the nearest 만 won; see the module doc)."""
    sign = "-" if amount < 0 else ""
    magnitude = abs(amount)
    if magnitude < 10**4:
        return f"{amount:,}원"
    if magnitude < 10**8:  # exact: 만 and won
        man, won = divmod(magnitude, 10**4)
        return f"{sign}{man:,}만 {won:,}원" if won else f"{sign}{man:,}만 원"
    rounded = (magnitude + 5_000) // 10**4  # in 만 won, half up
    parts = []
    for unit, size in (("조", 10**8), ("억", 10**4), ("만", 1)):
        count, rounded = divmod(rounded, size)
        if count:
            parts.append(f"{count:,}{unit}")
    return f"{sign}{' '.join(parts)} 원"


def krw_text(amount: int | None, language: str | None = None) -> str:
    """An amount as plain text for the reader's language (Korean rounded, English exact)."""
    if amount is None:
        return ""
    language = language or i18n.current_language.get()
    return exact_krw(int(amount), "en") if language == "en" else korean_krw(int(amount))


def krw_html(amount: int | None) -> Markup:
    """An amount for a page: readable text, the exact figure in ``<data value>`` and the hover title.

    The element never wraps (so 원 is never left alone on a line); see ``.krw`` in site.css.
    """
    if amount is None:
        return Markup("")
    amount = int(amount)
    shown = krw_text(amount)
    exact = exact_krw(amount)
    title = "" if shown == exact else f' title="{escape(exact)}"'
    return Markup(f'<data class="krw" value="{amount}"{title}>{escape(shown)}</data>')


def format_count(value: int | None) -> str:
    """A count (votes, ballots, entries, voters) with thousands separators, in both languages."""
    if value is None:
        return ""
    return f"{int(value):,}"
