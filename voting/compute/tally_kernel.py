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
        paid = 0.0
        poor = 0
        total = 0.0
        lowest = np.inf
        if uniform > 0.0:
            # Same utility for every supporter (approval ballots): fewer memory reads.
            share = rho * uniform
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
            weight = total_u - poor_w * uniform
            lowest = low_v / uniform
        else:
            weight = total_u
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
    ev_i = np.empty(k, np.int64)
    ev_rho = np.empty(k)
    ev_err = np.empty(k)
    ev_exact = np.zeros(k, np.bool_)
    # A project none of whose supporters paid since its last evaluation keeps its price:
    # reuse it instead of recomputing (overlap[x, j]: projects x and j share a supporter).
    fresh = np.zeros(k, np.bool_)
    c_code = np.zeros(k, np.int64)
    c_rho = np.zeros(k)
    c_err = np.zeros(k)
    c_exact = np.zeros(k, np.bool_)
    while True:
        m = 0
        cand = np.empty(k, np.int64)
        for t in range(k):
            i = by_rank[t]
            if alive[i]:
                cand[m] = i
                m += 1
        cand = cand[:m]
        order = cand[np.argsort(lower[cand], kind="mergesort")]
        if n_forced >= 0:
            if n_sel == n_forced:
                for i in order:
                    total = 0.0
                    for j in range(ptr[i], ptr[i + 1]):
                        total += w[j] * val[grp[j]]
                    if total >= costs[i] - err_rel * (scale + costs[i]):
                        return NOT_CERTIFIED, n_sel
                return CERTIFIED, n_sel
            win = forced_sel[n_sel]
            rho_low = forced_rec[n_sel, 0]
            err_low = forced_rec[n_sel, 1]
            exact_low = forced_rec[n_sel, 2] > 0.5
            for i in order:
                if i == win:
                    continue
                if lower[i] > rho_low + err_low:
                    break
                if fresh[i]:
                    code, rho, err, exact = c_code[i], c_rho[i], c_err[i], c_exact[i]
                else:
                    code, rho, err, exact = _evaluate(
                        i,
                        ptr,
                        grp,
                        w,
                        u,
                        wu,
                        val,
                        costs[i],
                        total_u[i],
                        lower[i],
                        scale,
                        err_rel,
                        uniform[i],
                    )
                    fresh[i] = True
                    c_code[i], c_rho[i], c_err[i], c_exact[i] = code, rho, err, exact
                if code == _UNAFFORDABLE:
                    alive[i] = False
                    continue
                if code == _CLOSE:
                    return NOT_CERTIFIED, n_sel
                lower[i] = rho - err
                if rho - err > rho_low + err_low:
                    continue
                if exact and exact_low and exact_order[i] > exact_order[win]:
                    continue
                return NOT_CERTIFIED, n_sel
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
                return NOT_CERTIFIED, n_sel
        else:
            if n_sel < hint.shape[0] and alive[hint[n_sel]]:
                # The project a neighbouring pass bought in this round usually wins again:
                # price it first, so that most others need only the one-sweep test below.
                h = hint[n_sel]
                rest = order[order != h]
                order = np.empty(m, np.int64)
                order[0] = h
                order[1:] = rest
            best = np.inf
            best_err = 0.0
            n_ev = 0
            for i in order:
                if lower[i] > best + best_err:
                    break
                if not fresh[i] and n_ev > 0:
                    # One sweep at the best price so far settles most projects: if its
                    # supporters cannot raise the cost even at that price, it loses this
                    # round; the Newton step from there is a better lower bound for later.
                    loses, bound = _loses_at(
                        i,
                        ptr,
                        grp,
                        w,
                        u,
                        val,
                        costs[i],
                        total_u[i],
                        best + best_err,
                        scale,
                        err_rel,
                    )
                    if loses:
                        if bound > lower[i]:
                            lower[i] = bound
                        continue
                if fresh[i]:
                    code, rho, err, exact = c_code[i], c_rho[i], c_err[i], c_exact[i]
                else:
                    code, rho, err, exact = _evaluate(
                        i,
                        ptr,
                        grp,
                        w,
                        u,
                        wu,
                        val,
                        costs[i],
                        total_u[i],
                        lower[i],
                        scale,
                        err_rel,
                        uniform[i],
                    )
                    fresh[i] = True
                    c_code[i], c_rho[i], c_err[i], c_exact[i] = code, rho, err, exact
                if code == _UNAFFORDABLE:
                    alive[i] = False
                    continue
                if code == _CLOSE:
                    return UNCERTAIN, n_sel
                lower[i] = rho - err
                ev_i[n_ev] = i
                ev_rho[n_ev] = rho
                ev_err[n_ev] = err
                ev_exact[n_ev] = exact
                n_ev += 1
                if rho < best:
                    best = rho
                    best_err = err
            if n_ev == 0:
                return DONE, n_sel
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
                    return UNCERTAIN, n_sel
                top = pick
            win = ev_i[top]
            rho = ev_rho[top]
            err = ev_err[top]
            exact = ev_exact[top]
        # Buy: every supporter pays min(budget, rho * utility).
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
