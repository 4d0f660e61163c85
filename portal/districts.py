"""Seoul's 25 autonomous districts by their standard 5-digit code."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple


class District(NamedTuple):
    code: str
    name_ko: str
    name_en: str

    def name(self, language: str) -> str:
        return self.name_ko if language == "ko" else self.name_en


DISTRICTS: tuple[District, ...] = (
    District("11110", "종로구", "Jongno-gu"),
    District("11140", "중구", "Jung-gu"),
    District("11170", "용산구", "Yongsan-gu"),
    District("11200", "성동구", "Seongdong-gu"),
    District("11215", "광진구", "Gwangjin-gu"),
    District("11230", "동대문구", "Dongdaemun-gu"),
    District("11260", "중랑구", "Jungnang-gu"),
    District("11290", "성북구", "Seongbuk-gu"),
    District("11305", "강북구", "Gangbuk-gu"),
    District("11320", "도봉구", "Dobong-gu"),
    District("11350", "노원구", "Nowon-gu"),
    District("11380", "은평구", "Eunpyeong-gu"),
    District("11410", "서대문구", "Seodaemun-gu"),
    District("11440", "마포구", "Mapo-gu"),
    District("11470", "양천구", "Yangcheon-gu"),
    District("11500", "강서구", "Gangseo-gu"),
    District("11530", "구로구", "Guro-gu"),
    District("11545", "금천구", "Geumcheon-gu"),
    District("11560", "영등포구", "Yeongdeungpo-gu"),
    District("11590", "동작구", "Dongjak-gu"),
    District("11620", "관악구", "Gwanak-gu"),
    District("11650", "서초구", "Seocho-gu"),
    District("11680", "강남구", "Gangnam-gu"),
    District("11710", "송파구", "Songpa-gu"),
    District("11740", "강동구", "Gangdong-gu"),
)

DISTRICTS_BY_CODE: dict[str, District] = {d.code: d for d in DISTRICTS}

# Resident population (2024, rounded to thousands), used to split PB pots by formula.
POPULATION: dict[str, int] = {
    "11110": 139_000, "11140": 121_000, "11170": 217_000, "11200": 281_000,
    "11215": 335_000, "11230": 341_000, "11260": 381_000, "11290": 429_000,
    "11305": 285_000, "11320": 306_000, "11350": 497_000, "11380": 461_000,
    "11410": 306_000, "11440": 357_000, "11470": 431_000, "11500": 557_000,
    "11530": 398_000, "11545": 229_000, "11560": 376_000, "11590": 381_000,
    "11620": 484_000, "11650": 400_000, "11680": 535_000, "11710": 656_000,
    "11740": 456_000,
}  # fmt: skip


def district_name(code: str | None, language: str) -> str:
    """The district's name in ``language``; an empty string for no district."""
    district = DISTRICTS_BY_CODE.get(code or "")
    return district.name(language) if district else ""


class Dong(NamedTuple):
    """An administrative neighbourhood (haengjeong-dong) of a district."""

    district_code: str
    name_ko: str
    name_en: str

    @property
    def key(self) -> str:
        """What forms send and proposals store: ``<district code>:<Korean name>``."""
        return f"{self.district_code}:{self.name_ko}"

    def name(self, language: str) -> str:
        return self.name_ko if language == "ko" else self.name_en


def _load_dongs() -> dict[str, tuple[Dong, ...]]:
    """The shipped list (portal/data/seoul_dongs.tsv), by district code, in the file's order."""
    by_district: dict[str, list[Dong]] = {d.code: [] for d in DISTRICTS}
    text = (Path(__file__).parent / "data" / "seoul_dongs.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            code, name_ko, name_en = line.split("\t")
            by_district[code].append(Dong(code, name_ko, name_en))
    return {code: tuple(dongs) for code, dongs in by_district.items()}


DONGS: dict[str, tuple[Dong, ...]] = _load_dongs()
DONGS_BY_KEY: dict[str, Dong] = {d.key: d for dongs in DONGS.values() for d in dongs}


def dong_name(key: str | None, language: str) -> str:
    """A stored neighbourhood's name in ``language`` (the stored text itself if no longer listed)."""
    dong = DONGS_BY_KEY.get(key or "")
    if dong:
        return dong.name(language)
    return (key or "").partition(":")[2]
