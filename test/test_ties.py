"""Tied values (binary, quantised, saturated, integer streams) must not read as dependence.

Averaged ranks turned a binary stream into a two-point copula that the network read as
1.8 nats against independent noise. The estimator now breaks ties per pair in a
pseudo-random, data-seeded order (``copula.pair_ranks``), and a pair of two discrete streams
with a small joint table reports the bias-corrected plug-in MI (``discrete``). Ground truths
for the dependent cases come from ``infonet_ros.tasks`` (1-D integrals and exact
bivariate-normal cell sums, checked here against KSG on 20 000 jittered samples).
"""

import warnings

import numpy as np
import pytest
import torch

from infonet_ros import InfoNetEstimator
from infonet_ros.baselines import KSG
from infonet_ros.copula import (pair_ranks, rank_transform_numpy, soft_rank,
                                tie_orders, tie_summary)
from infonet_ros.discrete import miller_madow_mi, use_plugin
from infonet_ros.pipeline import tied_streams
from infonet_ros.tasks import ClippedGaussian, QuantisedGaussian, data_seed, tied_marginals, tied_suite

REPEATS = 40
NS = (128, 500, 2000)


@pytest.fixture(scope="module")
def est():
    return InfoNetEstimator.pretrained(device="cpu")


TIED_INPUTS = tied_marginals()   # z ~ N(0, 1) -> a tied stream


# --- the transform ---------------------------------------------------------------------

def test_pair_ranks_without_ties_are_the_plain_ranks():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 3, 500))
    u, v = pair_ranks(x, y)
    np.testing.assert_array_equal(u, rank_transform_numpy(x))
    np.testing.assert_array_equal(v, rank_transform_numpy(y))


def test_pair_ranks_break_ties_inside_each_group():
    rng = np.random.default_rng(1)
    x = np.round(rng.standard_normal(1000))          # 7-ish levels
    y = rng.standard_normal(1000)
    u, _ = pair_ranks(x, y)
    n = x.size
    np.testing.assert_array_equal(np.sort(u), ((np.arange(n) + 0.5) / n).astype(np.float32))  # a permutation
    avg = rank_transform_numpy(x)
    for value in np.unique(x):                         # each group keeps its rank interval
        g = x == value
        k = g.sum()
        assert np.isclose(u[g].mean(), avg[g][0], atol=1e-6)
        assert u[g].max() - u[g].min() == pytest.approx((k - 1) / n, abs=1e-6)


def test_pair_ranks_deterministic_order_invariant_and_symmetric():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(600) > 0).astype(float)
    z = rng.standard_normal(600) * 2
    y = np.where(np.arange(600) < 400, np.round(z), z)  # ties, identical (x, y) samples, singletons
    u, v = pair_ranks(x, y)
    u2, v2 = pair_ranks(x, y)
    np.testing.assert_array_equal(u, u2)
    perm = rng.permutation(600)
    up, vp = pair_ranks(x[perm], y[perm])
    # the same set of points (identical samples are interchangeable, so compare as sets)
    as_set = lambda a, b: np.stack([a, b])[:, np.lexsort((b, a))]  # noqa: E731
    np.testing.assert_array_equal(as_set(up, vp), as_set(u, v))
    distinct = np.unique(np.stack([x, y], 1), axis=0, return_counts=True)[1] == 1
    assert distinct.sum() > 5 and (~distinct).sum() > 5       # both kinds of samples present
    vs, us = pair_ranks(y, x)
    np.testing.assert_array_equal(us, u)               # swapping x and y swaps the result
    np.testing.assert_array_equal(vs, v)


def test_identical_binary_columns_are_not_ordered_alike():
    """x == y: the two tie-breaks must be independent, else the copula is the diagonal."""
    x = (np.random.default_rng(3).standard_normal(1000) > 0).astype(float)
    u, v = pair_ranks(x, x)
    within = x == 1.0
    r = np.corrcoef(u[within], v[within])[0, 1]
    assert abs(r) < 0.15


def test_tie_break_is_independent_of_the_partner():
    """Within a tie group, the tie-broken rank must not follow the partner's order."""
    rng = np.random.default_rng(4)
    x = np.zeros(4000)
    x[2000:] = 1.0
    y = rng.standard_normal(4000)
    u, v = pair_ranks(x, y)
    for g in (x == 0, x == 1):
        assert abs(np.corrcoef(u[g], v[g])[0, 1]) < 0.08


def test_soft_rank_agrees_with_pair_ranks_on_ties():
    rng = np.random.default_rng(5)
    x = torch.from_numpy(np.round(rng.standard_normal((2, 300)) * 1.5))
    y = torch.from_numpy(rng.standard_normal((2, 300)))
    ox, oy = tie_orders(x, y)
    u, _ = pair_ranks(x.numpy(), y.numpy())
    soft = soft_rank(x, temperature=1e-6, tie_order=ox)
    np.testing.assert_allclose(soft.numpy(), u, atol=1e-6)
    assert not torch.allclose(soft_rank(x, 1e-6), soft)   # averaged ties would differ


def test_tie_summary():
    data = np.stack([np.arange(10.0), np.r_[np.zeros(6), np.arange(1.0, 5.0)], np.full(10, 2.0)], 1)
    distinct, top = tie_summary(data)
    assert distinct.tolist() == [10, 5, 1]
    np.testing.assert_allclose(top, [0.1, 0.6, 1.0])
    names = ["a", "b", "c"]
    assert tied_streams(data, names) == {"b": (5, 0.6)}   # the constant stream is noted elsewhere


# --- ground truths -----------------------------------------------------------------------

@pytest.mark.parametrize("task", [QuantisedGaussian(0.8, 2, None), QuantisedGaussian(0.8, 3, None),
                                  QuantisedGaussian(0.6, 7, 7), ClippedGaussian(0.8, 0.5)],
                         ids=lambda t: t.name)
def test_tied_truths_against_ksg(task):
    x, y = task.sample(20000, 11)
    jitter = np.random.default_rng(0).standard_normal((2, x.size)) * 1e-7
    ksg = KSG(k=5).estimate(x + jitter[0], y + jitter[1])
    assert ksg == pytest.approx(task.mutual_information(), abs=0.015)


def test_sign_truth_is_the_published_value():
    assert QuantisedGaussian(0.8, 2, None).mutual_information() == pytest.approx(0.2666, abs=2e-4)


def test_miller_madow():
    rng = np.random.default_rng(6)
    x = rng.integers(0, 3, 2000)
    assert miller_madow_mi(x, rng.integers(0, 2, 2000)) < 0.003
    assert miller_madow_mi(x, x) == pytest.approx(np.log(3), abs=0.01)
    assert miller_madow_mi(np.zeros(50), x[:50]) == 0.0
    assert use_plugin(2, 2, 40) and not use_plugin(2, 2, 39) and not use_plugin(1, 5, 1000)


# --- the estimator -------------------------------------------------------------------------

def _batch(est, f, g, n, seed):
    rng = np.random.default_rng(seed)
    xs = np.stack([f(rng.standard_normal(n)) for _ in range(REPEATS)])
    ys = np.stack([g(rng.standard_normal(n)) for _ in range(REPEATS)])
    return est.estimate_batch(xs, ys)


@pytest.fixture(scope="module")
def continuous_bias(est):
    """Mean estimate at independence for continuous data (the model's small-window bias)."""
    return {n: float(_batch(est, lambda z: z, lambda z: z, n, 100 + n).mean()) for n in NS}


@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("kind", list(TIED_INPUTS))
def test_tied_against_independent_noise_reads_no_dependence(est, continuous_bias, kind, n):
    mi = _batch(est, TIED_INPUTS[kind], lambda z: z, n, n)
    # Ties add nothing to the estimate at independence: it matches continuous data.
    assert mi.mean() <= continuous_bias[n] + 0.01, (kind, n, mi.mean(), continuous_bias[n])
    # the read-out removed the small-window bias: <= 0.01 at every N (issue 12's target)
    assert mi.mean() <= 0.01, (kind, n, mi.mean())
    # (Before the fix: binary 1.81, 3 levels 1.63, 7 levels 1.04, clipped 50 % 0.30 nats.)


@pytest.mark.parametrize("n", NS)
def test_two_independent_tied_streams(est, n):
    for kind in ("binary", "3 levels", "20 levels", "clipped 50 %", "integer counter"):
        mi = _batch(est, TIED_INPUTS[kind], TIED_INPUTS[kind], n, 7 * n)
        assert mi.mean() <= 0.01, (kind, n, mi.mean())   # no small-window bias left


def _task_mean(est, task, n):
    xs, ys = zip(*(task.sample(n, data_seed(task.name, n, r)) for r in range(REPEATS)))
    return float(est.estimate_batch(np.array(xs), np.array(ys)).mean())


@pytest.mark.parametrize("n", NS)
def test_dependent_tied_pairs_within_005_of_the_truth(est, n):
    """sign(Z1) against a correlated Gaussian, and Gaussian pairs quantised on both axes.
    At N = 128 the read-out's median leans towards its training prior (on 20-level pairs
    +0.066 with read-out v5b, +0.070 with v6d; bench/results/ties.md), hence 0.08 there, as
    for the one-sided pairs below. The fault this guards against read +1.5 nats."""
    tasks = [QuantisedGaussian(0.8, 2, None)] + [QuantisedGaussian(0.8, lv, lv) for lv in (2, 3, 7, 20)]
    tol = 0.08 if n < 500 else 0.05
    for task in tasks:
        mean = _task_mean(est, task, n)
        assert abs(mean - task.mutual_information()) <= tol, (task.name, n, mean)


@pytest.mark.parametrize("n", NS)
def test_one_sided_and_clipped_dependent_pairs(est, n):
    """One axis quantised (3-20 levels) or saturated (30-70 %), the other continuous: the
    raw network read these one-sided step copulas up to 0.054 nats low (3 levels, N = 500);
    at N = 128 the read-out's median leans up to +0.07 towards its prior (20 levels)."""
    tasks = [t for t in tied_suite() if ("Ly=c" in t.name or "clipped" in t.name) and t.mutual_information() > 0]
    tol = 0.08 if n < 500 else 0.06
    for task in tasks:
        mean = _task_mean(est, task, n)
        assert abs(mean - task.mutual_information()) <= tol, (task.name, n, mean)


def test_estimate_pairs_batch_and_single_agree_on_tied_data(est):
    rng = np.random.default_rng(8)
    z = rng.standard_normal((500, 4))
    data = np.stack([(z[:, 0] > 0) * 1.0, 0.8 * z[:, 0] + 0.6 * z[:, 1], np.round(z[:, 2]),
                     np.clip(z[:, 3], -0.5, 0.5)], 1)
    pairs = [(0, 1), (1, 2), (0, 2), (2, 3), (1, 3)]
    by_pairs = est.estimate_pairs(data, pairs)
    by_batch = est.estimate_batch(data[:, [i for i, _ in pairs]].T, data[:, [j for _, j in pairs]].T)
    single = [est.estimate(data[:, i], data[:, j]) for i, j in pairs]
    np.testing.assert_allclose(by_pairs, by_batch, atol=1e-6)
    np.testing.assert_allclose(by_pairs, single, atol=1e-6)
    swapped = [est.estimate(data[:, j], data[:, i]) for i, j in pairs]
    np.testing.assert_allclose(swapped, single, atol=1e-5)
    perm = rng.permutation(500)
    np.testing.assert_allclose(est.estimate_pairs(data[perm], pairs), by_pairs, atol=1e-5)
    assert by_pairs[0] > 0.15 and by_pairs[1] < 0.05


def test_continuous_estimates_unchanged():
    """Data without ties takes exactly the old path: the model on plain ranks (raw DV value)."""
    est = InfoNetEstimator.pretrained(device="cpu", readout=False)
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((2, 6, 700))
    y = 0.7 * x + y
    u = torch.from_numpy(np.stack([rank_transform_numpy(x), rank_transform_numpy(y)], -1))
    with torch.inference_mode():
        ref = np.maximum(est.model(u)["mi"].double().numpy(), 0.0)
    np.testing.assert_array_equal(est.estimate_batch(x, y), ref)


def test_differentiable_mi_agrees_on_tied_data(est):
    rng = np.random.default_rng(10)
    z = rng.standard_normal((2, 1000))
    x = torch.tensor((z[0] > 0) * 1.0)
    y = torch.tensor(0.8 * z[0] + 0.6 * z[1], requires_grad=True)
    m = est.mi(x, y, temperature=0.05)  # the network's DV value, differentiable
    dv = InfoNetEstimator.pretrained(device="cpu", readout=False)
    assert float(m.detach()) == pytest.approx(dv.estimate(x.numpy(), y.detach().numpy()), abs=0.03)
    m.backward()
    assert torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0
    noise = torch.tensor(rng.standard_normal(1000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(est.mi(x, noise)) < 0.03


def test_training_sampler_breaks_ties_like_the_estimator():
    """simulate.random_tie_ranks: plain ranks without ties; with ties a permutation that
    keeps every tie group on its rank interval, in a random order."""
    from infonet_ros.copula import rank_transform
    from infonet_ros.simulate import random_tie_ranks

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 200, generator=gen)
    torch.testing.assert_close(random_tie_ranks(x, gen), rank_transform(x).float(), rtol=0, atol=0)
    xq = torch.round(x * 1.5)
    r = random_tie_ranks(xq, gen)
    n = xq.shape[-1]
    torch.testing.assert_close(r.sort(-1).values, ((torch.arange(n) + 0.5) / n).expand(3, n))
    avg = rank_transform(xq).float()
    for row in range(3):
        for value in xq[row].unique():
            g = xq[row] == value
            assert abs(float(r[row][g].mean() - avg[row][g][0])) < 1e-5
    assert not torch.equal(r, random_tie_ranks(xq, gen))   # a fresh random order each call
