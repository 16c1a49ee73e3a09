"""Training distributions: seeded, batched, in torch (generation never dominates a step).

Unsupervised training needs only samples, no ground truth: InfoNet maximises the DV bound on
sets drawn fresh every step. The families widen the published Gaussian-mixture prior towards
what robots produce:

* ``gmm``         -- 2-D Gaussian mixtures as published: K ~ U{1..20}, Dirichlet(1) weights,
                     means ~ U(-5, 5)^2, std ~ U(0.1, 2), correlation ~ U(-1, 1);
* ``gaussian``    -- one Gaussian, correlation spread uniformly in MI up to ~3.5 nats;
* ``functional``  -- y = f(x) + noise for linear, quadratic, periodic, abs, step, cubic,
                     saturating f, noise from near-deterministic (1 %) to dominant (300 %);
* ``student``     -- heavy tails: bivariate Student-t, 1..6 degrees of freedom;
* ``ring``        -- multi-modal / non-functional: noisy circles and two-arm spirals;
* ``independent`` -- independence with assorted marginals.

A fraction of sets is quantised on one or both axes (sensor resolution: ties). All samples
are returned already rank-normalised, [B, N, 2] in (0, 1), ties broken in a random order as
the estimator does (``copula.pair_ranks``), so quantised sets carry their true MI.
"""

from __future__ import annotations

import math

import torch


FAMILIES = ("gmm", "gaussian", "functional", "student", "ring", "independent")
DEFAULT_WEIGHTS = {"gmm": 0.35, "gaussian": 0.15, "functional": 0.25, "student": 0.08, "ring": 0.07, "independent": 0.10}


def _u(gen, *shape, lo=0.0, hi=1.0):
    return torch.rand(*shape, generator=gen) * (hi - lo) + lo


def _corr_pair(gen, b, n, rho):
    """[B, N, 2] standard bivariate normal with correlation rho [B]."""
    e = torch.randn(b, n, 2, generator=gen)
    x = e[..., 0]
    y = rho[:, None] * x + torch.sqrt(1 - rho[:, None] ** 2) * e[..., 1]
    return torch.stack([x, y], -1)


def gmm(gen, b, n, max_components=20):
    k = torch.randint(1, max_components + 1, (b,), generator=gen)
    active = torch.arange(max_components)[None] < k[:, None]  # [B, K]
    w = -torch.log(_u(gen, b, max_components).clamp_min(1e-12)) * active  # Dirichlet(1)
    comp = torch.multinomial(w / w.sum(-1, keepdim=True), n, replacement=True, generator=gen)  # [B, N]
    means = _u(gen, b, max_components, 2, lo=-5, hi=5)
    std = _u(gen, b, max_components, 2, lo=0.1, hi=2.0)
    rho = _u(gen, b, max_components, lo=-1, hi=1) * 0.999
    e = torch.randn(b, n, 2, generator=gen)
    g = lambda t: t.gather(1, comp.unsqueeze(-1).expand(b, n, t.shape[-1]) if t.dim() == 3 else comp)  # noqa: E731
    r = g(rho)
    x = e[..., 0]
    y = r * x + torch.sqrt(1 - r**2) * e[..., 1]
    return g(means) + g(std) * torch.stack([x, y], -1)


def gaussian(gen, b, n):
    mi = _u(gen, b, lo=0.0, hi=3.5)
    rho = torch.sqrt(1 - torch.exp(-2 * mi)) * torch.where(_u(gen, b) < 0.5, -1.0, 1.0)
    return _corr_pair(gen, b, n, rho)


def functional(gen, b, n):
    x = torch.where(_u(gen, b, 1) < 0.5, torch.randn(b, n, generator=gen), _u(gen, b, n, lo=-2, hi=2))
    kind = torch.randint(0, 8, (b, 1), generator=gen)
    omega = _u(gen, b, 1, lo=1.0, hi=6.0)
    phase = _u(gen, b, 1, lo=0, hi=2 * math.pi)
    cands = torch.stack(
        [x, x**2, torch.sin(omega * x + phase), x.abs(), (x > 0).float() + 0.1 * x, x**3, torch.tanh(3 * x), torch.cos(omega * x)],
        0,
    )  # [8, B, N]
    f = cands.gather(0, kind.expand(b, n)[None])[0]
    sigma = torch.exp(_u(gen, b, 1, lo=math.log(0.01), hi=math.log(3.0))) * f.std(-1, keepdim=True).clamp_min(1e-3)
    noise = torch.where(_u(gen, b, 1) < 0.7, torch.randn(b, n, generator=gen), _u(gen, b, n, lo=-1.7, hi=1.7))
    return torch.stack([x, f + sigma * noise], -1)


def student(gen, b, n):
    dof = _u(gen, b, lo=1.0, hi=6.0)
    rho = _u(gen, b, lo=-1, hi=1) * 0.999
    z = _corr_pair(gen, b, n, rho)
    chi2 = _chi2(gen, dof, n)
    return z / torch.sqrt(chi2 / dof[:, None])[..., None]


def _chi2(gen, dof, n):
    # torch.distributions takes no generator; the Wilson-Hilferty cube approximation of a
    # chi-square variate is seeded and close enough for a training prior (not for truth).
    z = torch.randn(dof.shape[0], n, generator=gen)
    k = dof[:, None]
    return (k * (1 - 2 / (9 * k) + z * torch.sqrt(2 / (9 * k))) ** 3).clamp_min(1e-3)


def ring(gen, b, n):
    t = _u(gen, b, n, lo=0, hi=2 * math.pi)
    noise = torch.exp(_u(gen, b, 1, lo=math.log(0.02), hi=math.log(0.5)))
    spiral = _u(gen, b, 1) < 0.3
    r = torch.where(spiral, t / (2 * math.pi) + 0.2, torch.ones_like(t))
    arm = torch.where(spiral & (_u(gen, b, n) < 0.5), math.pi, 0.0)
    pts = torch.stack([r * torch.cos(t + arm), r * torch.sin(t + arm)], -1)
    pts = pts + noise[..., None] * torch.randn(b, n, 2, generator=gen)
    theta = _u(gen, b, lo=0, hi=math.pi)
    rot = torch.stack([torch.stack([theta.cos(), -theta.sin()], -1), torch.stack([theta.sin(), theta.cos()], -1)], -2)
    return pts @ rot.transpose(-1, -2)


def independent(gen, b, n):
    x = torch.randn(b, n, 2, generator=gen)
    heavy = _u(gen, b, 1, 1) < 0.3
    return torch.where(heavy, x**3, x)


SAMPLERS = {"gmm": gmm, "gaussian": gaussian, "functional": functional, "student": student, "ring": ring, "independent": independent}


def quantise(gen, pts, prob=0.1):
    """Round a random subset of sets to 3..40 levels on one or both axes (creates rank ties)."""
    b = pts.shape[0]
    which = _u(gen, b, 1, 2) < prob
    levels = torch.randint(3, 41, (b, 1, 2), generator=gen).float()
    lo = pts.amin(1, keepdim=True)
    span = (pts.amax(1, keepdim=True) - lo).clamp_min(1e-9)
    q = torch.round((pts - lo) / span * levels) / levels
    return torch.where(which, q, pts)


def random_tie_ranks(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Ranks along the last axis, ties in a uniformly random order, as (r - 1/2) / N.

    A random permutation first, then a stable sort by value: tied values keep the random
    order. Same distribution as the estimator's data-seeded tie-breaking."""
    n = x.shape[-1]
    perm = torch.rand(x.shape, generator=gen).argsort(-1)
    order = perm.gather(-1, x.gather(-1, perm).argsort(dim=-1, stable=True))
    u = ((torch.arange(n, dtype=torch.float32) + 0.5) / n).expand(x.shape)
    return torch.empty(x.shape, dtype=torch.float32).scatter_(-1, order, u)


def sample_batch(batch: int, n: int, gen: torch.Generator, weights: dict[str, float] | None = None, quantise_prob: float = 0.1) -> torch.Tensor:
    """A training batch: [batch, n, 2] rank-normalised points, families mixed by ``weights``."""
    weights = weights or DEFAULT_WEIGHTS
    unknown = set(weights) - set(SAMPLERS)
    if unknown:
        raise ValueError(f"unknown training families {sorted(unknown)}; known: {FAMILIES}")
    names = sorted(weights)
    p = torch.tensor([weights[k] for k in names], dtype=torch.float64)
    counts = torch.bincount(torch.multinomial(p / p.sum(), batch, replacement=True, generator=gen), minlength=len(names))
    parts = [SAMPLERS[name](gen, int(c), n) for name, c in zip(names, counts) if c > 0]
    pts = quantise(gen, torch.cat(parts, 0).float(), quantise_prob)
    u = torch.stack([random_tie_ranks(pts[..., 0], gen), random_tie_ranks(pts[..., 1], gen)], -1)
    return u[torch.randperm(batch, generator=gen)]
