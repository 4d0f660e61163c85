"""An outcome in sentences: the steps of the count as translatable messages with their values."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction

from voting.compute.election import Number, Outcome


def explain(outcome: Outcome, names: Mapping[str, str] | None = None) -> list[str]:
    """The outcome in plain English sentences, one per step (for the CLI): projects as "id (name)"."""
    names = names or {}

    def label(pid: str) -> str:
        return f"{pid} ({names[pid]})" if pid in names else pid

    return [fill_step(message, params, label) for message, params in explanation_steps(outcome)]


def fill_step(message: str, params: Mapping[str, object], label: Callable[[str], str]) -> str:
    """One step's sentence with its projects named by ``label`` (``message`` may be a translation)."""
    values = dict(params)
    if "project" in values:
        values["project"] = label(str(values["project"]))
    if "projects" in values:
        values["projects"] = ", ".join(label(str(p)) for p in values["projects"])  # type: ignore[attr-defined]
    return message % values


def explanation_steps(outcome: Outcome) -> list[tuple[str, dict[str, object]]]:
    """The outcome step by step as (English message, values): the messages are catalog ids, so a page
    translates them; projects are ids under ``project`` / ``projects``, named by whoever shows them."""
    steps: list[tuple[str, dict[str, object]]] = []
    rules = {
        "rule": outcome.rule,
        "sat": outcome.sat,
        "tie_break": outcome.tie_break,
        "budget": _show(outcome.budget),
    }
    if outcome.seed is not None:
        steps.append(
            (
                "Rule %(rule)s, satisfaction %(sat)s, ties broken by %(tie_break)s (seed %(seed)s); budget %(budget)s.",
                {**rules, "seed": outcome.seed},
            )
        )
    else:
        steps.append(
            (
                "Rule %(rule)s, satisfaction %(sat)s, ties broken by %(tie_break)s; budget %(budget)s.",
                rules,
            )
        )
    if outcome.excluded:
        steps.append(
            ("Left out before counting: %(projects)s.", {"projects": list(outcome.excluded)})
        )
    if outcome.voter_budget is not None:
        steps.append(
            (
                "Equal Shares gave each voter %(share)s to spend (%(passes)s pass)."
                if outcome.passes == 1
                else "Equal Shares gave each voter %(share)s to spend (%(passes)s passes).",
                {"share": _show(outcome.voter_budget), "passes": outcome.passes},
            )
        )
    for s in outcome.steps:
        values: dict[str, object] = {
            "project": s.project_id,
            "cost": _show(s.cost),
            "score": _show(s.score),
            "left": _show(s.remaining_budget),
        }
        if s.reason == "free":
            steps.append(("%(project)s costs nothing and has supporters: funded first.", values))
        elif s.reason == "bought":
            values.update(
                round=s.round,
                supporters=s.supporters,
                price=_show(s.price_per_supporter),
                paid_all=s.supporters_paid_all,
            )
            steps.append(
                (
                    "Round %(round)s: %(project)s funded for %(cost)s; each of its %(supporters)s supporters"
                    " paid at most %(price)s (%(paid_all)s gave all they had left)."
                    if s.supporters_paid_all
                    else "Round %(round)s: %(project)s funded for %(cost)s; each of its %(supporters)s supporters"
                    " paid at most %(price)s.",
                    values,
                )
            )
        elif s.reason == "fits":
            steps.append(
                (
                    "%(project)s (score %(score)s) costs %(cost)s and fits: funded, %(left)s left.",
                    values,
                )
            )
        elif s.reason == "does-not-fit":
            steps.append(
                (
                    "%(project)s (score %(score)s) costs %(cost)s, more than the %(left)s left: skipped.",
                    values,
                )
            )
        elif s.reason == "stopped":
            steps.append(
                (
                    "%(project)s (score %(score)s) does not fit in the %(left)s left:"
                    " counting stops here (no skipping).",
                    values,
                )
            )
    for f in outcome.shortfalls:
        values = {
            "project": f.project_id,
            "supporters": f.supporters,
            "left": _show(f.money_left),
            "cost": _show(f.cost),
        }
        steps.append(
            (
                "%(project)s not funded by Equal Shares: its %(supporters)s supporters had %(left)s left,"
                " it costs %(cost)s (funded afterwards by the greedy completion)."
                if f.funded_later
                else "%(project)s not funded by Equal Shares: its %(supporters)s supporters had %(left)s left,"
                " it costs %(cost)s.",
                values,
            )
        )
    steps.append(
        (
            "Funded %(count)s projects for %(total)s of %(budget)s.",
            {
                "count": len(outcome.selected),
                "total": _show(outcome.total_cost),
                "budget": _show(outcome.budget),
            },
        )
    )
    return steps


def _show(value: Number | float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or (isinstance(value, Fraction) and value.denominator == 1):
        return f"{int(value):,}"
    return f"{float(value):,.2f}"
