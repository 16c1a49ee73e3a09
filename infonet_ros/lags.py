"""Time-delayed MI: which stream leads, and by how much.

For a pair (x, y) and a lag of ``l`` samples, the lagged MI is I(x(t - l); y(t)) over the
N grid times t of a window: positive ``l`` pairs y with x's past (x leads y), negative
``l`` pairs x with y's past (y leads x). The aligner keeps ``L`` samples of history before
each window (``Window.history``), so every lagged pair has the full N samples.

All (pair, lag) rows of a window go through the estimator in ONE ``estimate_batch`` call
(:func:`lagged_rows` stacks them); :func:`best_lags` picks the peak per pair and decides
whether the pair is *directed*:

    directed  <=>  the peak is at a lag l != 0  and  MI(l) - MI(0) > margin

where the margin is the spread of the largest of M lagged estimates at independence for
autocorrelated streams (:func:`lag_margin`): ``q / (2 N_eff)`` nats, with q the
chi-square(1) quantile at 1 - 0.05 / M (Bonferroni over the M scanned lags) and
``N_eff = N (1 - a_x a_y) / (1 + a_x a_y)`` (Bartlett's variance of a correlation between
two AR(1) series with lag-1 autocorrelations a_x, a_y). It is the Gaussian approximation
MI ~ r^2 / 2 of the null; measured, six independent AR(1) (phi 0.9) pairs at N = 512 peak
at 0.04-0.07 nats somewhere in +-0.4 s, against a margin of ~0.1. With an interval
read-out (``estimate_interval_batch``: InfoNet) the two 90 % intervals must also not
overlap (the peak's 5 % quantile above the zero-lag value's 95 % quantile). Those
intervals assume i.i.d. samples, so the pipeline first widens each about its median by
sqrt(N / N_eff) (a spread that shrinks like 1 / sqrt(N) at N_eff samples): unwidened, the
read-out's peak over 41 lags of independent AR(1) pairs (phi 0.9, N = 512, N_eff ~ 54)
reached 0.06-0.12 nats with intervals clear of lag 0's. The edge then
points from the leader to the follower. Plain numpy; the pipeline calls it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ['LagScan', 'best_lags', 'effective_n', 'lag_margin', 'lagged_rows']

DIRECTION_ALPHA = 0.05   # family-wise level of "the peak is not a fluke of one of M lags"


def effective_n(x: np.ndarray, y: np.ndarray) -> float:
    """Bartlett's effective sample size of a pair x, y [N] of AR(1)-like series:
    N (1 - a_x a_y) / (1 + a_x a_y), a = lag-1 autocorrelations (at least 2)."""
    def lag1(v):
        v = v - v.mean()
        den = float(v @ v)
        return float(v[1:] @ v[:-1]) / den if den > 0 else 0.0

    a = float(np.clip(lag1(np.asarray(x, float)) * lag1(np.asarray(y, float)), -0.99, 0.99))
    return max(len(x) * (1 - a) / (1 + a), 2.0)


def lag_margin(x: np.ndarray, y: np.ndarray, n_lags: int, alpha: float = DIRECTION_ALPHA
               ) -> float:
    """Nats by which a lagged MI peak must exceed the zero-lag MI to count as a direction:
    the (1 - alpha / n_lags) null quantile of one lagged estimate, ``q / (2 N_eff)``, for
    the pair's samples x, y [N] (their lag-1 autocorrelations set N_eff; see module doc)."""
    from scipy.stats import chi2
    return float(chi2.isf(alpha / max(n_lags, 1), 1)) / (2 * effective_n(x, y))


def lagged_rows(extended: np.ndarray, n: int, pairs, lags) -> tuple[np.ndarray, np.ndarray]:
    """Rows of every (pair, lag): ``extended`` [L + N, K] (history then window), ``n`` = N,
    column ``pairs`` [(i, j), ...], ``lags`` (samples, each |l| <= L) ->
    ``xs, ys`` [P * len(lags), N], pair-major (row ``p * len(lags) + m`` is pair p, lag m).
    """
    big = extended.shape[0] - n
    lags = [int(l) for l in lags]
    if big < 0 or any(abs(l) > big for l in lags):
        raise ValueError(f'lags {min(lags)}..{max(lags)} need {max(map(abs, lags))} samples '
                         f'of history; the window has {max(big, 0)}')
    xs = np.empty((len(pairs) * len(lags), n))
    ys = np.empty_like(xs)
    r = 0
    for i, j in pairs:
        for l in lags:
            xs[r] = extended[big - max(l, 0): big - max(l, 0) + n, i]
            ys[r] = extended[big + min(l, 0): big + min(l, 0) + n, j]
            r += 1
    return xs, ys


@dataclass
class LagScan:
    """Lag scan of P pairs; lags in seconds, positive: the pair's first stream leads."""

    lags_s: np.ndarray        # [M] scanned lags, s
    mi_by_lag: np.ndarray     # [P, M] nats
    best_lag_s: np.ndarray    # [P] lag of the peak, s
    mi_best: np.ndarray       # [P] MI at the peak, nats (>= the zero-lag MI)
    mi_zero: np.ndarray       # [P] zero-lag MI, nats
    directed: np.ndarray      # [P] bool: peak at a lag != 0 by more than the spread


def best_lags(mi_by_lag: np.ndarray, lags, sample_rate_hz: float,
              margin_nats=0.0, low_best: np.ndarray | None = None,
              high_zero: np.ndarray | None = None) -> LagScan:
    """Peak per pair of ``mi_by_lag`` [P, M] over ``lags`` (samples, 0 among them).

    Directed: the peak is at a lag != 0 and exceeds the zero-lag MI by more than
    ``margin_nats`` (scalar or [P], :func:`lag_margin`) and, when given, ``low_best`` /
    ``high_zero`` [P] (the 5 % quantile at the peak, the 95 % quantile at lag 0, from an
    interval read-out) do not overlap. Ties at the peak go to the smallest |lag| (no
    direction claimed from a flat profile).
    """
    mi_by_lag = np.asarray(mi_by_lag, dtype=np.float64)
    lags = np.asarray(lags, dtype=np.int64)
    zero = int(np.flatnonzero(lags == 0)[0])
    # smallest |lag| first, so argmax keeps the zero/shortest lag on ties
    order = np.argsort(np.abs(lags), kind='stable')
    scores = np.where(np.isfinite(mi_by_lag), mi_by_lag, -np.inf)[:, order]
    best = order[np.argmax(scores, axis=1)] if len(mi_by_lag) else np.zeros(0, np.int64)
    rows = np.arange(len(mi_by_lag))
    mi_best = mi_by_lag[rows, best]
    mi_zero = mi_by_lag[:, zero]
    clear = mi_best - mi_zero > np.asarray(margin_nats, dtype=np.float64)
    if low_best is not None and high_zero is not None:
        clear &= np.asarray(low_best) > np.asarray(high_zero)
    directed = (lags[best] != 0) & clear & np.isfinite(mi_best)
    return LagScan(lags_s=lags / sample_rate_hz, mi_by_lag=mi_by_lag,
                   best_lag_s=lags[best] / sample_rate_hz, mi_best=mi_best, mi_zero=mi_zero,
                   directed=directed)
