"""Vector streams: config parsing (lists and slices), per-component alignment, sliced MI
and its test (infonet_ros.sliced) on i.i.d., autocorrelated and tied data."""

import numpy as np
import pytest

from infonet_ros.pipeline import MIPipeline
from infonet_ros.sliced import (gaussian_copula_mi, sliced_null_quantiles, sliced_rows,
                                sliced_test)
from infonet_ros.streams import PipelineConfig, StreamExtractor, expand_fields
from infonet_ros.windowing import StreamAligner


def params(field, **extra):
    return {'stream_names': ['gyro', 'cmd'], 'window_size': 256, 'sample_rate_hz': 50.0,
            'device': 'cpu',
            'streams': {'gyro': {'topic': '/imu', 'type': 'sensor_msgs/msg/Imu', 'field': field},
                        'cmd': {'topic': '/joints', 'type': 'sensor_msgs/msg/JointState',
                                'field': 'position[0]'}}, **extra}


def test_vector_fields_from_a_list_and_a_slice():
    cfg = PipelineConfig.from_params(params(['angular_velocity.x', 'angular_velocity.y',
                                             'angular_velocity.z']))
    assert cfg.column_names == ['gyro[0]', 'gyro[1]', 'gyro[2]', 'cmd']
    assert cfg.column_groups == [[0, 1, 2], [3]] and cfg.has_vectors
    assert expand_fields('position[0:6]', 'q') == tuple(f'position[{i}]' for i in range(6))
    assert expand_fields(['a.x', 'b[2:4].c']) == ('a.x', 'b[2].c', 'b[3].c')
    scalar = PipelineConfig.from_params(params('angular_velocity.x'))
    assert scalar.column_names == scalar.stream_names and not scalar.has_vectors


@pytest.mark.parametrize('field,words', [
    ('position[3:1]', ['streams.gyro.field', 'bad slice']),
    ('position[:4]', ['streams.gyro.field', 'bad slice']),
    ('a[0:2].b[0:2]', ['streams.gyro.field', 'one slice']),
    (['angular_velocity.x', 'angular_velocity.x'], ['streams.gyro.field', 'repeated']),
    (['angular_velocity.x', ''], ['streams.gyro.field', 'empty']),
    ([], ['streams.gyro.field']),
    ('position[0:100]', ['streams.gyro.field', 'at most']),
])
def test_bad_vector_fields_are_named(field, words):
    with pytest.raises(ValueError) as info:
        PipelineConfig.from_params(params(field))
    for word in words:
        assert word in str(info.value)


def test_bad_component_path_names_stream_and_field():
    cfg = PipelineConfig.from_params(params(['angular_velocity.x', 'angular_velocity.w']))
    with pytest.raises(ValueError, match=r"streams\.gyro\.field.*no field 'w'"):
        StreamExtractor(cfg)


def test_extractor_gives_one_column_per_component():
    from sensor_msgs.msg import Imu, JointState
    cfg = PipelineConfig.from_params(params(['angular_velocity.x', 'angular_velocity.z']))
    ex = StreamExtractor(cfg)
    imu = Imu()
    imu.angular_velocity.x, imu.angular_velocity.z = 1.5, -2.0
    assert [(c, v) for c, _, v in ex.extract_topic('/imu', imu, 3.0)] == \
        [('gyro[0]', 1.5), ('gyro[1]', -2.0)]
    assert ex.streams_on('/imu') == ['gyro']
    out = ex.extract_topic('/joints', JointState(position=[]), 3.0)
    assert out[0][0] == 'cmd' and isinstance(out[0][2], ValueError)


def ar1(shape, phi, rng):
    x = np.empty(shape)
    x[0] = rng.standard_normal(shape[1:])
    for t in range(1, shape[0]):
        x[t] = phi * x[t - 1] + np.sqrt(1 - phi ** 2) * rng.standard_normal(shape[1:])
    return x


def published_pair(n, d, dependent, rng, phi=0.0):
    X = ar1((n, d), phi, rng) if phi else rng.standard_normal((n, d))
    source = X if dependent else (ar1((n, d), phi, rng) if phi else rng.standard_normal((n, d)))
    Y = (source.sum(1, keepdims=True) / np.sqrt(d) + rng.standard_normal((n, d))) / np.sqrt(2)
    return X, Y


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_sliced_test_detects_dependence_at_d16_n200(seed):
    rng = np.random.default_rng(1000 + seed)
    dep = sliced_test(*sliced_rows(*published_pair(200, 16, True, rng), 64, seed=seed))
    ind = sliced_test(*sliced_rows(*published_pair(200, 16, False, rng), 64, seed=seed))
    assert dep.p_value <= 0.01 and ind.p_value > 0.05, (dep, ind)


def test_sliced_test_false_positive_rate_iid_and_tied():
    """i.i.d. null (continuous, and quantised to 3 levels): p <= 0.05 in about 5 % of sets."""
    rng = np.random.default_rng(7)
    p = []
    for s in range(60):
        X, Y = published_pair(200, 16, False, rng)
        if s % 2:
            X = np.round(X)   # ties
        p.append(sliced_test(*sliced_rows(X, Y, 32, seed=s), permutations=100).p_value)
    assert np.mean(np.array(p) <= 0.05) <= 0.15
    assert 0.3 < np.mean(p) < 0.7   # roughly uniform


def test_sliced_test_on_autocorrelated_streams():
    """AR(1) (phi 0.9) components: the dependent case is still found; the sample permutation
    null is liberal there (documented): an independent pair is not always > 0.05."""
    rng = np.random.default_rng(11)
    dep = sliced_test(*sliced_rows(*published_pair(200, 16, True, rng, phi=0.9), 64))
    assert dep.p_value <= 0.01


def test_null_quantiles_by_simulation_are_seeded_and_ordered():
    q = sliced_null_quantiles(200, 16, 16, k=32, simulations=100, seed=3)
    assert q == sliced_null_quantiles(200, 16, 16, k=32, simulations=100, seed=3)
    assert q[0.5] < q[0.9] < q[0.95] < q[0.99]
    assert 0.25 / 200 < q[0.5] < 1 / 200           # E r^2 / 2 = 1 / (2 N) per slice
    rng = np.random.default_rng(4)
    dep = np.mean(gaussian_copula_mi(*sliced_rows(*published_pair(200, 16, True, rng), 32)))
    assert dep > q[0.99]


def test_pipeline_vector_pair_gets_sliced_mi_and_p_value():
    rng = np.random.default_rng(5)
    cfg = PipelineConfig.from_params(params(['angular_velocity.x', 'angular_velocity.y',
                                             'angular_velocity.z'], window_size=256))
    aligner = StreamAligner.from_config(cfg)
    n = 300
    cmd = rng.standard_normal(n)
    gyro = np.outer(cmd, [1.0, -0.7, 0.4]) + 0.5 * rng.standard_normal((n, 3))
    for k in range(n):
        for c in range(3):
            aligner.add(f'gyro[{c}]', k / 50.0, gyro[k, c])
        aligner.add('cmd', k / 50.0, cmd[k])
    result = MIPipeline(cfg).evaluate(aligner.window())
    assert result.streams == ['gyro', 'cmd'] and result.pairs == [(0, 1)]
    assert result.mi[0] > 0.1 and result.p_value[0] < 0.01
    assert result.edges and np.isnan(result.lag_s[0])
    indep = rng.standard_normal(n)
    aligner = StreamAligner.from_config(cfg)
    for k in range(n):
        for c in range(3):
            aligner.add(f'gyro[{c}]', k / 50.0, gyro[k, c])
        aligner.add('cmd', k / 50.0, indep[k])
    result = MIPipeline(cfg).evaluate(aligner.window())
    assert result.p_value[0] > 0.05 and not result.edges
