"""Calibrated p-values, the Benjamini-Hochberg graph and the null tables (significance.py).

The statistical tests run the real pipeline with the shipped weights and null tables on
independent streams (white, AR(1) phi = 0.9, tied) and check that the p-values are close
to uniform; each also shows that the uncorrected (white) null fails on AR(1) streams, so
the bounds can fail.
"""

import json
import math
import shutil
import warnings

import numpy as np
import pytest
from scipy.signal import lfilter

from infonet_ros.graph import fdr_edges, graph_edges
from infonet_ros.pipeline import MIPipeline
from infonet_ros.significance import (NullTable, bartlett_factors, benjamini_hochberg,
                                      fit_table, load_null, null_path_for)
from infonet_ros.streams import PipelineConfig
from infonet_ros.windowing import Window


def config(names=('a', 'b', 'c'), **kw):
    return PipelineConfig.from_params({
        'stream_names': list(names), 'device': 'cpu',
        'streams': {n: {'topic': f'/{n}', 'type': 'std_msgs/msg/Float64', 'field': 'data'}
                    for n in names}, **kw})


def window(data):
    t = np.arange(len(data)) / 50.0
    return Window(t=t, data=data, t_start=t[0], t_end=t[-1])


def ar1(rng, n, k, phi):
    e = rng.standard_normal((n, k)) * math.sqrt(1 - phi * phi)
    e[0] = rng.standard_normal(k)
    return lfilter([1.0], [1.0, -phi], e, axis=0)


@pytest.fixture(scope='module')
def pipeline():
    p = MIPipeline(config())
    assert p.null is not None, p.null_warning
    return p


# --- Benjamini-Hochberg -------------------------------------------------------------

def test_benjamini_hochberg_hand_example():
    # m = 4, alpha = 0.05: thresholds 0.0125, 0.025, 0.0375, 0.05. The two smallest miss
    # their own thresholds, but the step-up takes everything up to the largest k with
    # p_(k) <= k alpha / m (k = 4): all four are discoveries.
    assert benjamini_hochberg([0.02, 0.03, 0.035, 0.04], 0.05).tolist() == [True] * 4
    # m = 5 (the NaN is not tested): sorted 0.001, 0.011, 0.02, 0.041, 0.3 against
    # 0.01, 0.02, 0.03, 0.04, 0.05: k = 3 (0.041 > 0.04): the three smallest.
    p = [0.3, 0.02, math.nan, 0.001, 0.041, 0.011]
    assert benjamini_hochberg(p, 0.05).tolist() == [False, True, False, True, False, True]
    assert not benjamini_hochberg([0.2, 0.5], 0.05).any()
    assert benjamini_hochberg([], 0.05).tolist() == []


def test_graph_edges_methods():
    pairs = [(0, 1), (0, 2), (1, 2)]
    mi = np.array([0.30, 0.02, 0.08])
    p = np.array([1e-5, 0.01, 0.6])
    assert fdr_edges(mi, pairs, p, 0.05) == [(0, 1, 0.30), (0, 2, 0.02)]
    edges, method = graph_edges(mi, pairs, p, 'fdr', 0.05, 0.05)
    assert method == 'fdr' and [e[:2] for e in edges] == [(0, 1), (0, 2)]
    edges, method = graph_edges(mi, pairs, p, 'threshold', 0.05, 0.05)
    assert method == 'threshold' and [e[:2] for e in edges] == [(0, 1), (1, 2)]
    edges, method = graph_edges(mi, pairs, p, 'threshold', 0.05, 0.05, permutations=100)
    assert method == 'permutation_test' and [e[:2] for e in edges] == [(0, 1)]
    # no p-values at all (no null table): fdr falls back to the threshold and says so
    edges, method = graph_edges(mi, pairs, np.full(3, np.nan), 'fdr', 0.05, 0.05)
    assert method == 'threshold' and len(edges) == 2
    with pytest.raises(ValueError, match='graph_method'):
        graph_edges(mi, pairs, p, 'bonferroni', 0.05, 0.05)


def test_graph_parameters_are_in_the_schema():
    cfg = config(graph_method='fdr', graph_alpha=0.1)
    assert (cfg.graph_method, cfg.graph_alpha) == ('fdr', 0.1)
    with pytest.raises(ValueError, match="'graph_method'"):
        config(graph_method='bonferroni')
    with pytest.raises(ValueError, match="'graph_alpha'"):
        config(graph_alpha=0.0)


# --- the table ----------------------------------------------------------------------

def test_point_mass_at_zero_gives_mid_p_and_upper_p():
    rng = np.random.default_rng(0)
    null = np.where(rng.random(4000) < 0.6, 0.0, rng.exponential(0.01, 4000))
    samples = {n: (null * 256 / n, np.ones(4000)) for n in (128, 256, 512)}
    table = fit_table('x', {'sha256': 'x'}, np.zeros(6), samples,
                      np.round(np.arange(100) / 100, 2))
    p = table.p_values([0.0, 1e-9, 0.005, 0.02, 0.2], 256)
    assert p[0] == pytest.approx(1 - 0.6 / 2, abs=0.02)   # at the point mass: mid-p
    assert p[1] == pytest.approx(0.4, abs=0.03)       # just above it: P(null > 0)
    assert np.all(np.diff(p) < 0) and 0 < p[-1] < 1e-6
    assert p[2] == pytest.approx(np.mean(null >= 0.005), abs=0.01)
    # interpolation in log N: the null at N = 362 lies between those at 256 and 512
    assert table.p_values([0.005], 256)[0] > table.p_values([0.005], 362)[0] \
        > table.p_values([0.005], 512)[0]
    assert np.isnan(table.p_values([math.nan], 256)[0])
    # beyond the grid: a power law in N, still monotone
    assert table.p_values([0.005], 64)[0] > table.p_values([0.005], 128)[0]
    assert table.p_values([0.005], 4096)[0] < table.p_values([0.005], 512)[0]
    # a null that is all zeros: any positive estimate is rare, but not impossible
    zeros = fit_table('x', {'sha256': 'x'}, np.zeros(6),
                      {n: (np.zeros(1000), np.ones(1000)) for n in (64, 128)},
                      np.round(np.arange(100) / 100, 2))
    assert zeros.p_values([0.0], 100)[0] == pytest.approx(1 - 0.99 / 2)
    # no point mass: at or below the smallest null value, p = 1
    smooth = fit_table('x', {'sha256': 'x'}, np.zeros(6),
                       {n: (rng.exponential(0.01, 2000), np.ones(2000)) for n in (64, 128)},
                       np.round(np.arange(100) / 100, 2))
    assert smooth.p_values([0.0], 100)[0] == 1.0
    assert 0 < zeros.p_values([1e-6], 100)[0] <= 1 / 1001 + 1e-12


@pytest.mark.parametrize('method', ['infonet', 'ksg'])
def test_shipped_tables_round_trip(method):
    table = NullTable.from_json(json.loads(null_path_for(method).read_text()))
    assert table.method == method and table.n[0] == 32 and table.n[-1] >= 4096
    assert table.quantiles.shape == (len(table.n), table.b.shape[1], len(table.levels))
    # more autocorrelation, a wider null (the 0.95 quantile at the largest B group)
    assert np.all(table.quantiles[:, -1, 95] >= table.quantiles[:, 0, 95])


def test_mismatched_null_table_is_reported_not_used(tmp_path):
    doc = json.loads(null_path_for('infonet').read_text())
    doc['fingerprint']['sha256'] = '0' * 64
    other = tmp_path / 'other_weights.json'
    other.write_text(json.dumps(doc))
    pipe = MIPipeline(config(null_path=str(other), graph_method='fdr'))
    assert pipe.null is None
    assert str(other) in pipe.null_warning and 'another estimator' in pipe.null_warning
    assert 'calibrate_null.py' in pipe.null_warning
    rng = np.random.default_rng(1)
    data = rng.standard_normal((256, 3))
    data[:, 1] = data[:, 0] + 0.3 * data[:, 1]
    result = pipe.evaluate(window(data))
    assert np.isnan(result.p_value).all()                     # never a wrong p-value
    assert result.graph_method == 'threshold' and [e[:2] for e in result.edges] == [(0, 1)]
    assert any('fdr needs p-values' in note for note in result.notes)
    # same weights, but estimate_batch returns something else: the probe catches it
    doc = json.loads(null_path_for('infonet').read_text())
    doc['probe'][3] += 0.1
    (tmp_path / 'probe.json').write_text(json.dumps(doc))
    table, why = load_null(pipe.estimator, 'infonet', tmp_path / 'probe.json')
    assert table is None and 'probe estimates differ' in why
    table, why = load_null(pipe.estimator, 'infonet', tmp_path / 'missing.json')
    assert table is None and 'no null table' in why
    shutil.copy(null_path_for('infonet'), tmp_path / 'copy.json')
    table, why = load_null(pipe.estimator, 'infonet', tmp_path / 'copy.json')
    assert table is not None and why == ''


def test_bag_eval_warns_about_a_mismatched_table(tmp_path):
    """The offline tool names the problem too (the node logs the same text)."""
    from infonet_ros.bag_eval import evaluate_bag
    from infonet_ros.demo_data import DemoScenario, write_demo_bag
    doc = json.loads(null_path_for('infonet').read_text())
    doc['fingerprint']['sha256'] = '1' * 64
    (tmp_path / 'null.json').write_text(json.dumps(doc))
    bag = tmp_path / 'bag'
    write_demo_bag(bag, DemoScenario(duration_s=14.0, seed=5))
    cfg = PipelineConfig.from_params({
        'stream_names': ['cmd_vx', 'accel_x'], 'device': 'cpu', 'window_size': 256,
        'null_path': str(tmp_path / 'null.json'), 'publish_rate_hz': 1.0,
        'streams': {'cmd_vx': {'topic': '/cmd_vel', 'type': 'geometry_msgs/msg/Twist',
                               'field': 'linear.x'},
                    'accel_x': {'topic': '/imu/data', 'type': 'sensor_msgs/msg/Imu',
                                'field': 'linear_acceleration.x'}}})
    with pytest.warns(RuntimeWarning, match='another estimator'):
        ev = evaluate_bag(bag, cfg, progress=False)
    assert ev.results and all(np.isnan(r.p_value).all() for r in ev.results)


# --- calibration on the real estimator --------------------------------------------------

def null_p_values(pipeline, kind, windows=150, n=256, seed=0):
    """p-values (shipped table) and white-null p-values of independent streams."""
    rng = np.random.default_rng(seed)
    p, p_white = [], []
    for _ in range(windows):
        if kind == 'white':
            data = rng.standard_normal((n, 3))
        elif kind == 'ar1':
            data = ar1(rng, n, 3, 0.9)
        else:   # tied AR(1): binary, 4 levels, 50 %-clipped
            z = ar1(rng, n, 3, 0.9)
            data = np.stack([(z[:, 0] > 0.3), np.floor(np.clip(z[:, 1], -1.99, 1.99)),
                             np.maximum(z[:, 2], 0)], 1).astype(float)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            result = pipeline.evaluate(window(data))
        p.append(result.p_value)
        p_white.append(pipeline.null.p_values(result.mi, n, 1.0))
    return np.concatenate(p), np.concatenate(p_white)


@pytest.mark.parametrize('kind', ['white', 'ar1', 'tied_ar1'])
def test_p_values_are_uniform_under_independence(pipeline, kind):
    p, p_white = null_p_values(pipeline, kind)     # 450 pairs
    assert np.isfinite(p).all() and (p > 0).all() and (p <= 1).all()
    for level in (0.05, 0.2, 0.5):
        # binomial sd at 450 pairs: 0.010 / 0.019 / 0.024; pairs share streams, so looser
        tol = max(0.03, 0.25 * level) + 0.04
        if kind == 'tied_ar1':
            # measured conservative with the read-out (bench/results/significance.md:
            # 0.019 / 0.011 false positives at alpha 0.05, N = 512 / 2048): never liberal
            assert np.mean(p <= level) < level + tol, (level, np.mean(p <= level))
        else:
            assert abs(np.mean(p <= level) - level) < tol, (level, np.mean(p <= level))
    if kind != 'white':   # without the autocorrelation the same estimates look dependent
        assert np.mean(p_white <= 0.05) > 0.2


def test_bartlett_factors_of_ar1_streams():
    rng = np.random.default_rng(3)
    b1, b2 = bartlett_factors(ar1(rng, 512, 5, 0.9), [(0, 1), (0, 2), (3, 4)])
    # N = 512: order q = 2. B1 = (1 + phi^2) / (1 - phi^2) = 9.5, B2 = (1 + phi^4) /
    # (1 - phi^4) = 4.8; the taper and the finite lags pull them down a bit
    assert np.all((b1 > 4) & (b1 < 12)), b1
    assert np.all((b2 > 2.5) & (b2 < 6)), b2
    w1, w2 = bartlett_factors(rng.standard_normal((4096, 2)), [(0, 1)])
    assert w1[0] == pytest.approx(1.0, abs=0.15) and w2[0] == pytest.approx(1.0, abs=0.02)


def test_dependent_ar1_pair_is_significant(pipeline):
    rng = np.random.default_rng(4)
    x, e, z = ar1(rng, 512, 3, 0.9).T
    data = np.stack([x, 0.6 * x + 0.8 * e, z], 1)
    result = pipeline.evaluate(window(data), config(graph_method='fdr'))
    assert result.p_value[0] < 0.01 and result.graph_method == 'fdr'   # rho 0.6, N_eff ~ 50
    assert [e[:2] for e in result.edges] == [(0, 1)]


def test_constant_stream_has_p_one(pipeline):
    rng = np.random.default_rng(5)
    data = rng.standard_normal((128, 3))
    data[:, 2] = 1.5
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        result = pipeline.evaluate(window(data))
    assert result.p_value[1] == 1.0 and result.p_value[2] == 1.0
