"""Compiled inner loop of the Method of Equal Shares (float64, numba), used by voting.compute.tally.

One call runs the rounds of one MES pass on flat arrays. Every decision it takes is checked
against a bound on float rounding error; when one is too close to call it stops with
``UNCERTAIN`` and voting.compute.tally redoes the pass with exact fractions. Ties between prices that
are known exactly (every supporter can pay an equal share: rho = cost / total satisfaction)
are settled with ``exact_order``, the rank of each project's exact price computed with
fractions beforehand.

Arrays (k candidate projects, supporters stored CSR-style):
    ptr[k+1], grp[nnz] (voter group), w[nnz] (voters in it), u[nnz] (utility), wu = w * u;
    costs[k], total_u[k] (sum of w * u), rank[k] (tie-break rank), exact_order[k];
    val[groups] budgets (mutated), lower[k] lower bounds on rho (mutated), alive[k] (mutated).
"""

from __future__ import annotations

import numpy as np
from numba import njit

DONE, UNCERTAIN, CERTIFIED, NOT_CERTIFIED = 0, 1, 3, 4
_OK, _UNAFFORDABLE, _CLOSE = 0, 1, 2
_BUY = -1  # a round found its winner: buy it (never returned by mes_rounds)


@njit(cache=True, inline="always")
def _sweep(s, e, grp, w, u, wu, val, rho, total_u, first):  # pragma: no cover
    """One pass over a project's supporters at price rho: (paid by the poor, how many are poor,
    all their money if ``first``, the utility of those who pay a full share, their lowest budget per utility)."""
    paid = 0.0
    poor = 0
    total = 0.0
    weight = total_u
    lowest = np.inf
    for j in range(s, e):
        v = val[grp[j]]
        if first:
            total += w[j] * v
        if v < rho * u[j]:
            paid += w[j] * v
            weight -= wu[j]
            poor += 1
        else:
            ratio = v / u[j]
            if ratio < lowest:
                lowest = ratio
    return paid, poor, total, weight, lowest


@njit(cache=True, inline="always")
def _sweep_uniform(s, e, grp, w, val, share, uniform, total_u, first):  # pragma: no cover
    """``_sweep`` when every supporter has the same utility (approval ballots): fewer memory reads."""
    paid = 0.0
    poor = 0
    total = 0.0
    poor_w = 0.0
    low_v = np.inf
    for j in range(s, e):
        v = val[grp[j]]
        if first:
            total += w[j] * v
        if v < share:
            paid += w[j] * v
            poor_w += w[j]
            poor += 1
        elif v < low_v:
            low_v = v
    return paid, poor, total, total_u - poor_w * uniform, low_v / uniform


@njit(cache=True)
def _evaluate(
    i, ptr, grp, w, u, wu, val, cost, total_u, start, scale, err_rel, uniform_u
):  # pragma: no cover
    """Price per unit of utility (rho) of project i: (code, rho, error bound, exact?)."""
    s, e = ptr[i], ptr[i + 1]
    # Newton's method on f(rho) = sum w * min(budget, rho * u) = cost, from below: f is
    # concave and piecewise linear, so the iterates rise to the root and stop exactly when
    # the set of supporters who cannot pay a full share stops changing. Each sweep also
    # finds the lowest budget-per-utility among those who can pay: if the next iterate does
    # not reach it, nobody changes side and that iterate is the root (no extra sweep).
    # The first sweep also adds up all the supporters' money, to tell unaffordable projects.
    rho = max(start, cost / total_u)
    weight = total_u
    poor = 0
    first = True
    lowest = np.inf
    uniform = u[s] if e > s and uniform_u else 0.0
    for _ in range(100000):
        if uniform > 0.0:
            paid, poor, total, weight, lowest = _sweep_uniform(
                s, e, grp, w, val, rho * uniform, uniform, total_u, first
            )
        else:
            paid, poor, total, weight, lowest = _sweep(
                s, e, grp, w, u, wu, val, rho, total_u, first
            )
        if first:
            first = False
            tol = err_rel * (scale + cost)
            if total < cost - tol:
                return _UNAFFORDABLE, 0.0, 0.0, False
            if total <= cost + tol:
                return _CLOSE, 0.0, 0.0, False
        if weight <= 0.0:
            return _CLOSE, 0.0, 0.0, False
        new = (cost - paid) / weight
        if new <= rho or new <= lowest:
            rho = new
            break
        rho = new
    else:
        return _CLOSE, 0.0, 0.0, False
    err = err_rel * (scale / weight + rho)
    # Nobody short of a full share: the price is cost / total utility, known exactly.
    exact = poor == 0 and lowest > rho * (1.0 + 1e-9)
    return _OK, rho, err, exact


@njit(cache=True)
def _loses_at(i, ptr, grp, w, u, val, cost, total_u, rho, scale, err_rel):  # pragma: no cover
    """Whether project i's supporters raise less than its cost at price rho (clearly)."""
    paid = 0.0
    weight = total_u
    for j in range(ptr[i], ptr[i + 1]):
        v = val[grp[j]]
        share = rho * u[j]
        if v < share:
            paid += w[j] * v
            weight -= w[j] * u[j]
    raised = paid + rho * weight
    if raised < cost - err_rel * (scale + cost) and weight > 0.0:
        return True, (cost - paid) / weight
    return False, 0.0


# The round helpers below are inlined where they are called (numba IR), so reading the rounds in pieces
# costs no calls. Per round they take the kernel's arrays in tuples: sup = (ptr, grp, w, u, wu)
# (supporters), proj = (costs, total_u, uniform, exact_order), state = (val, lower, alive) (mutated),
# tol = (scale, err_rel), cache = (fresh, code, rho, err, exact) (prices kept between rounds); the
# per-project hot path (_priced, _evaluate) takes the arrays themselves.


@njit(cache=True, inline="always")
def _priced(
    i, ptr, grp, w, u, wu, costs, total_u, uniform, val, lower, alive, scale, err_rel, cache
):  # pragma: no cover
    """Project i's price (code, rho, error, exact?), reused while none of its supporters paid since it
    was last priced; an unaffordable project is dropped, a priced one's lower bound raised."""
    fresh, c_code, c_rho, c_err, c_exact = cache
    if fresh[i]:
        code, rho, err, exact = c_code[i], c_rho[i], c_err[i], c_exact[i]
    else:
        code, rho, err, exact = _evaluate(
            i, ptr, grp, w, u, wu, val, costs[i], total_u[i], lower[i], scale, err_rel, uniform[i]
        )
        fresh[i] = True
        c_code[i], c_rho[i], c_err[i], c_exact[i] = code, rho, err, exact
    if code == _UNAFFORDABLE:
        alive[i] = False
    elif code == _OK:
        lower[i] = rho - err
    return code, rho, err, exact


@njit(cache=True, inline="always")
def _by_lower_bound(by_rank, alive, lower):  # pragma: no cover
    """The projects still in the running, by lower bound on their price (ties in rank order)."""
    k = by_rank.shape[0]
    m = 0
    cand = np.empty(k, np.int64)
    for t in range(k):
        i = by_rank[t]
        if alive[i]:
            cand[m] = i
            m += 1
    cand = cand[:m]
    return cand[np.argsort(lower[cand], kind="mergesort")]


@njit(cache=True, inline="always")
def _leftovers_unaffordable(order, sup, costs, val, tol):  # pragma: no cover
    """Whether every project left is clearly beyond what its supporters have."""
    ptr, grp, w, _, _ = sup
    scale, err_rel = tol
    for i in order:
        total = 0.0
        for j in range(ptr[i], ptr[i + 1]):
            total += w[j] * val[grp[j]]
        if total >= costs[i] - err_rel * (scale + costs[i]):
            return False
    return True


@njit(cache=True, inline="always")
def _others_stay_dearer(order, win, low, sup, proj, state, tol, cache):  # pragma: no cover
    """Forced mode: whether every other project still costs more per unit than ``win`` did at the
    lower budget (``low`` = its rho, error and exact? recorded there)."""
    rho_low, err_low, exact_low = low
    ptr, grp, w, u, wu = sup
    costs, total_u, uniform, exact_order = proj
    val, lower, alive = state
    scale, err_rel = tol
    for i in order:
        if i == win:
            continue
        if lower[i] > rho_low + err_low:
            break
        code, rho, err, exact = _priced(
            i, ptr, grp, w, u, wu, costs, total_u, uniform, val, lower, alive, scale, err_rel, cache
        )
        if code == _UNAFFORDABLE:
            continue
        if code == _CLOSE:
            return False
        if rho - err > rho_low + err_low:
            continue
        if exact and exact_low and exact_order[i] > exact_order[win]:
            continue
        return False
    return True


@njit(cache=True, inline="always")
def _forced_round(order, n_sel, forced, sup, proj, state, tol, cache):  # pragma: no cover
    """Forced mode: (status, winner, rho, error, exact?); status _BUY to buy the next forced project."""
    forced_sel, forced_rec, n_forced = forced
    if n_sel == n_forced:
        if _leftovers_unaffordable(order, sup, proj[0], state[0], tol):
            return CERTIFIED, -1, 0.0, 0.0, False
        return NOT_CERTIFIED, -1, 0.0, 0.0, False
    win = forced_sel[n_sel]
    low = (forced_rec[n_sel, 0], forced_rec[n_sel, 1], forced_rec[n_sel, 2] > 0.5)
    if not _others_stay_dearer(order, win, low, sup, proj, state, tol, cache):
        return NOT_CERTIFIED, -1, 0.0, 0.0, False
    ptr, grp, w, u, wu = sup
    costs, total_u, uniform, _ = proj
    val, lower, _ = state
    scale, err_rel = tol
    code, rho, err, exact = _evaluate(
        win,
        ptr,
        grp,
        w,
        u,
        wu,
        val,
        costs[win],
        total_u[win],
        lower[win],
        scale,
        err_rel,
        uniform[win],
    )
    if code != _OK:
        return NOT_CERTIFIED, -1, 0.0, 0.0, False
    return _BUY, win, rho, err, exact


@njit(cache=True, inline="always")
def _hint_first(order, h):  # pragma: no cover
    """``order`` with project h moved to the front."""
    rest = order[order != h]
    moved = np.empty(order.shape[0], np.int64)
    moved[0] = h
    moved[1:] = rest
    return moved


@njit(cache=True, inline="always")
def _pick(ev, n_ev, exact_order):  # pragma: no cover
    """The round's winner among the priced projects (its index in ``ev``), or -1 if too close to call."""
    ev_i, ev_rho, ev_err, ev_exact = ev
    top = 0
    for q in range(1, n_ev):
        if ev_rho[q] < ev_rho[top]:
            top = q
    near = 0
    all_exact = True
    pick = top
    for q in range(n_ev):
        if ev_rho[q] - ev_err[q] <= ev_rho[top] + ev_err[top]:
            near += 1
            if not ev_exact[q]:
                all_exact = False
            elif exact_order[ev_i[q]] < exact_order[ev_i[pick]]:
                pick = q
    if near > 1:
        if not all_exact:
            return -1
        top = pick
    return top


@njit(cache=True, inline="always")
def _open_round(order, n_sel, hint, sup, proj, state, tol, cache, ev):  # pragma: no cover
    """Normal mode: (status, winner, rho, error, exact?); status _BUY to buy the cheapest project."""
    if n_sel < hint.shape[0] and state[2][hint[n_sel]]:
        # The project a neighbouring pass bought in this round usually wins again:
        # price it first, so that most others need only the one-sweep test.
        order = _hint_first(order, hint[n_sel])
    ev_i, ev_rho, ev_err, ev_exact = ev
    ptr, grp, w, u, wu = sup
    costs, total_u, uniform, _ = proj
    val, lower, alive = state
    scale, err_rel = tol
    fresh = cache[0]
    best = np.inf
    best_err = 0.0
    n_ev = 0
    for i in order:
        if lower[i] > best + best_err:
            break
        if not fresh[i] and n_ev > 0:
            # One sweep at the best price so far settles most projects: if its supporters cannot
            # raise the cost even at that price, it loses this round; the Newton step from there
            # is a better lower bound for later.
            loses, bound = _loses_at(
                i, ptr, grp, w, u, val, costs[i], total_u[i], best + best_err, scale, err_rel
            )
            if loses:
                if bound > lower[i]:
                    lower[i] = bound
                continue
        code, rho, err, exact = _priced(
            i, ptr, grp, w, u, wu, costs, total_u, uniform, val, lower, alive, scale, err_rel, cache
        )
        if code == _UNAFFORDABLE:
            continue
        if code == _CLOSE:
            return UNCERTAIN, -1, 0.0, 0.0, False
        ev_i[n_ev], ev_rho[n_ev], ev_err[n_ev], ev_exact[n_ev] = i, rho, err, exact
        n_ev += 1
        if rho < best:
            best = rho
            best_err = err
    if n_ev == 0:
        return DONE, -1, 0.0, 0.0, False
    top = _pick(ev, n_ev, proj[3])
    if top < 0:
        return UNCERTAIN, -1, 0.0, 0.0, False
    return _BUY, ev_i[top], ev_rho[top], ev_err[top], ev_exact[top]


@njit(cache=True, inline="always")
def _buy(win, rho, sup, val):  # pragma: no cover
    """Every supporter of ``win`` pays min(budget, rho * utility): (largest payment, voters who paid all)."""
    ptr, grp, w, u, _ = sup
    largest = 0.0
    paid_all = 0.0
    for j in range(ptr[win], ptr[win + 1]):
        g = grp[j]
        v = val[g]
        share = rho * u[j]
        if v <= share:
            paid_all += w[j]
            pay = v
            val[g] = 0.0
        else:
            pay = share
            val[g] = v - share
        if pay > largest:
            largest = pay
    return largest, paid_all


@njit(cache=True)
def mes_rounds(
    ptr,
    grp,
    w,
    u,
    wu,
    costs,
    total_u,
    rank,
    exact_order,
    overlap,
    val,
    lower,
    alive,
    scale,
    err_rel,
    forced_sel,
    forced_rec,
    n_forced,
    sel,
    rec,
    uniform,
    hint,
):  # pragma: no cover
    """Run MES rounds; returns (status, rounds done).

    Normal mode (n_forced < 0): buy the cheapest project per unit of utility each round
    (``hint[r]``, the winner of round r in a neighbouring pass, is priced first),
    recording sel[r] and rec[r] = (rho, error, exact?, largest payment, voters who paid all).
    Forced mode: buy forced_sel in order and check that, at these (higher) budgets, every
    other project's rho stays above the rho recorded at the lower budget (forced_rec), and
    that the projects left stay unaffordable: CERTIFIED or NOT_CERTIFIED.
    """
    k = costs.shape[0]
    by_rank = np.argsort(rank)
    n_sel = 0
    sup = (ptr, grp, w, u, wu)
    proj = (costs, total_u, uniform, exact_order)
    state = (val, lower, alive)
    tol = (scale, err_rel)
    forced = (forced_sel, forced_rec, n_forced)
    # The projects priced this round: (project, rho, error, exact?).
    ev = (np.empty(k, np.int64), np.empty(k), np.empty(k), np.zeros(k, np.bool_))
    # A project none of whose supporters paid since its last evaluation keeps its price:
    # reuse it instead of recomputing (overlap[x, j]: projects x and j share a supporter).
    fresh = np.zeros(k, np.bool_)
    cache = (fresh, np.zeros(k, np.int64), np.zeros(k), np.zeros(k), np.zeros(k, np.bool_))
    while True:
        order = _by_lower_bound(by_rank, alive, lower)
        if n_forced >= 0:
            status, win, rho, err, exact = _forced_round(
                order, n_sel, forced, sup, proj, state, tol, cache
            )
        else:
            status, win, rho, err, exact = _open_round(
                order, n_sel, hint, sup, proj, state, tol, cache, ev
            )
        if status != _BUY:
            return status, n_sel
        largest, paid_all = _buy(win, rho, sup, val)
        for q in range(k):
            if overlap[win, q]:
                fresh[q] = False
        sel[n_sel] = win
        rec[n_sel, 0] = rho
        rec[n_sel, 1] = err
        rec[n_sel, 2] = 1.0 if exact else 0.0
        rec[n_sel, 3] = largest
        rec[n_sel, 4] = paid_all
        n_sel += 1
        alive[win] = False
