"""The prewhitened significance test (infonet_ros/prewhiten.py, ``significance:
prewhitened``): innovations are white, independent autocorrelated streams get uniform
p-values, a lagged dependence gets a small one; the parameter through PipelineConfig and
the pipeline."""
import dataclasses

import numpy as np
import pytest
from scipy.signal import lfilter

from infonet_ros.pipeline import MIPipeline
from infonet_ros.prewhiten import ar_innovations, prewhitened_p_values, sidak
from infonet_ros.streams import PipelineConfig
from infonet_ros.windowing import Window


def ar1(rng, n, k, phi=0.9):
    e = rng.standard_normal((n, k)) * np.sqrt(1 - phi * phi)
    e[0] = rng.standard_normal(k)
    return lfilter([1.0], [1.0, -phi], e, axis=0)


def smooth(rng, n, k, samples=10.0):
    """Twice low-passed white noise (time constant ``samples``)."""
    a = np.exp(-1.0 / samples)
    e = rng.standard_normal((n + 500, k))
    return lfilter([1.0], [1.0, -a], lfilter([1.0], [1.0, -a], e, axis=0), axis=0)[500:]


def lag_acf(x, lags=5):
    x = x - x.mean()
    return np.array([x[k:] @ x[:-k] for k in range(1, lags + 1)]) / (x @ x)


def config(k, **params):
    names = [f's{i}' for i in range(k)]
    return PipelineConfig.from_params({
        'stream_names': names, 'device': 'cpu', 'window_size': 256, **params,
        'streams': {n: {'topic': f'/{n}', 'type': 'std_msgs/msg/Float64', 'field': 'data'}
                    for n in names}})


def window(data):
    t = np.arange(len(data)) / 50.0
    return Window(t=t, data=data, t_start=t[0], t_end=t[-1])


@pytest.fixture(scope='module')
def pipeline():
    return MIPipeline(config(6, significance='prewhitened'))


def test_innovations_of_autocorrelated_streams_are_white():
    rng = np.random.default_rng(1)
    n = 1024
    data = np.column_stack([ar1(rng, n, 2, 0.9), smooth(rng, n, 2)])
    assert np.all(np.abs(lag_acf(data[:, 0])[:1]) > 0.8)      # strongly autocorrelated
    innov, orders = ar_innovations(data)
    assert innov.shape == (n - 10, 4)
    assert np.all(orders >= 1) and orders[2] >= 2, orders     # smooth: AR(2) at least
    bound = 3.5 / np.sqrt(len(innov))
    for c in range(4):
        assert np.all(np.abs(lag_acf(innov[:, c])) < bound), (c, lag_acf(innov[:, c]))
        # normal scores, no ties: a continuous sample for the estimator
        assert len(np.unique(innov[:, c])) == len(innov)
    white = rng.standard_normal((n, 1))
    assert ar_innovations(white)[1][0] <= 2                   # AIC keeps white streams ~white


def test_sidak_is_the_probability_of_the_smallest_of_m():
    assert sidak(np.array([0.05]), 1)[0] == pytest.approx(0.05)
    assert sidak(np.array([0.01]), 7)[0] == pytest.approx(1 - 0.99 ** 7)
    assert sidak(np.array([1e-12]), 7)[0] == pytest.approx(7e-12, rel=1e-6)


def test_independent_autocorrelated_streams_get_uniform_p_values(pipeline):
    """AR(1) (phi 0.9) and twice low-passed streams, 6 per window, 24 windows (360
    pairs): the white null read directly gives ~0.75 false positives on such streams."""
    rng = np.random.default_rng(7)
    ps = []
    for w in range(24):
        data = ar1(rng, 256, 6) if w % 2 else smooth(rng, 256, 6)
        ps.append(prewhitened_p_values(pipeline.estimator.estimate_batch, pipeline.null,
                                       data, pipeline.config.pairs, 3))
    p = np.concatenate(ps)
    assert np.all((p > 0) & (p <= 1))
    assert 0.01 <= np.mean(p <= 0.05) <= 0.11, np.mean(p <= 0.05)
    assert 0.12 <= np.mean(p <= 0.2) <= 0.30, np.mean(p <= 0.2)
    assert 0.38 <= np.mean(p <= 0.5) <= 0.62, np.mean(p <= 0.5)


def test_lagged_dependence_of_autocorrelated_streams_gets_a_small_p(pipeline):
    """y follows x two samples later, both AR(1) (phi 0.9): small p; the same y against
    an independent AR(1) stream: not. (p ~ 2e-4 for the pair since the null table's far
    tail is calibrated, bench/null_tail.py; the exponential tail before gave < 1e-4.)"""
    rng = np.random.default_rng(3)
    x, e, z = ar1(rng, 258, 3).T
    y = 0.5 * x[:-2] + e[2:]
    data = np.column_stack([x[2:], y, z[2:]])
    p = prewhitened_p_values(pipeline.estimator.estimate_batch, pipeline.null, data,
                             [(0, 1), (0, 2), (1, 2)], 3)
    assert p[0] < 1e-3 and p[1] > 0.01 and p[2] > 0.01, p
    # without the lags the delayed copy is not seen as clearly
    assert prewhitened_p_values(pipeline.estimator.estimate_batch, pipeline.null, data,
                                [(0, 1)], 0)[0] > p[0]


def test_parameter_is_named_and_checked():
    assert config(2).significance == 'table' and config(2).significance_lags == 3
    with pytest.raises(ValueError, match="'significance'.*'table', 'prewhitened'"):
        config(2, significance='whitened')
    with pytest.raises(ValueError, match="'significance_lags'"):
        config(2, significance_lags=51)
    assert config(2, significance='prewhitened', significance_lags=0).significance_lags == 0


@pytest.mark.filterwarnings('ignore:constant input')
def test_pipeline_publishes_the_prewhitened_p_with_the_same_mi(pipeline):
    """Same MI as the table, p from the innovations; ~/estimate (arrays and window pairs)
    follows the config; pairs of two tied streams keep the table's p; constant: p = 1."""
    rng = np.random.default_rng(5)
    data = smooth(rng, 256, 6)
    data[:, 1] = 0.6 * data[:, 0] + 0.8 * data[:, 1]          # s0:s1 dependent
    data[:, 4] = (data[:, 4] > 0).astype(float)               # s4, s5: binary
    data[:, 5] = (data[:, 5] > 0.3).astype(float)
    table_cfg = dataclasses.replace(pipeline.config, significance='table')
    pw = pipeline.evaluate(window(data))
    table = pipeline.evaluate(window(data), table_cfg)
    np.testing.assert_array_equal(pw.mi, table.mi)
    k01, k45 = pw.pairs.index((0, 1)), pw.pairs.index((4, 5))
    assert pw.p_value[k01] < 1e-4
    assert pw.p_value[k45] == table.p_value[k45]              # tied with tied: the table
    assert not np.allclose(np.delete(pw.p_value, k45), np.delete(table.p_value, k45))
    # the lags path (max_lag_s > 0) uses the same test
    lagged = dataclasses.replace(pipeline.config, max_lag_s=0.1)
    history = smooth(rng, 5, 6)
    t = np.arange(256) / 50.0
    res = pipeline.evaluate(Window(t=t, data=data, t_start=t[0], t_end=t[-1],
                                   history=history), lagged)
    np.testing.assert_allclose(res.p_value, pw.p_value)
    arrays = pipeline.estimate_arrays(data[:, 0], data[:, 2])
    direct = prewhitened_p_values(pipeline.estimator.estimate_batch, pipeline.null,
                                  data[:, [0, 2]], [(0, 1)], 3)
    assert arrays.p_value[0] == pytest.approx(direct[0])
    data[:, 3] = 1.0
    assert pipeline.evaluate(window(data)).p_value[pw.pairs.index((0, 3))] == 1.0
