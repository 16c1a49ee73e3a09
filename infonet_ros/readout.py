"""Supervised read-out: cheap features of a sample set -> MI quantiles (5 / 50 / 95 %).

The shipped InfoNet is trained unsupervised (maximise a Donsker-Varadhan bound), so its
value can only sit below the truth and is biased by the finite table. This module reads a
sample set through a handful of cheap statistics -- one batched forward pass of the shipped
InfoNet plus O(N) statistics of the rank-transformed points -- and maps them with a small
MLP, trained against known ground-truth MI (``infonet_ros.truth``, ``train_readout.py``),
to three quantiles of the MI. The median is the point estimate; 5 % and 95 % give a 90 %
interval. Monotone by construction: low = mid - softplus(a), high = mid + softplus(b).
Outputs are clipped at 0 (MI >= 0).

Features of one set (all symmetric in (x, y), invariant to strictly increasing maps;
ties broken uniformly at random inside each tie group, ``rank_random_ties``). All of them
are ``ALL_FEATURES``; a read-out names the ones it reads (``FEATURE_NAMES``, 13, is the
shipped read-out's set) and only those are computed:

* ``log_n``
* ``hist_f*``: Miller-Madow corrected plug-in MI of the B x B rank histogram,
  B = round(f N^(1/3)) clipped to [2, 64], for f in ``HIST_FACTORS`` (resolution grows
  with N)
* ``gauss_ns``: -0.5 log(1 - r^2), r the correlation of the normal scores (exact for
  Gaussian copulas)
* ``spacing_mean``, ``spacing_max``: -1.5 - mean log |v_{(i+1)} - v_{(i)}| over neighbours
  in u order (and vice versa; mean and max of the two directions): the local spread of the
  conditional law at rank resolution; E log|U1 - U2| = -3/2, so ~0 at independence
* ``block_ns_m*`` / ``block_u_m*``: -0.5 mean log of the within-block variance of the normal
  scores (uniform ranks) of v over blocks of m neighbours in u order (averaged with the
  swapped direction)
* ``spacing_k4``, ``spacing_k16``: the same spacing statistic between neighbours k apart
  in u order (coarser scales)
* ``vasicek_m16``, ``vasicek_m64``: minus the mean Vasicek m-spacing entropy (spacing
  a = sqrt(m)/2) of v within blocks of m neighbours in u order, averaged with the swapped
  direction: h(V) - h(V | U) at block resolution (multi-modal and flat conditionals, which
  a variance misreads)
* ``box_f*``: leave-one-out local-count plug-in MI: on a G x G grid of rank cells,
  G = round(f N^(1/3)) for f in ``BOX_FACTORS``, c_i = the number of other points in the
  5 x 5 block of cells centred on point i's cell and e_i its expectation under independence
  ((n_u - 1)(n_v - 1)/(N - 1), n_u, n_v the points in the block's row and column ranges,
  fixed by the ranks); the statistic is mean_i log((c_i + 1/2) / e_i). A box-kernel density
  estimate at a bandwidth ~N^(-1/3) that, unlike the histograms, is centred on each point:
  it resolves the fine structure of the copula at large N (multi-component mixtures)
* ``abs_ns``: the correlation of the absolute normal scores |z_u|, |z_v|: dependence of
  scale, which the correlation of the scores misses (a t copula with rho = 0 puts its
  mass in the four corners; ~0 at independence, signed)
* ``infonet_mi``, ``infonet_tstd``, ``infonet_tmax``: the shipped InfoNet's cross-fitted DV
  value and the spread / maximum of its two DV tables.

Storage: ``<path>.safetensors`` (MLP weights) + ``<path>.json`` (config: feature names,
standardisation, layer sizes, InfoNet weights hash). No pickle.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import ndtri
from torch import nn

__all__ = [
    "FEATURE_NAMES", "ALL_FEATURES", "INFONET_FEATURES", "check_feature_names", "HIST_FACTORS", "BLOCK_SIZES", "QUANTILES", "rank_random_ties", "hist_bins", "SPACING_LAGS", "VASICEK_BLOCKS",
    "BOX_FACTORS", "BOX_HALF", "LEGACY_COLUMNS", "numpy_features", "infonet_features", "table_features", "compute_features", "ReadoutMLP", "SupervisedReadout",
    "pinball_loss", "estimate_interval", "BUNDLED_READOUT",
]

HIST_FACTORS = (0.5, 0.8, 1.25, 2.0, 3.2)
BLOCK_SIZES = (8, 32)
SPACING_LAGS = (4, 16)
VASICEK_BLOCKS = (16, 64)
BOX_FACTORS = (5.0, 10.0)
BOX_HALF = 2  # the local-count box: (2 BOX_HALF + 1)^2 cells
QUANTILES = (0.05, 0.5, 0.95)
INFONET_FEATURES = ("infonet_mi", "infonet_tstd", "infonet_tmax")
# the column order of legacy shards (read-outs v2-v4, stored without names): frozen
LEGACY_COLUMNS = (
    "log_n", "hist_f0.5", "hist_f0.8", "hist_f1.25", "hist_f2", "hist_f3.2", "gauss_ns", "spacing_mean",
    "spacing_max", "block_ns_m8", "block_ns_m32", "block_u_m8", "block_u_m32", "spacing_k4", "spacing_k16",
    "vasicek_m16", "vasicek_m64", *INFONET_FEATURES,
)
# every feature this module computes (a valid feature list: the InfoNet features last)
ALL_FEATURES = tuple(
    ["log_n"] + [f"hist_f{f:g}" for f in HIST_FACTORS] + ["gauss_ns", "spacing_mean", "spacing_max"]
    + [f"block_ns_m{m}" for m in BLOCK_SIZES] + [f"block_u_m{m}" for m in BLOCK_SIZES]
    + [f"spacing_k{k}" for k in SPACING_LAGS] + [f"vasicek_m{m}" for m in VASICEK_BLOCKS]
    + [f"box_f{f:g}" for f in BOX_FACTORS] + ["abs_ns"] + list(INFONET_FEATURES)
)
# the shipped read-out's set (v10f) and the default of a new one (``train_readout``'s
# ``features``): the block variances, the coarser spacings and the outermost histogram
# resolutions add nothing once the Vasicek entropies are in, box_f10 takes the place of
# hist_f2 at about its cost (docs/READOUT.md, "Features", "v6 feature probe"), and abs_ns
# sees dependence through a shared scale (training item 13; read-outs v6d-v9b lack it)
FEATURE_NAMES = (
    "log_n", "hist_f0.8", "hist_f1.25", "box_f10", "gauss_ns", "spacing_mean", "spacing_max",
    "vasicek_m16", "vasicek_m64", "abs_ns", *INFONET_FEATURES,
)


def check_feature_names(names, source: str = "feature list") -> tuple[str, ...]:
    """A read-out's feature names: known, unique, ``log_n`` first (the training weight reads
    it) and the InfoNet features last, in their order (one forward appends them)."""
    names = tuple(names)
    unknown = [n for n in names if n not in ALL_FEATURES]
    if unknown:
        raise ValueError(f"{source}: unknown features {unknown}; known: {list(ALL_FEATURES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"{source}: repeated feature names in {list(names)}")
    if not names or names[0] != "log_n" or names[-len(INFONET_FEATURES):] != INFONET_FEATURES:
        raise ValueError(f"{source}: must start with log_n and end with {list(INFONET_FEATURES)}, got {list(names)}")
    return names


BUNDLED_READOUT = Path(__file__).resolve().parent / "data" / "readout.safetensors"


def rank_random_ties(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ranks 0..N-1 along the last axis of [P, N] data, ties broken uniformly at random
    (a random permutation inside each tie group). int64 [P, N]."""
    a = np.atleast_2d(np.asarray(a, np.float64))
    tie_key = rng.random(a.shape)
    order = np.lexsort((tie_key, a), axis=-1)
    ranks = np.empty(a.shape, np.int64)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(a.shape[-1]), a.shape), -1)
    return ranks


def hist_bins(n: int) -> list[int]:
    """Histogram resolutions for a set of n points (grow like n^(1/3))."""
    return [int(min(max(round(f * n ** (1 / 3)), 2), 64)) for f in HIST_FACTORS]


class RankTables(NamedTuple):
    """Lookup tables for sets of n points (ranks are integers, so every log is a lookup;
    lookups go through ``np.take``, faster than fancy indexing)."""

    scores: np.ndarray         # [n] normal scores ndtri((r + 1/2) / n)
    log_half: np.ndarray       # [n + 1] log(d + 1/2), d = 0..n
    log_max: np.ndarray        # [n + 1] log(max(d, 1/2))
    clogc: np.ndarray          # [n + 1] c log c (0 at c = 0)
    hist: tuple                # per histogram resolution b: (b, rank -> bin [n], rank -> b x bin [n],
                               #   sum of the marginals' c log c)
    log_less_half: np.ndarray  # [n + 2] log(c - 1/2), c = 0..n + 1 (NaN at 0)
    moments: tuple             # (mean of scores^2, mean and variance of |scores|): the same in
                               #   every row of a permutation


@functools.lru_cache(maxsize=32)
def _tables(n: int) -> RankTables:
    """``RankTables`` for sets of n points."""
    d = np.arange(n + 1, dtype=np.float64)
    clogc = d * np.log(np.maximum(d, 1.0))
    hist = []
    for b in hist_bins(n):
        bins = (np.arange(n) * b // n).astype(np.intp)
        marg = np.bincount(bins, minlength=b)  # a permutation fills every bin alike
        hist.append((b, bins, bins * b, 2.0 * clogc[marg].sum()))
    log_less_half = np.concatenate([[np.nan], np.log(d + 0.5)])
    scores = ndtri((np.arange(n) + 0.5) / n)
    a = np.abs(scores)
    return RankTables(scores, np.log(d + 0.5), np.log(np.maximum(d, 0.5)), clogc, tuple(hist), log_less_half,
                      ((scores * scores).mean(), a.mean(), a.var()))


def _hist_mi(ru: np.ndarray, rv: np.ndarray, tables, which=None) -> list[np.ndarray]:
    """Miller-Madow plug-in MI of the b x b histograms of rank pairs, per row, for each b of
    ``hist_bins(N)`` (``which``: indices into ``HIST_FACTORS``, default all). ru, rv: [P, N]
    permutations of 0..N-1 -> list of [P].

    Both marginals of a b-bin histogram of a permutation are fixed (and non-empty), so
    sum c log(c N / (p_x p_y)) = sum c log c + N log N - sum p_x log p_x - sum p_y log p_y,
    and only the joint counts vary."""
    p, n = ru.shape
    clogc, hist = tables.clogc, tables.hist
    out = []
    for b, bins, bins_b, marg in (hist if which is None else [hist[i] for i in which]):
        cell = np.take(bins_b, ru)
        cell += np.take(bins, rv)
        cell += (np.arange(p, dtype=cell.dtype) * (b * b))[:, None]
        counts = np.bincount(cell.ravel(), minlength=p * b * b).reshape(p, b * b)
        plug = (np.take(clogc, counts).sum(-1) + n * math.log(n) - marg) / n
        m = np.count_nonzero(counts, -1)
        out.append(plug + ((b - 1) + (b - 1) - (m - 1)) / (2.0 * n))
    return out


@functools.lru_cache(maxsize=32)
def _box_tables(n: int, f: float):
    """Grid of the local-count statistic for sets of n points: (G, rank -> row offset
    bu * (G + 2w) [n], rank -> cell [n] (both int32), the count dtype, mean log of the
    expected count under independence). A permutation puts a fixed number of points in
    every row (column) of cells, so the expectation depends on the ranks only, and so does
    the largest possible box count (the points in a box's row range): uint8 counts when it
    is below 256 (N up to ~10^4), uint16 below 65536."""
    g = int(min(max(round(f * n ** (1 / 3)), 2 * BOX_HALF + 1), n))
    bins = (np.arange(n) * g // n).astype(np.int32)
    cum = np.concatenate([[0], np.cumsum(np.bincount(bins, minlength=g))])
    a = np.arange(g)
    in_box = cum[np.minimum(a + BOX_HALF + 1, g)] - cum[np.maximum(a - BOX_HALF, 0)]  # points in a box's row range
    dtype = next(t for t in (np.uint8, np.uint16, np.int64) if in_box.max() <= np.iinfo(t).max)
    side = g + 2 * BOX_HALF
    return g, bins * np.int32(side), bins, dtype, 2.0 * np.log(in_box[bins] - 1.0).mean() - math.log(n - 1)


def _box_mi(ru: np.ndarray, rv: np.ndarray, f: float, tables) -> np.ndarray:
    """Local-count plug-in MI (``box_f*``) of rank pairs [P, N] -> [P].

    The counts sit on a grid padded with w = BOX_HALF empty cells on each side, in the
    narrowest unsigned type that holds a box count (``_box_tables``: uint8 up to N ~ 10^4,
    a quarter of the memory traffic of int32); 2w shifted adds along the flat grid give
    every row segment of 2w + 1 cells, 2w more (shifted by whole rows) every box, and one
    gather per point reads its box. The count c includes the point itself: log(c - 1/2)
    is a lookup (``_tables``)."""
    p, n = ru.shape
    g, row_off, bins, dtype, log_expected = _box_tables(n, f)
    w = BOX_HALF
    side = g + 2 * w
    # flat index of the box's top-left cell (row bu - w, column bv - w, padded coordinates)
    cells = p * side * side
    corner = np.take(row_off, ru)
    if cells >= 2 ** 31:  # flat indices beyond int32 (tens of thousands of pairs)
        corner = corner.astype(np.int64)
    corner += np.take(bins, rv)
    corner += (np.arange(p, dtype=corner.dtype) * (side * side))[:, None]
    counts = np.bincount((corner + w * (side + 1)).ravel(), minlength=cells).astype(dtype)
    seg = counts[: -2 * w].copy()  # seg[i] = counts[i] + ... + counts[i + 2w]
    for k in range(1, 2 * w + 1):
        seg += counts[k: len(counts) - 2 * w + k]
    rows = len(seg) - 2 * w * side
    box = seg[:rows].copy()        # box[i] = seg[i] + seg[i + side] + ... + seg[i + 2w side]
    for k in range(1, 2 * w + 1):
        box += seg[k * side: k * side + rows]
    c = np.take(box, corner)
    return np.take(tables.log_less_half, c).mean(-1) - log_expected


def _block_stats(a: np.ndarray, m: int, ones: dict) -> tuple[np.ndarray, np.ndarray]:
    """Sums of a [R, N] float64 and of its squares over the k = N // m blocks of m
    consecutive values of each row: ([R, k], [R, k]). A matrix-vector product with ones
    (BLAS) is ~10x faster than numpy's reduction over a short trailing axis."""
    r, n = a.shape
    k = n // m
    if m not in ones:
        ones[m] = np.ones(m)
    blk = a[:, : k * m].reshape(r * k, m)
    return (blk @ ones[m]).reshape(r, k), (np.square(blk) @ ones[m]).reshape(r, k)


def _neg_half_log_block_var(a: np.ndarray, m: int, scale: float, ones: dict) -> np.ndarray:
    """-0.5 mean log(scale * unbiased within-block variance) over the blocks of m
    consecutive values of each row of a [R, N]: [R]."""
    s1, s2 = _block_stats(a, m, ones)
    var = np.maximum(s2 - s1 * s1 / m, 0.0) * (scale / (m - 1))
    return -0.5 * np.log(var + 1e-12).mean(-1)


def _directional(ru: np.ndarray, rv: np.ndarray, tables, want=None) -> dict:
    """Statistics of v along u order: spacings, block variances (normal scores, ranks),
    Vasicek m-spacing entropies of the blocks. ru, rv: [R, N] permutations of 0..N-1 ->
    dict of [R] (``want``: the keys to compute, default all). ``numpy_features`` stacks both
    directions (rows (u, v), then (v, u)) into one call.

    With v_i = rank / N, log(|v_j - v_i| + 1/(2N)) = log(|d| + 1/2) - log N for the integer
    rank difference d: a table lookup."""
    r, n = ru.shape
    scores, log_half, log_max = tables.scores, tables.log_half, tables.log_max
    logn = math.log(n)
    # the ranks of v in u order: one scatter, vi[row, ru] = rv (flat, offset per row)
    vi = np.empty(r * n, rv.dtype)
    vi[(ru + (np.arange(r, dtype=np.intp) * n)[:, None]).ravel()] = rv.ravel()
    vi = vi.reshape(r, n)
    want = _DIRECTIONAL_KEYS if want is None else set(want)
    out = {}
    for k in (1,) + SPACING_LAGS:
        key = "spacing" if k == 1 else f"spacing_k{k}"
        if key in want:
            d = vi[:, k:] - vi[:, :-k]
            out[key] = -1.5 - (np.take(log_half, np.abs(d, out=d)).mean(-1) - logn)
    ones = {}
    if any(f"block_ns_m{m}" in want for m in BLOCK_SIZES):
        zs = np.take(scores, vi)
        for m in BLOCK_SIZES:
            if f"block_ns_m{m}" in want:
                out[f"block_ns_m{m}"] = _neg_half_log_block_var(zs, m, 1.0, ones)
    if any(f"block_u_m{m}" in want for m in BLOCK_SIZES):
        vs = vi.astype(np.float64)
        for m in BLOCK_SIZES:
            if f"block_u_m{m}" in want:
                out[f"block_u_m{m}"] = _neg_half_log_block_var(vs, m, 12.0 / (n * n), ones)
    for name in VASICEK_BLOCKS:
        if f"vasicek_m{name}" not in want:
            continue
        m = min(name, n)
        k = n // m
        blk = np.sort(vi[:, : k * m].astype(np.int32).reshape(r, k, m), -1)  # int32: faster SIMD sort
        a = max(1, int(round(math.sqrt(m) / 2)))
        # m-spacings blk[i + a] - blk[i - a], indices clamped at the block's ends: the
        # interior, then the a values at each end
        total = np.take(log_max, blk[..., 2 * a:] - blk[..., : -2 * a]).sum((-1, -2))
        total += np.take(log_max, blk[..., a : 2 * a] - blk[..., :1]).sum((-1, -2))
        total += np.take(log_max, blk[..., -1:] - blk[..., -2 * a : -a]).sum((-1, -2))
        # minus the Vasicek entropy of each block's v values (h(V) = 0 for uniform V)
        out[f"vasicek_m{name}"] = -(total / (k * m) - logn + math.log(m / (2 * a)))
    return out


_DIRECTIONAL_KEYS = frozenset(
    ["spacing"] + [f"spacing_k{k}" for k in SPACING_LAGS] + [f"block_ns_m{m}" for m in BLOCK_SIZES]
    + [f"block_u_m{m}" for m in BLOCK_SIZES] + [f"vasicek_m{m}" for m in VASICEK_BLOCKS])


def numpy_features(ru: np.ndarray, rv: np.ndarray, names=FEATURE_NAMES) -> np.ndarray:
    """The rank statistics among ``names`` (all but the InfoNet features, in the order of
    ``names``) from integer ranks [P, N] (each row a permutation of 0..N-1, ties broken)
    -> [P, len(names) - 3]. Only the requested statistics are computed."""
    p, n = ru.shape
    names = [f for f in names if f not in INFONET_FEATURES]
    tables = _tables(n)
    scores = tables.scores
    out = {}
    if "log_n" in names:
        out["log_n"] = np.full(p, math.log(n))
    which = [i for i, f in enumerate(HIST_FACTORS) if f"hist_f{f:g}" in names]
    for i, h in zip(which, _hist_mi(ru, rv, tables, which)):
        out[f"hist_f{HIST_FACTORS[i]:g}"] = h
    for f in BOX_FACTORS:
        if f"box_f{f:g}" in names:
            out[f"box_f{f:g}"] = _box_mi(ru, rv, f, tables)
    if "gauss_ns" in names or "abs_ns" in names:
        zz = np.take(scores, ru)
        zz *= np.take(scores, rv)  # products of the normal scores; |z_u| |z_v| = |z_u z_v|
        ss, m, v = tables.moments  # the same in every row of a permutation
        if "gauss_ns" in names:
            r = zz.mean(-1) / ss
            out["gauss_ns"] = -0.5 * np.log(np.clip(1.0 - r * r, 1e-8, None))
        if "abs_ns" in names:
            out["abs_ns"] = (np.abs(zz, out=zz).mean(-1) - m * m) / v
    # the directional statistics; spacing_mean / _max both come from the lag-1 spacing
    want = {"spacing" if f in ("spacing_mean", "spacing_max") else f for f in names} & _DIRECTIONAL_KEYS
    if want:
        d = _directional(np.concatenate([ru, rv]), np.concatenate([rv, ru]), tables, want)  # both directions at once
        for key, v in d.items():
            if key == "spacing":
                out["spacing_mean"], out["spacing_max"] = (v[:p] + v[p:]) / 2, np.maximum(v[:p], v[p:])
            else:
                out[key] = (v[:p] + v[p:]) / 2
    return np.stack([out[f] for f in names], -1) if names else np.zeros((p, 0))


_POINTS_PER_CHUNK = 1 << 20


def table_features(out: dict) -> torch.Tensor:
    """InfoNet's features from one forward's output: [P, 3] = (cross-fitted DV value, mean
    std of the two DV tables, mean maximum of the tables)."""
    t = out["tables"].flatten(2)  # [P, 2, G*G]
    d = t - t.mean(-1, keepdim=True)
    std = (d * d).sum(-1).div_(t.shape[-1] - 1).sqrt_()  # = t.std(-1), whose CPU kernel is ~20x slower
    return torch.stack([out["mi"], std.mean(-1), t.amax(-1).mean(-1)], -1)


@torch.inference_mode()
def infonet_features(model, ru: np.ndarray, rv: np.ndarray) -> np.ndarray:
    """One batched forward of the shipped InfoNet on copula points ((rank + 1/2) / N):
    [P, 3] (``table_features``)."""
    p, n = ru.shape
    device = next(model.parameters()).device
    u = torch.from_numpy(((np.stack([ru, rv], -1) + 0.5) / n).astype(np.float32)).to(device)
    chunk = max(1, _POINTS_PER_CHUNK // n)
    outs = [table_features(model(u[i : i + chunk])).double().cpu() for i in range(0, p, chunk)]
    return torch.cat(outs).numpy()


def compute_features(xs, ys, model=None, rng: np.random.Generator | int | None = 0,
                     names=FEATURE_NAMES) -> np.ndarray:
    """Features ``names`` of P sample sets of equal size: xs, ys [P, N] (or [N]) -> [P, F].

    ``model``: an ``InfoNet`` (e.g. ``InfoNetEstimator.pretrained().model``); None loads the
    bundled one. ``rng``: generator or seed for the random tie-breaking (default 0:
    deterministic). ``names``: a read-out's feature list (``check_feature_names``)."""
    names = check_feature_names(names)
    xs = np.atleast_2d(np.asarray(xs, np.float64))
    ys = np.atleast_2d(np.asarray(ys, np.float64))
    if xs.shape != ys.shape:
        raise ValueError(f"xs and ys must have the same shape, got {xs.shape} and {ys.shape}")
    if xs.shape[-1] < 16:
        raise ValueError(f"need at least 16 samples per set, got {xs.shape[-1]}")
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        raise ValueError("xs/ys contain NaN or Inf")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    ru, rv = rank_random_ties(xs, rng), rank_random_ties(ys, rng)
    if model is None:
        model = _default_infonet()
    return np.concatenate([numpy_features(ru, rv, names), infonet_features(model, ru, rv)], -1)


_INFONET = None


def _default_infonet():
    global _INFONET
    if _INFONET is None:
        from .estimator import InfoNetEstimator
        _INFONET = InfoNetEstimator.pretrained(device="cpu", readout=False).model  # the network alone
    return _INFONET


def infonet_weights_sha(path: str | Path | None = None) -> str:
    """sha256 prefix (12 hex digits) of InfoNet weights: ``path``, or the bundled file."""
    if path is None:
        from .estimator import BUNDLED_WEIGHTS
        path = BUNDLED_WEIGHTS
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


# ---------------------------------------------------------------- the network

class ReadoutMLP(nn.Module):
    """Standardised features -> (low, mid, high); low <= mid <= high by construction."""

    def __init__(self, n_features: int, hidden: int = 128, layers: int = 3,
                 mean: np.ndarray | None = None, std: np.ndarray | None = None):
        super().__init__()
        self.n_features, self.hidden, self.layers = n_features, hidden, layers
        self.register_buffer("mean", torch.as_tensor(np.zeros(n_features) if mean is None else mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(np.ones(n_features) if std is None else std, dtype=torch.float32))
        mods, d = [], n_features
        for _ in range(layers):
            mods += [nn.Linear(d, hidden), nn.SiLU()]
            d = hidden
        self.body = nn.Sequential(*mods)
        self.head = nn.Linear(d, 3)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """[B, F] -> [B, 3] quantiles (5, 50, 95 %), unclipped."""
        o = self.head(self.body((f - self.mean) / self.std))
        mid = o[:, 0]
        return torch.stack([mid - F.softplus(o[:, 1]), mid, mid + F.softplus(o[:, 2])], -1)

    def _apply(self, fn, *args, **kwargs):  # .to() / .float() may replace tensors: new plan
        self.__dict__.pop("_plan_tensors", None)
        self.__dict__.pop("_plan_cache", None)
        return super()._apply(fn, *args, **kwargs)

    def _plan(self) -> tuple:
        """Inference weights: the standardisation folded into the first layer
        (W (f - m) / s + b = (W / s) f + (b - (W / s) m)), every weight transposed for
        ``addmm``. Cached, keyed on the versions of the parameters and buffers (an optimiser
        step or ``load_state_dict`` rebuilds it)."""
        tensors = self.__dict__.get("_plan_tensors")
        if tensors is None:
            tensors = self.__dict__["_plan_tensors"] = (*self.parameters(), *self.buffers())
        key = tuple((t._version, t.data_ptr()) for t in tensors)
        cached = self.__dict__.get("_plan_cache")
        if cached is not None and cached[0] == key:
            return cached[1]
        with torch.no_grad():
            lins = [m for m in self.body if isinstance(m, nn.Linear)] + [self.head]
            w0 = lins[0].weight / self.std
            layers = [(lins[0].bias - w0 @ self.mean, w0.T.contiguous())]
            layers += [(m.bias.detach().clone(), m.weight.T.contiguous()) for m in lins[1:]]
        self.__dict__["_plan_cache"] = (key, tuple(layers))
        return tuple(layers)

    def quantiles_numpy(self, f: np.ndarray) -> np.ndarray:
        """``forward`` for inference on a float32 array [B, F] -> float64 [B, 3] (unclipped):
        the same function with the standardisation folded into the first layer, in-place
        activations and the last steps in numpy (about half the time of ``forward`` for a
        window of 28 pairs; equal to it within float32 rounding, tested)."""
        *body, (hb, hw) = self._plan()
        with torch.inference_mode():
            h = torch.from_numpy(f)
            for b, wt in body:
                h = F.silu(torch.addmm(b, h, wt), inplace=True)
            o = torch.addmm(hb, h, hw).numpy().astype(np.float64)
        with np.errstate(invalid="ignore"):  # a NaN feature gives NaN quantiles, as forward does
            sp = np.logaddexp(0.0, o[:, 1:])  # softplus
        o[:, 1], o[:, 2] = o[:, 0] - sp[:, 0], o[:, 0] + sp[:, 1]
        return o[:, [1, 0, 2]]


def pinball_loss(q: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
    """Mean pinball loss of quantile predictions q [B, 3] at ``QUANTILES`` for targets y [B].
    ``w``: a weight per set [B], or per set and quantile [B, 3] (normalised by the mean over
    the quantiles, so equal columns give the [B] form)."""
    tau = torch.tensor(QUANTILES, dtype=q.dtype, device=q.device)
    d = y[:, None] - q
    loss = torch.maximum(tau * d, (tau - 1) * d)
    if w is None:
        return loss.sum(-1).mean()
    if w.dim() == 2:
        return (loss * w).sum() / w.mean(-1).sum()
    return (loss.sum(-1) * w).sum() / w.sum()


class SupervisedReadout:
    """The trained read-out: ``estimate_interval(features)``, ``estimate_batch``, save/load."""

    FORMAT = "infonet_ros.readout/1"

    def __init__(self, mlp: ReadoutMLP, info: dict | None = None, infonet=None, feature_names=FEATURE_NAMES):
        self.feature_names = check_feature_names(feature_names, "read-out")
        if len(self.feature_names) != mlp.n_features:
            raise ValueError(f"read-out: {len(self.feature_names)} feature names for an MLP of {mlp.n_features} inputs")
        self.mlp = mlp.eval()
        self.info = dict(info or {})
        self._infonet = infonet

    @property
    def infonet(self):
        """The network whose forward pass gives the infonet_* features: the one passed in, or
        the bundled one, which must be the network this read-out was trained on."""
        if self._infonet is None:
            want, have = self.info.get("infonet_sha256"), infonet_weights_sha()
            if want and want != have:
                raise ValueError(f"read-out: trained on the features of InfoNet weights sha256 {want}, but the "
                                 f"bundled network is {have}; pass its network (infonet=..., or "
                                 "InfoNetEstimator.load(weights, readout=this file))")
            self._infonet = _default_infonet()
        return self._infonet

    # -- io
    def config(self) -> dict:
        return {"format": self.FORMAT, "feature_names": list(self.feature_names), "n_features": self.mlp.n_features,
                "hidden": self.mlp.hidden, "layers": self.mlp.layers, "quantiles": list(QUANTILES),
                "hist_factors": list(HIST_FACTORS), "block_sizes": list(BLOCK_SIZES), "info": self.info}

    def save(self, path: str | Path) -> Path:
        """Writes ``<stem>.safetensors`` and ``<stem>.json``; returns the safetensors path."""
        from safetensors.torch import save_file
        path = Path(path).with_suffix(".safetensors")
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().float().contiguous() for k, v in self.mlp.state_dict().items()}
        tmp = path.with_suffix(".tmp")
        save_file(tensors, str(tmp), metadata={"format": self.FORMAT})
        cfg_tmp = path.with_suffix(".json.tmp")
        cfg_tmp.write_text(json.dumps(self.config(), indent=1, sort_keys=True, default=str))
        tmp.replace(path)
        cfg_tmp.replace(path.with_suffix(".json"))
        return path

    @classmethod
    def pretrained(cls, infonet=None) -> "SupervisedReadout":
        """The read-out bundled with the package (``infonet_ros/data/readout.safetensors``)."""
        if not BUNDLED_READOUT.is_file():
            raise FileNotFoundError(f"no bundled read-out at {BUNDLED_READOUT}: train one with "
                                    "`python -m infonet_ros.train_readout` and use SupervisedReadout.load(path)")
        return cls.load(BUNDLED_READOUT, infonet)

    @classmethod
    def load(cls, path: str | Path, infonet=None) -> "SupervisedReadout":
        from safetensors.torch import load_file
        path = Path(path).with_suffix(".safetensors")
        cfg = json.loads(path.with_suffix(".json").read_text())
        if cfg.get("format") != cls.FORMAT:
            raise ValueError(f"{path}: not a read-out checkpoint (format {cfg.get('format')!r})")
        names = check_feature_names(cfg.get("feature_names", ()), str(path.with_suffix(".json")))
        mlp = ReadoutMLP(cfg["n_features"], cfg["hidden"], cfg["layers"])
        mlp.load_state_dict(load_file(str(path)))
        return cls(mlp, cfg.get("info"), infonet, names)

    # -- inference
    def estimate_interval(self, features) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """features [P, F] (``compute_features``) -> (low, mid, high), each [P], nats, >= 0."""
        q = np.maximum(self.quantiles_unclipped(features), 0.0)
        return q[:, 0], q[:, 1], q[:, 2]

    def quantiles_unclipped(self, features) -> np.ndarray:
        """[P, 3] raw quantiles (5, 50, 95 %) before the clip at 0."""
        f = np.ascontiguousarray(np.atleast_2d(np.asarray(features, np.float32)))
        if f.ndim != 2 or f.shape[1] != self.mlp.n_features:
            raise ValueError(f"read-out features: expected [P, {self.mlp.n_features}] ({', '.join(self.feature_names)}), "
                             f"got shape {f.shape}")
        return self.mlp.quantiles_numpy(f)

    def features(self, xs, ys, seed: int = 0) -> np.ndarray:
        """This read-out's features of sets xs, ys [P, N] -> [P, F] (``compute_features``)."""
        return compute_features(xs, ys, self.infonet, seed, self.feature_names)

    def interval_batch(self, xs, ys, seed: int = 0):
        return self.estimate_interval(self.features(xs, ys, seed))

    def estimate_batch(self, xs, ys, seed: int = 0) -> np.ndarray:
        return self.interval_batch(xs, ys, seed)[1]

    def estimate(self, x, y, seed: int = 0) -> float:
        return float(self.estimate_batch(np.asarray(x)[None], np.asarray(y)[None], seed)[0])


_BUNDLED = None


def estimate_interval(features, readout: SupervisedReadout | str | Path | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low, mid, high) in nats for features [P, F] (``compute_features``): the 5 / 50 / 95 %
    quantiles. ``readout``: object, checkpoint path, or None for the bundled one."""
    global _BUNDLED
    if readout is None:
        if _BUNDLED is None:
            _BUNDLED = SupervisedReadout.pretrained()
        readout = _BUNDLED
    elif not isinstance(readout, SupervisedReadout):
        readout = SupervisedReadout.load(readout)
    return readout.estimate_interval(features)
