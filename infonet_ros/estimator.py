"""``InfoNetEstimator``: the public API. Arrays in, mutual information (nats) out.

    from infonet_ros import InfoNetEstimator
    est = InfoNetEstimator.pretrained()          # bundled weights
    est.estimate(x, y)                           # float, nats
    est.estimate_batch(xs, ys)                   # [P, N], [P, N] -> [P]
    est.estimate_pairs(data, [(0, 1), (0, 2)])   # [N, K] -> [P], each column ranked once
    est.estimate_matrix(data)                    # [N, K] -> [K, K]
    est.estimate_sliced(X, Y)                    # [N, dx], [N, dy] -> float (sliced MI)
    est.mi(x, y)                                 # differentiable torch scalar (soft ranks)

Pipeline per pair: hard ranks of x and of y -> copula points in (0, 1)^2 -> one InfoNet
forward -> cross-fitted Donsker-Varadhan value. Every pair of a call goes through the network
in one batched pass (chunked only to bound memory).

Tied values (binary, quantised, saturated, integer streams): a column with repeated values
is ranked per pair with its ties broken in a pseudo-random order seeded by the pair's own
data (``copula.pair_ranks``): the distributional transform, which preserves I(X; Y) for
discrete and mixed variables, stays deterministic and order-invariant, and leaves data
without ties bit-identical. Averaged ties would put an atom into the copula, which the
network reads as strong dependence. A pair of two discrete columns whose joint table has at
most N / 10 cells reports the Miller-Madow plug-in MI of the discrete variables instead
(``infonet_ros.discrete``: nearly unbiased there, where the network reads block copulas low).

Conventions: estimates from the numpy API are clipped at 0 (MI is non-negative; the raw
cross-fitted value can dip slightly below 0 at independence). A constant input (zero
variance) carries no information: its MI is 0, with a RuntimeWarning. Inputs with NaN/Inf,
unequal lengths, fewer than ``MIN_SAMPLES`` samples, wrong dimensions or non-numeric data
raise ``ValueError`` naming the problem.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from .checkpoint import load_weights
from .copula import pair_ranks, rank_transform, rank_transform_numpy, soft_rank, tie_orders
from .discrete import miller_madow_mi, use_plugin
from .model import InfoNet

BUNDLED_WEIGHTS = Path(__file__).resolve().parent / "weights" / "infonet.safetensors"
MIN_SAMPLES = 32
_POINTS_PER_CHUNK = 1 << 21  # bounds activation memory of one forward (~2M points)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> cuda if available else cpu; 'cpu', 'cuda', 'cuda:N' validated."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ValueError(f"device must be a string like 'auto', 'cpu', 'cuda' or 'cuda:1', got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device={device!r} is not a valid device (use auto | cpu | cuda | cuda:N)") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} requested but CUDA is not available on this machine (use 'auto' or 'cpu')")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    elif dev.type != "cpu":
        raise ValueError(f"device={device!r} is not supported (use auto | cpu | cuda | cuda:N)")
    return dev


def _as_float_array(name: str, a, ndim: int | Sequence[int]) -> np.ndarray:
    """Validate and convert to float64 numpy. ``ndim`` is the allowed number(s) of dimensions."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError) as exc:  # ragged lists
        raise ValueError(f"{name} is not a rectangular numeric array: {exc}") from exc
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.number)) or np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real numeric data, got dtype {arr.dtype}")
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in allowed:
        raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimension(s), got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        first = np.argwhere(bad)[0].tolist()
        raise ValueError(f"{name} contains {int(bad.sum())} NaN/Inf value(s) (first at index {first[0] if len(first) == 1 else tuple(first)})")
    return arr


def _check_n(n: int, what: str = "samples"):
    if n < MIN_SAMPLES:
        raise ValueError(f"InfoNet needs at least {MIN_SAMPLES} {what}, got {n}")


class InfoNetEstimator:
    """Mutual information by one InfoNet forward pass. Thread-compatible, not thread-safe."""

    MIN_SAMPLES = MIN_SAMPLES

    def __init__(self, model: InfoNet, device: str | torch.device = "auto", info: dict | None = None,
                 path: str | Path | None = None, threads: int | None = 1, readout=None):
        """``threads``: CPU threads of a forward pass (default 1). A robot's cores are shared:
        torch's default pool (one thread per core) spins against the neighbours and took
        42-74 ms instead of 16 ms per 28-pair window on a busy 2-core machine, where one
        thread degrades gracefully. Set it per estimator (applied around each call and
        restored after, so other torch code keeps its setting); ``None`` uses torch's global
        setting. More threads pay off only on idle machines with many cores and large batches.

        ``readout``: the supervised read-out that turns the network's output into the published
        estimate and its 90 % interval (``infonet_ros.readout``, docs/READOUT.md): a
        ``SupervisedReadout``, a path to one, True for the bundled one, or None (default for
        a bare model) for the network's raw cross-fitted DV value. ``pretrained()`` uses the
        bundled read-out."""
        if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
            raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
        self.threads = threads
        self.torch_device = resolve_device(device)
        self.model = model.to(self.torch_device).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)  # inference only; mi() differentiates w.r.t. inputs
        self.info = dict(info or {})
        self.path = Path(path) if path is not None else None
        self.readout = self._resolve_readout(readout)

    def _resolve_readout(self, readout):
        """None/False -> None; True -> the bundled read-out; a path or a SupervisedReadout.
        Refuses a read-out trained on another network's features (sha256 of the weights)."""
        if readout is None or readout is False:
            return None
        from .readout import SupervisedReadout, infonet_weights_sha
        if readout is True:
            ro = SupervisedReadout.pretrained(infonet=self.model)
        elif isinstance(readout, SupervisedReadout):
            ro = readout
            ro._infonet = self.model
        elif isinstance(readout, (str, Path)):
            ro = SupervisedReadout.load(readout, infonet=self.model)
        else:
            raise ValueError(f"readout must be None, True, a path or a SupervisedReadout, got {readout!r}")
        want = ro.info.get("infonet_sha256")
        if want and self.path is not None and self.path.is_file():
            have = infonet_weights_sha(self.path)
            if have != want:
                raise ValueError(f"readout: trained on the features of InfoNet weights sha256 {want}, but this "
                                 f"estimator's weights {self.path} are {have}; use readout=None for the raw DV "
                                 "value or train a read-out for these weights (python -m infonet_ros.train_readout)")
        return ro

    @property
    def output(self) -> str:
        """What ``estimate*`` return: "readout" (the read-out's median) or "dv" (raw DV value)."""
        return "readout" if self.readout is not None else "dv"

    # -- construction ------------------------------------------------------------------
    @classmethod
    def pretrained(cls, device: str | torch.device = "auto", threads: int | None = 1,
                   readout=True) -> "InfoNetEstimator":
        """The weights bundled with the package (trained by infonet_ros.train), with the bundled
        supervised read-out (``readout=False``: the network's raw DV value instead)."""
        if not BUNDLED_WEIGHTS.is_file():
            raise FileNotFoundError(
                f"no bundled InfoNet weights at {BUNDLED_WEIGHTS}: this installation ships without a trained model. "
                "Train one with `infonet_train --config config/train.yaml` and use InfoNetEstimator.load(path)."
            )
        return cls.load(BUNDLED_WEIGHTS, device=device, threads=threads, readout=readout)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "auto", threads: int | None = 1,
             readout=None) -> "InfoNetEstimator":
        """A checkpoint written by the training pipeline (safetensors + config); ``readout``
        as in the constructor (None: raw DV value)."""
        dev = resolve_device(device)
        model, info = load_weights(path, device="cpu")
        return cls(model, dev, info=info, path=path, threads=threads, readout=readout)

    @contextlib.contextmanager
    def _torch_threads(self):
        """torch's CPU thread count set to ``self.threads`` for one call, then restored."""
        before = torch.get_num_threads()
        if self.threads is None or self.threads == before or self.torch_device.type != "cpu":
            yield
            return
        torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    @property
    def device(self) -> str:
        return str(self.torch_device)

    def __repr__(self) -> str:
        src = self.path.name if self.path else "in-memory"
        return f"InfoNetEstimator({src}, device={self.device}, config={self.model.cfg})"

    # -- core: copula points -> MI ----------------------------------------------------------
    @torch.inference_mode()
    def _forward_points(self, u: torch.Tensor, tables: bool = False) -> np.ndarray:
        """u: [P, N, 2] copula points on the device -> raw MI [P] (float64 numpy), or with
        ``tables`` the read-out's InfoNet features [P, 3] (``readout.table_features``)."""
        from .readout import table_features
        p, n, _ = u.shape
        chunk = max(1, _POINTS_PER_CHUNK // max(n, 1))
        pick = table_features if tables else (lambda o: o["mi"])
        with self._torch_threads():
            out = [pick(self.model(u[i : i + chunk])).double().cpu() for i in range(0, p, chunk)]
        if not out:
            return np.zeros((0, 3) if tables else 0)
        return torch.cat(out).numpy()

    def _quantiles(self, uc: torch.Tensor, const: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copula points uc [P, 2, N] (ties broken) -> (low, mid, high) [P], nats, >= 0.
        ``const`` [P]: rows with a constant input (averaged ranks, not a permutation; their
        result is set to 0 by the caller).

        With a read-out: one InfoNet forward for its table features plus the rank statistics
        (``readout.numpy_features``) through the read-out MLP. Without: the raw DV value as
        mid, NaN bounds."""
        u = uc.transpose(1, 2)  # [P, N, 2] view
        if self.readout is None:
            mid = np.maximum(self._forward_points(u), 0.0)
            nan = np.full_like(mid, np.nan)
            return nan, mid, nan.copy()
        from .readout import numpy_features
        n = uc.shape[-1]
        # 0-based ranks: u * N = r + 1/2 up to float32 rounding (< 1/4 for N < 2^21), truncated
        ranks = (uc.float().cpu().numpy() * np.float32(n)).astype(np.intp)
        ranks[const] = np.arange(n)  # any permutation: the features need one
        feats = np.concatenate([numpy_features(ranks[:, 0], ranks[:, 1], self.readout.feature_names),
                                self._forward_points(u, tables=True)], -1)
        with self._torch_threads():
            return self.readout.estimate_interval(feats)

    def _ranks(self, cols: np.ndarray) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        """cols: [K, N] float64 -> (ranks [K, N] float32 on device, constant-column mask [K],
        mask [K] of columns with ties; their ranks here are averaged, see ``_break_ties``)."""
        if self.torch_device.type == "cpu":  # numpy sorts faster on a CPU
            r, tied = rank_transform_numpy(cols, return_ties=True)
            const = np.zeros(len(cols), bool)  # a constant column (N >= 2) is a tied one
            if tied.any():
                t = np.flatnonzero(tied)
                const[t] = cols[t].max(axis=1) == cols[t].min(axis=1)
            return torch.from_numpy(r), const, tied
        const = (cols.max(axis=1) == cols.min(axis=1)) if cols.size else np.zeros(0, bool)
        t = torch.from_numpy(np.ascontiguousarray(cols)).to(self.torch_device)
        s = t.sort(-1).values
        tied = (s[:, 1:] == s[:, :-1]).any(-1).cpu().numpy()
        return rank_transform(t).float(), const, tied

    @staticmethod
    def _break_ties(uc: torch.Tensor, rows: np.ndarray, xs: np.ndarray, ys: np.ndarray):
        """Overwrite the copula rows uc[rows] ([P, 2, N]) by ``pair_ranks(xs, ys)`` ([R, N] each)."""
        if rows.size:
            u, v = pair_ranks(xs, ys)
            uc[torch.as_tensor(rows, device=uc.device)] = torch.from_numpy(np.stack([u, v], 1)).to(uc.device)

    @staticmethod
    def _discrete_pairs(q, rows: Iterable[int], xs: np.ndarray, ys: np.ndarray, levels=None):
        """q = (low, mid, high): mid[rows] <- the plug-in MI where both columns of a pair
        (xs, ys [R, N]) are discrete with a joint table of at most N / 10 cells
        (``discrete.use_plugin``); the interval is widened to hold it.
        ``levels``: optional (kx, ky) per row, the numbers of distinct values."""
        low, mid, high = q
        n = xs.shape[-1]
        for i, (r, x, y) in enumerate(zip(rows, xs, ys)):
            kx, ky = levels[i] if levels is not None else (np.unique(x).size, np.unique(y).size)
            if use_plugin(kx, ky, n):
                mid[r] = miller_madow_mi(x, y)
                low[r], high[r] = min(low[r], mid[r]), max(high[r], mid[r])  # NaN stays NaN

    @staticmethod
    def _warn_constant(names: Iterable[str]):
        names = list(names)
        if names:
            warnings.warn(f"constant input (zero variance) for {', '.join(names)}: MI set to 0", RuntimeWarning, stacklevel=3)

    # -- public numpy API --------------------------------------------------------------------
    def estimate(self, x, y) -> float:
        """MI between two 1-D samples of equal length N >= 32, in nats."""
        x = _as_float_array("x", x, 1)
        y = _as_float_array("y", y, 1)
        if x.shape != y.shape:
            raise ValueError(f"x and y must have equal length, got {x.shape[0]} and {y.shape[0]}")
        return float(self._estimate_rows(x[None], y[None], ("x", "y"))[1][0])

    def estimate_batch(self, xs, ys) -> np.ndarray:
        """P pairs at once: xs, ys [P, N] -> MI [P] (nats). Rows are independent data sets."""
        xs = _as_float_array("xs", xs, 2)
        ys = _as_float_array("ys", ys, 2)
        if xs.shape != ys.shape:
            raise ValueError(f"xs and ys must have the same shape [P, N], got {xs.shape} and {ys.shape}")
        return self._estimate_rows(xs, ys, ("xs", "ys"))[1]

    def _row_points(self, xs: np.ndarray, ys: np.ndarray):
        """Rows of pairs xs, ys [P, N] -> (copula points uc [P, 2, N] on the device, ties
        broken per pair; constant x [P]; constant y [P]; tied x [P]; tied y [P])."""
        p, n = xs.shape
        _check_n(n)
        r, c, tied = self._ranks(np.stack([xs, ys], 1).reshape(2 * p, n))  # rows x0, y0, x1, y1, ...
        cx, cy = c[0::2], c[1::2]
        uc = r.view(p, 2, n)
        rows = np.flatnonzero((tied[0::2] | tied[1::2]) & ~(cx | cy))
        self._break_ties(uc, rows, xs[rows], ys[rows])
        return uc, cx, cy, tied[0::2], tied[1::2]

    def _estimate_rows(self, xs: np.ndarray, ys: np.ndarray, names):
        """Rows of pairs xs, ys [P, N] -> (low, mid, high) [P]."""
        p, n = xs.shape
        if p == 0:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        uc, cx, cy, tx, ty = self._row_points(xs, ys)
        const = cx | cy
        q = self._quantiles(uc, const)
        both = np.flatnonzero(tx & ty & ~const)
        self._discrete_pairs(q, both, xs[both], ys[both])
        if const.any():
            rows = np.flatnonzero(const)
            label = lambda i: f"row {i}" if p > 1 else (names[0] if cx[i] else names[1])  # noqa: E731
            self._warn_constant(label(i) for i in rows[:5])
            self._zero(q, const)
        return q

    @staticmethod
    def _zero(q, rows):
        """A constant input carries no information: estimate and interval 0."""
        for a in q:
            a[rows] = np.where(np.isnan(a[rows]), np.nan, 0.0)

    def estimate_pairs(self, data, pairs: Sequence[tuple[int, int]], names: Sequence[str] | None = None) -> np.ndarray:
        """Columns of one window: data [N, K], pairs of column indices -> MI [P] (nats).

        Each column is ranked once; all pairs go through the network in one batched pass.
        ``names`` (optional, length K) only improves warning messages.
        """
        return self._estimate_pairs(data, pairs, names)[1]

    def _estimate_pairs(self, data, pairs, names=None):
        """(low, mid, high) [P] for the column pairs of one window [N, K]."""
        data = _as_float_array("data", data, 2)
        n, k = data.shape
        pairs = [(int(i), int(j)) for i, j in pairs]
        for i, j in pairs:
            if not (0 <= i < k and 0 <= j < k):
                raise ValueError(f"pair ({i}, {j}) is out of range for data with {k} columns")
        if not pairs:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        uc, const, tied = self._pair_points(data, pairs)
        bad = np.array([const[i] or const[j] for i, j in pairs])
        q = self._quantiles(uc, bad)
        both = [r for r, (i, j) in enumerate(pairs) if tied[i] and tied[j] and not bad[r]]
        if both:
            levels = {c: np.unique(data[:, c]).size for r in both for c in pairs[r]}
            ia, ib = np.asarray(pairs)[both].T
            self._discrete_pairs(q, both, data.T[ia], data.T[ib], [(levels[i], levels[j]) for i, j in zip(ia, ib)])
        if bad.any():
            label = (lambda c: names[c]) if names is not None else (lambda c: f"column {c}")
            self._warn_constant(label(c) for c in np.flatnonzero(const))
            self._zero(q, bad)
        return q

    def _pair_points(self, data: np.ndarray, pairs: list[tuple[int, int]]):
        """Columns of a window [N, K] and index pairs -> (copula points uc [P, 2, N] on the
        device, each column ranked once, ties broken per pair; constant columns [K]; tied
        columns [K])."""
        _check_n(data.shape[0])
        ranks, const, tied = self._ranks(data.T)
        idx = torch.as_tensor(pairs, device=self.torch_device)
        uc = torch.stack([ranks[idx[:, 0]], ranks[idx[:, 1]]], 1)  # [P, 2, N]
        bad = np.array([const[i] or const[j] for i, j in pairs])
        rows = np.flatnonzero(np.array([tied[i] or tied[j] for i, j in pairs]) & ~bad)
        if rows.size:  # a pair's ties are broken by the pair's own data
            ia, ib = np.asarray(pairs)[rows].T
            self._break_ties(uc, rows, data.T[ia], data.T[ib])
        return uc, const, tied

    # -- calibrated intervals (the supervised read-out) -------------------------------------
    def estimate_interval(self, x, y, level: float = 0.9) -> tuple[float, float, float]:
        """(low, mid, high) in nats: the 5 / 50 / 95 % quantiles of the MI given the sample,
        from the supervised read-out (docs/READOUT.md: trained against known MI; InfoNet's DV
        value is one of its features). mid is what ``estimate`` returns."""
        x = _as_float_array("x", x, 1)
        y = _as_float_array("y", y, 1)
        if x.shape != y.shape:
            raise ValueError(f"x and y must have equal length, got {x.shape[0]} and {y.shape[0]}")
        low, mid, high = self.estimate_interval_batch(x[None], y[None], level)
        return float(low[0]), float(mid[0]), float(high[0])

    def estimate_interval_batch(self, xs, ys, level: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P pairs: xs, ys [P, N] -> (low, mid, high), each [P] (see ``estimate_interval``)."""
        xs = _as_float_array("xs", xs, 2)
        ys = _as_float_array("ys", ys, 2)
        if xs.shape != ys.shape:
            raise ValueError(f"xs and ys must have the same shape [P, N], got {xs.shape} and {ys.shape}")
        self._check_level(level)
        return self._estimate_rows(xs, ys, ("xs", "ys"))

    def estimate_interval_pairs(self, data, pairs: Sequence[tuple[int, int]], level: float = 0.9,
                                names: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One window [N, K] and index pairs -> (low, mid, high), each [P]: one pass gives the
        estimate (mid, the same as ``estimate_pairs``) and its 90 % interval."""
        self._check_level(level)
        return self._estimate_pairs(data, pairs, names)

    def _check_level(self, level: float):
        if self.readout is None:
            raise ValueError("this estimator has no read-out (readout=None), so no intervals: use "
                             "InfoNetEstimator.pretrained() or pass readout=True / a read-out path")
        if not isinstance(level, (int, float)) or abs(float(level) - 0.9) > 1e-9:
            raise ValueError(f"level={level!r}: the read-out is trained for 90 % intervals (its 5 % and "
                             "95 % quantiles); other levels are not calibrated")

    def estimate_matrix(self, data) -> np.ndarray:
        """data [N, K] -> symmetric [K, K] MI matrix (nats), zero diagonal, one batched pass."""
        data = _as_float_array("data", data, 2)
        k = data.shape[1]
        pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
        out = np.zeros((k, k))
        if pairs:
            mi = self.estimate_pairs(data, pairs)
            for (i, j), v in zip(pairs, mi):
                out[i, j] = out[j, i] = v
        return out

    def estimate_sliced(self, X, Y, n_projections: int = 128, seed: int = 0) -> float:
        """Sliced MI of multivariate X [N, dx] and Y [N, dy]: the mean of 1-D InfoNet estimates
        over ``n_projections`` random unit directions (theta^T X, phi^T Y), seeded. As an
        independence test it is weak at high d (a slice carries ~0.3/d of rho^2, below
        InfoNet's small-sample noise): use ``infonet_ros.sliced.sliced_test`` for detection."""
        X = _as_float_array("X", X, (1, 2))
        Y = _as_float_array("Y", Y, (1, 2))
        X = X[:, None] if X.ndim == 1 else X
        Y = Y[:, None] if Y.ndim == 1 else Y
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"X and Y must have the same number of samples, got {X.shape[0]} and {Y.shape[0]}")
        if int(n_projections) < 1:
            raise ValueError(f"n_projections must be >= 1, got {n_projections}")
        rng = np.random.default_rng(seed)
        theta = rng.standard_normal((X.shape[1], n_projections))
        phi = rng.standard_normal((Y.shape[1], n_projections))
        theta /= np.linalg.norm(theta, axis=0, keepdims=True)
        phi /= np.linalg.norm(phi, axis=0, keepdims=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a degenerate projection is just 0
            mi = self.estimate_batch((X @ theta).T, (Y @ phi).T)
        return float(mi.mean())

    # -- differentiable ------------------------------------------------------------------------
    def mi(self, x, y, temperature: float = 2.0) -> torch.Tensor:
        """Differentiable MI (nats) via soft ranks, for end-to-end learning.

        x, y: [N] or [P, N] (tensors keep their graph; other inputs are converted). Returns a
        scalar tensor (or [P]) on the estimator's device. Not clipped at 0. Memory O(P N^2).
        ``temperature``: soft-rank smoothing in units of the typical gap between neighbouring
        samples (see ``copula.soft_rank``).
        """
        xt = x if isinstance(x, torch.Tensor) else torch.as_tensor(_as_float_array("x", x, (1, 2)))
        yt = y if isinstance(y, torch.Tensor) else torch.as_tensor(_as_float_array("y", y, (1, 2)))
        if xt.shape != yt.shape or xt.dim() not in (1, 2):
            raise ValueError(f"x and y must have equal shape [N] or [P, N], got {tuple(xt.shape)} and {tuple(yt.shape)}")
        if not (torch.is_floating_point(xt) and torch.is_floating_point(yt)):
            raise ValueError("x and y must be floating-point tensors for mi()")
        if not (torch.isfinite(xt).all() and torch.isfinite(yt).all()):
            raise ValueError("x or y contains NaN/Inf values")
        _check_n(xt.shape[-1])
        single = xt.dim() == 1
        xt, yt = (t.reshape(-1, t.shape[-1]).to(self.torch_device, torch.float32) for t in (xt, yt))
        ox, oy = tie_orders(xt, yt)  # ties ordered as in pair_ranks
        with self._torch_threads():
            u = torch.stack([soft_rank(xt, temperature, ox), soft_rank(yt, temperature, oy)], -1)
            mi = self.model(u)["mi"]
        return mi[0] if single else mi
