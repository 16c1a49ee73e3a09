"""Pipeline: windows -> MI per pair -> edges; the offline schedule; graph helpers."""

import math
import threading

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist
from sensor_msgs.msg import Imu
from std_msgs.msg import Float64

from infonet_ros.baselines import KSG
from infonet_ros.graph import circle_layout, edge_width, threshold_edges
from infonet_ros.pipeline import LatestOnlyWorker, MIPipeline, WindowResult, window_schedule
from infonet_ros.streams import PipelineConfig, StreamExtractor
from infonet_ros.windowing import StreamAligner, Window

RHO = 0.8
TRUTH = -0.5 * math.log(1 - RHO ** 2)    # 0.511 nats


class PairsKSG:
    """KSG exposed through ``estimate_pairs``, recording how it was called."""

    def __init__(self):
        self.calls = []
        self._ksg = KSG()

    def estimate_pairs(self, data, pairs):
        self.calls.append((data.shape, list(pairs)))
        idx = np.asarray(pairs)
        return self._ksg.estimate_batch(data[:, idx[:, 0]].T, data[:, idx[:, 1]].T)


def config(names=('x', 'y', 'z'), **kw):
    return PipelineConfig.from_params({
        'stream_names': list(names),
        'streams': {n: {'topic': f'/{n}', 'type': 'std_msgs/msg/Float64', 'field': 'data'}
                    for n in names},
        'estimator': 'ksg', **kw})


def gaussian_window(n=512, seed=0, rho=RHO):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    y = rho * x + math.sqrt(1 - rho ** 2) * rng.standard_normal(n)
    z = rng.standard_normal(n)
    t = 10.0 + np.arange(n) / 50.0
    return Window(t=t, data=np.stack([x, y, z], axis=1), t_start=t[0], t_end=t[-1])


@pytest.mark.parametrize('estimator', [KSG(), PairsKSG()],
                         ids=['estimate_batch', 'estimate_pairs'])
def test_dependent_pair_found_independent_ones_not(estimator):
    cfg = config()
    result = MIPipeline(cfg, estimator).evaluate(gaussian_window())
    assert isinstance(result, WindowResult)
    assert result.pairs == [(0, 1), (0, 2), (1, 2)] and result.streams == ['x', 'y', 'z']
    assert result.window_size == 512 and result.t_end == pytest.approx(10.0 + 511 / 50)
    assert result.mi[0] == pytest.approx(TRUTH, abs=0.1)
    assert abs(result.mi[1]) < cfg.graph_threshold and abs(result.mi[2]) < cfg.graph_threshold
    if isinstance(estimator, KSG):   # the shipped KSG null table: calibrated p-values
        assert result.p_value[0] < 1e-3 and np.all((result.p_value > 0) & (result.p_value <= 1))
    else:                            # no null table fits an unknown estimator: NaN
        assert np.all(np.isnan(result.p_value)) and 'PairsKSG' in MIPipeline(
            cfg, estimator).null_warning
    assert [(i, j) for i, j, _, _ in result.edges] == [(0, 1)]
    assert result.edges[0][2] == result.mi[0]
    assert result.edges[0][3] == result.p_value[0] or math.isnan(result.edges[0][3])
    assert result.graph_method == 'threshold'
    assert result.method == 'ksg' and result.latency_s > 0 and result.notes == []
    if isinstance(estimator, PairsKSG):
        assert estimator.calls == [((512, 3), [(0, 1), (0, 2), (1, 2)])]   # one batched call


def test_default_estimator_from_config_is_ksg_when_asked():
    pipeline = MIPipeline(config())
    assert pipeline.method == 'ksg'


def test_requested_pairs_only_and_constant_stream():
    cfg = config(pairs=['z:x', 'y:x'])
    window = gaussian_window()
    window.data[:, 2] = 3.0
    result = MIPipeline(cfg, PairsKSG()).evaluate(window)
    assert result.pairs == [(2, 0), (1, 0)]
    assert result.mi[0] == 0.0 and result.mi[1] == pytest.approx(TRUTH, abs=0.1)
    assert any("'z' is constant" in note for note in result.notes)
    assert [(i, j) for i, j, _, _ in result.edges] == [(1, 0)]


def test_permutation_p_values():
    cfg = config(permutations=19)
    result = MIPipeline(cfg, KSG()).evaluate(gaussian_window(n=256, seed=3))
    assert result.p_value[0] == pytest.approx(1 / 20)       # beats every shuffle
    assert result.p_value[1] > 0.05 or result.p_value[2] > 0.05
    assert np.all((result.p_value > 0) & (result.p_value <= 1))
    assert [(i, j) for i, j, _, _ in result.edges] == [(0, 1)]


def test_estimator_errors_are_clear():
    class Wrong:
        def estimate_pairs(self, data, pairs):
            return np.zeros(len(pairs) + 1)

    class Broken:
        def estimate_batch(self, xs, ys):
            return np.full(len(xs), np.nan)

    with pytest.raises(TypeError, match='neither estimate_pairs nor estimate_batch'):
        MIPipeline(config(), object())
    with pytest.raises(ValueError, match='returned 4 values for 3 pairs'):
        MIPipeline(config(), Wrong()).evaluate(gaussian_window())
    result = MIPipeline(config(), Broken()).evaluate(gaussian_window())
    assert len(result.notes) == 3 and "pair 'x:y'" in result.notes[0]   # NaN is reported
    assert result.edges == []


def test_messages_to_mi_end_to_end():
    """rclpy messages -> StreamExtractor -> StreamAligner -> MIPipeline (as in the node)."""
    cfg = PipelineConfig.from_params({
        'stream_names': ['accel_x', 'cmd_vx', 'noise'],
        'streams': {
            'accel_x': {'topic': '/imu', 'type': 'sensor_msgs/msg/Imu',
                        'field': 'linear_acceleration.x'},
            'cmd_vx': {'topic': '/cmd_vel', 'type': 'geometry_msgs/msg/Twist',
                       'field': 'linear.x'},
            'noise': {'topic': '/noise', 'type': 'std_msgs/msg/Float64', 'field': 'data'},
        },
        'window_size': 512, 'sample_rate_hz': 100.0, 'estimator': 'ksg'})
    extractor = StreamExtractor(cfg)
    aligner = StreamAligner.from_config(cfg)
    assert aligner.buffer_seconds == cfg.effective_buffer_seconds
    rng = np.random.default_rng(4)
    for k in range(700):
        t = 1000.0 + k / 100.0
        x = rng.standard_normal()
        imu = Imu()
        imu.header.stamp = Time(sec=int(t), nanosec=int(round((t % 1) * 1e9)))
        imu.linear_acceleration.x = x
        tw = Twist()
        tw.linear.x = RHO * x + math.sqrt(1 - RHO ** 2) * rng.standard_normal()
        for topic, msg in (('/imu', imu), ('/cmd_vel', tw),
                           ('/noise', Float64(data=rng.standard_normal()))):
            for name, ts, value in extractor.extract_topic(topic, msg, receive_time=t):
                aligner.add(name, ts, value)
    window = aligner.window()
    assert window is not None, aligner.last_reason
    result = MIPipeline(cfg).evaluate(window)
    assert result.mi[0] == pytest.approx(TRUTH, abs=0.12)
    assert [(i, j) for i, j, _, _ in result.edges] == [(0, 1)]


def test_pretrained_infonet_in_the_pipeline():
    cfg = config(estimator='infonet', device='cpu')
    pipeline = MIPipeline(cfg)
    assert pipeline.method == 'infonet' and pipeline.device == 'cpu'
    result = pipeline.evaluate(gaussian_window())
    assert result.mi[0] == pytest.approx(TRUTH, abs=0.12)
    assert [(i, j) for i, j, _, _ in result.edges] == [(0, 1)]


def test_window_schedule():
    times = window_schedule(10.03, 11.0, 5.0)
    np.testing.assert_allclose(times, [10.2, 10.4, 10.6, 10.8, 11.0])
    # anchored on multiples of the period, not on t0
    np.testing.assert_allclose(window_schedule(10.0, 10.5, 4.0), [10.0, 10.25, 10.5])
    assert len(window_schedule(5.0, 4.0, 5.0)) == 0
    big = window_schedule(1.7e9, 1.7e9 + 60, 5.0)
    assert len(big) == 301 and np.allclose(np.diff(big), 0.2)
    with pytest.raises(ValueError, match='publish_rate_hz'):
        window_schedule(0, 1, 0.0)


def test_graph_helpers():
    mi = np.array([0.5, 0.01, np.nan, 0.05])
    pairs = [(0, 1), (0, 2), (1, 2), (2, 3)]
    assert threshold_edges(mi, pairs, 0.05) == [(0, 1, 0.5), (2, 3, 0.05)]
    p = np.array([0.01, 0.5, np.nan, 0.2])
    assert threshold_edges(mi, pairs, 0.05, p, alpha=0.05) == [(0, 1, 0.5)]
    with pytest.raises(ValueError, match='2 MI values for 4 pairs'):
        threshold_edges(mi[:2], pairs, 0.05)
    pos = circle_layout(4, radius=2.0)
    assert pos.shape == (4, 2)
    np.testing.assert_allclose(pos[0], [0, 2], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(pos, axis=1), 2.0)
    assert edge_width(0.0) == pytest.approx(0.01) and edge_width(10.0) == pytest.approx(0.15)
    assert edge_width(float('nan')) == pytest.approx(0.01)
    assert edge_width(0.1) < edge_width(0.5)


def test_latest_only_worker_drops_stale_items_and_survives_errors():
    gate, started = threading.Event(), threading.Event()
    done, errors = [], []

    def work(item):
        started.set()
        gate.wait(10)
        if item == 'bad':
            raise ValueError('bad window')
        done.append(item)

    worker = LatestOnlyWorker(work, on_error=errors.append)
    try:
        assert worker.submit(1) is False
        assert started.wait(10)          # 1 is running, blocked on the gate
        assert worker.submit(2) is False  # waits
        assert worker.submit(3) is True   # replaces 2, which never started
        assert worker.busy
        gate.set()
        assert worker.wait_idle(10)
        assert done == [1, 3]
        assert worker.submit('bad') is False
        assert worker.wait_idle(10)
        assert len(errors) == 1 and 'bad window' in str(errors[0])
        worker.submit(4)                  # the thread survived the error
        assert worker.wait_idle(10) and done == [1, 3, 4]
    finally:
        assert worker.close(10)
    with pytest.raises(RuntimeError, match='closed'):
        worker.submit(5)


def test_on_demand_requests():
    """~/estimate without ROS: two arrays, named pairs of a window, and bad requests."""
    from infonet_ros.pipeline import RequestError

    pipeline = MIPipeline(config(), KSG())
    window = gaussian_window()
    x, y = window.data[:, 0], window.data[:, 1]
    result = pipeline.estimate_arrays(list(x), list(y))
    assert result.pairs == ['x:y'] and result.window_size == 512 and result.method == 'ksg'
    assert result.mi[0] == pytest.approx(KSG().estimate(x, y))
    assert result.mi[0] == pytest.approx(TRUTH, abs=0.1)
    assert np.isnan(result.mi_low).all() and np.isnan(result.mi_high).all()
    assert 0 < result.p_value[0] < 1e-3      # calibrated (shipped KSG null table)

    result = pipeline.estimate_window_pairs(window, ['y:x', 'x:z'])
    assert result.pairs == ['y:x', 'x:z'] and result.t_end == window.t_end
    evaluated = pipeline.evaluate(window)
    assert result.mi[0] == pytest.approx(evaluated.mi[0])
    assert result.mi[1] == pytest.approx(evaluated.mi[1])

    tested = MIPipeline(config(permutations=19), KSG())
    p = tested.estimate_arrays(x, y).p_value[0]
    assert p == pytest.approx(1 / 20)

    n = 64
    for kwargs, words in [
            ({'x': [1.0] * n, 'y': [1.0] * (n - 1)}, ['same length', f'{n} and {n - 1}']),
            ({'x': list(range(20)), 'y': list(range(20))}, ['32', 'got 20']),
            ({'x': [0.0] * 5 + [math.nan] + [0.0] * 58, 'y': list(range(n))},
             ['x has 1 NaN/Inf', 'index 5']),
            ({'x': list(range(n)), 'y': [math.inf] * n}, ['y has 64 NaN/Inf']),
            ({'x': [[1.0, 2.0]] * n, 'y': list(range(n))}, ['one-dimensional'])]:
        with pytest.raises(RequestError) as info:
            pipeline.estimate_arrays(**kwargs)
        for word in words:
            assert word in str(info.value), (kwargs, str(info.value))
    for pairs, window_, words in [
            (['x:nope'], window, ["request pairs: 'x:nope' names unknown stream 'nope'"]),
            (['x-y'], window, ["'a:b'"]),
            (['x:y'], None, ['no window yet: waiting'])]:
        with pytest.raises(RequestError) as info:
            pipeline.estimate_window_pairs(window_, pairs, why_no_window='waiting')
        for word in words:
            assert word in str(info.value)


def test_readout_parameter_switches_to_the_raw_network():
    """`readout: false`: the bundled network's raw DV value, no interval; true (default):
    the read-out's median with its 90 % interval."""
    from infonet_ros.pipeline import make_estimator

    params = {'stream_names': ['x', 'y'], 'window_size': 512,
              'streams': {n: {'topic': f'/{n}', 'type': 'std_msgs/msg/Float64', 'field': 'data'}
                          for n in ('x', 'y')}}
    raw = make_estimator(PipelineConfig.from_params({**params, 'readout': False}))
    published = make_estimator(PipelineConfig.from_params(params))
    assert raw.output == 'dv' and published.output == 'readout'
    full = gaussian_window()
    window = Window(t=full.t, data=full.data[:, :2], t_start=full.t_start, t_end=full.t_end)
    result = MIPipeline(PipelineConfig.from_params(params), published).evaluate(window)
    assert 0 <= result.mi_low[0] <= result.mi[0] <= result.mi_high[0]
    dv = MIPipeline(PipelineConfig.from_params({**params, 'readout': False}), raw).evaluate(window)
    assert np.isnan(dv.mi_low).all() and np.isnan(dv.mi_high).all() and dv.mi[0] > 0.2
    with pytest.raises(ValueError, match="'readout'"):
        PipelineConfig.from_params({**params, 'readout': 'yes'})
