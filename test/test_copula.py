import numpy as np
import pytest
import torch
from scipy.stats import rankdata

from infonet_ros.copula import rank_transform, soft_rank


def test_hard_rank_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    x = np.round(rng.standard_normal((5, 300)) * 2)  # many ties
    u = rank_transform(torch.from_numpy(x)).numpy()
    ref = (rankdata(x, axis=1) - 0.5) / x.shape[1]
    np.testing.assert_allclose(u, ref, atol=1e-12)
    assert u.min() > 0 and u.max() < 1


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
