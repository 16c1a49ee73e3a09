"""Sliced MI between vector streams, and an independence test that works at d = 128.

A vector stream (``streams.<name>.field`` a list or a slice, e.g. Imu angular_velocity
x/y/z) is one graph node with D components. Between two such nodes (or a vector and a
scalar) the pipeline reports the *sliced MI* (Goldfeld & Greenewald 2021)::

    SMI(X; Y) = E_{theta, phi} I(theta' X; phi' Y)      theta, phi uniform on the spheres

estimated with K seeded random projection pairs (:func:`projections`), each 1-D pair
copula-ranked and estimated by InfoNet, all K rows of all vector pairs in the window's one
``estimate_batch`` call, averaged (:func:`sliced_rows`; nats).

Detection needs more than that mean. Measured (bench/independence.py,
bench/results/independence.md): against the published test (X ~ N(0, I_d),
Y = (1'X / sqrt(d) 1 + Z) / sqrt(2)) the dependence seen by one random slice at d = 128 is
rho^2 ~ 0.3 / d, i.e. ~0.001 nats, while InfoNet's slice estimates at independence sit at
0.06 / 0.02 nats (N = 100 / 250) and their mean over 128 slices varies between data sets
by 3-5x the shift the dependence adds: the mean over slices is dominated by InfoNet's own
small-sample noise, so its ROC-AUC stays at 0.60-0.70 for N = 50-300 (the issue's
0.73 -> 0.67 "decline" is within the +-0.04 sampling error of 100 + 100 sets). The maximum
over slices is worse still (the signal is spread over all slices, the noise max grows).

The detection statistic here is therefore the mean over the same slices of the Gaussian
copula MI of the slice, ``-0.5 log(1 - r^2)`` with ``r`` the correlation of the normal
scores of the ranks InfoNet sees (:func:`gaussian_copula_mi`): the likelihood-ratio
statistic for weak monotone dependence, whose null spread is ~1/N per slice. Its p-value
comes from a permutation null that costs no estimator call: the normal scores of each slice
do not change when Y's samples are permuted, only their pairing does
(:func:`sliced_test`). :func:`sliced_null_quantiles` gives the statistic's null quantiles
for independent Gaussian data by seeded simulation, for a calibration table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

__all__ = ['SlicedTest', 'gaussian_copula_mi', 'normal_scores', 'projections',
           'sliced_null_quantiles', 'sliced_rows', 'sliced_test']


def projections(dx: int, dy: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded unit directions: theta [dx, k], phi [dy, k] (as ``estimate_sliced`` draws them).

    A 1-D side gets the direction 1 for every slice.
    """
    if k < 1:
        raise ValueError(f'the number of projections must be >= 1, got {k}')
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal((dx, k))
    phi = rng.standard_normal((dy, k))
    theta /= np.linalg.norm(theta, axis=0, keepdims=True)
    phi /= np.linalg.norm(phi, axis=0, keepdims=True)
    return np.sign(theta) if dx == 1 else theta, np.sign(phi) if dy == 1 else phi


def sliced_rows(X: np.ndarray, Y: np.ndarray, k: int, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray]:
    """X [N, dx], Y [N, dy] -> the K projected pairs xs, ys [K, N]. Components are
    standardised first (the slices should not be dominated by the component with the
    largest unit, e.g. rad/s against m/s^2); a constant component stays 0."""
    X, Y = _standardise(X), _standardise(Y)
    theta, phi = projections(X.shape[1], Y.shape[1], k, seed)
    return (X @ theta).T.copy(), (Y @ phi).T.copy()


def normal_scores(rows: np.ndarray) -> np.ndarray:
    """rows [R, N] -> normal scores Phi^-1(rank / (N + 1)) [R, N], ties broken by order."""
    n = rows.shape[-1]
    ranks = np.argsort(np.argsort(rows, axis=-1, kind='stable'), axis=-1) + 1
    z = ndtri(ranks / (n + 1.0))
    return (z - z.mean(-1, keepdims=True)) / z.std(-1, keepdims=True)


def gaussian_copula_mi(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Gaussian-copula MI per row, nats: xs, ys [R, N] -> -0.5 log(1 - r^2) [R], with r the
    correlation of the rows' normal scores."""
    zx, zy = normal_scores(np.atleast_2d(xs)), normal_scores(np.atleast_2d(ys))
    r = np.clip((zx * zy).mean(-1), -0.999999, 0.999999)
    return -0.5 * np.log1p(-r * r)


@dataclass
class SlicedTest:
    """Independence test of one vector pair from its K slices."""

    statistic: float      # mean Gaussian-copula MI over the slices, nats
    p_value: float        # permutation p-value, (1 + #null >= statistic) / (1 + permutations)


def sliced_test(xs: np.ndarray, ys: np.ndarray, permutations: int = 200, seed: int = 0
                ) -> SlicedTest:
    """Test of X independent of Y from its slices xs, ys [K, N] (:func:`sliced_rows`).

    The null permutes the samples of Y against those of X, the same permutation for every
    slice (that is what independence of the vectors means); exact for i.i.d. samples. For
    autocorrelated streams it is liberal, as every sample-permutation test is: the caller
    must account for the effective sample size (issue 13, significance).
    """
    zx, zy = normal_scores(xs), normal_scores(ys)
    n = zx.shape[1]

    def stat(zy_):
        r = np.clip((zx * zy_).mean(-1), -0.999999, 0.999999)
        return float(np.mean(-0.5 * np.log1p(-r * r)))

    observed = stat(zy)
    rng = np.random.default_rng(seed)
    null = np.array([stat(zy[:, rng.permutation(n)]) for _ in range(permutations)])
    return SlicedTest(statistic=observed,
                      p_value=float((1 + np.sum(null >= observed)) / (1 + permutations)))


def sliced_null_quantiles(n: int, dx: int, dy: int, k: int = 64,
                          quantiles=(0.5, 0.9, 0.95, 0.99), simulations: int = 500,
                          seed: int = 0) -> dict[float, float]:
    """Null quantiles (nats) of the sliced statistic of :func:`sliced_test` for independent
    X ~ N(0, I_dx), Y ~ N(0, I_dy) i.i.d., N samples, K slices: seeded simulation.

    Being rank-based, the statistic's null hardly depends on the marginals; it does depend
    on N, K and the dimensions (through how correlated the K slices are), hence the
    arguments. For autocorrelated streams use an effective N (smaller).
    """
    if n < 4 or dx < 1 or dy < 1:
        raise ValueError(f'need n >= 4 and dimensions >= 1, got n={n}, dx={dx}, dy={dy}')
    rng = np.random.default_rng(seed)
    out = np.empty(simulations)
    for s in range(simulations):
        xs, ys = sliced_rows(rng.standard_normal((n, dx)), rng.standard_normal((n, dy)), k,
                             seed=seed + 1 + s)
        out[s] = float(np.mean(gaussian_copula_mi(xs, ys)))
    return {float(q): float(np.quantile(out, q)) for q in quantiles}


def _standardise(A: np.ndarray) -> np.ndarray:
    A = np.asarray(A, dtype=np.float64)
    A = A[:, None] if A.ndim == 1 else A
    sd = A.std(axis=0)
    return (A - A.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
