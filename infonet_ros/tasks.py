"""Evaluation distributions with known mutual information (the benchmark "tasks").

In the style of cbg-ethz/bmi: a task is a small object with a ``name``, the true
``mutual_information`` in nats and ``sample(n, seed) -> (x, y)``, two float64 arrays of
shape (n,). Sampling is fully determined by ``seed`` (numpy ``default_rng``).

Ground truths (as in the project's InfoNet method notes):
- BivariateGaussian: -0.5 log(1 - rho^2).
- GaussianMixture: Monte Carlo of log p(x,y) - log p(x) - log p(y), stratified by
  component, 10^6 samples by default, with its standard error ``mi_stderr``.
- AdditiveUniform: eps - log(2 eps) for eps <= 1/2, else 1 / (4 eps).
- GammaExponential: digamma(a + 1) - log(a).
- StudentT: closed form from the differential entropy of the multivariate t.
- MonotoneTransform: same as its base; Independent: 0.
- Tied data (``tied_suite``): QuantisedGaussian (a Gaussian pair with one or both axes cut
  into L equiprobable levels; L = 2 is sign(Z)): sums over bivariate-normal cell
  probabilities, or a 1-D integral per level when one axis stays continuous;
  ClippedGaussian (one axis saturated at +-c in a given share of the samples): a 1-D
  integral for the entropy of the other axis given a saturated sample.

Seeds. Training and its validation use seeds < 10^6. All benchmark data here uses seeds
>= 10^7 so the two can never overlap:
- ``data_seed(name, n, repeat)`` = 10^7 + (crc32("name|n|repeat") mod 9*10^7), in
  [10^7, 10^8), for the evaluation samples of a task (stable across runs, Python versions
  and changes to the suite);
- suite mixtures are ``GaussianMixture.random(K, SUITE_MIXTURE_SEED + i)``;
- order-accuracy mixtures are ``GaussianMixture.random(10, ORDER_MIXTURE_SEED + i)``;
- mixture ground-truth Monte Carlo uses its own fixed seed (``GaussianMixture.mc_seed``).
"""

from __future__ import annotations

import zlib
from typing import Callable

import numpy as np
from scipy.special import digamma, gammaln, ndtr

__all__ = [
    "BivariateGaussian", "GaussianMixture", "AdditiveUniform", "GammaExponential", "StudentT",
    "MonotoneTransform", "Independent", "TRANSFORMS", "suite", "order_mixtures", "data_seed",
    "EVAL_SEED_BASE", "SUITE_MIXTURE_SEED", "ORDER_MIXTURE_SEED", "student_t_mi",
    "QuantisedGaussian", "ClippedGaussian", "tied_suite", "tied_marginals",
]

EVAL_SEED_BASE = 10_000_000        # every benchmark sample seed is >= this (training: < 10^6)
SUITE_MIXTURE_SEED = 20_000_000    # parameters of the suite's mixtures
ORDER_MIXTURE_SEED = 30_000_000    # parameters of the order-accuracy mixtures
_LOG_2PI = np.log(2.0 * np.pi)


def data_seed(name: str, n: int, repeat: int) -> int:
    """Seed of the evaluation sample set (task ``name``, size ``n``, repeat index).

    In [10^7, 10^8): never overlaps the training/validation seeds (< 10^6).
    """
    h = zlib.crc32(f"{name}|{int(n)}|{int(repeat)}".encode())
    return EVAL_SEED_BASE + h % 90_000_000


def _logsumexp_cols(a: np.ndarray) -> np.ndarray:
    """log sum_k exp(a[k, :]) for a finite [K, n] array (lean version of scipy's logsumexp;
    reducing over the short leading axis keeps numpy's loops vectorised). Overwrites a."""
    m = a.max(axis=0)
    a -= m
    np.exp(a, out=a)
    return m + np.log(a.sum(axis=0))


class Task:
    """Base class: ``name``, ``mutual_information`` (nats), ``sample(n, seed)``."""

    name: str = "task"

    @property
    def mutual_information(self) -> float:
        raise NotImplementedError

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        n = int(n)
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        x, y = self._sample(n, np.random.default_rng(seed))
        return np.ascontiguousarray(x, dtype=np.float64), np.ascontiguousarray(y, dtype=np.float64)

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class BivariateGaussian(Task):
    """(X, Y) standard bivariate normal with correlation rho. I = -0.5 log(1 - rho^2)."""

    def __init__(self, rho: float):
        if not -1.0 < rho < 1.0:
            raise ValueError(f"rho must be in (-1, 1), got {rho}")
        self.rho = float(rho)
        self.name = f"gauss(rho={self.rho:g})"

    @property
    def mutual_information(self) -> float:
        return float(-0.5 * np.log1p(-self.rho ** 2))

    def _sample(self, n, rng):
        z = rng.standard_normal((n, 2))
        return z[:, 0], self.rho * z[:, 0] + np.sqrt(1.0 - self.rho ** 2) * z[:, 1]


class GaussianMixture(Task):
    """2-D Gaussian mixture: weights [K], means [K, 2], covs [K, 2, 2].

    The true MI is computed lazily (first access of ``mutual_information``) by Monte Carlo
    of log p(x,y) - log p(x) - log p(y), stratified by component: component k gets
    ceil(mc_samples * w_k) samples and I = sum_k w_k mean_k(...). ``mi_stderr`` is the
    standard error of that estimate (nats). About 1 s per 10-component mixture.
    """

    mc_seed = 987_654_321  # fixed seed for the ground-truth Monte Carlo

    def __init__(self, weights, means, covs, name: str | None = None, mc_samples: int = 1_000_000):
        w = np.asarray(weights, dtype=np.float64)
        mu = np.asarray(means, dtype=np.float64)
        cov = np.asarray(covs, dtype=np.float64)
        k = w.shape[0]
        if w.ndim != 1 or k < 1:
            raise ValueError(f"weights must be a 1-D array of K >= 1 weights, got shape {w.shape}")
        if mu.shape != (k, 2):
            raise ValueError(f"means must have shape ({k}, 2), got {mu.shape}")
        if cov.shape != (k, 2, 2):
            raise ValueError(f"covs must have shape ({k}, 2, 2), got {cov.shape}")
        if np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError("weights must be finite, non-negative and not all zero")
        self.weights = w / w.sum()
        self.means = mu
        self.covs = cov
        # Cholesky fails loudly on a covariance that is not positive definite.
        try:
            self._chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise ValueError("covs must be symmetric positive definite 2x2 matrices") from None
        self.mc_samples = int(mc_samples)
        self.name = name or f"mixture(K={k})"
        self._mi: tuple[float, float] | None = None
        self._coeffs = None

    @classmethod
    def random(cls, n_components: int, seed: int, **kwargs) -> "GaussianMixture":
        """Random mixture like the published InfoNet training distribution: weights ~
        Dirichlet(1), means ~ U(-5, 5)^2, correlation ~ U(-1, 1); the per-axis standard
        deviations ~ U(0.3, 2) are this project's choice (the paper does not give them)."""
        k = int(n_components)
        if k < 1:
            raise ValueError(f"n_components must be >= 1, got {n_components}")
        rng = np.random.default_rng(seed)
        w = rng.dirichlet(np.ones(k))
        mu = rng.uniform(-5.0, 5.0, size=(k, 2))
        sd = rng.uniform(0.3, 2.0, size=(k, 2))
        r = rng.uniform(-1.0, 1.0, size=k)
        cov = np.empty((k, 2, 2))
        cov[:, 0, 0] = sd[:, 0] ** 2
        cov[:, 1, 1] = sd[:, 1] ** 2
        cov[:, 0, 1] = cov[:, 1, 0] = r * sd[:, 0] * sd[:, 1]
        kwargs.setdefault("name", f"mixture(K={k},seed={seed})")
        return cls(w, mu, cov, **kwargs)

    def _sample(self, n, rng):
        comp = rng.choice(len(self.weights), size=n, p=self.weights)
        z = rng.standard_normal((n, 2))
        xy = self.means[comp] + np.einsum("nij,nj->ni", self._chol[comp], z)
        return xy[:, 0], xy[:, 1]

    def _log_density_coeffs(self):
        """Per-component log-density as polynomials, so that a chunk costs one matmul:
        log w_k N2((x,y); k) = [x^2, xy, y^2, x, y, 1] @ joint[:, k], and likewise
        log w_k N1(x; k) = [x^2, x, 1] @ mx[:, k] (same for y)."""
        mx, my = self.means[:, 0], self.means[:, 1]
        vx, vy, cxy = self.covs[:, 0, 0], self.covs[:, 1, 1], self.covs[:, 0, 1]
        logw = np.log(np.maximum(self.weights, 1e-300))
        det = vx * vy - cxy ** 2
        a, b, c = vy / det, -2.0 * cxy / det, vx / det  # quad = a dx^2 + b dx dy + c dy^2
        joint = -0.5 * np.stack([
            a, b, c,
            -2.0 * a * mx - b * my,
            -2.0 * c * my - b * mx,
            a * mx ** 2 + b * mx * my + c * my ** 2,
        ])
        joint[5] += logw - _LOG_2PI - 0.5 * np.log(det)

        def marginal(m, v):
            coef = -0.5 * np.stack([1.0 / v, -2.0 * m / v, m ** 2 / v])
            coef[2] += logw - 0.5 * (_LOG_2PI + np.log(v))
            return coef

        return joint, marginal(mx, vx), marginal(my, vy)

    def log_ratio(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """log p(x,y) - log p(x) - log p(y) for arrays x, y of shape (n,) -> (n,)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if self._coeffs is None:
            self._coeffs = self._log_density_coeffs()
        cj, cx, cy = self._coeffs
        # [K, n] log-densities of every component at every point.
        feats = np.stack((x * x, x * y, y * y, x, y))  # [5, n]
        log_joint = _logsumexp_cols(cj[:5].T @ feats + cj[5][:, None])
        log_px = _logsumexp_cols(cx[:2].T @ np.stack((x * x, x)) + cx[2][:, None])
        log_py = _logsumexp_cols(cy[:2].T @ np.stack((y * y, y)) + cy[2][:, None])
        return log_joint - log_px - log_py

    def _compute_mi(self, chunk: int = 16_384) -> tuple[float, float]:
        rng = np.random.default_rng(self.mc_seed)
        mi, var = 0.0, 0.0
        for k, w in enumerate(self.weights):
            if w <= 0:
                continue
            m = max(int(np.ceil(self.mc_samples * w)), 100)
            s1 = s2 = 0.0
            for start in range(0, m, chunk):
                c = min(chunk, m - start)
                xy = self.means[k] + rng.standard_normal((c, 2)) @ self._chol[k].T
                lr = self.log_ratio(xy[:, 0], xy[:, 1])
                s1 += lr.sum()
                s2 += (lr * lr).sum()
            mean = s1 / m
            mi += w * mean
            var += w * w * max(s2 / m - mean * mean, 0.0) / m
        return float(mi), float(np.sqrt(var))

    @property
    def mutual_information(self) -> float:
        if self._mi is None:
            self._mi = self._compute_mi()
        return self._mi[0]

    @property
    def mi_stderr(self) -> float:
        """Standard error (nats) of the Monte-Carlo ground truth."""
        if self._mi is None:
            self._mi = self._compute_mi()
        return self._mi[1]


class AdditiveUniform(Task):
    """X ~ U(0, 1), Y = X + U(-eps, eps). I = eps - log(2 eps) (eps <= 1/2), else 1/(4 eps)."""

    def __init__(self, eps: float):
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.eps = float(eps)
        self.name = f"additive_uniform(eps={self.eps:g})"

    @property
    def mutual_information(self) -> float:
        e = self.eps
        return float(e - np.log(2.0 * e)) if e <= 0.5 else float(1.0 / (4.0 * e))

    def _sample(self, n, rng):
        x = rng.uniform(0.0, 1.0, n)
        return x, x + rng.uniform(-self.eps, self.eps, n)


class GammaExponential(Task):
    """X ~ Gamma(a, 1), Y | X ~ Exponential(rate X). I = digamma(a + 1) - log(a).

    Both marginals are heavy-tailed (Y is Lomax: p(y) = a (1 + y)^-(a+1)).
    """

    def __init__(self, a: float):
        if not a > 0:
            raise ValueError(f"a must be > 0, got {a}")
        self.a = float(a)
        self.name = f"gamma_exp(a={self.a:g})"

    @property
    def mutual_information(self) -> float:
        return float(digamma(self.a + 1.0) - np.log(self.a))

    def _sample(self, n, rng):
        x = rng.gamma(self.a, 1.0, n)
        return x, rng.exponential(1.0 / x)


def student_t_mi(rho: float, dof: float) -> float:
    """I(X;Y) in nats of the standard bivariate Student-t (correlation rho, dof nu).

    From h = 0.5 log det(Sigma) + log[(nu pi)^(d/2) Gamma(nu/2) / Gamma((nu+d)/2)]
             + (nu+d)/2 [psi((nu+d)/2) - psi(nu/2)]
    for the d-variate t (whose marginals are t with the same nu), I = h(X) + h(Y) - h(X,Y):
        I = -0.5 log(1 - rho^2) + log Gamma(nu/2) + log Gamma(nu/2 + 1) - 2 log Gamma((nu+1)/2)
            + (nu + 1) psi((nu+1)/2) - (nu/2 + 1) psi(nu/2 + 1) - nu/2 psi(nu/2)
    The extra term is > 0 and -> 0 as nu -> inf: even at rho = 0 X and Y are dependent.
    """
    nu = float(dof)
    gauss = -0.5 * np.log1p(-rho ** 2)

    def h_shape(d: int) -> float:  # dof-dependent part of h for dimension d, without (nu pi)^(d/2)
        return (gammaln(nu / 2) - gammaln((nu + d) / 2)
                + (nu + d) / 2 * (digamma((nu + d) / 2) - digamma(nu / 2)))

    return float(gauss + 2.0 * h_shape(1) - h_shape(2))


class StudentT(Task):
    """Standard bivariate Student-t with correlation rho and ``dof`` degrees of freedom."""

    def __init__(self, rho: float, dof: float):
        if not -1.0 < rho < 1.0:
            raise ValueError(f"rho must be in (-1, 1), got {rho}")
        if not dof > 0:
            raise ValueError(f"dof must be > 0, got {dof}")
        self.rho = float(rho)
        self.dof = float(dof)
        self.name = f"student_t(rho={self.rho:g},dof={self.dof:g})"

    @property
    def mutual_information(self) -> float:
        return student_t_mi(self.rho, self.dof)

    def _sample(self, n, rng):
        z = rng.standard_normal((n, 2))
        g = np.sqrt(rng.chisquare(self.dof, n) / self.dof)
        x = z[:, 0]
        y = self.rho * z[:, 0] + np.sqrt(1.0 - self.rho ** 2) * z[:, 1]
        return x / g, y / g


def _half_cube(a):
    return np.sign(a) * np.abs(a) ** 1.5


# Strictly increasing maps. ndtr saturates to 1.0 beyond ~8.3 and exp overflows past ~709:
# apply them only to light-tailed bases (suite() does), or ties/inf appear.
TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda a: a,
    "half_cube": _half_cube,
    "cube": lambda a: a ** 3,
    "asinh": np.arcsinh,
    "normal_cdf": ndtr,
    "exp": np.exp,
    "log": np.log,  # only for positive data
}


class MonotoneTransform(Task):
    """(fx(X), fy(Y)) for strictly increasing fx, fy: same MI as ``base``.

    fx, fy are callables or keys of TRANSFORMS.
    """

    def __init__(self, base: Task, fx, fy, label: str | None = None):
        self.base = base
        self.fx = TRANSFORMS[fx] if isinstance(fx, str) else fx
        self.fy = TRANSFORMS[fy] if isinstance(fy, str) else fy
        if label is None:
            label = ",".join(f if isinstance(f, str) else getattr(f, "__name__", "f")
                             for f in (fx, fy))
        self.label = label
        self.name = f"{label}[{base.name}]"

    @property
    def mutual_information(self) -> float:
        return self.base.mutual_information

    def _sample(self, n, rng):
        x, y = self.base._sample(n, rng)
        return self.fx(x), self.fy(y)


class Independent(Task):
    """X independent of Y (I = 0). kind: "gaussian", "uniform" or "heavy_tailed" (Student-t,
    2 dof, independent scales — unlike StudentT(rho=0), which is dependent)."""

    KINDS = ("gaussian", "uniform", "heavy_tailed")

    def __init__(self, kind: str = "gaussian"):
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        self.kind = kind
        self.name = f"independent({kind})"

    @property
    def mutual_information(self) -> float:
        return 0.0

    def _sample(self, n, rng):
        if self.kind == "gaussian":
            return rng.standard_normal(n), rng.standard_normal(n)
        if self.kind == "uniform":
            return rng.uniform(0.0, 1.0, n), rng.uniform(0.0, 1.0, n)
        return rng.standard_t(2.0, n), rng.standard_t(2.0, n)


def _equiprobable_edges(levels: int) -> np.ndarray:
    """Inner cut points of L equiprobable levels of a standard normal."""
    from scipy.stats import norm
    return norm.ppf(np.arange(1, levels) / levels)


def _quad(f, lo: float = -12.0, hi: float = 12.0) -> float:
    from scipy.integrate import quad
    return float(quad(f, lo, hi, limit=400, epsabs=1e-11, epsrel=1e-10)[0])


class QuantisedGaussian(Task):
    """A standard Gaussian pair (correlation rho) with x and/or y quantised to L equiprobable
    levels (integer codes 0..L-1; ``None`` keeps an axis continuous). L = 2 is sign(Z).

    Truth: both quantised, the plug-in MI of the exact cell probabilities (bivariate-normal
    CDF at the cell corners); one quantised, I = sum_i P_i KL(p(y | level i) || phi), a 1-D
    integral per level with p(y | i) = phi(y) [Phi((b_i - rho y)/s) - Phi((a_i - rho y)/s)] / P_i,
    s = sqrt(1 - rho^2).
    """

    def __init__(self, rho: float, levels_x: int | None, levels_y: int | None = None):
        if levels_x is None and levels_y is None:
            raise ValueError("QuantisedGaussian needs at least one quantised axis")
        self.rho, self.levels_x, self.levels_y = float(rho), levels_x, levels_y
        lx = "c" if levels_x is None else str(levels_x)
        ly = "c" if levels_y is None else str(levels_y)
        self.name = f"quantised_gaussian(rho={rho:g},Lx={lx},Ly={ly})"
        self._mi: float | None = None

    def _sample(self, n, rng):
        z = rng.standard_normal((2, n))
        x, y = z[0], self.rho * z[0] + np.sqrt(1 - self.rho ** 2) * z[1]
        if self.levels_x is not None:
            x = np.digitize(x, _equiprobable_edges(self.levels_x)).astype(np.float64)
        if self.levels_y is not None:
            y = np.digitize(y, _equiprobable_edges(self.levels_y)).astype(np.float64)
        return x, y

    def mutual_information(self) -> float:
        if self._mi is None:
            self._mi = self._compute_mi()
        return self._mi

    def _compute_mi(self) -> float:
        rho = self.rho
        if self.levels_x is not None and self.levels_y is not None:
            from scipy.stats import multivariate_normal
            ex = np.concatenate([[-40.0], _equiprobable_edges(self.levels_x), [40.0]])
            ey = np.concatenate([[-40.0], _equiprobable_edges(self.levels_y), [40.0]])
            mvn = multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]])
            gx, gy = np.meshgrid(ex, ey, indexing="ij")
            c = mvn.cdf(np.stack([gx.ravel(), gy.ravel()], -1)).reshape(gx.shape)
            c[0, :] = 0.0
            c[:, 0] = 0.0
            p = np.clip(c[1:, 1:] - c[:-1, 1:] - c[1:, :-1] + c[:-1, :-1], 0.0, None)
            p /= p.sum()
            px, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
            nz = p > 0
            return float((p[nz] * np.log((p / (px * py))[nz])).sum())
        levels = self.levels_x if self.levels_x is not None else self.levels_y
        edges = np.concatenate([[-np.inf], _equiprobable_edges(levels), [np.inf]])
        s = np.sqrt(1 - rho ** 2)
        phi = lambda y: np.exp(-0.5 * y * y) / np.sqrt(2 * np.pi)  # noqa: E731
        total = 0.0
        for a, b in zip(edges[:-1], edges[1:]):
            p_i = float(ndtr(b) - ndtr(a))

            def term(y, a=a, b=b, p_i=p_i):
                ratio = (ndtr((b - rho * y) / s) - ndtr((a - rho * y) / s)) / p_i
                return phi(y) * ratio * np.log(ratio) if ratio > 0 else 0.0
            total += p_i * _quad(term)
        return total


class ClippedGaussian(Task):
    """A standard Gaussian pair (correlation rho) with x saturated: clip(x, -c, c), c set so
    that a share ``clipped`` of the samples sits at one of the two limits (ties).

    Truth: I = h(Y) - h(Y | X') with h(Y | X') = (1 - share) 0.5 log(2 pi e (1 - rho^2))
    + share h(Y | Z > c) (the two limits are mirror images), the last a 1-D integral over
    p(y | Z > c) = phi(y) Phi((rho y - c)/s) / Phi(-c), s = sqrt(1 - rho^2).
    """

    def __init__(self, rho: float, clipped: float):
        if not 0.0 < clipped < 1.0:
            raise ValueError(f"clipped share must be in (0, 1), got {clipped}")
        from scipy.stats import norm
        self.rho, self.clipped = float(rho), float(clipped)
        self.c = float(norm.ppf(1.0 - clipped / 2.0))
        self.name = f"clipped_gaussian(rho={rho:g},clipped={clipped:g})"

    def _sample(self, n, rng):
        z = rng.standard_normal((2, n))
        x, y = z[0], self.rho * z[0] + np.sqrt(1 - self.rho ** 2) * z[1]
        return np.clip(x, -self.c, self.c), y

    def mutual_information(self) -> float:
        rho, c = self.rho, self.c
        if rho == 0.0:
            return 0.0
        s = np.sqrt(1 - rho ** 2)
        tail = float(ndtr(-c))

        def neg_plogp(y):
            p = np.exp(-0.5 * y * y) / np.sqrt(2 * np.pi) * ndtr((rho * y - c) / s) / tail
            return -p * np.log(p) if p > 0 else 0.0
        h_y = 0.5 * np.log(2 * np.pi * np.e)
        h_cont = 0.5 * np.log(2 * np.pi * np.e * (1 - rho ** 2))
        return float(h_y - (1 - self.clipped) * h_cont - self.clipped * _quad(neg_plogp))


def tied_marginals() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Standard-normal samples z -> tied streams as robots produce them: a binary switch,
    3 / 7 / 20 equiprobable levels, a signal saturated in 30 / 50 / 70 % of the samples
    (clipped at +-c), an integer counter floor(3 e^z). Applied to independent z they give
    independent tied streams (MI 0); the dependent cases are ``tied_suite``."""
    def levels(z, k):
        return np.digitize(z, _equiprobable_edges(k)).astype(np.float64)

    def clipped(z, share):
        c = _clip_level(share)
        return np.clip(z, -c, c)
    return {
        "binary": lambda z: (z > 0).astype(np.float64),
        "3 levels": lambda z: levels(z, 3),
        "7 levels": lambda z: levels(z, 7),
        "20 levels": lambda z: levels(z, 20),
        "clipped 30 %": lambda z: clipped(z, 0.3),
        "clipped 50 %": lambda z: clipped(z, 0.5),
        "clipped 70 %": lambda z: clipped(z, 0.7),
        "integer counter": lambda z: np.floor(3.0 * np.exp(z)),
    }


def _clip_level(share: float) -> float:
    """c with P(|Z| > c) = share for a standard normal Z."""
    from scipy.stats import norm
    return float(norm.ppf(1.0 - share / 2.0))


def tied_suite() -> list[Task]:
    """Tasks with tied values (binary, quantised, saturated): the tie-handling benchmark and
    tests. sign(Z1) against a correlated Gaussian, quantised Gaussian pairs, clipped axes."""
    tasks: list[Task] = [QuantisedGaussian(0.8, 2, None)]
    tasks += [QuantisedGaussian(rho, lv, lv) for rho in (0.0, 0.8) for lv in (2, 3, 7, 20)]
    tasks += [QuantisedGaussian(0.8, lv, None) for lv in (3, 7, 20)]
    tasks += [ClippedGaussian(rho, share) for rho in (0.0, 0.8) for share in (0.3, 0.5, 0.7)]
    return tasks


def suite(seed_offset: int = 0) -> list[Task]:
    """The fixed benchmark suite used by bench/accuracy.py: 34 tasks, 4 of them with
    MI = 0 and 6 with MI > 1 nat.

    ``seed_offset`` shifts only the parameter seeds of the random mixtures
    (SUITE_MIXTURE_SEED + seed_offset + i); 0 is the reported benchmark.
    Evaluation samples come from ``data_seed(task.name, n, repeat)``.
    """
    tasks: list[Task] = [BivariateGaussian(r) for r in (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99)]
    tasks += [GaussianMixture.random(k, SUITE_MIXTURE_SEED + seed_offset + i)
              for i, k in enumerate((2, 3, 5, 10, 10, 20))]
    tasks += [AdditiveUniform(e) for e in (0.05, 0.1, 0.3, 0.75)]
    tasks += [GammaExponential(a) for a in (1.0, 2.0, 5.0)]
    tasks += [StudentT(0.5, 3.0), StudentT(0.0, 2.0), StudentT(0.9, 5.0), StudentT(0.95, 4.0)]
    tasks += [
        MonotoneTransform(BivariateGaussian(0.6), "half_cube", "asinh"),
        MonotoneTransform(BivariateGaussian(0.9), "normal_cdf", "exp"),
        MonotoneTransform(BivariateGaussian(0.99), "asinh", "half_cube"),
        MonotoneTransform(AdditiveUniform(0.3), "exp", "cube"),
        MonotoneTransform(GammaExponential(2.0), "log", "log"),
        MonotoneTransform(StudentT(0.5, 3.0), "asinh", "half_cube"),
    ]
    tasks += [Independent(k) for k in Independent.KINDS]
    return tasks


def order_mixtures(count: int = 40, n_components: int = 10,
                   seed_base: int = ORDER_MIXTURE_SEED) -> list[GaussianMixture]:
    """Random mixtures for the order-accuracy metric (InfoNet paper: 10 components)."""
    return [GaussianMixture.random(n_components, seed_base + i) for i in range(count)]
