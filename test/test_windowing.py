"""Windowing: streams at different rates onto one grid; bad, late and unordered samples."""

import math
import threading

import numpy as np
import pytest

from infonet_ros.windowing import StreamAligner


def signal(t):
    """A smooth test signal (max frequency 1.5 Hz)."""
    return np.sin(2 * np.pi * 0.7 * t) + 0.5 * np.cos(2 * np.pi * 1.5 * t + 0.3)


def feed(aligner, name, rate_hz, t0, t1, fn, jitter=0.0, rng=None):
    ts = np.arange(t0, t1, 1.0 / rate_hz)
    if jitter:
        ts = ts + rng.uniform(-jitter, jitter, len(ts))
    for t in ts:
        aligner.add(name, float(t), float(fn(t)))
    return ts


def test_200hz_and_30hz_streams_reproduce_known_signal():
    rng = np.random.default_rng(1)
    aligner = StreamAligner(['fast', 'slow'], sample_rate_hz=50.0, window_size=256)
    feed(aligner, 'fast', 200.0, 100.0, 108.0, signal, jitter=1e-3, rng=rng)
    feed(aligner, 'slow', 30.0, 100.013, 108.0, lambda t: 2 * signal(t) + 1, rng=rng)
    window = aligner.window()
    assert window is not None, aligner.last_reason
    assert window.data.shape == (256, 2) and window.t.shape == (256,)
    assert np.allclose(np.diff(window.t), 1 / 50.0)
    assert window.t_end == pytest.approx(window.t[-1]) and window.t_start == window.t[0]
    # default t_end: latest time covered by both streams
    assert window.t_end <= 108.0 and window.t_end > 108.0 - 1 / 30.0 - 1e-9
    truth = signal(window.t)
    assert np.max(np.abs(window.data[:, 0] - truth)) < 2e-3          # 200 Hz: tiny error
    assert np.max(np.abs(window.data[:, 1] - (2 * truth + 1))) < 0.05  # 30 Hz, linear interp
    assert np.corrcoef(window.data.T)[0, 1] > 0.999


def test_window_at_explicit_end_and_not_enough_data():
    aligner = StreamAligner(['a', 'b'], sample_rate_hz=10.0, window_size=20)
    assert aligner.window() is None
    assert "'a' has 0 sample(s)" in aligner.last_reason
    feed(aligner, 'a', 10.0, 0.0, 5.0, lambda t: t)
    feed(aligner, 'b', 10.0, 3.5, 5.0, lambda t: -t)
    assert aligner.window() is None                       # b covers 1.4 s, a window 1.9 s
    assert "stream 'b' covers only" in aligner.diagnostics()['last_reason']
    feed(aligner, 'b', 10.0, 0.0, 3.45, lambda t: -t)     # late fill-in, still in buffer
    window = aligner.window(t_end=2.5)
    assert window is not None
    assert window.t_end == pytest.approx(2.5) and window.t_start == pytest.approx(0.6)
    assert np.allclose(window.data[:, 0], window.t) and np.allclose(window.data[:, 1], -window.t)
    assert aligner.window(t_end=10.0) is None            # never extrapolates
    assert "no data after" in aligner.last_reason
    assert aligner.window(t_end=1.0) is None
    assert aligner.windows_made == 1 and aligner.windows_refused == 4


def test_no_extrapolation_at_epoch_scale_stamps():
    t0 = 1.8e9    # wall-clock stamps: tolerances must be absolute, not relative
    aligner = StreamAligner(['a', 'b'], 100.0, 512)
    feed(aligner, 'a', 100.0, t0, t0 + 4.6, lambda t: t - t0)
    feed(aligner, 'b', 100.0, t0, t0 + 4.6, lambda t: t0 - t)
    assert aligner.window() is None              # 4.6 s of data, a window spans 5.11 s
    assert 'covers only' in aligner.last_reason
    feed(aligner, 'a', 100.0, t0 + 4.6, t0 + 5.2, lambda t: t - t0)
    feed(aligner, 'b', 100.0, t0 + 4.6, t0 + 5.2, lambda t: t0 - t)
    window = aligner.window()
    assert window is not None
    assert window.t_start >= t0 and len(np.unique(window.data[:, 0])) == 512
    np.testing.assert_allclose(window.data[:, 0], window.t - t0, atol=1e-5)


def test_out_of_order_samples_give_the_same_window():
    rng = np.random.default_rng(2)
    ts = np.arange(0.0, 6.0, 0.01)
    ordered = StreamAligner(['a', 'b'], 25.0, 100)
    shuffled = StreamAligner(['a', 'b'], 25.0, 100)
    for t in ts:
        ordered.add('a', t, math.sin(t))
        ordered.add('b', t, math.cos(3 * t))
    # local reordering, as from a network or several publishers
    order = np.argsort(ts + rng.uniform(0, 0.2, len(ts)))
    for t in ts[order]:
        shuffled.add('a', t, math.sin(t))
        shuffled.add('b', t, math.cos(3 * t))
    w1, w2 = ordered.window(), shuffled.window()
    assert w1 is not None and w2 is not None
    assert w1.t_end == w2.t_end
    np.testing.assert_array_equal(w1.data, w2.data)
    diag = shuffled.diagnostics()['streams']['a']
    assert diag['out_of_order'] > 0 and diag['count'] == len(ts) and diag['dropped_late'] == 0


def test_nonfinite_late_and_duplicate_samples_are_counted_not_added():
    aligner = StreamAligner(['a', 'b'], 10.0, 10, buffer_seconds=2.0)
    ts = np.arange(0, 3, 0.1)
    for t in ts:
        aligner.add('a', t, 1.0 + t)
        aligner.add('b', t, 2.0 * t)
    aligner.add('a', 3.05, float('nan'))
    aligner.add('a', 3.06, float('inf'))
    aligner.add('b', float('nan'), 1.0)
    aligner.add('a', 0.5, 5.0)           # older than 2 s behind the newest stamp
    aligner.add('b', ts[-1], 123.0)        # same stamp as a buffered sample: replaces it
    diag = aligner.diagnostics()['streams']
    assert diag['a']['dropped_nonfinite'] == 2 and diag['b']['dropped_nonfinite'] == 1
    assert diag['a']['dropped_late'] == 1
    assert diag['b']['duplicates'] == 1
    window = aligner.window()
    assert window is not None and np.all(np.isfinite(window.data))
    assert window.data[-1, 1] == 123.0
    aligner.reject('a', 'field position[3] missing')
    diag = aligner.diagnostics()['streams']['a']
    assert diag['errors'] == 1 and 'position[3]' in diag['last_error']
    # every sample offered is accepted or dropped on arrival, exactly once
    for d in aligner.diagnostics()['streams'].values():
        assert d['received'] == (d['count'] + d['dropped_late'] + d['dropped_nonfinite']
                                 + d['duplicates'] + d['errors'])
    assert diag['received'] == len(ts) + 4


def test_buffers_are_bounded():
    aligner = StreamAligner(['a', 'b'], 100.0, 50, buffer_seconds=1.0, max_samples=500)
    for k in range(20000):
        t = k * 1e-3              # 1 kHz for 20 s
        aligner.add('a', t, math.sin(t))
        if k % 10 == 0:
            aligner.add('b', t, math.cos(t))
    diag = aligner.diagnostics()['streams']
    assert diag['a']['buffered'] <= 500 and diag['b']['buffered'] <= 101
    assert diag['a']['count'] == 20000 and diag['a']['dropped_overflow'] > 0
    assert diag['a']['rate_hz'] == pytest.approx(1000.0, rel=0.01)
    assert diag['b']['rate_hz'] == pytest.approx(100.0, rel=0.01)
    # the newest samples are kept: a short window still works
    window = aligner.window()
    assert window is not None and window.t_end == pytest.approx(19.99)


def test_gaps_refuse_the_window_and_stalled_streams_are_flagged():
    aligner = StreamAligner(['a', 'b'], 20.0, 20, max_gap_s=0.3, stale_after_s=1.0)
    feed(aligner, 'a', 20.0, 0.0, 4.0, np.sin)
    feed(aligner, 'b', 20.0, 0.0, 1.5, np.cos)
    feed(aligner, 'b', 20.0, 2.5, 4.0, np.cos)            # 1 s hole
    assert aligner.window(t_end=3.0) is None
    assert "'b' has a 1.0" in aligner.last_reason and 'max_gap_s' in aligner.last_reason
    assert aligner.window(t_end=1.45) is not None     # before the hole
    assert aligner.window() is not None               # after it
    feed(aligner, 'a', 20.0, 4.0, 8.0, np.sin)            # b goes quiet
    diag = aligner.diagnostics()['streams']
    assert diag['b']['stalled'] and not diag['a']['stalled']
    assert diag['b']['lag_s'] == pytest.approx(4.0, abs=0.06)
    assert aligner.diagnostics(now=100.0)['streams']['a']['stalled']
    never = StreamAligner(['a', 'b'], 20.0, 40)
    never.add('a', 0.0, 1.0)
    assert never.diagnostics()['streams']['b']['stalled']


def test_reset_forgets_samples_after_time_jump():
    aligner = StreamAligner(['a', 'b'], 10.0, 10)
    feed(aligner, 'a', 10.0, 100.0, 103.0, np.sin)
    feed(aligner, 'b', 10.0, 100.0, 103.0, np.cos)
    aligner.add('a', 1.0, 0.0)
    assert aligner.diagnostics()['streams']['a']['dropped_late'] == 1
    aligner.reset()
    feed(aligner, 'a', 10.0, 0.0, 2.0, np.sin)
    feed(aligner, 'b', 10.0, 0.0, 2.0, np.cos)
    window = aligner.window()
    assert window is not None and window.t_end < 2.0


def test_time_jumping_back_restarts_the_buffers():
    aligner = StreamAligner(['a', 'b'], 10.0, 10, jump_after=5)
    feed(aligner, 'a', 10.0, 100.0, 103.0, np.sin)
    feed(aligner, 'b', 10.0, 100.0, 103.0, np.cos)
    feed(aligner, 'a', 10.0, 0.0, 0.35, np.sin)            # 4 late samples: dropped
    diag = aligner.diagnostics()
    assert diag['streams']['a']['dropped_late'] == 4 and diag['resets'] == 0
    feed(aligner, 'a', 10.0, 0.4, 3.0, np.sin)             # 5th in a row: a bag restarted
    feed(aligner, 'b', 10.0, 0.0, 3.0, np.cos)
    diag = aligner.diagnostics()
    # the 5th late sample restarts the buffers and is kept: 4 dropped
    assert diag['resets'] == 1 and diag['streams']['a']['dropped_late'] == 4
    a = diag['streams']['a']
    assert a['received'] == a['count'] + a['dropped_late'] == 30 + 4 + 26
    window = aligner.window()
    assert window is not None and window.t_end < 3.0


def test_concurrent_add_and_window():
    aligner = StreamAligner(['a', 'b'], 50.0, 64)
    errors = []
    # Live streams advance together; unthrottled threads could drift apart by more than the
    # aligner's time horizon (then the lagging stream's samples are late by design), so the
    # producers meet every 1.25 s of stream time.
    barrier = threading.Barrier(2)

    def producer(name):
        try:
            for k in range(5000):
                if k % 250 == 0:
                    barrier.wait(timeout=30)
                aligner.add(name, k * 0.005, math.sin(k * 0.01))
        except Exception as exc:   # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=producer, args=(n,)) for n in ('a', 'b')]
    for th in threads:
        th.start()
    made = 0
    while any(th.is_alive() for th in threads):
        made += aligner.window() is not None
    for th in threads:
        th.join()
    assert not errors
    window = aligner.window()
    assert window is not None and np.all(np.isfinite(window.data))
    assert np.allclose(window.data[:, 0], window.data[:, 1])


def test_constructor_errors():
    with pytest.raises(ValueError, match='unique'):
        StreamAligner(['a', 'a'], 10.0, 10)
    with pytest.raises(ValueError, match='sample_rate_hz'):
        StreamAligner(['a', 'b'], 0.0, 10)
    with pytest.raises(ValueError, match='buffer_seconds'):
        StreamAligner(['a', 'b'], 10.0, 100, buffer_seconds=5.0)


def test_discrete_stream_keeps_its_values_and_continuous_is_interpolated():
    """A contact switch with jittered stamps stays binary on the grid (nearest sample);
    a continuous stream is interpolated; a grid on the stamps reproduces them exactly."""
    from infonet_ros.windowing import is_discrete, resample

    rng = np.random.default_rng(0)
    aligner = StreamAligner(['contact', 'force'], sample_rate_hz=100.0, window_size=200)
    t = 1_796_000_000.0 + np.arange(400) / 100.0
    contact = (rng.standard_normal(400) > 0).astype(float)
    force = rng.standard_normal(400)
    for k in range(400):
        aligner.add('force', t[k], force[k])
        aligner.add('contact', t[k] + rng.uniform(0.0002, 0.002), contact[k])   # reception time
    w = aligner.window()
    assert set(np.unique(w.data[:, 0])) == {0.0, 1.0}
    # the grid ends on a force stamp: force is reproduced exactly, contact is paired with
    # the sample published in the same tick (not the previous one)
    k_end = int(np.searchsorted(t, w.t_end - 1e-6))
    np.testing.assert_array_equal(w.data[:, 1], force[k_end - 199:k_end + 1])
    np.testing.assert_array_equal(w.data[:, 0], contact[k_end - 199:k_end + 1])
    diag = aligner.diagnostics()['streams']
    assert diag['contact']['resampling'].startswith('nearest')
    assert diag['force']['resampling'] == 'linear'
    assert is_discrete(np.array([0, 1, 1, 0, 2, 2.0])) and not is_discrete(force)
    assert not is_discrete(np.arange(40.0))            # an integer ramp without repeats
    ts = np.array([0.0, 1.0, 2.0])
    np.testing.assert_allclose(resample(np.array([0.5, 1.4, 1.6]), ts, np.array([0.0, 1.0, 3.0]), True),
                               [0.0, 1.0, 3.0])
    np.testing.assert_allclose(resample(np.array([0.5, 1.5]), ts, np.array([0.0, 1.0, 3.0]), False),
                               [0.5, 2.0])


def test_blending_of_fast_changing_streams_is_detected():
    """White samples at 40 Hz on a 50 Hz timeline: grid values mix two independent samples.
    Where the partner is stamped at other times (here 0.4 of a period later) the pair's MI
    drops; the aligner flags both streams and suggests 40 Hz. A timeline on the stamps, or
    a smooth stream, is not flagged."""
    from infonet_ros.baselines import KSG

    rng = np.random.default_rng(3)
    n = 2400
    t = 1000.0 + np.arange(n) / 40.0
    x = rng.standard_normal(n)
    y = 0.9 * x + math.sqrt(1 - 0.81) * rng.standard_normal(n)
    smooth = np.zeros(n)
    for k in range(1, n):
        smooth[k] = 0.95 * smooth[k - 1] + rng.standard_normal()

    def run(rate, y_delay):
        aligner = StreamAligner(['x', 'y', 'smooth'], sample_rate_hz=rate, window_size=1000)
        for k in range(n):
            aligner.add('x', t[k], x[k])
            aligner.add('y', t[k] + y_delay, y[k])
            aligner.add('smooth', t[k], smooth[k])
        return aligner.window(), aligner.diagnostics()['streams']

    w50, d50 = run(50.0, 0.01)
    assert d50['x']['blended'] and d50['y']['blended'] and not d50['smooth']['blended']
    assert d50['x']['suggested_sample_rate_hz'] == pytest.approx(40.0, abs=0.1)
    assert abs(d50['x']['lag1_autocorrelation']) < 0.1
    assert d50['smooth']['suggested_sample_rate_hz'] is None
    truth = -0.5 * math.log(1 - 0.81)
    assert KSG().estimate(w50.data[:, 0], w50.data[:, 1]) < truth - 0.3
    w40, d40 = run(40.0, 0.0)   # synchronous stamps, timeline on them
    assert not any(d40[s]['blended'] for s in ('x', 'y', 'smooth'))
    assert KSG().estimate(w40.data[:, 0], w40.data[:, 1]) == pytest.approx(truth, abs=0.1)


def test_time_jumping_far_forward_is_counted():
    """A stamp further ahead than buffer_seconds leaves every buffered sample too old: the
    jump is counted (the node logs it); the windows restart on the new time."""
    aligner = StreamAligner(['a', 'b'], 10.0, 10, buffer_seconds=3.0)
    feed(aligner, 'a', 10.0, 0.0, 2.0, np.sin)
    feed(aligner, 'b', 10.0, 0.0, 2.0, np.cos)
    assert aligner.diagnostics()['jumps_forward'] == 0
    feed(aligner, 'a', 10.0, 3600.0, 3602.0, np.sin)
    feed(aligner, 'b', 10.0, 3600.0, 3602.0, np.cos)
    diag = aligner.diagnostics()
    assert diag['jumps_forward'] == 1 and diag['resets'] == 0
    assert diag['last_jump_forward'][0] == 'a'
    assert diag['last_jump_forward'][1] == pytest.approx(3600.0 - 1.9)
    window = aligner.window()
    assert window is not None and window.t_start >= 3600.0
