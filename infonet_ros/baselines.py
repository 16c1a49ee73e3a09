"""Classical mutual-information baselines: KSG and MINE.

Both follow the cbg-ethz/bmi interface used across the project: ``estimate(x, y) -> float``
in nats, so they are interchangeable with ``InfoNetEstimator`` in a benchmark loop.

- KSG: Kraskov, Stoegbauer, Grassberger, "Estimating mutual information", Phys. Rev. E 69,
  066138 (2004), estimator (8) ("algorithm 1", max-norm).
- MINE: Belghazi et al., "Mutual Information Neural Estimation", ICML 2018; the
  Donsker-Varadhan bound optimised per data set, with the moving-average correction of the
  biased gradient of log E[exp T].

Written from the papers; no third-party estimator code is used.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma

__all__ = ["ksg_mi", "KSG", "MINE", "as_pair"]


def _to_numpy(a, name: str) -> np.ndarray:
    if hasattr(a, "detach"):  # torch tensor, without importing torch
        a = a.detach().cpu().numpy()
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a sequence of real numbers ({exc})") from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"{name}: expected a 1-D array of samples (N,) or (N, 1), got shape {arr.shape}")
    return arr


def as_pair(x, y, min_n: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Validate one (x, y) sample set; returns two float64 arrays of shape (N,).

    Accepts lists, numpy arrays and torch tensors; (N, 1) columns are flattened.
    Raises ValueError naming the problem (dims, unequal lengths, too few samples, NaN/Inf).
    """
    x = _to_numpy(x, "x")
    y = _to_numpy(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have equal length, got len(x)={x.shape[0]} "
                         f"and len(y)={y.shape[0]}")
    if x.shape[0] < min_n:
        raise ValueError(f"need at least {min_n} samples, got N={x.shape[0]}")
    for name, a in (("x", x), ("y", y)):
        bad = ~np.isfinite(a)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{name} contains NaN/Inf ({int(bad.sum())} values, "
                             f"first at index {i}: {a[i]})")
    return x, y


def _standardise(a: np.ndarray) -> np.ndarray:
    s = a.std()
    return (a - a.mean()) / (s if s > 0 else 1.0)


def _strict_count(sorted_a: np.ndarray, a: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Number of j != i with |a_j - a_i| < r_i, for 1-D data (via two binary searches)."""
    hi = np.searchsorted(sorted_a, a + r, side="left")   # a_j < a_i + r
    lo = np.searchsorted(sorted_a, a - r, side="right")  # a_j > a_i - r
    return hi - lo - 1  # the point itself is always inside


def ksg_mi(x, y, k: int = 3) -> float:
    """KSG estimator 1 of I(X; Y) in nats for 1-D x, y of shape (N,).

    I = psi(k) + psi(N) - < psi(n_x + 1) + psi(n_y + 1) >, where eps_i is the max-norm
    distance from sample i to its k-th joint neighbour and n_x (n_y) counts the other
    samples strictly closer than eps_i in x (y).

    - Marginals are standardised first (Kraskov et al. recommend it; MI is unchanged).
    - Ties: if x or y has repeated values (or the joint sample has duplicates), a
      deterministic jitter of 1e-10 standard deviations (fixed seed 0) is added, as the
      estimator assumes continuous data. Tie-free data is used exactly as given.
    - The strict inequality is applied as distance < eps * (1 - 1e-10) so that the k-th
      neighbour itself is never counted because of floating-point rounding.
    - Not clipped at zero: at independence the estimate is near-unbiased and can be
      slightly negative.
    """
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    x, y = as_pair(x, y, min_n=k + 1)
    n = x.shape[0]
    # Work in x-sorted order (the estimate does not depend on sample order): x is then its
    # own sorted marginal and the searchsorted needles below arrive nearly in order.
    order = np.argsort(x, kind="stable")
    x = _standardise(x[order])
    y = _standardise(y[order])
    ys = np.sort(y)
    if np.any(x[1:] == x[:-1]) or np.any(ys[1:] == ys[:-1]):
        rng = np.random.default_rng(0)
        x = x + 1e-10 * rng.standard_normal(n)
        y = y + 1e-10 * rng.standard_normal(n)
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
        ys = np.sort(y)

    joint = np.column_stack((x, y))
    # k + 1 neighbours: the first is the point itself (distance 0).
    dist, _ = cKDTree(joint).query(joint, k=[k + 1], p=np.inf)
    eps = dist[:, 0] * (1.0 - 1e-10)
    nx = _strict_count(x, x, eps)
    ny = _strict_count(ys, y, eps)
    mi = digamma(k) + digamma(n) - np.mean(digamma(nx + 1) + digamma(ny + 1))
    return float(mi)


class KSG:
    """KSG estimator 1 (k nearest neighbours, max-norm). ``estimate(x, y) -> nats``."""

    name = "KSG"

    def __init__(self, k: int = 3):
        if int(k) < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k = int(k)

    def estimate(self, x, y) -> float:
        return ksg_mi(x, y, k=self.k)

    def estimate_batch(self, xs, ys) -> np.ndarray:
        """xs, ys: [P, N] -> [P] estimates (nats), one independent KSG per row."""
        xs = _batch_to_numpy(xs, "xs")
        ys = _batch_to_numpy(ys, "ys")
        if xs.shape != ys.shape:
            raise ValueError(
                f"xs and ys must have the same shape [P, N], got {xs.shape} and {ys.shape}")
        return np.array([ksg_mi(a, b, k=self.k) for a, b in zip(xs, ys)], dtype=np.float64)

    def __repr__(self) -> str:
        return f"KSG(k={self.k})"


def _batch_to_numpy(a, name: str) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array [P, N] (P sample sets of N samples), "
                         f"got shape {arr.shape}")
    return arr


class MINE:
    """MINE: Donsker-Varadhan bound maximised per data set (test-time optimisation).

    T(x, y) is a 2 -> hidden -> hidden -> 1 ELU MLP on standardised inputs. Each step
    draws a batch of joint pairs and pairs the same x with a random shuffle of y (samples
    of the product of marginals) and ascends

        E_joint[T] - log E_marg[exp T],

    with the gradient of the log term corrected by an exponential moving average of
    E_marg[exp T] (rate ``ema``), as in Belghazi et al. (2018), section 3.2.
    After training, the returned value is the DV bound on all N samples, with the
    marginal term averaged over 5 seeded shuffles of y. Everything is seeded by ``seed``,
    so the same input gives the same output; the global torch RNG is left untouched.

    batch_size=None means full batch. Cost: ``steps`` forward/backward passes over
    2 * batch_size points (about 2 s at N = 1000, 500 steps, on one core of this machine).
    ``threads``: torch CPU threads during ``estimate`` (restored afterwards). The network
    is too small to gain from more than one, and several threads slow it down by an order
    of magnitude when the cores are shared; None keeps torch's setting.
    """

    name = "MINE"

    def __init__(self, steps: int = 500, hidden: int = 64, lr: float = 1e-3,
                 batch_size: int | None = None, ema: float = 0.01, seed: int = 0,
                 device: str = "cpu", eval_shuffles: int = 5, threads: int | None = 1):
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        if hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {hidden}")
        if not 0.0 < ema <= 1.0:
            raise ValueError(f"ema must be in (0, 1], got {ema}")
        if batch_size is not None and batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 or None (full batch), got {batch_size}")
        self.steps = int(steps)
        self.hidden = int(hidden)
        self.lr = float(lr)
        self.batch_size = batch_size
        self.ema = float(ema)
        self.seed = int(seed)
        self.device = device
        self.eval_shuffles = int(eval_shuffles)
        self.threads = threads

    def __repr__(self) -> str:
        return (f"MINE(steps={self.steps}, hidden={self.hidden}, lr={self.lr}, "
                f"batch_size={self.batch_size}, ema={self.ema}, seed={self.seed}, "
                f"device={self.device!r}, threads={self.threads})")

    def _net(self, torch):
        h = self.hidden
        return torch.nn.Sequential(
            torch.nn.Linear(2, h), torch.nn.ELU(),
            torch.nn.Linear(h, h), torch.nn.ELU(),
            torch.nn.Linear(h, 1),
        )

    def estimate(self, x, y) -> float:
        import torch

        x, y = as_pair(x, y, min_n=2)
        if self.threads is None or torch.device(self.device).type != "cpu":
            return self._estimate(torch, x, y)
        before = torch.get_num_threads()
        torch.set_num_threads(int(self.threads))
        try:
            return self._estimate(torch, x, y)
        finally:
            torch.set_num_threads(before)

    def _estimate(self, torch, x: np.ndarray, y: np.ndarray) -> float:
        n = x.shape[0]
        dev = torch.device(self.device)
        xt = torch.as_tensor(_standardise(x), dtype=torch.float32, device=dev)
        yt = torch.as_tensor(_standardise(y), dtype=torch.float32, device=dev)
        b = n if self.batch_size is None else min(int(self.batch_size), n)
        gen = torch.Generator(device="cpu").manual_seed(self.seed)

        def perm(m: int) -> torch.Tensor:
            return torch.randperm(n, generator=gen)[:m].to(dev)

        # Seed the weight initialisation without disturbing the caller's global RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = self._net(torch).to(dev)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)

        def t_of(a, c):
            return net(torch.stack((a, c), dim=1)).squeeze(1)

        ma = None  # moving average of E_marg[exp T]
        for _ in range(self.steps):
            if b == n:
                xb, yb = xt, yt
            else:
                idx = perm(b)
                xb, yb = xt[idx], yt[idx]
            y_marg = yt[perm(b)]  # y drawn independently of xb: product of marginals
            # One pass over [joint; marginal] points: cheaper than two small passes.
            t = t_of(torch.cat((xb, xb)), torch.cat((yb, y_marg)))
            t_joint, t_marg = t[:b], t[b:]
            e_marg = torch.exp(t_marg).mean()
            e = e_marg.detach()
            ma = e if ma is None else (1.0 - self.ema) * ma + self.ema * e
            # d/dtheta of this surrogate = grad E[T] - E[grad T exp T] / ma
            loss = -(t_joint.mean() - e_marg / ma)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        with torch.no_grad():
            t_joint = t_of(xt, yt).mean()
            log_n = math.log(n)
            marg = [torch.logsumexp(t_of(xt, yt[perm(n)]), dim=0) - log_n
                    for _ in range(max(1, self.eval_shuffles))]
            dv = t_joint - torch.stack(marg).mean()
        return float(dv.item())
