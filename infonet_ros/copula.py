"""Copula (rank) transforms: each marginal -> ranks scaled into the unit interval.

MI is invariant to strictly increasing transforms of either variable, so InfoNet only ever
sees ranks. Convention (hard and soft alike): ``u = (r - 1/2) / N`` with r = 1..N the rank,
ties averaged; distinct values therefore sit on the cell centres of a regular grid in (0, 1).
"""

from __future__ import annotations

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
    s = x.sort(-1).values.contiguous()
    xc = x.contiguous()
    left = torch.searchsorted(s, xc, side="left")  # elements strictly smaller
    right = torch.searchsorted(s, xc, side="right")  # elements smaller or equal
    # averaged 1-based rank r = (left + 1 + right) / 2  ->  u = (r - 1/2) / N
    return (left + right).to(dtype) / (2.0 * n)


def soft_rank(x: torch.Tensor, temperature: float = 0.01) -> torch.Tensor:
    """Differentiable ranks along the last axis, scaled like ``rank_transform``.

    u_i = (1/N) * sum_j sigmoid((x_i - x_j) / tau), tau = temperature * std(x). The self term
    contributes 1/2, so as tau -> 0 this is exactly the hard rank with ties averaged; the
    temperature is relative to the spread of x, so the result is scale-free. With the default,
    a value is blended with the few neighbours within ~1 % of a standard deviation, which for
    N >= 256 keeps the soft rank within about 1/N of the hard one (rank semantics), while every
    sample still gets a gradient. Memory and time are O(N^2) per row.
    """
    if temperature <= 0:
        raise ValueError(f"soft_rank temperature must be > 0, got {temperature}")
    n = x.shape[-1]
    scale = x.detach().std(-1, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)
    tau = temperature * scale
    diff = (x[..., :, None] - x[..., None, :]) / tau[..., None]  # [..., N, N]
    return torch.sigmoid(diff).sum(-1) / n
