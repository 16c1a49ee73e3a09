"""Prewhitened, lagged significance: a p-value per pair that autocorrelation cannot fool.

The null table of ``significance.py`` reads a pair's estimate against independent pairs
with the same window size and a similar autocorrelation factor (B2). One number cannot
order every autocorrelation shape (docs/SIGNIFICANCE.md): AR(1) streams come out
conservative, smooth (low-passed) streams liberal. Robot signals are smooth, and on
smooth streams zero-lag MI of 5 s carries little independent information, so the
calibrated graph keeps almost no edges.

Prewhitening removes the problem at its root (Box-Jenkins; Haugh 1976, "Checking the
independence of two covariance-stationary time series"): each stream of the window is
replaced by its *innovations*, the residuals of a low-order autoregressive model fitted by
least squares to its standardised values (order per stream by AIC up to ``MAX_ORDER``),
turned into normal scores with ties broken at random. Two independent streams have
independent innovations, and innovations are (nearly) white, so

- their MI estimates follow the white null (the table's B2 ~ 1 group) whatever the
  streams' autocorrelation (for a rank-based estimator, one white side is enough: the
  pairing is then a random permutation); B2 of the innovations is still passed, so what
  the AR model leaves is still accounted for; and
- a dependence through a dynamic system (a command driving a joint a few samples later)
  shows as a sharp peak of the innovations' cross-dependence at the transfer delay,
  where the raw streams' MI is smeared over seconds.

The model is fitted to the values, not to their normal scores: the rank transform of one
window is a non-linear map of a smooth stream, and the AR residuals of the mapped stream
are heteroscedastic (their variance follows the slow level), which made independent smooth
streams (twice low-passed) 0.07-0.09 liberal at alpha 0.05 (bench/significance.py,
variant ``scores=True``).

Per pair the innovations' MI is estimated at the lags ``-L .. L`` (``lags.lagged_rows``:
all (pair, lag) rows of a window in one ``estimate_batch`` call), each lag gets its table
p-value, and the pair's p-value is the Sidak-corrected smallest one,
``1 - (1 - min p)^(2L + 1)`` (the lagged estimates of white innovations are nearly
independent at independence). The published MI (zero lag, of the raw streams) does not
change; only ``p_value``, and with it the fdr graph.

Plain numpy; ``pipeline.MIPipeline`` calls :func:`prewhitened_p_values`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ['MAX_ORDER', 'ar_innovations', 'prewhitened_p_values', 'sidak']

MAX_ORDER = 10         # largest AR order fitted per stream
MIN_ROWS = 32          # innovations rows a lagged test needs (the estimators' minimum)


def ar_innovations(data: np.ndarray, max_order: int = MAX_ORDER, scores: bool = False,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Innovations of each column of a window: [N, K] -> (innovations [N - p_max, K],
    AR order chosen per column [K]), p_max = min(max_order, (N - 32) / 4).

    Each column is standardised (``scores``: replaced by the normal scores of its ranks
    instead, the rejected variant), then AR(p) models are fitted by least squares for
    p = 0 .. p_max on the same rows (t >= p_max; one QR gives every nested fit), and the
    p with the smallest AIC, ``n log(rss / n) + 2 p``, gives the residuals, which are
    returned as normal scores of their ranks with ties broken at random (``untie``,
    seeded by ``seed``). Constant columns give scores of a random order. Rows are
    time-aligned across columns (row r is time ``p_max + r``).
    """
    from infonet_ros.significance import normal_scores
    data = np.asarray(data, dtype=np.float64)
    n, k = data.shape
    p_max = int(max(0, min(max_order, (n - MIN_ROWS) // 4)))
    rows = n - p_max
    if scores:
        z = normal_scores(data.T)                                  # [K, N]
    else:
        sd = data.std(axis=0)
        z = ((data - data.mean(axis=0)) / np.where(sd > 0, sd, 1.0)).T
    out = np.zeros((rows, k))
    orders = np.zeros(k, dtype=np.int64)
    for c in range(k):
        if np.ptp(data[:, c]) == 0:
            continue
        y = z[c, p_max:]
        # design: lags 1..p_max of the scores, rows t = p_max .. n-1
        lagged = np.column_stack([z[c, p_max - j: n - j] for j in range(1, p_max + 1)]) \
            if p_max else np.zeros((rows, 0))
        best, best_aic, best_res = 0, rows * math.log(max(float(y @ y) / rows, 1e-300)), y
        # one QR of the full design gives every nested fit: the residual of order p is
        # y minus its projection on the first p columns
        if p_max:
            q, r = np.linalg.qr(lagged)
            ok = np.abs(np.diag(r)) > 1e-10 * max(np.abs(np.diag(r)).max(), 1e-300)
            coef = q.T @ y
            res = y.copy()
            for p in range(1, p_max + 1):
                if not ok[p - 1]:
                    break
                res = res - coef[p - 1] * q[:, p - 1]
                aic = rows * math.log(max(float(res @ res) / rows, 1e-300)) + 2 * p
                if aic < best_aic:
                    best, best_aic, best_res = p, aic, res.copy()
        orders[c] = best
        out[:, c] = best_res
    return untie(out, seed), orders


def untie(rows: np.ndarray, seed: int = 0) -> np.ndarray:
    """Normal scores of the ranks of each column [n, K], ties broken at random (seeded):
    the innovations of a discrete stream are discrete, and a random order within a tie
    keeps independence while the estimator sees a continuous sample."""
    from scipy.special import ndtri
    rng = np.random.default_rng(seed)
    n = rows.shape[0]
    jitter = rng.random(rows.shape)
    order = np.lexsort((jitter, rows), axis=0)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(n)[:, None].repeat(rows.shape[1], 1), axis=0)
    return ndtri((ranks + 0.5) / n)


def sidak(p_min: np.ndarray, m: int) -> np.ndarray:
    """Sidak correction of the smallest of m independent p-values: 1 - (1 - p)^m
    (computed stably for small p), [P] -> [P]."""
    p_min = np.asarray(p_min, dtype=np.float64)
    return -np.expm1(m * np.log1p(-np.clip(p_min, 0.0, 1.0 - 1e-16)))


def prewhitened_p_values(estimate_rows, null, data: np.ndarray, pairs, max_lag: int,
                         max_order: int = MAX_ORDER, scores: bool = False) -> np.ndarray:
    """p-values [P] of the column ``pairs`` of a window ``data`` [N, K] from the MI of their
    innovations at lags ``-max_lag .. max_lag`` samples, Sidak-combined over the lags.

    ``estimate_rows(xs [R, n], ys [R, n]) -> MI [R]`` (nats) is the published estimator's
    batched call (one call for all pairs and lags); ``null`` the estimator's
    ``significance.NullTable``. Each lagged row has ``n = N - max_order - max_lag``
    samples; its p-value is read at (n, B2 of the pair's innovations). Pairs with a
    constant stream get p = 1, non-finite estimates NaN.
    """
    from infonet_ros.lags import lagged_rows
    from infonet_ros.significance import bartlett_factors
    pairs = [(int(i), int(j)) for i, j in pairs]
    if not pairs:
        return np.zeros(0)
    innov, _ = ar_innovations(data, max_order, scores)
    rows = innov.shape[0]
    max_lag = int(max(0, min(max_lag, (rows - MIN_ROWS) // 2)))
    n = rows - max_lag
    lags = list(range(-max_lag, max_lag + 1))
    xs, ys = lagged_rows(innov, n, pairs, lags)                # [P * M, n]
    mi = np.asarray(estimate_rows(xs, ys), dtype=np.float64).reshape(len(pairs), len(lags))
    _, b2 = bartlett_factors(innov, pairs)                     # [P]
    p_lag = null.p_values(mi.reshape(-1), n, np.repeat(b2, len(lags))).reshape(mi.shape)
    p = sidak(np.min(np.where(np.isfinite(p_lag), p_lag, 1.0), axis=1), len(lags))
    p[~np.all(np.isfinite(mi), axis=1)] = np.nan
    constant = np.ptp(np.asarray(data, dtype=np.float64), axis=0) == 0
    p[[bool(constant[i] or constant[j]) for i, j in pairs]] = 1.0
    return p
