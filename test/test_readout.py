"""The supervised read-out: features, monotone quantiles, save/load, and a tiny fit."""

import numpy as np
import pytest
import torch

from infonet_ros import truth as T
from infonet_ros.readout import (FEATURE_NAMES, ReadoutMLP, SupervisedReadout, compute_features, estimate_interval,
                                 hist_bins, pinball_loss, rank_random_ties)


def test_rank_random_ties_breaks_ties_uniformly_inside_groups():
    a = np.array([[3.0, 1.0, 3.0, 2.0, 3.0]])
    seen = set()
    for s in range(60):
        r = rank_random_ties(a, np.random.default_rng(s))[0]
        assert sorted(r) == list(range(5))
        assert r[1] == 0 and r[3] == 1  # order between groups kept
        seen.add(tuple(r[[0, 2, 4]]))
    assert len(seen) == 6  # all 3! orders of the tie group occur


def test_features_symmetric_and_rank_invariant():
    rng = np.random.default_rng(0)
    x, y = T.gauss(0.7).sample(400, rng)
    f = compute_features(x, y)
    assert f.shape == (1, len(FEATURE_NAMES))
    np.testing.assert_allclose(compute_features(y, x), f, atol=1e-5)
    np.testing.assert_allclose(compute_features(np.exp(x), y ** 3), f, atol=1e-6)
    assert hist_bins(64) < hist_bins(8192)


def test_quantiles_are_ordered_and_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    mlp = ReadoutMLP(len(FEATURE_NAMES), hidden=16, layers=2)
    f = torch.randn(500, len(FEATURE_NAMES)) * 5
    q = mlp(f)
    assert (q[:, 0] <= q[:, 1]).all() and (q[:, 1] <= q[:, 2]).all()
    ro = SupervisedReadout(mlp, {"note": "test"})
    path = ro.save(tmp_path / "ro")
    assert path.suffix == ".safetensors" and path.with_suffix(".json").is_file()
    lo, mid, hi = estimate_interval(f.numpy(), path)
    lo0, mid0, hi0 = ro.estimate_interval(f.numpy())
    np.testing.assert_array_equal(mid, mid0)
    assert (lo <= mid).all() and (mid <= hi).all() and (lo >= 0).all()
    assert SupervisedReadout.load(path).info == {"note": "test"}


def test_tiny_supervised_fit_ranks_dependence():
    rng = np.random.default_rng(1)
    rhos = rng.uniform(0, 0.95, 240)
    n = 256
    xs, ys = zip(*(T.gauss(r).sample(n, rng) for r in rhos))
    f = torch.as_tensor(compute_features(np.array(xs), np.array(ys)), dtype=torch.float32)
    y = torch.as_tensor([T.gauss_mi(r) for r in rhos], dtype=torch.float32)
    torch.manual_seed(0)
    mlp = ReadoutMLP(f.shape[1], hidden=32, layers=2, mean=f.mean(0).numpy(), std=f.std(0).numpy() + 1e-6)
    opt = torch.optim.Adam(mlp.parameters(), lr=3e-3)
    for _ in range(300):
        loss = pinball_loss(mlp(f), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    ro = SupervisedReadout(mlp)
    test = [T.gauss(r).sample(n, np.random.default_rng(100 + i)) for i, r in enumerate((0.0, 0.5, 0.9))]
    lo, mid, hi = ro.estimate_interval(compute_features(np.array([t[0] for t in test]), np.array([t[1] for t in test])))
    assert mid[2] > mid[1] > mid[0]
    assert (lo <= mid).all() and (mid <= hi).all()
    assert abs(mid[2] - T.gauss_mi(0.9)) < 0.25


def test_bundled_readout_if_present():
    from infonet_ros.readout import BUNDLED_READOUT
    if not BUNDLED_READOUT.is_file():
        pytest.skip("no bundled read-out")
    rng = np.random.default_rng(5)
    xs, ys = zip(*(T.gauss(r).sample(1000, rng) for r in (0.0, 0.9)))
    lo, mid, hi = estimate_interval(compute_features(np.array(xs), np.array(ys)))
    assert mid[0] < 0.02 and abs(mid[1] - T.gauss_mi(0.9)) < 0.08
    assert (lo <= mid).all() and (mid <= hi).all() and lo[1] < T.gauss_mi(0.9) < hi[1]


def test_estimator_intervals_bracket_the_truth_and_agree_across_forms():
    """InfoNetEstimator.estimate_interval*: ordered quantiles from the bundled read-out, ties
    broken like the estimate, the same numbers through the single, batch and pairs forms."""
    from infonet_ros import InfoNetEstimator

    est = InfoNetEstimator.pretrained(device="cpu")
    rng = np.random.default_rng(7)
    n = 1000
    z = rng.standard_normal((3, n))
    data = np.stack([z[0], 0.8 * z[0] + 0.6 * z[1], (z[2] > 0) * 1.0], 1)   # truth 0.511 for (0, 1)
    pairs = [(0, 1), (0, 2), (1, 2)]
    low, mid, high = est.estimate_interval_pairs(data, pairs)
    assert np.all(low <= mid) and np.all(mid <= high)
    assert mid[0] == pytest.approx(0.511, abs=0.08)
    assert mid[1] < 0.03 and mid[2] < 0.03                   # the binary stream is independent
    b = est.estimate_interval_batch(data[:, [0, 0, 1]].T, data[:, [1, 2, 2]].T)
    np.testing.assert_allclose(np.stack(b), np.stack([low, mid, high]), atol=1e-6)
    single = est.estimate_interval(data[:, 1], data[:, 0])   # swapped: the same interval
    np.testing.assert_allclose(single, [low[0], mid[0], high[0]], atol=1e-5)
    with pytest.raises(ValueError, match="90 %"):
        est.estimate_interval(data[:, 0], data[:, 1], level=0.5)
    # 40 windows of rho = 0.8: the 90 % intervals cover the truth in about 36 of them
    x = rng.standard_normal((40, n))
    y = 0.8 * x + 0.6 * rng.standard_normal((40, n))
    lo, md, hi = est.estimate_interval_batch(x, y)
    covered = int(((lo <= 0.511) & (0.511 <= hi)).sum())
    assert 30 <= covered <= 40 and abs(np.median(md) - 0.511) < 0.03, (covered, np.median(md))
