"""Copula (rank) transforms: each marginal -> ranks scaled into the unit interval.

MI is invariant to strictly increasing transforms of either variable, so InfoNet only ever
sees ranks. Convention (hard and soft alike): ``u = (r - 1/2) / N`` with r = 1..N the rank;
distinct values therefore sit on the cell centres of a regular grid in (0, 1).

Ties. ``rank_transform``/``rank_transform_numpy`` average tied ranks (one column on its
own). The estimator does not feed averaged ties to the network: a tie group becomes a
single atom of the copula, and the network reads atoms as strong dependence (a binary
stream against independent noise read 1.8 nats). ``pair_ranks`` instead breaks the ties of
each column of an (x, y) pair in a pseudo-random order: the distributional transform
``U = F(x-) + V P(X = x)`` with V uniform and independent of everything, which leaves
``I(U; Y) = I(X; Y)`` exactly for discrete and mixed X. V comes from a 64-bit hash of the
sample's own (x, y) values (and its occurrence number among identical samples), so the
result is deterministic, invariant to sample order, exactly symmetric in (x, y), and
independent of y's order in distribution. ``soft_rank`` takes the same keys, so the
differentiable path agrees with it as the temperature goes to 0.
"""

from __future__ import annotations

import numpy as np
import torch


def rank_transform(x: torch.Tensor) -> torch.Tensor:
    """Hard ranks along the last axis, ties averaged, scaled to (0, 1).

    x: [..., N] (any real dtype) -> [..., N] float32 (float64 stays float64).
    Permutation-equivariant and exactly invariant to strictly increasing transforms.
    """
    if x.shape[-1] == 0:
        raise ValueError("rank_transform needs at least one sample")
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    n = x.shape[-1]
    s, order = x.sort(-1)
    pos = torch.arange(n, device=x.device).expand_as(s)
    # tie groups in sorted order: first and last position of each run of equal values
    first = torch.ones_like(s, dtype=torch.bool)
    first[..., 1:] = s[..., 1:] != s[..., :-1]
    last = torch.ones_like(first)
    last[..., :-1] = first[..., 1:]
    start = torch.where(first, pos, torch.zeros_like(pos)).cummax(-1).values
    end = torch.where(last, pos, torch.full_like(pos, n)).flip(-1).cummin(-1).values.flip(-1)
    # averaged 1-based rank r = (start + end) / 2 + 1  ->  u = (r - 1/2) / N
    u_sorted = (start + end + 1).to(dtype) / (2.0 * n)
    return torch.empty_like(u_sorted).scatter_(-1, order, u_sorted)


def _sorted_keys(x2: np.ndarray) -> np.ndarray:
    """Rows of [R, N] float data -> sorted int64 keys (float32 value << 32 | index).

    numpy sorts 64-bit integers with SIMD but has no SIMD argsort, so packing the index under
    an order-preserving integer image of the float32 value is ~3x faster than ``argsort``.
    """
    n = x2.shape[-1]
    with np.errstate(over="ignore"):  # beyond float32 range -> +-inf: a collision, handled exactly
        f = x2.astype(np.float32)
    f += np.float32(0.0)  # -0.0 -> +0.0: equal values must share a key
    i = f.view(np.int32)
    i = i ^ ((i >> 31) & 0x7FFFFFFF)  # IEEE bits -> signed integers in the same order
    key = i.astype(np.int64)
    key <<= 32
    key |= np.arange(n, dtype=np.int64)
    key.sort(axis=-1)
    return key


def rank_transform_numpy(x: np.ndarray, return_ties: bool = False):
    """``rank_transform`` in numpy (same convention and output, float32), for the CPU.

    Fast path: rows whose float32 images are all distinct are ordered exactly by one sort
    of packed (float32 value, index) keys (rounding to float32 is monotone, so distinct
    float32 values are in the order of the originals). Rows with ties or float32
    collisions take the exact float64 argsort with averaged ties. ``return_ties=True`` also
    returns a bool mask of the rows (shape ``x.shape[:-1]``) that hold repeated values.
    """
    x = np.asarray(x)
    if x.shape[-1] == 0:
        raise ValueError("rank_transform needs at least one sample")
    n = x.shape[-1]
    x2 = x.reshape(-1, n)
    rows = x2.shape[0]
    out = np.empty(x2.shape, np.float32)
    tied = np.zeros(rows, bool)
    if n >= 2 ** 31 or rows == 0:
        slow = np.arange(rows)
    else:
        key = _sorted_keys(x2)
        # same float32 value <=> neighbouring keys differ by less than 2^31 (the index part)
        collide = (np.diff(key, axis=-1) < 2 ** 31).any(-1)
        fast = np.flatnonzero(~collide)
        slow = np.flatnonzero(collide)
        if fast.size:
            order = key[fast] & 0xFFFFFFFF
            order += (fast * n)[:, None]
            u = ((np.arange(n) + 0.5) / n).astype(np.float32)
            out.reshape(-1)[order.ravel()] = np.broadcast_to(u, order.shape).ravel()
    if slow.size:
        out[slow], tied[slow] = _rank_ties(x2[slow])
    out = out.reshape(x.shape)
    return (out, tied.reshape(x.shape[:-1])) if return_ties else out


def _rank_ties(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact ranks with averaged ties by float64 argsort: [R, N] -> ([R, N] float32, tied rows [R])."""
    n = x.shape[-1]
    order = np.argsort(x, axis=-1)
    s = np.take_along_axis(x, order, -1)
    ties = s[..., 1:] == s[..., :-1]
    if ties.any():
        pos = np.broadcast_to(np.arange(n), s.shape)
        first = np.ones(s.shape, bool)
        first[..., 1:] = ~ties
        last = np.ones(s.shape, bool)
        last[..., :-1] = ~ties
        start = np.maximum.accumulate(np.where(first, pos, 0), axis=-1)
        end = np.minimum.accumulate(np.where(last, pos, n)[..., ::-1], axis=-1)[..., ::-1]
        u_sorted = ((start + end + 1) / (2.0 * n)).astype(np.float32)
    else:
        u_sorted = np.broadcast_to(((np.arange(n) + 0.5) / n).astype(np.float32), s.shape)
    out = np.empty(s.shape, np.float32)
    np.put_along_axis(out, order, u_sorted, -1)
    return out, ties.any(-1)


def soft_rank(x: torch.Tensor, temperature: float = 2.0, tie_order: torch.Tensor | None = None) -> torch.Tensor:
    """Differentiable ranks along the last axis, scaled like ``rank_transform``.

    u_i = (1/N) * sum_j sigmoid((x_i - x_j) / tau), with tau = temperature * s / N and s a
    robust spread of x (interquartile range / 1.349). s / N is about the gap between
    neighbouring samples, so a value is blended with only the few neighbours within
    ~``temperature`` gaps: rank semantics are kept at every N (for N >= 256 the mean
    deviation from the hard rank is below one rank for Gaussian data, a few ranks for
    heavy-tailed data), yet every sample gets a gradient. The self term contributes 1/2, so
    as tau -> 0 this is exactly the hard rank with ties averaged. This is not min-max scaling:
    outliers do not compress the ranks of the bulk. Memory and time are O(N^2) per row.

    ``tie_order`` (integer tensor shaped like x, e.g. from ``tie_orders``): exactly tied
    samples are ordered by it instead of sharing half a rank each, so the limit tau -> 0 is
    the tie-broken rank of ``pair_ranks`` (a tie has no gradient either way).
    """
    if temperature <= 0:
        raise ValueError(f"soft_rank temperature must be > 0, got {temperature}")
    n = x.shape[-1]
    xd = x.detach()
    q = torch.quantile(xd, torch.tensor([0.25, 0.75], dtype=xd.dtype, device=xd.device), dim=-1)
    spread = ((q[1] - q[0]) / 1.349)[..., None]
    spread = torch.where(spread > 0, spread, xd.std(-1, keepdim=True))  # heavily tied data
    tau = (temperature * spread / n).clamp_min(torch.finfo(x.dtype).tiny)
    diff = (x[..., :, None] - x[..., None, :]) / tau[..., None]  # [..., N, N]
    sig = torch.sigmoid(diff)
    if tie_order is not None:
        tie = xd[..., :, None] == xd[..., None, :]  # includes i == j: 1/2 either way
        o = tie_order.to(x.device)
        brk = (o[..., :, None] > o[..., None, :]).to(sig.dtype) + 0.5 * (o[..., :, None] == o[..., None, :]).to(sig.dtype)
        sig = torch.where(tie, brk, sig)
    return sig.sum(-1) / n


def tie_orders(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``tie_break_keys`` of (x, y) tensors as int64 orders (the key's rank within each row),
    for ``soft_rank(..., tie_order=...)``. Computed from the detached values."""
    xn = x.detach().cpu().double().numpy()
    yn = y.detach().cpu().double().numpy()
    kx, ky = tie_break_keys(xn, yn)
    order = lambda k: torch.from_numpy(np.argsort(np.argsort(k, axis=-1), axis=-1))  # noqa: E731
    return order(kx), order(ky)


# --- ties: pseudo-random, data-seeded tie-breaking for (x, y) pairs ------------------------

_U64 = np.uint64
_M1, _M2 = _U64(0xBF58476D1CE4E5B9), _U64(0x94D049BB133111EB)
_GOLD = _U64(0x9E3779B97F4A7C15)
_SALT_ROLE, _SALT_A, _SALT_B = _U64(0x243F6A8885A308D3), _U64(0x13198A2E03707344), _U64(0xA4093822299F31D0)


def _mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 arrays (a bijection; products wrap modulo 2^64)."""
    z = z ^ (z >> _U64(30))
    z *= _M1
    z ^= z >> _U64(27)
    z *= _M2
    z ^= z >> _U64(31)
    return z


def _bits(x: np.ndarray) -> np.ndarray:
    """float64 values -> uint64 bit patterns; -0.0 and +0.0 (equal values) share one."""
    return np.ascontiguousarray(np.asarray(x, np.float64) + 0.0).view(np.uint64)


def _occurrence(bx: np.ndarray, by: np.ndarray) -> np.ndarray:
    """[R, N] -> occurrence number of each sample among samples with identical (x, y)."""
    n = bx.shape[-1]
    order = np.lexsort((by, bx), axis=-1)
    sx, sy = np.take_along_axis(bx, order, -1), np.take_along_axis(by, order, -1)
    new = np.ones(sx.shape, bool)
    new[..., 1:] = (sx[..., 1:] != sx[..., :-1]) | (sy[..., 1:] != sy[..., :-1])
    pos = np.broadcast_to(np.arange(n), sx.shape)
    occ_sorted = pos - np.maximum.accumulate(np.where(new, pos, 0), axis=-1)
    occ = np.empty(sx.shape, np.uint64)
    np.put_along_axis(occ, order, occ_sorted.astype(np.uint64), -1)
    return occ


def _pair_hash(a: np.ndarray, b: np.ndarray, occ: np.ndarray, salt) -> np.ndarray:
    """A 64-bit hash of (own value a, partner value b, occurrence, salt); not symmetric in a, b."""
    h = _mix64(a ^ salt)
    h = _mix64(h ^ b)
    return _mix64(h + occ * _GOLD)


def tie_break_keys(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tie-break keys of the samples of (x, y) pairs: x, y [R, N] -> kx, ky uint64 [R, N].

    Sorting x by (value, kx) orders each tie group of x pseudo-randomly. Keys depend only on
    a sample's own (x, y) values and its occurrence number among identical samples (so the
    set of ranked points is invariant to sample order), x's and y's keys are independent
    hashes (never the same order for both, not even when x == y), and which column takes
    which salt is decided by the data (so swapping x and y swaps the keys: exact symmetry).
    """
    x2, y2 = np.atleast_2d(x), np.atleast_2d(y)
    if x2.shape != y2.shape:
        raise ValueError(f"x and y must have the same shape, got {x2.shape} and {y2.shape}")
    bx, by = _bits(x2), _bits(y2)
    occ = _occurrence(bx, by)
    with np.errstate(over="ignore"):
        s_xy = _pair_hash(bx, by, occ, _SALT_ROLE).sum(-1, dtype=np.uint64)
        s_yx = _pair_hash(by, bx, occ, _SALT_ROLE).sum(-1, dtype=np.uint64)
    x_first = (s_xy <= s_yx)[:, None]  # equal sums: the swapped input is a permutation of this one
    kx = _pair_hash(bx, by, occ, np.where(x_first, _SALT_A, _SALT_B))
    ky = _pair_hash(by, bx, occ, np.where(x_first, _SALT_B, _SALT_A))
    return kx.reshape(np.shape(x)), ky.reshape(np.shape(y))


def _ranks_by_key(x: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Ranks of rows of x with ties ordered by key: [R, N] -> float32 u = (r - 1/2) / N."""
    n = x.shape[-1]
    order = np.lexsort((key, x), axis=-1)
    u = np.empty(x.shape, np.float32)
    np.put_along_axis(u, order, np.broadcast_to(((np.arange(n) + 0.5) / n).astype(np.float32), x.shape), -1)
    return u


def pair_ranks(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Copula coordinates of (x, y) pairs with ties broken (see the module docstring).

    x, y: [N] or [R, N] real arrays -> (u, v) float32 of the same shape, each row a
    permutation of (i + 1/2) / N. Without ties this equals ``rank_transform_numpy`` exactly.
    """
    x2 = np.atleast_2d(np.asarray(x, np.float64))
    y2 = np.atleast_2d(np.asarray(y, np.float64))
    if x2.shape[-1] == 0:
        raise ValueError("pair_ranks needs at least one sample")
    kx, ky = tie_break_keys(x2, y2)
    u, v = _ranks_by_key(x2, kx), _ranks_by_key(y2, ky)
    return u.reshape(np.shape(x)), v.reshape(np.shape(y))


def tie_summary(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns of a window: x [N, K] -> (distinct values [K], share of the most common value [K])."""
    x = np.asarray(x, np.float64)
    n = x.shape[0]
    if n == 0:
        return np.zeros(x.shape[1], np.int64), np.zeros(x.shape[1])
    s = np.sort(x + 0.0, axis=0)
    new = np.ones(s.shape, bool)
    new[1:] = s[1:] != s[:-1]
    distinct = new.sum(0)
    top = np.zeros(x.shape[1])
    for k in np.flatnonzero(distinct < n):  # only columns with ties
        starts = np.flatnonzero(new[:, k])
        top[k] = np.diff(np.append(starts, n)).max() / n
    top[distinct == n] = 1.0 / n
    return distinct, top
