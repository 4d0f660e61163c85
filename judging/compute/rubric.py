"""The AI 50 Challenge scoring rubric: weighted criteria with level descriptors (pure).

A judge gives each criterion a whole score on the stage's scale (1 to 10 unless the stage sets
another, e.g. 0 to 100). The entry's score from that judge is the weighted mean of those scores, so it
stays on the same scale as the criteria: a judge who gives every criterion 7 gives the entry 7.00. Weights are whole percentage points summing to 100, which
makes the weighted mean an exact multiple of 0.01.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

MIN_SCORE = 1  # the default scale; a stage may set its own (Round.scale_min, Round.scale_max)
MAX_SCORE = 10
DEFAULT_SCALE = (MIN_SCORE, MAX_SCORE)

# The five bands every criterion describes: (lowest score, highest score) inclusive.
LEVEL_BANDS: tuple[tuple[int, int], ...] = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10))


class RubricError(ValueError):
    """A score sheet for one review does not fit the rubric."""


@dataclass(frozen=True)
class Level:
    """What a band of scores means, in English and Korean."""

    low: int
    high: int
    en: str
    ko: str


@dataclass(frozen=True)
class Criterion:
    """One rubric criterion: a key, names in both languages, a weight and five level descriptors."""

    key: str
    name_en: str
    name_ko: str
    weight: int
    levels: tuple[Level, ...]

    def level_for(self, score: int) -> Level | None:
        """The descriptor band that contains ``score`` (None when no descriptor covers it)."""
        for level in self.levels:
            if level.low <= score <= level.high:
                return level
        return None

    def to_dict(self) -> dict:
        """Plain JSON form, as stored in a round's rubric."""
        return {
            "key": self.key,
            "name": {"en": self.name_en, "ko": self.name_ko},
            "weight": self.weight,
            "levels": [
                {"low": lv.low, "high": lv.high, "en": lv.en, "ko": lv.ko} for lv in self.levels
            ],
        }


def _levels(*pairs: tuple[str, str]) -> tuple[Level, ...]:
    """Zip five (English, Korean) descriptors onto the five score bands."""
    return tuple(
        Level(low, high, en, ko) for (low, high), (en, ko) in zip(LEVEL_BANDS, pairs, strict=True)
    )


DEFAULT_CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        "impact",
        "Impact on daily life",
        "일상생활 개선 효과",
        30,
        _levels(
            ("No clear benefit to residents.", "시민에게 주는 혜택이 분명하지 않습니다."),
            ("Small benefit for a narrow group.", "일부 집단에 작은 혜택이 있습니다."),
            (
                "Noticeable benefit for a defined group of residents.",
                "특정 시민 집단에 뚜렷한 혜택이 있습니다.",
            ),
            (
                "Substantial, measurable benefit for many residents.",
                "많은 시민에게 측정 가능한 상당한 혜택이 있습니다.",
            ),
            (
                "Transforms a daily-life problem for a large part of the city, with evidence.",
                "근거와 함께 도시 상당 부분의 일상 문제를 크게 바꿉니다.",
            ),
        ),
    ),
    Criterion(
        "feasibility",
        "Feasibility",
        "실현 가능성",
        25,
        _levels(
            ("No credible plan, data or team.", "신뢰할 만한 계획, 데이터, 팀이 없습니다."),
            ("Major gaps in data, skills or budget.", "데이터, 역량, 예산에 큰 공백이 있습니다."),
            (
                "Workable plan with some open risks.",
                "실행 가능한 계획이나 일부 위험이 남아 있습니다.",
            ),
            (
                "Working prototype, data access and a capable team.",
                "작동하는 시제품, 데이터 접근, 역량 있는 팀을 갖추었습니다.",
            ),
            (
                "Proven in a pilot; ready to deploy within a year.",
                "시범 사업으로 검증되어 1년 안에 도입할 수 있습니다.",
            ),
        ),
    ),
    Criterion(
        "innovation",
        "Innovation",
        "혁신성",
        20,
        _levels(
            ("Copies an existing product.", "기존 제품을 그대로 따릅니다."),
            ("Minor variation on known solutions.", "알려진 해법을 조금 바꾼 수준입니다."),
            (
                "A fresh combination of known techniques.",
                "알려진 기술을 새롭게 조합했습니다.",
            ),
            ("Clearly new approach for this problem.", "이 문제에 대해 분명히 새로운 접근입니다."),
            (
                "Original approach that could set a new standard.",
                "새로운 기준이 될 만한 독창적인 접근입니다.",
            ),
        ),
    ),
    Criterion(
        "scalability",
        "Scalability",
        "확장성",
        15,
        _levels(
            ("Works only in one narrow setting.", "매우 제한된 환경에서만 작동합니다."),
            ("Hard to extend beyond the pilot.", "시범 범위를 넘어 확장하기 어렵습니다."),
            (
                "Can extend to a few districts with effort.",
                "노력하면 몇몇 자치구로 확장할 수 있습니다.",
            ),
            ("Ready to extend city-wide.", "서울 전역으로 확장할 준비가 되어 있습니다."),
            (
                "Scales city-wide and to other cities at low marginal cost.",
                "낮은 추가 비용으로 서울 전역과 다른 도시로 확장됩니다.",
            ),
        ),
    ),
    Criterion(
        "responsible_ai",
        "Responsible AI",
        "책임 있는 AI",
        10,
        _levels(
            (
                "Ignores privacy, bias and safety.",
                "개인정보, 편향, 안전을 고려하지 않습니다.",
            ),
            ("Mentions risks without measures.", "위험을 언급하지만 대책이 없습니다."),
            (
                "Basic measures for privacy and bias.",
                "개인정보와 편향에 대한 기본 대책이 있습니다.",
            ),
            (
                "Documented data protection, bias testing and human oversight.",
                "데이터 보호, 편향 검증, 사람의 감독이 문서화되어 있습니다.",
            ),
            (
                "Exemplary: audited, explainable, privacy by design.",
                "모범적: 외부 점검, 설명 가능성, 설계 단계의 개인정보 보호를 갖추었습니다.",
            ),
        ),
    ),
)


def validate_criteria(criteria: Sequence[Criterion]) -> None:
    """Check that keys are unique and weights are positive whole points."""
    keys = [c.key for c in criteria]
    if not criteria:
        raise RubricError("a rubric needs at least one criterion")
    if len(set(keys)) != len(keys):
        raise RubricError("criterion keys must be unique")
    for criterion in criteria:
        if not isinstance(criterion.weight, int) or criterion.weight <= 0:
            raise RubricError(f"{criterion.key}: weight must be a positive whole number")


def parse_scale(text: str) -> tuple[int, int]:
    """``"0-100"`` as (0, 100): whole numbers, the first below the second."""
    low, sep, high = str(text).strip().partition("-")
    if not sep or not low.strip().isdigit() or not high.strip().isdigit():
        raise RubricError(f"scale {text!r} is not MIN-MAX, e.g. 1-10 or 0-100")
    scale = (int(low), int(high))
    if scale[0] >= scale[1]:
        raise RubricError(f"scale {text!r}: the minimum must be below the maximum")
    return scale


def scale_text(scale: tuple[int, int]) -> str:
    """(0, 100) as ``"0-100"``, as score sheets and ``--scale`` write it."""
    return f"{scale[0]}-{scale[1]}"


def weighted_total(
    scores: Mapping[str, int],
    criteria: Sequence[Criterion] = DEFAULT_CRITERIA,
    scale: tuple[int, int] = DEFAULT_SCALE,
) -> float:
    """The weighted mean of the criterion scores, on the rubric's scale, rounded to 0.01.

    Every criterion must be scored with a whole number on the scale (1 to 10 by default); unknown
    keys are refused so a typo cannot silently drop a score.
    """
    low, high = scale
    validate_criteria(criteria)
    known = {c.key for c in criteria}
    unknown = sorted(set(scores) - known)
    if unknown:
        raise RubricError(f"unknown criteria: {', '.join(unknown)}")
    total = 0
    for criterion in criteria:
        if criterion.key not in scores:
            raise RubricError(f"{criterion.key}: missing score")
        score = scores[criterion.key]
        if isinstance(score, bool) or not isinstance(score, int):
            raise RubricError(f"{criterion.key}: score must be a whole number")
        if not low <= score <= high:
            raise RubricError(f"{criterion.key}: score {score} is outside {low}-{high}")
        total += criterion.weight * score
    # Exact arithmetic, then one rounding: weights are whole points, so this is exact for the
    # defaults (sum 100) and correctly rounded for any other weights.
    mean = Fraction(total, sum(c.weight for c in criteria))
    return float(round(mean, 2))
