"""The quotas form: a minimum and a maximum per category instead of raw JSON.

It produces exactly the stored shape of ``Edition.quotas`` (``{category: {"min": a, "max": b}}``, a
category left blank has no quota), so selection and the exports keep working; each problem is
reported beside its own field.
"""

from __future__ import annotations

from collections.abc import Mapping

from portal.errors import InvalidInput

LIMIT = 1000


def _bound(fields: Mapping[str, str], name: str) -> int | None:
    text = (fields.get(name) or "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 4 or int(text) > LIMIT:
        raise InvalidInput("Enter a whole number from 0 to %(max)s.", field=name, max=LIMIT)
    return int(text)


def has_quota_fields(fields: Mapping[str, str]) -> bool:
    return any(name.startswith(("quota_min_", "quota_max_")) for name in fields)


def quotas_from_form(fields: Mapping[str, str], categories: list[str], winners: int) -> dict[str, dict[str, int]]:
    """``quota_min_<category>`` and ``quota_max_<category>`` fields as the stored quotas document."""
    quotas: dict[str, dict[str, int]] = {}
    for category in categories:
        low = _bound(fields, f"quota_min_{category}")
        high = _bound(fields, f"quota_max_{category}")
        if low is None and high is None:
            continue
        low = 0 if low is None else low
        high = winners if high is None else high
        if high > winners:
            raise InvalidInput(
                "The maximum cannot exceed the number of winners (%(winners)s).",
                field=f"quota_max_{category}",
                winners=winners,
            )
        if low > high:
            raise InvalidInput("The minimum must not exceed the maximum.", field=f"quota_min_{category}")
        quotas[category] = {"min": low, "max": high}
    if sum(q["min"] for q in quotas.values()) > winners:
        raise InvalidInput(
            "The category minimums add up to more than the number of winners.",
            field=f"quota_min_{next(iter(quotas))}",
        )
    return quotas
