"""The districts' participation budgets the city hands out per fiscal year (``GET /v1/envelopes``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec

from portal.connector.schemas import Envelope

# Seoul's 25 autonomous districts (administrative codes of the Ministry of the Interior).
SEOUL_DISTRICTS: tuple[tuple[str, str], ...] = (
    ("11110", "Jongno-gu"),
    ("11140", "Jung-gu"),
    ("11170", "Yongsan-gu"),
    ("11200", "Seongdong-gu"),
    ("11215", "Gwangjin-gu"),
    ("11230", "Dongdaemun-gu"),
    ("11260", "Jungnang-gu"),
    ("11290", "Seongbuk-gu"),
    ("11305", "Gangbuk-gu"),
    ("11320", "Dobong-gu"),
    ("11350", "Nowon-gu"),
    ("11380", "Eunpyeong-gu"),
    ("11410", "Seodaemun-gu"),
    ("11440", "Mapo-gu"),
    ("11470", "Yangcheon-gu"),
    ("11500", "Gangseo-gu"),
    ("11530", "Guro-gu"),
    ("11545", "Geumcheon-gu"),
    ("11560", "Yeongdeungpo-gu"),
    ("11590", "Dongjak-gu"),
    ("11620", "Gwanak-gu"),
    ("11650", "Seocho-gu"),
    ("11680", "Gangnam-gu"),
    ("11710", "Songpa-gu"),
    ("11740", "Gangdong-gu"),
)


def default_envelopes(fiscal_year: int) -> list[Envelope]:
    """Deterministic district envelopes: 1.0 to 2.0 billion KRW in steps of 25 million."""
    envelopes = []
    for code, name in SEOUL_DISTRICTS:
        digest = hashlib.sha256(f"{fiscal_year}:{code}".encode()).digest()
        amount = 1_000_000_000 + int.from_bytes(digest[:4], "big") % 41 * 25_000_000
        envelopes.append(Envelope(district_code=code, name=name, amount=str(amount)))
    return envelopes


def load_envelopes(path: Path) -> dict[int, list[Envelope]]:
    """Read ``{"2027": [{district_code, name, amount}, ...]}``; the years listed replace the defaults."""
    try:
        raw = msgspec.json.decode(path.read_bytes(), type=dict[str, list[Envelope]])
    except OSError as exc:
        raise ValueError(f"cannot read the envelopes file {path}: {exc.strerror}") from exc
    except msgspec.ValidationError as exc:
        raise ValueError(f"the envelopes file {path} is invalid: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ValueError(f"the envelopes file {path} is not JSON: {exc}") from exc
    table: dict[int, list[Envelope]] = {}
    for year, envelopes in raw.items():
        if not year.isdigit():
            raise ValueError(
                f"the envelopes file {path} has a key {year!r} that is not a fiscal year"
            )
        table[int(year)] = envelopes
    return table
