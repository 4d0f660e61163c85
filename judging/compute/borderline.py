"""Why the entries near the cut are in or out, from single swaps against the optimal selection (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

from judging.compute.calibration import SCORE_DECIMALS
from judging.compute.candidates import (
    Candidate,
    CategoryQuota,
    Quotas,
    score_units,
    tie_break_step,
)

BORDERLINE_SIZE = 5

# Borderline reasons, one English message id per case (translated on the officials' pages).
WHY_CATEGORY_MINIMUM = "needed to meet the minimum of %(min)s winners for category %(category)s"
WHY_OUTRANKED_ONE = (
    "%(count)s higher-ranked entry (%(names)s) could not take its place without breaking a quota"
)
WHY_OUTRANKED = (
    "%(count)s higher-ranked entries (%(names)s) could not take its place without breaking a quota"
)
WHY_EVERY_ENTRY_WINS = "every entry wins"
WHY_TIE_WITH_FIRST_OUT = (
    "tied at %(score)s; decided by the tie-break on %(step)s against %(other)s, the first out"
)
WHY_ABOVE_FIRST_OUT = "score %(mine)s above the first entry out, %(other)s (%(theirs)s)"
WHY_ORGANIZATION_HAS_WINNER = "organization %(organization)s already has a winner (%(winners)s)"
WHY_ORGANIZATION_WINNER_STAYS_MAX = (
    "organization %(organization)s already has a winner (%(winners)s), which cannot give way: "
    "category quota max reached for %(category)s (%(max)s)"
)
WHY_ORGANIZATION_WINNER_STAYS_MIN = (
    "organization %(organization)s already has a winner (%(winners)s), which cannot give way: "
    "category %(category)s would fall below its minimum of %(min)s"
)
WHY_CATEGORY_FULL = "category quota max reached for %(category)s (%(max)s)"
WHY_MINIMUMS_BLOCK = "no winner could make room without breaking a category minimum"
WHY_ORGANIZATION_TIE = (
    "organization %(organization)s already has a winner, %(winner)s: "
    "tied at %(score)s; decided by the tie-break on %(step)s against %(winner)s"
)
WHY_ORGANIZATION_BELOW = (
    "organization %(organization)s already has a winner, %(winner)s: "
    "score %(mine)s below its score %(theirs)s"
)
WHY_CATEGORY_FULL_TIE = (
    "category quota max reached for %(category)s (%(max)s); weakest there is %(winner)s: "
    "tied at %(score)s; decided by the tie-break on %(step)s against %(winner)s"
)
WHY_CATEGORY_FULL_BELOW = (
    "category quota max reached for %(category)s (%(max)s); weakest there is %(winner)s: "
    "score %(mine)s below its score %(theirs)s"
)
WHY_TIE = "tied at %(score)s; decided by the tie-break on %(step)s against %(winner)s"
WHY_BELOW_LAST_WINNER = "score %(mine)s below last winner %(theirs)s"
WHY_BELOW_WEAKEST_PARTNER = (
    "score %(mine)s below last winner %(theirs)s (%(winner)s, the weakest winner it could replace)"
)


@dataclass(frozen=True)
class BorderlineNote:
    """Why an entry near the cut is in or out."""

    entry_id: Hashable
    selected: bool
    rank: int
    score: float
    reason: str
    # The reason as an English message id with %(name)s params, so pages can translate it;
    # ``reason`` is that message filled in (the CLI and exports print it).
    message: str = ""
    params: Mapping[str, str] = field(default_factory=dict)


def _fmt_pair(a: float, b: float) -> tuple[str, str]:
    """Format two scores with 2 decimals, or more when 2 would print them equal."""
    for decimals in range(2, SCORE_DECIMALS + 1):
        x, y = f"{a:.{decimals}f}", f"{b:.{decimals}f}"
        if x != y:
            return x, y
    return f"{a:.2f}", f"{b:.2f}"


@dataclass(frozen=True)
class _Cut:
    """The selection as the borderline explanation sees it: who won, who did not, and the counts."""

    winners: list[Candidate]
    others: list[Candidate]
    rank_of: Mapping[Hashable, int]
    quotas: Quotas
    seed: int
    per_category: Counter
    per_org: Counter


def _quota_of(cut: _Cut, name: str | None) -> CategoryQuota:
    return cut.quotas.categories.get(name, CategoryQuota()) if name is not None else CategoryQuota()


def _org_full(cut: _Cut, c: Candidate) -> bool:
    cap = cut.quotas.max_per_organization
    return c.organization is not None and cap is not None and cut.per_org[c.organization] >= cap


def _category_full(cut: _Cut, c: Candidate) -> bool:
    cap = _quota_of(cut, c.category).max
    return cap is not None and cut.per_category[c.category] >= cap


def _category_blocker(
    cut: _Cut, incoming: Candidate, outgoing: Candidate
) -> tuple[str, dict[str, str]] | None:
    """Which category quota a swap of two entries breaks (None if it breaks none)."""
    if incoming.category == outgoing.category:
        return None
    if _category_full(cut, incoming):
        return "max", {
            "category": str(incoming.category),
            "max": str(_quota_of(cut, incoming.category).max),
        }
    low = _quota_of(cut, outgoing.category).min
    if cut.per_category[outgoing.category] - 1 < low:
        return "min", {"category": str(outgoing.category), "min": str(low)}
    return None


def _swap_keeps_quotas(cut: _Cut, incoming: Candidate, outgoing: Candidate) -> bool:
    if _category_blocker(cut, incoming, outgoing):
        return False
    return incoming.organization == outgoing.organization or not _org_full(cut, incoming)


def _tie(cut: _Cut, better: Candidate, worse: Candidate) -> dict[str, str]:
    shown, _ = _fmt_pair(better.score, worse.score)
    return {"score": shown, "step": tie_break_step(better, worse, cut.seed)}


def _note(cut: _Cut, c: Candidate, selected: bool, message: str, **params: str) -> BorderlineNote:
    reason = message % params if params else message
    return BorderlineNote(
        c.entry_id, selected, cut.rank_of[c.entry_id] + 1, c.score, reason, message, params
    )


def _why_in(cut: _Cut, c: Candidate) -> BorderlineNote:
    """Why a winner near the cut is in."""
    outranked_by = [o for o in cut.others if cut.rank_of[o.entry_id] < cut.rank_of[c.entry_id]]
    quota = _quota_of(cut, c.category)
    if outranked_by:
        if quota.min and cut.per_category[c.category] <= quota.min:
            return _note(
                cut, c, True, WHY_CATEGORY_MINIMUM, min=str(quota.min), category=str(c.category)
            )
        names = ", ".join(str(o.entry_id) for o in outranked_by[:3])
        more = ", ..." if len(outranked_by) > 3 else ""
        count = len(outranked_by)
        message = WHY_OUTRANKED_ONE if count == 1 else WHY_OUTRANKED
        return _note(cut, c, True, message, count=str(count), names=names + more)
    if not cut.others:
        return _note(cut, c, True, WHY_EVERY_ENTRY_WINS)
    first_out = cut.others[0]
    if score_units(c.score) == score_units(first_out.score):
        return _note(
            cut, c, True, WHY_TIE_WITH_FIRST_OUT, other=str(first_out.entry_id), **_tie(cut, c, first_out)
        )
    mine, theirs = _fmt_pair(c.score, first_out.score)
    return _note(
        cut, c, True, WHY_ABOVE_FIRST_OUT, mine=mine, other=str(first_out.entry_id), theirs=theirs
    )


def _why_no_swap(cut: _Cut, c: Candidate) -> BorderlineNote:
    """Why an entry is out when no winner can be swapped for it within the quotas."""
    if _org_full(cut, c):
        mates = [w for w in cut.winners if w.organization == c.organization]
        mate_names = ", ".join(str(w.entry_id) for w in mates)
        blocker = _category_blocker(cut, c, mates[-1])
        message = WHY_ORGANIZATION_HAS_WINNER
        extra: dict[str, str] = {}
        if blocker:
            kind, extra = blocker
            message = (
                WHY_ORGANIZATION_WINNER_STAYS_MAX if kind == "max" else WHY_ORGANIZATION_WINNER_STAYS_MIN
            )
        return _note(
            cut, c, False, message, organization=str(c.organization), winners=mate_names, **extra
        )
    if _category_full(cut, c):
        return _note(
            cut,
            c,
            False,
            WHY_CATEGORY_FULL,
            category=str(c.category),
            max=str(_quota_of(cut, c.category).max),
        )
    return _note(cut, c, False, WHY_MINIMUMS_BLOCK)


def _why_out(cut: _Cut, c: Candidate) -> BorderlineNote:
    """Why an entry near the cut is out: the swap that comes closest, or the quota that forbids all."""
    partners = [w for w in cut.winners if _swap_keeps_quotas(cut, c, w)]
    if not partners:
        return _why_no_swap(cut, c)
    weakest = partners[-1]
    tied = score_units(c.score) == score_units(weakest.score)
    mine, theirs = _fmt_pair(c.score, weakest.score)
    scores = _tie(cut, weakest, c) if tied else {"mine": mine, "theirs": theirs}
    if _org_full(cut, c):
        message = WHY_ORGANIZATION_TIE if tied else WHY_ORGANIZATION_BELOW
        context = {"organization": str(c.organization)}
    elif _category_full(cut, c):
        message = WHY_CATEGORY_FULL_TIE if tied else WHY_CATEGORY_FULL_BELOW
        context = {"category": str(c.category), "max": str(_quota_of(cut, c.category).max)}
    else:
        context = {}
        if tied:
            message = WHY_TIE
        elif weakest is not cut.winners[-1]:
            message = WHY_BELOW_WEAKEST_PARTNER
        else:
            message = WHY_BELOW_LAST_WINNER
    params = {**context, **scores}
    if "%(winner)s" in message:
        params["winner"] = str(weakest.entry_id)
    return _note(cut, c, False, message, **params)


def explain_borderline(
    ranked: Sequence[Candidate],
    rank_of: Mapping[Hashable, int],
    chosen: set[Hashable],
    quotas: Quotas,
    seed: int,
) -> tuple[BorderlineNote, ...]:
    """Reasons for the last few in and the first few out, from single swaps.

    The selection is optimal, so no single swap (one out, one in) that keeps the quotas can raise
    the total or win the tie-break; each reason names the swap that comes closest, or the quota
    that forbids every swap.
    """
    winners = [c for c in ranked if c.entry_id in chosen]
    cut = _Cut(
        winners=winners,
        others=[c for c in ranked if c.entry_id not in chosen],
        rank_of=rank_of,
        quotas=quotas,
        seed=seed,
        per_category=Counter(c.category for c in winners),
        per_org=Counter(c.organization for c in winners if c.organization is not None),
    )
    notes = [_why_in(cut, c) for c in winners[-BORDERLINE_SIZE:]]
    notes += [_why_out(cut, c) for c in cut.others[:BORDERLINE_SIZE]]
    return tuple(notes)


def on_the_blended_score(message: str) -> str:
    """A reason's message id speaking of the blended score (a ranking by the blend of experts, panel
    and public): "score 61.20 below ..." reads "blended score 61.20 below ..."."""
    return (
        message.replace("score %(mine)s", "blended score %(mine)s")
        .replace("its score", "its blended score")
        .replace("tied at", "tied on the blended score at")
    )


def borderline_json(notes: Sequence[BorderlineNote], *, blended: bool = False) -> list[dict[str, object]]:
    """The borderline as stored with a decision and printed by the CLI (``blended``: the reasons speak
    of the blended score)."""
    stored = []
    for note in notes:
        message = on_the_blended_score(note.message) if blended else note.message
        params = dict(note.params)
        stored.append(
            {
                "entry_id": note.entry_id,
                "selected": note.selected,
                "rank": note.rank,
                "score": note.score,
                "reason": message % params if params else message,
                "message": message,
                "params": params,
            }
        )
    return stored
