"""The supervised read-out: features, monotone quantiles, save/load, and a tiny fit."""

import numpy as np
import pytest
import torch

from infonet_ros import truth as T
import math

from scipy.special import ndtri

from infonet_ros.readout import (ALL_FEATURES, BLOCK_SIZES, BOX_FACTORS, BOX_HALF, LEGACY_COLUMNS, FEATURE_NAMES, INFONET_FEATURES, check_feature_names, HIST_FACTORS, SPACING_LAGS, VASICEK_BLOCKS, ReadoutMLP,
                                 SupervisedReadout, compute_features, estimate_interval, hist_bins, numpy_features,
                                 pinball_loss, rank_random_ties)


# ---- reference features: the plain form of readout.numpy_features -----------------------
def _ref_hist_mi(ru: np.ndarray, rv: np.ndarray, b: int) -> np.ndarray:
    """Direct form: plug-in over every cell, with its own marginals. [P, N] -> [P]."""
    p, n = ru.shape
    cell = (ru * b // n) * b + (rv * b // n) + (np.arange(p) * b * b)[:, None]
    counts = np.bincount(cell.ravel(), minlength=p * b * b).reshape(p, b, b).astype(np.float64)
    px = counts.sum(2, keepdims=True)
    py = counts.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(counts > 0, counts * np.log(counts * n / (px * py)), 0.0)
    plug = t.sum((1, 2)) / n
    m = (counts > 0).sum((1, 2))
    mx = (px > 0).sum((1, 2))
    my = (py > 0).sum((1, 2))
    return plug + ((mx - 1) + (my - 1) - (m - 1)) / (2.0 * n)


def _ref_directional(ru: np.ndarray, rv: np.ndarray, zv: np.ndarray) -> dict:
    """Statistics of v along u order: spacings, block variances (normal scores, ranks),
    Vasicek m-spacing entropies of the blocks."""
    p, n = ru.shape
    order = np.argsort(ru, axis=-1)
    vs = np.take_along_axis(rv, order, -1).astype(np.float64) / n
    zs = np.take_along_axis(zv, order, -1)
    out = {"spacing": -1.5 - np.mean(np.log(np.abs(np.diff(vs, axis=-1)) + 0.5 / n), -1)}
    for k in SPACING_LAGS:
        out[f"spacing_k{k}"] = -1.5 - np.mean(np.log(np.abs(vs[:, k:] - vs[:, :-k]) + 0.5 / n), -1)
    for m in BLOCK_SIZES:
        k = n // m
        zb = zs[:, : k * m].reshape(p, k, m)
        vb = vs[:, : k * m].reshape(p, k, m)
        out[f"block_ns_m{m}"] = -0.5 * np.mean(np.log(zb.var(-1, ddof=1) + 1e-12), -1)
        out[f"block_u_m{m}"] = -0.5 * np.mean(np.log(12.0 * vb.var(-1, ddof=1) + 1e-12), -1)
    for name in VASICEK_BLOCKS:
        m = min(name, n)
        k = n // m
        blk = np.sort(vs[:, : k * m].reshape(p, k, m), -1)
        a = max(1, int(round(math.sqrt(m) / 2)))
        lo = np.concatenate([np.repeat(blk[..., :1], a, -1), blk[..., :-a]], -1)
        hi = np.concatenate([blk[..., a:], np.repeat(blk[..., -1:], a, -1)], -1)
        # minus the Vasicek entropy of each block's v values (h(V) = 0 for uniform V)
        out[f"vasicek_m{name}"] = -np.log(np.maximum(hi - lo, 0.5 / n) * m / (2 * a)).mean((-1, -2))
    return out


def _ref_box_mi(ru: np.ndarray, rv: np.ndarray, f: float) -> np.ndarray:
    """Direct form of ``box_f*``: for each point, the other points whose cells are within
    BOX_HALF cells on both axes (all pairs compared), against their expected number under
    independence given the same row and column ranges."""
    p, n = ru.shape
    g = int(min(max(round(f * n ** (1 / 3)), 2 * BOX_HALF + 1), n))
    out = []
    for bu, bv in zip(ru * g // n, rv * g // n):
        near_u = np.abs(bu[:, None] - bu[None, :]) <= BOX_HALF
        near_v = np.abs(bv[:, None] - bv[None, :]) <= BOX_HALF
        count = (near_u & near_v).sum(1) - 1
        expected = (near_u.sum(1) - 1) * (near_v.sum(1) - 1) / (n - 1)
        out.append(np.mean(np.log((count + 0.5) / expected)))
    return np.array(out)


def reference_numpy_features(ru: np.ndarray, rv: np.ndarray) -> np.ndarray:
    """The features written out directly (argsort, np.var, a log per element): the form the
    shipped read-out was trained with. ``numpy_features`` (lookup tables) must match it."""
    p, n = ru.shape
    out = [np.full(p, math.log(n))]
    out += [_ref_hist_mi(ru, rv, b) for b in hist_bins(n)]
    scores = ndtri((np.arange(n) + 0.5) / n)
    zu, zv = scores[ru], scores[rv]
    r = (zu * zv).mean(-1) / (scores * scores).mean()
    out.append(-0.5 * np.log(np.clip(1.0 - r * r, 1e-8, None)))
    d1, d2 = _ref_directional(ru, rv, zv), _ref_directional(rv, ru, zu)
    out += [(d1["spacing"] + d2["spacing"]) / 2, np.maximum(d1["spacing"], d2["spacing"])]
    out += [(d1[f"block_ns_m{m}"] + d2[f"block_ns_m{m}"]) / 2 for m in BLOCK_SIZES]
    out += [(d1[f"block_u_m{m}"] + d2[f"block_u_m{m}"]) / 2 for m in BLOCK_SIZES]
    out += [(d1[f"spacing_k{k}"] + d2[f"spacing_k{k}"]) / 2 for k in SPACING_LAGS]
    out += [(d1[f"vasicek_m{m}"] + d2[f"vasicek_m{m}"]) / 2 for m in VASICEK_BLOCKS]
    out += [_ref_box_mi(ru, rv, f) for f in BOX_FACTORS]
    out.append(np.array([np.corrcoef(np.abs(a), np.abs(b))[0, 1] for a, b in zip(zu, zv)]))  # abs_ns
    return np.stack(out, -1)


@pytest.mark.parametrize("p,n", [(7, 32), (5, 100), (6, 1000), (2, 5000)])
def test_fast_features_equal_the_reference(p, n):
    """The lookup-table features equal the direct ones to float rounding, on continuous,
    tied (ties broken) and dependent sets: the shipped read-out was trained on the latter."""
    rng = np.random.default_rng(n)
    x = rng.normal(size=(p, n))
    y = np.where(rng.random((p, 1)) < 0.5, 0.7 * x + rng.normal(size=(p, n)), rng.integers(0, 3, (p, n)))
    ru, rv = rank_random_ties(x, rng), rank_random_ties(y, rng)
    ref = reference_numpy_features(ru, rv)  # columns: ALL_FEATURES without the InfoNet ones
    np.testing.assert_allclose(numpy_features(ru, rv, ALL_FEATURES), ref, rtol=1e-10, atol=1e-10)
    # any subset, in any allowed order, is the same columns (only they are computed)
    names = [f for f in ALL_FEATURES if f not in INFONET_FEATURES]
    for subset in (FEATURE_NAMES, ("log_n", "vasicek_m64", "hist_f2", "spacing_max", *INFONET_FEATURES),
                   ("log_n", "block_u_m32", "spacing_k16", *INFONET_FEATURES)):
        cols = [names.index(f) for f in subset if f not in INFONET_FEATURES]
        np.testing.assert_allclose(numpy_features(ru, rv, subset), ref[:, cols], rtol=1e-10, atol=1e-10)


def test_feature_names_are_checked():
    check_feature_names(FEATURE_NAMES)
    check_feature_names(ALL_FEATURES)
    with pytest.raises(ValueError, match="unknown features \\['hist_f9'\\]"):
        check_feature_names(["log_n", "hist_f9", *INFONET_FEATURES])
    with pytest.raises(ValueError, match="must start with log_n"):
        check_feature_names(["gauss_ns", "log_n", *INFONET_FEATURES])
    with pytest.raises(ValueError, match="end with"):
        check_feature_names(["log_n", *INFONET_FEATURES, "gauss_ns"])
    with pytest.raises(ValueError, match="repeated"):
        check_feature_names(["log_n", "gauss_ns", "gauss_ns", *INFONET_FEATURES])
    with pytest.raises(ValueError, match="13 feature names for an MLP of 20 inputs"):
        SupervisedReadout(ReadoutMLP(20), feature_names=FEATURE_NAMES)


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


def test_box_features_symmetric_rank_invariant_and_track_dependence():
    """box_f*: symmetric in (x, y) (exactly: the box and its expectation are), invariant to
    increasing maps, ~0 at independence, and growing with the dependence."""
    rng = np.random.default_rng(3)
    names = ["box_f5", "box_f10"]
    x, y = T.gauss(0.8).sample(2000, rng)
    ru, rv = rank_random_ties(x[None], rng), rank_random_ties(y[None], rng)
    f = numpy_features(ru, rv, names)
    np.testing.assert_allclose(numpy_features(rv, ru, names), f, rtol=1e-12)
    ru2, rv2 = rank_random_ties(np.exp(x)[None], rng), rank_random_ties((y ** 3 - 2)[None], rng)
    np.testing.assert_allclose(numpy_features(ru2, rv2, names), f, rtol=1e-12)
    # MI of gauss(0.8) is 0.51 nats: the local counts see most of it
    assert 0.35 < f.min() and f.max() < 0.65, f
    xi, yi = rng.normal(size=(2, 20, 2000))
    f0 = numpy_features(rank_random_ties(xi, rng), rank_random_ties(yi, rng), names)
    assert np.abs(f0.mean(0)).max() < 0.05 and np.abs(f0.mean(0)).max() < f.min() / 10, f0.mean(0)


def test_abs_ns_sees_scale_dependence_that_the_correlation_misses():
    """abs_ns: symmetric, invariant to increasing maps, ~0 at independence, and clearly
    positive on a t copula with rho = 0 (uncorrelated, dependent through the shared scale),
    where gauss_ns stays ~0."""
    rng = np.random.default_rng(5)
    names = ["log_n", "gauss_ns", "abs_ns", *INFONET_FEATURES]
    x, y = T.student_t(0.0, 2.0).sample(2000, rng)
    ru, rv = rank_random_ties(x[None], rng), rank_random_ties(y[None], rng)
    g, a = numpy_features(ru, rv, names)[0, 1:]
    np.testing.assert_allclose(numpy_features(rv, ru, names), numpy_features(ru, rv, names), rtol=1e-12)
    ru2 = rank_random_ties(np.exp(x)[None], rng)
    np.testing.assert_allclose(numpy_features(ru2, rv, names), numpy_features(ru, rv, names), rtol=1e-12)
    assert g < 0.01 and a > 0.15, (g, a)
    xi, yi = rng.normal(size=(40, 2, 2000)).transpose(1, 0, 2)
    a0 = numpy_features(rank_random_ties(xi, rng), rank_random_ties(yi, rng), names)[:, 2]
    assert abs(a0.mean()) < 0.01 and a0.std() < 0.05, (a0.mean(), a0.std())


def test_legacy_column_order_is_frozen():
    """Legacy shards (read-outs v2-v4) have no column names: their order is LEGACY_COLUMNS,
    which new features must not change."""
    assert LEGACY_COLUMNS == (
        "log_n", "hist_f0.5", "hist_f0.8", "hist_f1.25", "hist_f2", "hist_f3.2", "gauss_ns", "spacing_mean",
        "spacing_max", "block_ns_m8", "block_ns_m32", "block_u_m8", "block_u_m32", "spacing_k4", "spacing_k16",
        "vasicek_m16", "vasicek_m64", *INFONET_FEATURES)
    assert set(LEGACY_COLUMNS) <= set(ALL_FEATURES) and set(FEATURE_NAMES) <= set(ALL_FEATURES)


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
    back = SupervisedReadout.load(path)
    assert back.info == {"note": "test"} and back.feature_names == tuple(FEATURE_NAMES)


def test_inference_path_equals_forward_and_follows_weight_updates():
    """quantiles_numpy (standardisation folded into the first layer, cached plan) is
    ``forward`` within float32 rounding, also after an optimiser step, a load_state_dict
    and a dtype round trip; bad feature shapes are named."""
    torch.manual_seed(1)
    mlp = ReadoutMLP(len(FEATURE_NAMES), hidden=32, layers=3, mean=np.linspace(-1, 2, len(FEATURE_NAMES)),
                     std=np.linspace(0.5, 3, len(FEATURE_NAMES)))
    ro = SupervisedReadout(mlp)
    f = (torch.randn(64, len(FEATURE_NAMES)) * 3).numpy()

    def check():
        with torch.no_grad():
            ref = mlp(torch.from_numpy(f)).double().numpy()
        got = ro.quantiles_unclipped(f)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
        lo, mid, hi = ro.estimate_interval(f)
        np.testing.assert_array_equal(mid, np.maximum(got[:, 1], 0))
        assert (lo <= mid).all() and (mid <= hi).all() and (lo >= 0).all()
        return got

    first = check()
    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    pinball_loss(mlp(torch.from_numpy(f)), torch.ones(len(f))).backward()
    opt.step()
    assert np.abs(check() - first).max() > 1e-3  # the cached plan followed the step
    other = ReadoutMLP(len(FEATURE_NAMES), hidden=32, layers=3)
    mlp.load_state_dict(other.state_dict())
    check()
    mlp.double().float()
    check()
    with pytest.raises(ValueError, match="expected \\[P, 13\\]"):
        ro.estimate_interval(f[:, :5])


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
    ro = SupervisedReadout.pretrained()
    lo, mid, hi = estimate_interval(ro.features(np.array(xs), np.array(ys)))  # its own feature set
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


def test_bench_quantile_average_reads_each_members_columns():
    """bench/accuracy_readout.py --readout A --readout B: the union of the members' features
    (in ALL_FEATURES order), each member fed its own columns, quantiles averaged."""
    import importlib.util
    import sys
    from pathlib import Path
    bench = Path(__file__).resolve().parents[1] / "bench"
    sys.path.insert(0, str(bench))
    try:
        spec = importlib.util.spec_from_file_location("accuracy_readout_under_test", bench / "accuracy_readout.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(bench))
    torch.manual_seed(3)
    a_names = [f for f in FEATURE_NAMES if f != "vasicek_m16"]
    b_names = [f for f in FEATURE_NAMES if f not in INFONET_FEATURES] + ["block_ns_m8", *INFONET_FEATURES]
    a = SupervisedReadout(ReadoutMLP(len(a_names), hidden=8, layers=2), feature_names=a_names)
    b = SupervisedReadout(ReadoutMLP(len(b_names), hidden=8, layers=2), feature_names=b_names)
    avg = mod.QuantileAverage([a, b])
    assert set(avg.feature_names) == set(b_names)
    assert list(avg.feature_names) == [f for f in ALL_FEATURES if f in set(b_names)]
    f = np.random.default_rng(0).normal(size=(20, len(avg.feature_names)))
    col = {name: f[:, i] for i, name in enumerate(avg.feature_names)}
    qa = a.quantiles_unclipped(np.stack([col[n] for n in a_names], -1))
    qb = b.quantiles_unclipped(np.stack([col[n] for n in b_names], -1))
    np.testing.assert_allclose(avg.quantiles_unclipped(f), (qa + qb) / 2, rtol=1e-12)
    lo, mid, hi = avg.estimate_interval(f)
    assert (lo <= mid).all() and (mid <= hi).all() and (lo >= 0).all()


def test_readout_refuses_another_networks_features():
    """A read-out fits the network it was trained on (sha256 in its info): the previous
    release's pair still loads together, and is refused with the bundled network."""
    from pathlib import Path

    from infonet_ros import InfoNetEstimator
    root = Path(__file__).resolve().parents[1]
    old_net = root / 'checkpoints' / 'infonet_v1' / 'infonet.safetensors'
    old_readout = root / 'checkpoints' / 'readout_v6d' / 'best.safetensors'
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 500))
    y = 0.8 * x + 0.6 * rng.standard_normal((1, 500))
    with pytest.raises(ValueError, match='07bffa03ca6b'):
        SupervisedReadout.load(old_readout).features(x, y)
    with pytest.raises(ValueError, match='07bffa03ca6b'):
        InfoNetEstimator.pretrained(readout=old_readout)
    pair = InfoNetEstimator.load(old_net, readout=old_readout)
    assert pair.estimate(x[0], y[0]) == pytest.approx(-0.5 * math.log(1 - 0.8 ** 2), abs=0.1)
