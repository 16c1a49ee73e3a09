"""KSG and MINE baselines: accuracy on known truths, invariances, input validation."""

import numpy as np
import pytest

from infonet_ros.baselines import KSG, MINE, ksg_mi


def gaussian_pair(rho, n, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 2))
    return z[:, 0], rho * z[:, 0] + np.sqrt(1 - rho ** 2) * z[:, 1]


def gaussian_mi(rho):
    return -0.5 * np.log(1 - rho ** 2)


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9])
def test_ksg_matches_gaussian_truth(rho):
    est = np.mean([ksg_mi(*gaussian_pair(rho, 2000, seed), k=3) for seed in (1, 2, 3)])
    assert abs(est - gaussian_mi(rho)) < 0.05, (rho, est, gaussian_mi(rho))


def test_ksg_tracks_dependence_strength():
    # Guards against an estimator that is accurate only near one value.
    ests = [ksg_mi(*gaussian_pair(r, 2000, 7)) for r in (0.0, 0.3, 0.6, 0.9, 0.99)]
    assert np.all(np.diff(ests) > 0.05), ests


def test_ksg_nearly_invariant_to_monotone_maps():
    x, y = gaussian_pair(0.6, 2000, 11)
    base = ksg_mi(x, y)
    warped = ksg_mi(np.sign(x) * np.abs(x) ** 1.5, np.arcsinh(3 * y))
    assert abs(base - warped) < 0.05, (base, warped)
    # Affine maps are exactly invariant (marginals are standardised first).
    assert ksg_mi(3 * x + 1, -0.5 * y) == pytest.approx(base, abs=1e-9)


def test_ksg_is_deterministic_and_order_free():
    x, y = gaussian_pair(0.5, 500, 3)
    p = np.random.default_rng(0).permutation(500)
    assert ksg_mi(x, y) == ksg_mi(x, y)
    assert ksg_mi(x[p], y[p]) == pytest.approx(ksg_mi(x, y), abs=1e-12)


def test_ksg_handles_ties():
    x, y = gaussian_pair(0.8, 2000, 5)
    xr, yr = np.round(x, 1), np.round(y, 1)  # many repeated values
    est = ksg_mi(xr, yr)
    assert np.isfinite(est)
    assert abs(est - gaussian_mi(0.8)) < 0.15


def test_ksg_accepts_lists_columns_and_tensors():
    torch = pytest.importorskip("torch")
    x, y = gaussian_pair(0.5, 300, 9)
    ref = ksg_mi(x, y)
    assert ksg_mi(list(x), list(y)) == pytest.approx(ref)
    assert ksg_mi(x[:, None], y[:, None]) == pytest.approx(ref)
    assert ksg_mi(torch.tensor(x), torch.tensor(y, dtype=torch.float64)) == pytest.approx(ref)


def test_ksg_class_and_batch():
    est = KSG(k=3)
    assert est.name == "KSG"
    pairs = [gaussian_pair(r, 400, i) for i, r in enumerate((0.0, 0.5, 0.9))]
    xs = np.stack([p[0] for p in pairs])
    ys = np.stack([p[1] for p in pairs])
    out = est.estimate_batch(xs, ys)
    assert out.shape == (3,)
    np.testing.assert_allclose(out, [est.estimate(a, b) for a, b in pairs])
    with pytest.raises(ValueError, match="shape"):
        est.estimate_batch(xs, ys[:2])
    with pytest.raises(ValueError, match="2-D"):
        est.estimate_batch(xs[0], ys[0])


def test_mine_ranks_dependence():
    mine = MINE(steps=150, hidden=32, lr=3e-3)
    assert mine.name == "MINE"
    ests = [mine.estimate(*gaussian_pair(r, 1000, 21)) for r in (0.0, 0.5, 0.9)]
    assert ests[0] < ests[1] < ests[2], ests
    assert abs(ests[0]) < 0.1 and ests[2] > 0.5, ests


def test_mine_is_seeded():
    x, y = gaussian_pair(0.7, 300, 2)
    import torch
    state = torch.random.get_rng_state()
    a = MINE(steps=20, seed=4).estimate(x, y)
    b = MINE(steps=20, seed=4).estimate(x, y)
    assert a == b
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched
    minibatch = MINE(steps=20, batch_size=64, seed=1)
    assert minibatch.estimate(x, y) == minibatch.estimate(x, y)


@pytest.mark.parametrize("estimate", [KSG().estimate, MINE(steps=2).estimate], ids=["KSG", "MINE"])
@pytest.mark.parametrize("x, y, message", [
    ([0.0, 1.0, np.nan, 3.0, 4.0], [0.0, 1.0, 2.0, 3.0, 4.0], "x contains NaN"),
    ([0.0, 1.0, 2.0, 3.0, 4.0], [0.0, 1.0, np.inf, 3.0, 4.0], "y contains NaN/Inf"),
    ([0.0, 1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 2.0, 3.0], "equal length"),
    (np.zeros((5, 2)), np.zeros(5), "1-D"),
    (np.zeros(5), np.zeros((5, 2, 1)), "1-D"),
    ([[1.0]], [[1.0]], "at least"),
    (["a", "b", "c", "d", "e"], [0.0, 1.0, 2.0, 3.0, 4.0], "real numbers"),
])
def test_bad_inputs_raise(estimate, x, y, message):
    with pytest.raises(ValueError, match=message):
        estimate(x, y)


def test_ksg_needs_more_than_k_samples():
    with pytest.raises(ValueError, match="at least 4 samples"):
        ksg_mi([0.0, 1.0, 2.0], [1.0, 0.0, 2.0], k=3)
    with pytest.raises(ValueError, match="k must be"):
        KSG(k=0)
