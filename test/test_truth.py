"""Ground truths of infonet_ros.truth, each checked by an independent method (large-sample
KSG on ranks with random tie-breaking, an independent Monte Carlo, or another quadrature)."""

import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from infonet_ros import truth as T
from infonet_ros.baselines import ksg_mi
from infonet_ros.readout import rank_random_ties


def ksg_ranks(d, n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    x, y = d.sample(n, rng)
    return ksg_mi(rank_random_ties(x, rng)[0].astype(float), rank_random_ties(y, rng)[0].astype(float))


@pytest.mark.parametrize("d", [T.gauss(0.7), T.additive_uniform(0.2), T.student_t(0.6, 3.0), T.gamma_exp(1.5),
                               T.functional("sin", 2.0, 0.3, 0.3, T.functional_truth("sin", 2.0, 0.3, 0.3)),
                               T.functional("step", 1.0, 0.2, 0.2, T.functional_truth("step", 1.0, 0.2, 0.2))],
                         ids=lambda d: d.family)
def test_continuous_truth_matches_ksg(d):
    assert abs(ksg_ranks(d) - d.mi) < 0.03


def test_clipped_truth_matches_ksg_on_tie_broken_ranks():
    mi, se = T.clipped_gauss_truth(0.85, -0.4, 0.6, seed=5, m=100_000)
    assert se < 0.005
    assert abs(ksg_ranks(T.clipped_gauss(0.85, -0.4, 0.6, mi)) - mi) < 0.03
    assert abs(T.clipped_gauss_truth(0.0, -0.4, 0.6, seed=1, m=100_000)[0]) < 1e-12  # independence: exactly 0


def test_sign_gauss_against_independent_monte_carlo():
    rho = 0.8
    s = math.sqrt(1 - rho * rho)
    rng = np.random.default_rng(3)
    x, y = T.sign_gauss(rho).sample(200_000, rng)
    from scipy.special import log_ndtr
    lr = log_ndtr(x * rho * y / s) - math.log(0.5)  # log p(x | y) / p(x)
    assert abs(lr.mean() - T.sign_gauss_mi(rho)) < 4 * lr.std() / math.sqrt(len(lr)) + 1e-3
    assert T.sign_gauss_mi(0.0) == pytest.approx(0.0, abs=1e-12)
    assert T.sign_gauss_mi(0.9999) < math.log(2)


def test_quantised_cells_match_scipy_cdf_and_samples():
    rho, ex, ey = 0.6, np.array([-np.inf, -0.5, 0.3, np.inf]), np.array([-np.inf, 0.0, 1.0, np.inf])
    p = T.gauss_cell_probs(rho, ex, ey)
    mvn = multivariate_normal(mean=[0, 0], cov=[[1, rho], [rho, 1]])
    c = lambda a, b: mvn.cdf([min(a, 12), min(b, 12)]) if a > -np.inf and b > -np.inf else 0.0  # noqa: E731
    for i in range(3):
        for j in range(3):
            ref = c(ex[i + 1], ey[j + 1]) - c(ex[i], ey[j + 1]) - c(ex[i + 1], ey[j]) + c(ex[i], ey[j])
            assert p[i, j] == pytest.approx(ref, abs=2e-6)
    d = T.quantised_gauss(0.8, 4, 5, offset=(0.1, -0.2))
    x, y = d.sample(400_000, np.random.default_rng(1))
    counts = np.histogram2d(x, y, bins=[np.arange(5) - 0.5, np.arange(6) - 0.5])[0]
    assert abs(T.discrete_mi(counts) - d.mi) < 0.004


def test_quantisation_loses_information_and_fine_grid_recovers_it():
    assert T.quantised_gauss(0.9, 3, 3).mi < T.quantised_gauss(0.9, 30, 30).mi < T.gauss_mi(0.9)
    assert T.quantised_gauss(0.9, 200, 200, width=5).mi == pytest.approx(T.gauss_mi(0.9), abs=0.01)


def test_monotone_maps_keep_ranks():
    d = T.gauss(0.5)
    m = T.Monotone.wrap(d, "cube", "atan")
    assert m.mi == d.mi
    x, y = d.sample(500, np.random.default_rng(2))
    mx, my = m.sample(500, np.random.default_rng(2))
    assert (np.argsort(x) == np.argsort(mx)).all() and (np.argsort(y) == np.argsort(my)).all()


def test_bank_is_reproducible_and_draws_every_family():
    bank = T.load_bank()
    for fam in T.BANK_FAMILIES:
        assert len(bank[fam]) >= 100
    e = bank["clipped_gauss"][3]
    assert T.bank_entry("clipped_gauss", 3) == e
    rng = np.random.default_rng(0)
    for fam in T.FAMILIES:
        for split in ("train", "val"):
            d = T.draw(fam, rng, bank, split)
            x, y = d.sample(64, rng)
            assert x.shape == y.shape == (64,) and np.isfinite(x).all() and np.isfinite(y).all()
            assert d.mi >= -1e-3
    assert not set(T.HELD_OUT) & set(T.TRAIN_FAMILIES)


def test_bank_gmm_entry_recomputes():
    e = T.load_bank()["gmm"][0]
    g = T.gmm(e["k"], e["seed"], mc_samples=100_000)
    assert abs(g.mi - e["mi"]) < 5 * (g.mi_stderr + e["stderr"]) + 1e-3


def test_clayton_truth_matches_ksg():
    mi, se = T.clayton_truth(3.0, seed=7, m=100_000)
    assert se < 0.005
    assert abs(ksg_ranks(T.clayton(3.0, mi)) - mi) < 0.03
