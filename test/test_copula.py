import warnings

import numpy as np
import pytest
import torch
from scipy.stats import rankdata

from infonet_ros.copula import rank_transform, rank_transform_numpy, soft_rank
from infonet_ros.model import half_ranks, split_mask, split_mask_reference


def test_hard_rank_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    x = np.round(rng.standard_normal((5, 300)) * 2)  # many ties
    u = rank_transform(torch.from_numpy(x)).numpy()
    ref = (rankdata(x, axis=1) - 0.5) / x.shape[1]
    np.testing.assert_allclose(u, ref, atol=1e-12)
    assert u.min() > 0 and u.max() < 1


@pytest.mark.parametrize("shape, levels", [((5, 300), 2.0), ((3, 1000), 0.0), ((7,), 1.0), ((2, 40), 0.0)])
def test_numpy_rank_matches_torch(shape, levels):
    x = np.random.default_rng(1).standard_normal(shape)
    if levels:
        x = np.round(x * levels)  # ties
    if shape == (2, 40):
        x[1] = 3.0  # a constant row: every sample tied
    u = rank_transform_numpy(x)
    assert u.dtype == np.float32
    np.testing.assert_array_equal(u, rank_transform(torch.from_numpy(x)).float().numpy())


def test_numpy_rank_exact_where_float32_collides():
    """The fast path sorts float32 images; values that collide there (or overflow it) must
    still get their exact float64 ranks, with no warning, row by row."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 500))
    x[1, :250] = 1.0 + np.arange(250) * 1e-12  # distinct in float64, one value in float32
    x[1, 250:] = 1.0 - np.arange(250) * 1e-12
    x[2, :3] = [1e300, -1e300, 3.5e38]  # beyond float32 range
    x[3, 10] = -0.0
    x[3, 11] = 0.0  # equal values with different bits: one tie
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        u = rank_transform_numpy(x)
    np.testing.assert_array_equal(u, rank_transform(torch.from_numpy(x)).float().numpy())
    np.testing.assert_allclose(u, (rankdata(x, axis=1) - 0.5) / x.shape[1], atol=1e-6)
    assert u[3, 10] == u[3, 11]


@pytest.mark.parametrize("levels", [0.0, 1.5])
def test_half_ranks_are_ranks_within_each_half(levels):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 257, 2))
    if levels:
        x = np.round(x * levels)  # ties within and across the halves
    u = torch.from_numpy(np.stack([rank_transform_numpy(x[..., 0]), rank_transform_numpy(x[..., 1])], -1))
    half = (~split_mask(u)).long()
    counts = torch.stack([(half == 0).sum(-1), (half == 1).sum(-1)], -1)
    uh = half_ranks(u, half, counts)
    for p in range(4):
        for h in (0, 1):
            sel = (half[p] == h).numpy()
            ref = (rankdata(x[p][sel], axis=0) - 0.5) / sel.sum()
            np.testing.assert_allclose(uh[p][sel].numpy(), ref, atol=1e-6)


def test_half_ranks_pass_gradients_straight_through():
    u = torch.rand(2, 50, 2, requires_grad=True)
    half = torch.randint(0, 2, (2, 50))
    counts = torch.stack([(half == 0).sum(-1), (half == 1).sum(-1)], -1)
    half_ranks(u, half, counts).sum().backward()
    torch.testing.assert_close(u.grad, torch.ones_like(u))


def test_hard_rank_monotone_invariance_and_permutation():
    x = torch.randn(2, 1000, dtype=torch.float64)
    torch.testing.assert_close(rank_transform(torch.exp(x)), rank_transform(x))
    perm = torch.randperm(1000)
    torch.testing.assert_close(rank_transform(x[:, perm]), rank_transform(x)[:, perm])


@pytest.mark.parametrize("n", [256, 1000, 4000])
def test_soft_rank_keeps_rank_semantics(n):
    x = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
    hard, soft = rank_transform(x), soft_rank(x)
    assert (soft - hard).abs().mean() < 1.0 / n  # within one rank on average
    assert (soft - hard).abs().max() < 0.01
    order = torch.argsort(x)
    assert (soft[order].diff() > 0).all()  # ordering preserved
    # not min-max scaling (the published "soft rank" fault): heavy tails keep the bulk's ranks
    y = x**3
    assert (soft_rank(y) - rank_transform(y)).abs().mean() < 3.0 / n
    assert (soft_rank(y) - rank_transform(y)).abs().max() < 0.06
    minmax = (y - y.min()) / (y.max() - y.min())
    assert (minmax - rank_transform(y)).abs().max() > 0.2  # what min-max scaling would give


def test_soft_rank_gradients_reach_inputs():
    x = torch.randn(300, requires_grad=True)
    soft_rank(x).pow(2).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and (x.grad != 0).sum() > 250


def test_soft_rank_bad_temperature():
    with pytest.raises(ValueError, match="temperature"):
        soft_rank(torch.randn(10), temperature=0.0)


@pytest.mark.parametrize("n", [32, 1000, 1 << 20])
def test_split_hash_int32_equals_the_int64_definition(n):
    """The split's hash runs in wrapping int32 arithmetic; it must give the bits of the
    unsigned 32-bit definition (ties included), on ranks up to 2^20."""
    g = torch.Generator().manual_seed(n)
    r = torch.randint(1, n + 1, (3, n, 2), generator=g).double()
    u = (r - 0.5) / n
    mask = split_mask(u.float())
    assert torch.equal(mask, split_mask_reference(u))
    assert 0.45 < mask.float().mean() < 0.55
