"""Time-delayed MI (infonet_ros.lags, MIPipeline with max_lag_s): the lag of a delayed copy
is recovered, the edge points from the leader to the follower, a simultaneous pair stays
undirected; on autocorrelated AR(1) sources, through the aligner as the node runs it."""

import math

import numpy as np
import pytest

from infonet_ros import bag_eval, report
from infonet_ros.lags import best_lags, lag_margin, lagged_rows
from infonet_ros.pipeline import MIPipeline
from infonet_ros.streams import PipelineConfig
from infonet_ros.windowing import StreamAligner

RATE = 50.0


def ar1(n, phi, rng):
    x = np.empty(n)
    x[0] = rng.standard_normal()
    for t in range(1, n):
        x[t] = phi * x[t - 1] + math.sqrt(1 - phi ** 2) * rng.standard_normal()
    return x


def config(names, **params):
    streams = {n: {'topic': f'/{n}', 'type': 'sensor_msgs/msg/Imu',
                   'field': 'linear_acceleration.x'} for n in names}
    return PipelineConfig.from_params({'stream_names': names, 'streams': streams,
                                       'sample_rate_hz': RATE, 'device': 'cpu', **params})


def window_of(cfg, columns, seed_t0=100.0):
    """Feed columns {name: values at RATE Hz} through the node's aligner; the last window."""
    aligner = StreamAligner.from_config(cfg)
    n = len(next(iter(columns.values())))
    for k in range(n):
        for name, values in columns.items():
            aligner.add(name, seed_t0 + k / RATE, float(values[k]))
    window = aligner.window()
    assert window is not None, aligner.last_reason
    return window


def delayed_streams(delay, seed, phi=0.9, n=1200):
    rng = np.random.default_rng(seed)
    x = ar1(n + delay, phi, rng)
    lead = x[delay:]
    follow = x[:n] + 0.5 * rng.standard_normal(n)        # follow(t) = lead(t - delay) + noise
    twin = lead + 0.5 * rng.standard_normal(n)            # simultaneous copy
    noise = ar1(n, phi, rng)
    return {'lead': lead, 'follow': follow, 'twin': twin, 'noise': noise}


def test_lagged_rows_shift_the_right_stream():
    ext = np.arange(20, dtype=float)[:, None] * np.array([1.0, 100.0])   # [L + N, 2], L = 3
    xs, ys = lagged_rows(ext, 17, [(0, 1)], [-2, 0, 3])
    assert xs[1][0] == 3 and ys[1][0] == 300                 # lag 0: both at the window start
    assert xs[2][0] == 0 and ys[2][0] == 300                 # +3: x from 3 samples earlier
    assert xs[0][0] == 3 and ys[0][0] == 100                 # -2: y from 2 samples earlier
    with pytest.raises(ValueError, match='history'):
        lagged_rows(ext, 17, [(0, 1)], [4])


def test_lag_margin_grows_with_autocorrelation_and_lags():
    rng = np.random.default_rng(0)
    white = lag_margin(rng.standard_normal(512), rng.standard_normal(512), 41)
    red = lag_margin(ar1(512, 0.9, rng), ar1(512, 0.9, rng), 41)
    assert 0.005 < white < 0.02 and red > 5 * white
    assert lag_margin(rng.standard_normal(512), rng.standard_normal(512), 1) < white


def test_best_lags_ties_and_margin():
    scan = best_lags(np.array([[0.3, 0.3, 0.3], [0.1, 0.2, 0.5], [0.1, 0.2, 0.22]]),
                     [-1, 0, 1], RATE, margin_nats=0.05)
    assert list(scan.best_lag_s) == [0.0, 1 / RATE, 1 / RATE]   # a flat profile: lag 0
    assert list(scan.directed) == [False, True, False]          # 0.02 nats: within the spread


@pytest.mark.parametrize('delay,seed', [(7, 0), (12, 1)])
def test_delayed_copy_lag_and_direction_recovered(delay, seed):
    """AR(1) (phi 0.9) source; follow = lead delayed by 0.14 / 0.24 s plus noise."""
    cfg = config(['follow', 'lead', 'twin', 'noise'], window_size=512, max_lag_s=0.4)
    pipeline = MIPipeline(cfg)
    result = pipeline.evaluate(window_of(cfg, delayed_streams(delay, seed)))
    names = cfg.stream_names
    pair = {tuple(names[i] for i in p): k for k, p in enumerate(result.pairs)}
    k = pair[('follow', 'lead')]
    # the first stream of this pair (follow) lags: negative lag, within one sample
    assert abs(result.lag_s[k] + delay / RATE) <= 1 / RATE + 1e-9, result.lag_s
    assert result.directed[k] and result.mi_lag[k] > result.mi[k] + 0.1
    edges = {(result.edge_direction(i, j)[:2]) for i, j, *_ in result.edges}
    lead, follow, twin, noise = (names.index(n) for n in ('lead', 'follow', 'twin', 'noise'))
    assert (lead, follow) in edges and (follow, lead) not in edges
    assert (twin, follow) in edges                          # twin is simultaneous with lead
    # the simultaneous pair is an undirected edge at lag 0
    kt = pair[('lead', 'twin')]
    assert result.lag_s[kt] == 0.0 and not result.directed[kt]
    assert result.edge_direction(lead, twin)[2] is False
    # the independent AR(1) stream is never directed (and has no edge at 0.05 nats)
    for other in ('follow', 'lead', 'twin'):
        kn = pair[(other, 'noise')]
        assert not result.directed[kn]
        assert result.mi_lag[kn] < result.mi_lag[k] / 3   # (an edge or not is a question
        # of significance with autocorrelation and the max over lags: issue 13, part A)


def test_lags_off_keep_todays_result():
    cols = delayed_streams(5, 3)
    base = config(list(cols), window_size=256)
    lagged = config(list(cols), window_size=256, max_lag_s=0.2)
    r0 = MIPipeline(base).evaluate(window_of(base, cols))
    r1 = MIPipeline(lagged).evaluate(window_of(lagged, cols))
    assert np.isnan(r0.lag_s).all() and not r0.directed.any()
    np.testing.assert_allclose(r1.mi, r0.mi, atol=1e-9)     # lag 0 of the scan == plain MI
    assert r1.window_size == r0.window_size == 256          # lags do not shrink the window


@pytest.mark.parametrize('params,word', [({'max_lag_s': 0.001}, 'max_lag_s'),
                                         ({'max_lag_s': 100.0}, 'max_lag_s'),
                                         ({'max_lag_s': 0.1, 'lag_step_s': 0.5}, 'lag_step_s'),
                                         ({'max_lag_s': -1.0}, 'max_lag_s')])
def test_bad_lag_parameters_are_named(params, word):
    with pytest.raises(ValueError, match=word):
        config(['a', 'b'], window_size=256, **params)


def test_lag_step_and_buffer():
    cfg = config(['a', 'b'], window_size=256, max_lag_s=0.2, lag_step_s=0.04)
    assert cfg.lags == [-10, -8, -6, -4, -2, 0, 2, 4, 6, 8, 10]
    assert cfg.effective_buffer_seconds == pytest.approx(2 * 255 / RATE + 2 + 0.2)


def test_bag_eval_writes_lag_columns(tmp_path):
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_KILTED)
    Imu, Header, Time = (ts.types[t] for t in ('sensor_msgs/msg/Imu', 'std_msgs/msg/Header',
                                               'builtin_interfaces/msg/Time'))
    Vector3, Quaternion = ts.types['geometry_msgs/msg/Vector3'], \
        ts.types['geometry_msgs/msg/Quaternion']
    cols = delayed_streams(6, 4, n=900)
    bag = tmp_path / 'bag'
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {n: writer.add_connection(f'/{n}', 'sensor_msgs/msg/Imu', typestore=ts)
                 for n in cols}
        for k in range(900):
            t = 100.0 + k / RATE
            ns = int(round(t * 1e9))
            for name, values in cols.items():
                msg = Imu(header=Header(stamp=Time(sec=ns // 10 ** 9, nanosec=ns % 10 ** 9),
                                        frame_id=''),
                          orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=1.0),
                          orientation_covariance=np.zeros(9),
                          angular_velocity=Vector3(x=0.0, y=0.0, z=0.0),
                          angular_velocity_covariance=np.zeros(9),
                          linear_acceleration=Vector3(x=float(values[k]), y=0.0, z=0.0),
                          linear_acceleration_covariance=np.zeros(9))
                writer.write(conns[name], ns, bytes(ts.serialize_cdr(msg, 'sensor_msgs/msg/Imu')))
    cfg = config(list(cols), window_size=256, max_lag_s=0.3, publish_rate_hz=1.0)
    ev = bag_eval.evaluate_bag(bag, cfg, progress=False)
    assert len(ev.results) >= 5
    report.write_report(ev, tmp_path / 'out', plots=False)
    import csv
    rows = list(csv.DictReader(open(tmp_path / 'out' / 'mi.csv')))
    lead_follow = [r for r in rows if {r['first'], r['second']} == {'lead', 'follow'}]
    assert lead_follow and all(abs(abs(float(r['lag_s'])) - 6 / RATE) <= 1 / RATE + 1e-6
                               and r['directed'] == '1' for r in lead_follow)
