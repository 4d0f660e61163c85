"""Score calibration for the AI 50 Challenge (pure: plain data in, plain data out).

Three methods, shown side by side to officials (see docs/judging.md):

* ``mean``: the raw mean of an entry's scores.
* ``zscore``: each judge's scores are standardized (their own mean 0, spread 1), averaged per
  entry, and mapped back onto the sheet's overall mean and spread so the numbers stay readable.
* ``additive`` (default): ``score = m_entry + b_judge + noise``, fitted by least squares per
  connected component of the judge-entry graph, optionally with a ridge penalty on the offsets.
  Identifiability: within each component the judge offsets sum to zero, so an entry's calibrated
  score is "what an average judge of this pool would have given". A ridge penalty
  ``lambda * sum(b^2)`` yields the same convention by itself and shrinks offsets of judges with few
  reviews towards zero.

Calibrated scores are rounded to ``SCORE_DECIMALS`` decimals so floating-point noise from the solve
never decides a tie; the tie-break chain in ``selection`` takes over instead.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

METHODS = ("additive", "zscore", "mean")
DEFAULT_METHOD = "additive"
SCORE_DECIMALS = 6


class CalibrationError(ValueError):
    """The reviews cannot be calibrated (empty, duplicated or non-finite scores)."""


@dataclass(frozen=True)
class Review:
    """One judge's weighted rubric total for one entry."""

    entry_id: Hashable
    judge_id: Hashable
    score: float


@dataclass(frozen=True)
class CalibratedEntry:
    """An entry's calibrated score next to its raw figures.

    ``disagreement`` is the population standard deviation of the judges' scores after the method's
    adjustment (raw scores for ``mean``; offset-corrected scores for ``additive``; z-scores mapped
    back to the score scale for ``zscore``); 0 for a single review.
    """

    entry_id: Hashable
    score: float
    raw_mean: float
    disagreement: float
    reviews: int
    raw_scores: tuple[float, ...]
    component: int


@dataclass(frozen=True)
class Calibration:
    """The result of one method: per-entry scores, per-judge offsets and the graph's components."""

    method: str
    entries: dict[Hashable, CalibratedEntry]
    judge_offsets: dict[Hashable, float]
    components: int


def _round(value: float) -> float:
    """Round to the published precision; ``+ 0.0`` turns -0.0 into 0.0 for stable output."""
    return round(float(value), SCORE_DECIMALS) + 0.0


def _as_reviews(reviews: Iterable[Review | tuple]) -> list[Review]:
    """Accept ``Review`` objects or ``(entry_id, judge_id, score)`` tuples; refuse bad data."""
    checked: list[Review] = []
    seen: set[tuple[Hashable, Hashable]] = set()
    for item in reviews:
        review = item if isinstance(item, Review) else Review(*item)
        score = float(review.score)
        if not math.isfinite(score):
            raise CalibrationError(
                f"entry {review.entry_id}, judge {review.judge_id}: score is not a number"
            )
        pair = (review.entry_id, review.judge_id)
        if pair in seen:
            raise CalibrationError(
                f"judge {review.judge_id} scored entry {review.entry_id} more than once"
            )
        seen.add(pair)
        checked.append(Review(review.entry_id, review.judge_id, score))
    if not checked:
        raise CalibrationError("no reviews to calibrate")
    return checked


def calibrate(
    reviews: Iterable[Review | tuple], method: str = DEFAULT_METHOD, ridge: float = 0.0
) -> Calibration:
    """Calibrate the reviews with one method (``additive``, ``zscore`` or ``mean``)."""
    if method not in METHODS:
        raise CalibrationError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if ridge < 0 or not math.isfinite(ridge):
        raise CalibrationError("ridge must be a non-negative number")
    # Sorted reviews and ids make the result independent of the input order, down to the last
    # bit of every floating-point sum, so a replayed sheet in any row order gives the same scores.
    checked = sorted(_as_reviews(reviews), key=lambda r: (r.entry_id, r.judge_id))
    entry_ids = sorted({r.entry_id for r in checked})
    judge_ids = sorted({r.judge_id for r in checked})
    entry_index = {e: i for i, e in enumerate(entry_ids)}
    judge_index = {j: i for i, j in enumerate(judge_ids)}
    rows = np.array([entry_index[r.entry_id] for r in checked], dtype=np.int64)
    cols = np.array([judge_index[r.judge_id] for r in checked], dtype=np.int64)
    scores = np.array([r.score for r in checked], dtype=float)

    n_entries, n_judges = len(entry_ids), len(judge_ids)
    graph = coo_matrix(
        (np.ones(len(rows)), (rows, n_entries + cols)),
        shape=(n_entries + n_judges, n_entries + n_judges),
    )
    n_components, labels = connected_components(graph, directed=False)

    if method == "mean":
        adjusted = scores.copy()
        offsets = np.zeros(n_judges)
    elif method == "zscore":
        adjusted, offsets = _zscore(scores, cols, n_judges)
    else:
        adjusted, offsets = _additive(scores, rows, cols, n_entries, n_judges, labels, ridge)

    counts = np.bincount(rows, minlength=n_entries).astype(float)
    raw_means = np.bincount(rows, weights=scores, minlength=n_entries) / counts
    means = np.bincount(rows, weights=adjusted, minlength=n_entries) / counts
    spread = np.sqrt(
        np.bincount(rows, weights=(adjusted - means[rows]) ** 2, minlength=n_entries) / counts
    )
    raw_by_entry: list[list[float]] = [[] for _ in entry_ids]
    for row, raw in zip(rows.tolist(), scores.tolist(), strict=True):
        raw_by_entry[row].append(raw)

    entries: dict[Hashable, CalibratedEntry] = {}
    for i, entry_id in enumerate(entry_ids):
        entries[entry_id] = CalibratedEntry(
            entry_id=entry_id,
            score=_round(means[i]),
            raw_mean=_round(raw_means[i]),
            disagreement=_round(spread[i]),
            reviews=int(counts[i]),
            raw_scores=tuple(sorted(raw_by_entry[i], reverse=True)),
            component=int(labels[i]),
        )
    judge_offsets = {j: _round(offsets[k]) for k, j in enumerate(judge_ids)}
    return Calibration(method, entries, judge_offsets, int(n_components))


def compare_methods(
    reviews: Iterable[Review | tuple], ridge: float = 0.0
) -> dict[str, Calibration]:
    """All three methods on the same reviews, for the side-by-side view."""
    checked = _as_reviews(reviews)
    return {method: calibrate(checked, method, ridge) for method in METHODS}


def _zscore(scores: np.ndarray, cols: np.ndarray, n_judges: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-judge z-scores mapped back to the sheet's scale; offsets are judge mean minus overall.

    A judge whose scores do not vary (or who scored once) carries no ranking information: their
    z-scores are 0, i.e. every entry they scored gets the overall mean from them.
    """
    counts = np.bincount(cols, minlength=n_judges).astype(float)
    judge_mean = np.bincount(cols, weights=scores, minlength=n_judges) / counts
    judge_var = np.bincount(cols, weights=(scores - judge_mean[cols]) ** 2, minlength=n_judges)
    judge_std = np.sqrt(judge_var / counts)
    grand_mean = float(scores.mean())
    grand_std = float(scores.std())
    spread = judge_std[cols]
    z = np.divide(
        scores - judge_mean[cols], spread, out=np.zeros_like(scores), where=spread > 1e-12
    )
    return grand_mean + grand_std * z, judge_mean - grand_mean


def _additive(
    scores: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    n_entries: int,
    n_judges: int,
    labels: np.ndarray,
    ridge: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Least squares for ``score = m_entry + b_judge``; returns offset-corrected scores and ``b``.

    The entry unknowns are eliminated (``m_i`` is the mean of ``s_ij - b_j`` over its judges),
    leaving a judges-by-judges system: ``(diag(n_j) + ridge - N' D^-1 N) b = T - N' D^-1 S``.
    Without ridge that matrix is singular once per component (shift every ``b`` in the component
    and every ``m`` the other way); adding ``1 1' / k`` per component picks the solution whose
    offsets sum to zero there, because the right-hand side sums to zero on each component.
    """
    entry_counts = np.bincount(rows, minlength=n_entries).astype(float)
    judge_counts = np.bincount(cols, minlength=n_judges).astype(float)
    entry_sums = np.bincount(rows, weights=scores, minlength=n_entries)
    judge_sums = np.bincount(cols, weights=scores, minlength=n_judges)

    incidence = np.zeros((n_entries, n_judges))
    incidence[rows, cols] = 1.0
    scaled = incidence / entry_counts[:, None]  # D^-1 N
    system = np.diag(judge_counts + ridge) - incidence.T @ scaled
    rhs = judge_sums - scaled.T @ entry_sums
    if ridge == 0.0:
        judge_labels = labels[n_entries:]
        for component in np.unique(judge_labels):
            members = np.flatnonzero(judge_labels == component)
            system[np.ix_(members, members)] += 1.0 / len(members)
    offsets = np.linalg.solve(system, rhs)
    return scores - offsets[cols], offsets


DEFAULT_MIN_REVIEWS = 3


def sparse_judges(reviews: Iterable[Review | tuple], min_reviews: int) -> dict[Hashable, int]:
    """Judges with fewer than ``min_reviews`` reviews, and how many they wrote.

    Their offsets rest on too few scores to say whether they are lenient or harsh, so officials see
    them flagged beside the calibration (HotCRP and OpenReview users ask for exactly this).
    """
    counts: dict[Hashable, int] = {}
    for item in reviews:
        review = item if isinstance(item, Review) else Review(*item)
        counts[review.judge_id] = counts.get(review.judge_id, 0) + 1
    return {j: n for j, n in sorted(counts.items(), key=lambda kv: str(kv[0])) if n < min_reviews}
