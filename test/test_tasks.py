"""Benchmark tasks: each ground truth against an independent computation."""

import numpy as np
import pytest
from scipy import stats

from infonet_ros.baselines import ksg_mi
from infonet_ros.tasks import (
    EVAL_SEED_BASE, AdditiveUniform, BivariateGaussian, GammaExponential, GaussianMixture,
    Independent, MonotoneTransform, StudentT, data_seed, order_mixtures, student_t_mi, suite,
)


def ksg_large(task, n=20000, seeds=(1, 2), transform=None):
    vals = []
    for s in seeds:
        x, y = task.sample(n, s)
        if transform is not None:
            x, y = transform(x), transform(y)
        vals.append(ksg_mi(x, y, k=3))
    return float(np.mean(vals))


def test_gaussian_truth_vs_density_ratio():
    task = BivariateGaussian(0.8)
    x, y = task.sample(200_000, 3)
    lr = (stats.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]]).logpdf(np.column_stack((x, y)))
          - stats.norm.logpdf(x) - stats.norm.logpdf(y))
    assert abs(lr.mean() - task.mutual_information) < 0.01


@pytest.mark.parametrize("eps", [0.1, 0.3, 0.75])
def test_additive_uniform_truth_vs_ksg(eps):
    task = AdditiveUniform(eps)
    assert abs(ksg_large(task) - task.mutual_information) < 0.03


def test_additive_uniform_formula_is_continuous_at_half():
    assert AdditiveUniform(0.5).mutual_information == pytest.approx(0.5)
    assert AdditiveUniform(0.5 + 1e-9).mutual_information == pytest.approx(0.5, abs=1e-8)


@pytest.mark.parametrize("a", [1.0, 2.0, 5.0])
def test_gamma_exponential_truth_vs_ksg(a):
    task = GammaExponential(a)
    # log of both marginals (MI-preserving) tames the heavy tails for KSG.
    assert abs(ksg_large(task, transform=np.log) - task.mutual_information) < 0.03


@pytest.mark.parametrize("rho, dof", [(0.5, 3.0), (0.0, 2.0), (0.9, 5.0)])
def test_student_t_closed_form_vs_monte_carlo(rho, dof):
    task = StudentT(rho, dof)
    x, y = task.sample(200_000, 5)
    joint = stats.multivariate_t(loc=[0, 0], shape=[[1, rho], [rho, 1]], df=dof)
    lr = joint.logpdf(np.column_stack((x, y))) - stats.t(dof).logpdf(x) - stats.t(dof).logpdf(y)
    assert abs(lr.mean() - task.mutual_information) < 0.01, (lr.mean(), task.mutual_information)


def test_student_t_tends_to_gaussian():
    gauss = BivariateGaussian(0.5).mutual_information
    assert student_t_mi(0.5, 1e7) == pytest.approx(gauss, abs=1e-5)
    assert student_t_mi(0.0, 3.0) > 0  # shared scale: dependent even when uncorrelated


def test_single_component_mixture_equals_gaussian():
    cov = np.array([[[4.0, 1.8], [1.8, 1.0]]])  # rho = 0.9
    task = GaussianMixture([1.0], [[1.0, -2.0]], cov)
    assert task.mi_stderr < 0.005
    gauss = BivariateGaussian(0.9).mutual_information
    assert abs(task.mutual_information - gauss) < 4 * task.mi_stderr + 1e-3


def test_mixture_truth_and_stderr():
    task = GaussianMixture.random(10, 123)
    assert task.mi_stderr < 0.005
    # Independent computation of the same density ratio with scipy, on fresh samples.
    x, y = task.sample(100_000, 9)
    xy = np.column_stack((x, y))
    comps = list(zip(task.weights, task.means, task.covs))
    lj = np.log(sum(w * stats.multivariate_normal(m, c).pdf(xy) for w, m, c in comps))
    lx = np.log(sum(w * stats.norm(m[0], np.sqrt(c[0, 0])).pdf(x) for w, m, c in comps))
    ly = np.log(sum(w * stats.norm(m[1], np.sqrt(c[1, 1])).pdf(y) for w, m, c in comps))
    np.testing.assert_allclose(task.log_ratio(x[:1000], y[:1000]), (lj - lx - ly)[:1000],
                               atol=1e-8)
    ref = (lj - lx - ly)
    tol = 4 * np.sqrt(ref.var() / ref.size + task.mi_stderr ** 2)
    assert abs(ref.mean() - task.mutual_information) < tol


def test_mixture_rejects_bad_parameters():
    with pytest.raises(ValueError, match="means"):
        GaussianMixture([0.5, 0.5], [[0, 0]], np.stack([np.eye(2)] * 2))
    with pytest.raises(ValueError, match="positive definite"):
        GaussianMixture([1.0], [[0, 0]], [[[1.0, 2.0], [2.0, 1.0]]])


def test_monotone_transform_keeps_truth_and_order():
    base = BivariateGaussian(0.6)
    for fx, fy in [("half_cube", "asinh"), ("normal_cdf", "exp"), ("cube", "half_cube")]:
        task = MonotoneTransform(base, fx, fy)
        assert task.mutual_information == base.mutual_information
        x0, y0 = base.sample(5000, 4)
        x1, y1 = task.sample(5000, 4)
        assert np.array_equal(np.argsort(x0), np.argsort(x1))
        assert np.array_equal(np.argsort(y0), np.argsort(y1))
        assert np.isfinite(x1).all() and np.isfinite(y1).all()


def test_independent_tasks_have_zero_mi():
    for kind in Independent.KINDS:
        task = Independent(kind)
        assert task.mutual_information == 0.0
        assert abs(ksg_mi(*task.sample(5000, 1))) < 0.03


def test_sampling_is_seeded():
    for task in suite():
        a = task.sample(50, 7)
        b = task.sample(50, 7)
        c = task.sample(50, 8)
        assert a[0].dtype == np.float64 and a[0].shape == (50,)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        assert not np.array_equal(a[0], c[0])
        assert np.isfinite(a[0]).all() and np.isfinite(a[1]).all(), task.name


def test_suite_contents_and_seeds():
    tasks = suite()
    names = [t.name for t in tasks]
    assert len(names) == len(set(names))
    rhos = {t.rho for t in tasks if isinstance(t, BivariateGaussian)}
    assert rhos == {0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99}
    assert any(isinstance(t, MonotoneTransform) for t in tasks)
    closed_form = [t for t in tasks if not isinstance(t, GaussianMixture)]  # skip slow MC truths
    assert sum(t.mutual_information == 0 for t in closed_form) >= 4
    assert sum(t.mutual_information > 1 for t in closed_form) >= 6
    seeds = [data_seed(name, n, r) for name in names for n in (256, 1000, 5000) for r in range(5)]
    assert min(seeds) >= EVAL_SEED_BASE > 10 ** 6  # never a training/validation seed
    assert len(set(seeds)) == len(seeds)
    assert [m.name for m in order_mixtures(3)] == [m.name for m in order_mixtures(3)]
