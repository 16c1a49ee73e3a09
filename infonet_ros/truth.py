"""A bank of bivariate distribution families with known mutual information (nats).

Used to train the supervised read-out (``infonet_ros.readout``) against ground truth.
Every distribution is a small object with ``family``, ``params``, ``mi`` (nats), ``ties``
(True when samples have repeated values: discrete or mixed discrete-continuous) and
``sample(n, rng) -> (x, y)`` (seeded numpy ``Generator``).

Ground truths:

* ``gauss``            rho                      -0.5 log(1 - rho^2)                (closed)
* ``additive_uniform`` X~U(0,1), Y=X+U(-e,e)    e - log 2e (e<=1/2), else 1/4e     (closed)
* ``student_t``        rho, dof                 tasks.student_t_mi                 (closed)
* ``gamma_exp``        X~Gamma(a), Y|X~Exp(X)   digamma(a+1) - log a               (closed)
* ``quantised_gauss``  Gaussian rho, both axes quantised to Lx, Ly cells:
                       exact sum over cells; cell probabilities by Gauss-Legendre
                       quadrature of phi(x) [Phi((d - rho x)/s) - Phi((c - rho x)/s)]
* ``sign_gauss``       X = sign(Z1), Y = rho Z1 + s Z2: I = log 2 - E_Y h_b(Phi(rho Y / s))
                       by a 1-D trapezoid integral
* ``clipped_gauss``    Gaussian rho, X saturated from below at cx, Y from above at cy
                       (mixed discrete-continuous): Monte Carlo of the exact log density
                       ratio of the four parts (atom/continuous), >= 1e5 samples  (bank)
* ``gmm``              Gaussian mixtures as ``tasks.GaussianMixture.random``: Monte Carlo,
                       >= 1e5 samples                                            (bank)
* ``functional``       Y = f(X) + sigma eps, X, eps ~ N(0, 1): I = h(Y) - log(sigma
                       sqrt(2 pi e)), h(Y) by numerical integration of the exact density
                       p(y) = E_x[phi((y - f(x))/sigma)/sigma] on fine grids      (bank)
* ``clayton``          Clayton copula (lower-tail dependence), theta in [0.1, 8]:
                       I = E log c(U, V), Monte Carlo, >= 1e5 samples            (bank)
* ``independent``      0 (continuous, or quantised on one/both axes: ties)
* monotone maps (``Monotone``) keep I unchanged.

Families marked ``HELD_OUT`` are never used for training (``sign_gauss``, ``gamma_exp``,
``clayton``): the
benchmark reports them separately to show generalisation to unseen dependence structures.

The Monte-Carlo / numerical families ("bank families") are expensive to evaluate: their
parameters and truths are computed once by ``scripts/build_truth_bank.py`` (seeded) and kept
in a small JSON bank file (parameters are regenerated from a seed, so the file only holds
seeds, a few parameters and the truth). ``draw(family, rng, bank)`` returns a random
distribution of a family.

Ties: the read-out ranks tied data with ties broken uniformly at random inside each tie
group (``readout.rank_random_ties``), which keeps I unchanged: the broken rank is a
randomised function of the value and the value a function of the rank.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.special import digamma, ndtr, log_ndtr
from scipy.stats import multivariate_normal

from .tasks import GaussianMixture, student_t_mi

__all__ = [
    "Dist", "FAMILIES", "TRAIN_FAMILIES", "HELD_OUT", "BANK_FAMILIES", "draw", "load_bank",
    "gauss", "additive_uniform", "student_t", "gamma_exp", "quantised_gauss", "sign_gauss",
    "clipped_gauss", "gmm", "functional", "independent", "Monotone", "FUNCTIONS",
    "DEFAULT_BANK",
]

DEFAULT_BANK = Path(__file__).resolve().parent / "data" / "truth_bank.json"
MC_SAMPLES = 200_000  # Monte-Carlo truths use >= 1e5 samples


@dataclass
class Dist:
    """One distribution: ``sample(n, rng) -> (x, y)`` float64 arrays; ``mi`` in nats."""

    family: str
    params: dict
    mi: float
    sampler: Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]] = field(repr=False)
    ties: bool = False
    mi_stderr: float = 0.0

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.sampler(int(n), rng)
        return np.asarray(x, np.float64), np.asarray(y, np.float64)


# ------------------------------------------------------------------ closed forms

def _corr(n, rng, rho):
    z = rng.standard_normal((n, 2))
    return z[:, 0], rho * z[:, 0] + math.sqrt(1.0 - rho * rho) * z[:, 1]


def gauss_mi(rho: float) -> float:
    return float(-0.5 * math.log1p(-rho * rho))


def gauss(rho: float) -> Dist:
    return Dist("gauss", {"rho": rho}, gauss_mi(rho), lambda n, rng: _corr(n, rng, rho))


def additive_uniform_mi(eps: float) -> float:
    return float(eps - math.log(2 * eps)) if eps <= 0.5 else float(1.0 / (4.0 * eps))


def additive_uniform(eps: float) -> Dist:
    def s(n, rng):
        x = rng.uniform(0.0, 1.0, n)
        return x, x + rng.uniform(-eps, eps, n)
    return Dist("additive_uniform", {"eps": eps}, additive_uniform_mi(eps), s)


def student_t(rho: float, dof: float) -> Dist:
    def s(n, rng):
        x, y = _corr(n, rng, rho)
        g = np.sqrt(rng.chisquare(dof, n) / dof)
        return x / g, y / g
    return Dist("student_t", {"rho": rho, "dof": dof}, student_t_mi(rho, dof), s)


def gamma_exp(a: float) -> Dist:
    def s(n, rng):
        x = rng.gamma(a, 1.0, n)
        return x, rng.exponential(1.0 / x)
    return Dist("gamma_exp", {"a": a}, float(digamma(a + 1.0) - math.log(a)), s)


def independent(kind: str = "continuous", levels: tuple[int, int] = (0, 0)) -> Dist:
    """I = 0. ``levels``: quantise x / y to that many values (0 = continuous)."""
    lx, ly = levels

    def s(n, rng):
        x, y = rng.standard_normal(n), rng.standard_normal(n)
        if lx:
            x = rng.integers(0, lx, n).astype(np.float64)
        if ly:
            y = rng.integers(0, ly, n).astype(np.float64)
        return x, y
    return Dist("independent", {"lx": lx, "ly": ly}, 0.0, s, ties=bool(lx or ly))


# ------------------------------------------------------------------ exact sums / 1-D integrals

_GL_X, _GL_W = np.polynomial.legendre.leggauss(48)


def gauss_cell_probs(rho: float, ex: np.ndarray, ey: np.ndarray) -> np.ndarray:
    """P(ex[i] < X <= ex[i+1], ey[j] < Y <= ey[j+1]) for a standard bivariate normal with
    correlation rho; ex, ey increasing edges (+-inf allowed). 1-D Gauss-Legendre integral
    over x of phi(x) [Phi((d - rho x)/s) - Phi((c - rho x)/s)] on each x cell (ends clipped
    at +-10, where the mass left out is < 1e-22)."""
    s = math.sqrt(1.0 - rho * rho)
    a = np.clip(ex[:-1], -10, 10)
    b = np.clip(ex[1:], -10, 10)
    mid, half = (a + b) / 2, (b - a) / 2
    xs = mid[:, None] + half[:, None] * _GL_X[None]  # [Cx, Q]
    w = half[:, None] * _GL_W[None] * np.exp(-0.5 * xs * xs) / math.sqrt(2 * math.pi)
    cdf = ndtr((np.asarray(ey)[None, None, :] - rho * xs[..., None]) / s)  # [Cx, Q, Ey]
    cdf_cells = np.diff(cdf, axis=-1)  # [Cx, Q, Cy]
    p = np.einsum("iq,iqj->ij", w, cdf_cells)
    return np.clip(p, 0.0, None)


def discrete_mi(p: np.ndarray) -> float:
    """MI (nats) of a joint probability table."""
    p = p / p.sum()
    px, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    m = p > 0
    return float(np.sum(p[m] * (np.log(p[m]) - np.log((px * py)[m]))))


def quantised_gauss(rho: float, lx: int, ly: int, width: float = 3.0, offset: tuple[float, float] = (0.0, 0.0)) -> Dist:
    """Gaussian rho with X and Y rounded to cells: interior edges equally spaced over
    [-width, width] (shifted by ``offset``), lx (ly) cells in all, outer cells unbounded.
    Truth: exact sum over the cell table."""
    ex = np.concatenate([[-np.inf], np.linspace(-width, width, lx - 1) + offset[0], [np.inf]])
    ey = np.concatenate([[-np.inf], np.linspace(-width, width, ly - 1) + offset[1], [np.inf]])
    mi = discrete_mi(gauss_cell_probs(rho, ex, ey))

    def s(n, rng):
        x, y = _corr(n, rng, rho)
        return np.searchsorted(ex[1:-1], x).astype(np.float64), np.searchsorted(ey[1:-1], y).astype(np.float64)
    return Dist("quantised_gauss", {"rho": rho, "lx": lx, "ly": ly, "width": width, "offset": list(offset)}, mi, s, ties=True)


def sign_gauss_mi(rho: float) -> float:
    """X = sign(Z1), Y = rho Z1 + s Z2: I = log 2 - E_Y[h_b(P(Z1 > 0 | Y))],
    P(Z1 > 0 | Y = y) = Phi(rho y / s) (since Z1 | Y ~ N(rho y, 1 - rho^2)). 1-D trapezoid
    integral over y in [-10, 10] with a step resolving both phi (0.01) and the width s / rho
    of the transition of h_b (1/20 of it)."""
    s = math.sqrt(1.0 - rho * rho)
    h = min(0.01, s / (20.0 * abs(rho))) if rho != 0 else 0.01
    y = np.arange(-10.0, 10.0 + h / 2, h)
    t = rho * y / s
    lp, lq = log_ndtr(t), log_ndtr(-t)
    hb = -(np.exp(lp) * lp + np.exp(lq) * lq)
    f = np.exp(-0.5 * y * y) / math.sqrt(2 * math.pi) * hb
    return float(math.log(2.0) - h * (f.sum() - 0.5 * (f[0] + f[-1])))


def sign_gauss(rho: float) -> Dist:
    def s(n, rng):
        x, y = _corr(n, rng, rho)
        return np.sign(x), y
    return Dist("sign_gauss", {"rho": rho}, sign_gauss_mi(rho), s, ties=True)


# ------------------------------------------------------------------ Monte Carlo / numerical (bank)

def clipped_gauss_log_ratio(rho: float, cx: float, cy: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log p(x', y') / (p(x') p(y')) for X' = max(X, cx), Y' = min(Y, cy), (X, Y) Gaussian rho.

    Four parts: both continuous (density ratio), X at its atom (P(X <= cx | y) / P(X <= cx)),
    Y at its atom (P(Y >= cy | x) / P(Y >= cy)), both at atoms (orthant probability)."""
    s = math.sqrt(1.0 - rho * rho)
    ax, ay = x <= cx, y >= cy
    out = np.empty_like(x)
    both = ax & ay
    cc = ~ax & ~ay
    xa = ax & ~ay
    ya = ~ax & ay
    # continuous-continuous: log phi2 / (phi phi)
    xc, yc = x[cc], y[cc]
    out[cc] = -math.log(s) - (rho * rho * (xc * xc + yc * yc) - 2 * rho * xc * yc) / (2 * s * s)
    # X at atom, Y continuous: log P(X <= cx | y) - log P(X <= cx)
    out[xa] = log_ndtr((cx - rho * y[xa]) / s) - log_ndtr(cx)
    # Y at atom, X continuous: log P(Y >= cy | x) - log P(Y >= cy)
    out[ya] = log_ndtr(-(cy - rho * x[ya]) / s) - log_ndtr(-cy)
    if both.any():
        # P(X <= cx, Y >= cy) = P(X <= cx, -Y <= -cy), correlation -rho
        p = multivariate_normal(mean=[0, 0], cov=[[1, -rho], [-rho, 1]]).cdf([cx, -cy])
        out[both] = math.log(max(p, 1e-300)) - log_ndtr(cx) - log_ndtr(-cy)
    return out


def clipped_gauss_truth(rho: float, cx: float, cy: float, seed: int, m: int = MC_SAMPLES) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    x, y = _corr(m, rng, rho)
    lr = clipped_gauss_log_ratio(rho, cx, cy, x, y)
    return float(lr.mean()), float(lr.std() / math.sqrt(m))


def clipped_gauss(rho: float, cx: float, cy: float, mi: float, stderr: float = 0.0) -> Dist:
    def s(n, rng):
        x, y = _corr(n, rng, rho)
        return np.maximum(x, cx), np.minimum(y, cy)
    return Dist("clipped_gauss", {"rho": rho, "cx": cx, "cy": cy}, mi, s, ties=True, mi_stderr=stderr)


FUNCTIONS: dict[str, Callable[[np.ndarray, float, float], np.ndarray]] = {
    "square": lambda x, w, p: x * x,
    "sin": lambda x, w, p: np.sin(w * x + p),
    "abs": lambda x, w, p: np.abs(x),
    "tanh": lambda x, w, p: np.tanh(w * x),
    "cubic": lambda x, w, p: x ** 3 - w * x,
    "cos": lambda x, w, p: np.cos(w * x),
    "sigmoid": lambda x, w, p: 1.0 / (1.0 + np.exp(-2.0 * w * (x - p))),
    "step": lambda x, w, p: (x > p).astype(np.float64) + 0.1 * x,
}


def functional_truth(kind: str, w: float, p: float, sigma: float, nx: int = 6_000, ny: int = 2_500) -> float:
    """I(X; f(X) + sigma eps), X, eps ~ N(0,1): h(Y) - 0.5 log(2 pi e sigma^2), with
    h(Y) = -int p log p, p(y) = sum_x w_x phi((y - f(x)) / sigma) / sigma on a fine x grid
    (trapezoid over [-8, 8]) and a y grid covering f's range over |x| <= 6.5 +- 9 sigma
    (mass outside < 1e-10), at least 4 points per sigma."""
    f = FUNCTIONS[kind]
    xs = np.linspace(-8.0, 8.0, nx)
    wx = np.exp(-0.5 * xs * xs) / math.sqrt(2 * math.pi) * (xs[1] - xs[0])
    keep = wx > 1e-18
    xs, wx = xs[keep], wx[keep] / wx[keep].sum()
    fx = f(xs, w, p)
    core = fx[np.abs(xs) <= 6.5]
    lo, hi = core.min() - 9 * sigma, core.max() + 9 * sigma
    ny = int(min(max(ny, (hi - lo) / (sigma / 4)), 40_000))
    ys = np.linspace(lo, hi, ny)
    dy = ys[1] - ys[0]
    py = np.empty(ny)
    for i in range(0, ny, 500):
        z = (ys[i:i + 500, None] - fx[None]) / sigma
        py[i:i + 500] = (np.exp(-0.5 * z * z) @ wx) / (sigma * math.sqrt(2 * math.pi))
    pos = py > 0
    h = -np.sum(py[pos] * np.log(py[pos])) * dy
    return float(h - 0.5 * math.log(2 * math.pi * math.e * sigma * sigma))


def functional(kind: str, w: float, p: float, sigma: float, mi: float) -> Dist:
    f = FUNCTIONS[kind]

    def s(n, rng):
        x = rng.standard_normal(n)
        return x, f(x, w, p) + sigma * rng.standard_normal(n)
    return Dist("functional", {"kind": kind, "w": w, "p": p, "sigma": sigma}, mi, s)


def functional_params(rng: np.random.Generator) -> dict:
    """Random functional-family parameters; sigma >= 0.04 sd(f) keeps the x grid of
    ``functional_truth`` much finer than the noise."""
    kind = str(rng.choice(sorted(FUNCTIONS)))
    w = float(rng.uniform(0.5, 4.0))
    p = float(rng.uniform(-1.5, 1.5))
    xs = np.random.default_rng(0).standard_normal(20_000)
    sd = float(np.std(FUNCTIONS[kind](xs, w, p))) or 1.0
    sigma = float(sd * math.exp(rng.uniform(math.log(0.04), math.log(4.0))))
    return {"kind": kind, "w": w, "p": p, "sigma": sigma}


def gmm(k: int, seed: int, mi: float | None = None, stderr: float = 0.0, mc_samples: int = MC_SAMPLES) -> Dist:
    """tasks.GaussianMixture.random(k, seed); truth by its stratified Monte Carlo."""
    g = GaussianMixture.random(k, seed, mc_samples=mc_samples)
    if mi is None:
        mi, stderr = g.mutual_information, g.mi_stderr
    return Dist("gmm", {"k": k, "seed": seed}, float(mi), lambda n, rng: g._sample(n, rng), mi_stderr=stderr)


def clayton_log_density(theta: float, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """log c(u, v) of the Clayton copula, theta > 0:
    c = (1 + theta) (u v)^(-1-theta) (u^-theta + v^-theta - 1)^(-2 - 1/theta)."""
    lu, lv = np.log(u), np.log(v)
    a = np.logaddexp(-theta * lu, -theta * lv)  # log(u^-t + v^-t)
    s = a + np.log1p(-np.exp(-a))  # log(u^-t + v^-t - 1)
    return math.log1p(theta) - (1 + theta) * (lu + lv) - (2 + 1 / theta) * s


def clayton_sample(theta: float, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(U, V) from the Clayton copula by conditional inversion."""
    u = rng.random(n)
    w = rng.random(n)
    v = (1.0 + u ** (-theta) * (w ** (-theta / (1.0 + theta)) - 1.0)) ** (-1.0 / theta)
    return u, v


def clayton_truth(theta: float, seed: int, m: int = MC_SAMPLES) -> tuple[float, float]:
    """I = E log c(U, V) (the marginals are uniform), Monte Carlo with m samples."""
    u, v = clayton_sample(theta, m, np.random.default_rng(seed))
    lr = clayton_log_density(theta, np.clip(u, 1e-300, 1), np.clip(v, 1e-300, 1))
    return float(lr.mean()), float(lr.std() / math.sqrt(m))


def clayton(theta: float, mi: float, stderr: float = 0.0) -> Dist:
    """Clayton copula (lower-tail dependence), marginals mapped to N(0, 1) (MI-invariant)."""
    from scipy.special import ndtri

    def s(n, rng):
        u, v = clayton_sample(theta, n, rng)
        return ndtri(np.clip(u, 1e-16, 1 - 1e-16)), ndtri(np.clip(v, 1e-16, 1 - 1e-16))
    return Dist("clayton", {"theta": theta}, mi, s, mi_stderr=stderr)


class Monotone:
    """Strictly increasing maps of a distribution's x and y: same MI."""

    MAPS = {"cube": lambda a: a ** 3, "asinh": np.arcsinh, "exp": lambda a: np.exp(np.clip(a, -50, 50)),
            "atan": np.arctan, "identity": lambda a: a}

    @staticmethod
    def wrap(d: Dist, fx: str, fy: str) -> Dist:
        f, g = Monotone.MAPS[fx], Monotone.MAPS[fy]

        def s(n, rng):
            x, y = d.sample(n, rng)
            return f(x), g(y)
        return Dist(d.family, {**d.params, "monotone": [fx, fy]}, d.mi, s, d.ties, d.mi_stderr)


# ------------------------------------------------------------------ random draws

FAMILIES = ("gauss", "additive_uniform", "student_t", "gamma_exp", "quantised_gauss", "sign_gauss",
            "clipped_gauss", "gmm", "functional", "independent", "clayton")
HELD_OUT = ("sign_gauss", "gamma_exp", "clayton")
TRAIN_FAMILIES = tuple(f for f in FAMILIES if f not in HELD_OUT)
BANK_FAMILIES = ("clipped_gauss", "gmm", "functional", "clayton")


def _target_mi(rng, hi=3.5):
    """Half uniform on [0, hi], half log-uniform on [0.005, hi]: dense near 0, where
    the estimate at independence is decided."""
    if rng.random() < 0.5:
        return float(rng.uniform(0.0, hi))
    return float(math.exp(rng.uniform(math.log(0.005), math.log(hi))))


def _rho_for(mi):
    return math.sqrt(-math.expm1(-2.0 * mi))


def draw(family: str, rng: np.random.Generator, bank: dict | None = None, split: str = "train") -> Dist:
    """A random distribution of ``family``. Bank families take an entry of ``bank``
    (``load_bank``): entries with index % 10 == 9 are reserved for ``split="val"``."""
    sgn = 1.0 if rng.random() < 0.5 else -1.0
    if family == "gauss":
        return gauss(sgn * min(_rho_for(_target_mi(rng, 4.0)), 0.9995))
    if family == "additive_uniform":
        return additive_uniform(float(math.exp(rng.uniform(math.log(0.01), math.log(5.0)))))
    if family == "student_t":
        return student_t(sgn * float(min(_rho_for(_target_mi(rng, 3.0)), 0.999)), float(rng.uniform(1.0, 10.0)))
    if family == "gamma_exp":
        return gamma_exp(float(math.exp(rng.uniform(math.log(0.2), math.log(20.0)))))
    if family == "quantised_gauss":
        lx, ly = (int(v) for v in rng.integers(2, 41, 2))
        if rng.random() < 0.3:
            ly = 0  # one axis continuous: use a very fine grid instead (no ties in y)
        rho = sgn * min(_rho_for(_target_mi(rng, 3.0)), 0.999)
        if ly == 0:
            ex = np.concatenate([[-np.inf], np.linspace(-3, 3, lx - 1), [np.inf]])
            ey = np.concatenate([[-np.inf], np.linspace(-6, 6, 1999), [np.inf]])
            # continuous y: the limit of a fine grid; exact for the cells, y ties negligible
            mi_fine = discrete_mi(gauss_cell_probs(rho, ex, ey))

            def s(n, rng2, rho=rho, ex=ex):
                x, y = _corr(n, rng2, rho)
                return np.searchsorted(ex[1:-1], x).astype(np.float64), y
            return Dist("quantised_gauss", {"rho": rho, "lx": lx, "ly": 0}, mi_fine, s, ties=True)
        off = tuple(float(v) for v in rng.uniform(-0.5, 0.5, 2))
        return quantised_gauss(rho, lx, ly, width=float(rng.uniform(1.5, 3.5)), offset=off)
    if family == "sign_gauss":
        return sign_gauss(sgn * min(_rho_for(_target_mi(rng, 3.0)), 0.9999))
    if family == "independent":
        r = rng.random()
        lv = (0, 0) if r < 0.6 else tuple(int(v) for v in rng.integers(2, 30, 2) * (rng.random(2) < 0.7))
        return independent(levels=lv)
    if family in BANK_FAMILIES:
        if bank is None:
            raise ValueError(f"family {family!r} needs the truth bank (scripts/build_truth_bank.py)")
        entries = bank[family]
        idx = np.arange(len(entries))
        idx = idx[(idx % 10 == 9) == (split == "val")]
        e = entries[int(idx[rng.integers(len(idx))])]
        return from_entry(family, e)
    raise ValueError(f"unknown family {family!r}; known: {FAMILIES}")


def from_entry(family: str, e: dict) -> Dist:
    if family == "gmm":
        return gmm(e["k"], e["seed"], e["mi"], e["stderr"])
    if family == "clipped_gauss":
        return clipped_gauss(e["rho"], e["cx"], e["cy"], e["mi"], e["stderr"])
    if family == "functional":
        return functional(e["kind"], e["w"], e["p"], e["sigma"], e["mi"])
    if family == "clayton":
        return clayton(e["theta"], e["mi"], e["stderr"])
    raise ValueError(family)


# ------------------------------------------------------------------ the bank

def bank_entry(family: str, seed: int) -> dict:
    """Parameters (from ``seed``) and truth of one bank distribution."""
    rng = np.random.default_rng([71, seed])
    if family == "gmm":
        k = int(rng.integers(1, 21))
        g = GaussianMixture.random(k, seed, mc_samples=MC_SAMPLES)
        return {"seed": seed, "k": k, "mi": g.mutual_information, "stderr": g.mi_stderr}
    if family == "clipped_gauss":
        rho = float((1 if rng.random() < 0.5 else -1) * min(_rho_for(_target_mi(rng, 3.0)), 0.999))
        cx, cy = (float(v) for v in rng.uniform(-1.5, 1.5, 2))
        mi, se = clipped_gauss_truth(rho, cx, cy, seed=1_000_000 + seed)
        return {"seed": seed, "rho": rho, "cx": cx, "cy": cy, "mi": mi, "stderr": se}
    if family == "functional":
        p = functional_params(rng)
        return {"seed": seed, **p, "mi": functional_truth(p["kind"], p["w"], p["p"], p["sigma"])}
    if family == "clayton":
        theta = float(math.exp(rng.uniform(math.log(0.1), math.log(8.0))))
        mi, se = clayton_truth(theta, seed=2_000_000 + seed)
        return {"seed": seed, "theta": theta, "mi": mi, "stderr": se}
    raise ValueError(family)


def load_bank(path: str | Path | None = None) -> dict:
    path = Path(path) if path else DEFAULT_BANK
    if not path.is_file():
        raise FileNotFoundError(f"no truth bank at {path}: build it with `python scripts/build_truth_bank.py --out {path}`")
    with open(path) as f:
        return json.load(f)["families"]
