"""What the node does when its input, its parameters or its operator misbehave (issue 16).

One test per row of the README table "What the node does when things go wrong". Real rclpy
in separate processes: the node runs from its console entry point with a parameters file;
this process publishes the (faulty) input and calls the parameter services as `ros2 param
set` does, and listens to /diagnostics and the outputs. The row tests share one node
process (module fixture, in file order); each first waits for healthy output, injects its
fault, and checks what the node says and that it recovers.

Input: stream ``a`` = ``linear_acceleration.x`` of sensor_msgs/Imu on /fault/a and ``b`` =
``position[1]`` of sensor_msgs/JointState on /fault/b, both stamped (the EventsExecutor,
as with the default config), b = 0.8 a + 0.6 e with a, e ~ N(0, 1) i.i.d., at 100 Hz on an
exact 10 ms stamp lattice (the 50 Hz timeline falls on stamps: no blending).
"""

import math
import re
import signal
import sys
import time

import numpy as np
import pytest
from ros_process import process
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Imu, JointState
from test_node import estimator_command, failed_starts, new_domain_id, write_params
from test_node_ros import NODE, Client, ros_env

pytest.importorskip('infonet_ros.msg', reason='infonet_ros.msg not built')

STREAMS = {'a': ('/fault/a', 'sensor_msgs/msg/Imu', 'linear_acceleration.x'),
           'b': ('/fault/b', 'sensor_msgs/msg/JointState', 'position[1]')}
PARAMS = dict(window_size=64, sample_rate_hz=50.0, publish_rate_hz=5.0, stale_after_s=1.0,
              max_gap_s=0.5, estimator='infonet')
RATE_HZ = 100.0
RHO = 0.8
SPAN_S = (64 - 1) / 50.0          # 1.26 s per window


class Feeder:
    """Publishes streams a and b from this process on an exact stamp lattice.

    ``t`` is the stream time of the next tick (seconds); faults change the values, the
    stamps or what is published. Between ticks it spins the listener, so the node's outputs
    keep arriving. ``sent`` counts messages per topic.
    """

    def __init__(self, client):
        self.client = client
        qos = QoSProfile(depth=1000)
        self.pub_a = client.node.create_publisher(Imu, '/fault/a', qos)
        self.pub_b = client.node.create_publisher(JointState, '/fault/b', qos)
        self.rng = np.random.default_rng(16)
        self.t = time.time()
        self.sent = {'/fault/a': 0, '/fault/b': 0}

    def wait_for_node(self, timeout=60.0):
        ok = self.client.spin_until(lambda: self.pub_a.get_subscription_count() > 0
                                    and self.pub_b.get_subscription_count() > 0, timeout)
        assert ok, 'the node did not subscribe to /fault/a and /fault/b'

    def tick(self, a_value=None, send_a=True, send_b=True, b_positions=None, stamp_a=None):
        x, e = self.rng.standard_normal(2)
        if send_a:
            imu = Imu()
            imu.header.stamp = _stamp(self.t if stamp_a is None else stamp_a)
            imu.linear_acceleration.x = float(x if a_value is None else a_value)
            self.pub_a.publish(imu)
            self.sent['/fault/a'] += 1
        if send_b:
            js = JointState()
            js.header.stamp = _stamp(self.t)
            js.position = [0.0, float(RHO * x + math.sqrt(1 - RHO ** 2) * e)] \
                if b_positions is None else list(b_positions)
            self.pub_b.publish(js)
            self.sent['/fault/b'] += 1

    def run(self, seconds, rate_hz=RATE_HZ, until=None, **fault):
        """Publish for ``seconds`` at ``rate_hz`` (stamps 1 / rate_hz apart, paced in wall
        time); ``fault(k)`` -> tick() keywords per tick k. Stops early when ``until()``."""
        fault_fn = fault.pop('fault', None)
        period = 1.0 / rate_hz
        start = time.monotonic()
        n = int(round(seconds * rate_hz))
        for k in range(n):
            self.tick(**(fault_fn(k) if fault_fn else {}), **fault)
            self.t += period
            # bursts: several ticks per spin (a 10 ms spin granularity would cap the rate)
            if k % max(1, int(rate_hz // RATE_HZ)) == 0:
                delay = start + (k + 1) * period - time.monotonic()
                self.client.executor.spin_once(timeout_sec=max(0.0, delay))
            if until is not None and until():
                return True
        return until is None

    def healthy(self, windows=2, timeout=20.0):
        """Normal input until ``windows`` more MI messages arrived; returns them."""
        start = len(self.client.received['mi'])
        ok = self.run(timeout, until=lambda: len(self.client.received['mi']) >= start + windows)
        assert ok, f'no healthy output within {timeout} s'
        return self.client.received['mi'][start:]


def _stamp(t):
    from builtin_interfaces.msg import Time
    sec = math.floor(t)
    return Time(sec=int(sec), nanosec=min(int(round((t - sec) * 1e9)), 999_999_999))


def stamp_s(msg_stamp):
    return msg_stamp.sec + msg_stamp.nanosec * 1e-9


def statuses(client, since=0):
    """{status name: [DiagnosticStatus, ...]} of the /diagnostics messages from ``since``."""
    out = {}
    for array in client.received['diagnostics'][since:]:
        for s in array.status:
            out.setdefault(s.name, []).append(s)
    return out


def level(status):
    """0 OK, 1 WARN, 2 ERROR (the field is a byte)."""
    return ord(status.level) if isinstance(status.level, bytes) else int(status.level)


def values(status):
    return {kv.key: kv.value for kv in status.values}


def latest(client, what):
    """The newest status of ``what`` ('estimator', 'stream a', ...)."""
    found = statuses(client).get(f'{NODE}: {what}')
    assert found, f'no /diagnostics status {what!r}'
    return found[-1]


def fresh_status(client, what, timeout=5.0):
    """The next status of ``what`` published from now on (diagnostics come at 1 Hz)."""
    since = len(client.received['diagnostics'])
    assert client.spin_until(
        lambda: f'{NODE}: {what}' in statuses(client, since), timeout), what
    return statuses(client, since)[f'{NODE}: {what}'][-1]


class FaultNode:
    def __init__(self, proc, log, client, feeder, domain):
        self.proc, self.log_path, self.client, self.feeder = proc, log, client, feeder
        self.domain = domain

    def log(self):
        return self.log_path.read_text()


@pytest.fixture(scope='module')
def node(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('faults')
    domain = new_domain_id()
    config = write_params(tmp / 'params.yaml', STREAMS, **PARAMS)
    log = tmp / 'node.log'
    client = Client(domain)
    try:
        with process(estimator_command() + ['--ros-args', '--params-file', str(config)],
                     ros_env(domain), log) as proc:
            feeder = Feeder(client)
            feeder.wait_for_node()
            yield FaultNode(proc, log, client, feeder, domain)
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=20)
            text = log.read_text()
            assert code == 0 and 'Traceback' not in text, text[-3000:]
    finally:
        client.close()


def accounted(stream):
    """Every sample the aligner was offered is accepted or dropped on arrival, once."""
    v = {k: int(values(stream)[k]) for k in ('received', 'count', 'dropped_late',
                                             'dropped_nonfinite', 'duplicates', 'errors')}
    assert v['received'] == (v['count'] + v['dropped_late'] + v['dropped_nonfinite']
                             + v['duplicates'] + v['errors']), v
    return v


# --- input faults (one shared node) ---------------------------------------------------------

def test_nan_and_inf_fields_are_dropped_and_counted(node):
    c, f = node.client, node.feeder
    f.healthy()
    before = int(values(latest(c, 'stream a'))['dropped_nonfinite'])
    bad = [math.nan, math.inf, -math.inf]
    n_bad = 0

    def every_fifth(k):
        nonlocal n_bad
        if k % 5:
            return {}
        n_bad += 1
        return {'a_value': bad[k % 3]}

    first = len(c.received['mi'])
    f.run(2.0, fault=every_fifth)
    f.healthy(2)
    for msg in c.received['mi'][first:]:
        assert all(math.isfinite(v) for v in msg.mi), list(msg.mi)
    status = fresh_status(c, 'stream a')
    v = accounted(status)
    assert n_bad == 40 and 36 <= v['dropped_nonfinite'] - before <= n_bad
    assert re.search(r"stream 'a' \(/fault/a linear_acceleration\.x\): dropped 0 late, "
                     r'\d+ non-finite, 0 unreadable sample\(s\) so far', node.log())


def test_stalled_stream_is_flagged_and_recovers(node):
    c, f = node.client, node.feeder
    f.healthy()
    f.run(2.5, send_a=False)                       # a silent for 2.5 s, b goes on
    status = fresh_status(c, 'stream a')
    assert 'stalled' in status.message and level(status) == 1, status.message
    during = len(c.received['mi'])
    f.run(0.5, send_a=False)
    assert len(c.received['mi']) == during         # no window without a
    start = time.monotonic()
    f.healthy(1, timeout=15)
    assert time.monotonic() - start < SPAN_S + 3.0   # the gap leaves the window, then MI
    assert 'stalled' not in fresh_status(c, 'stream a').message
    log = node.log()
    assert re.search(r"stream 'a' \(/fault/a\) stalled: last message [\d.]+ s ago, newest "
                     r'stamp [\d.]+ s behind the newest of all streams', log), log[-2000:]
    assert "stream 'a' (/fault/a) is back" in log
    reason = values(latest(c, 'estimator'))['last_reason']
    assert reason == '' or 'gap' in reason or 'no data after' in reason, reason


def test_stamps_jumping_back_restart_the_windows(node):
    """A bag played with --loop: stamps go 30 s back and continue from there."""
    c, f = node.client, node.feeder
    before_mi = f.healthy()[-1]
    resets = int(values(latest(c, 'estimator'))['buffer_resets'])
    late = int(values(latest(c, 'stream a'))['dropped_late'])
    f.t -= 30.0
    after = f.healthy(2, timeout=15)
    assert stamp_s(after[-1].header.stamp) < stamp_s(before_mi.header.stamp) - 20
    assert int(values(fresh_status(c, 'estimator'))['buffer_resets']) == resets + 1
    assert 'stream time jumped back (bag restarted or clock reset): windows restarted' \
        in node.log()
    v = accounted(fresh_status(c, 'stream a'))
    # 19 late stamps dropped; the 20th in a row (of a or b) restarts the buffers
    assert v['dropped_late'] - late == 19


def test_stamps_far_forward_restart_the_windows(node):
    """One stamp a day ahead (a corrupt header), then the whole input an hour ahead."""
    c, f = node.client, node.feeder
    f.healthy()
    jumps = int(values(latest(c, 'estimator'))['time_jumps_forward'])
    resets = int(values(latest(c, 'estimator'))['buffer_resets'])
    f.tick(stamp_a=f.t + 86400.0)
    f.healthy(2, timeout=15)                       # recovers: ~20 late stamps, a reset
    est = values(fresh_status(c, 'estimator'))
    assert int(est['time_jumps_forward']) == jumps + 1
    assert int(est['buffer_resets']) == resets + 1
    last = c.received['mi'][-1]
    assert abs(stamp_s(last.header.stamp) - f.t) < 5.0     # windows on the real stamps
    f.t += 3600.0
    after = f.healthy(2, timeout=15)
    assert stamp_s(after[-1].header.stamp) > stamp_s(last.header.stamp) + 3500
    assert int(values(fresh_status(c, 'estimator'))['time_jumps_forward']) == jumps + 2
    assert re.search(r"stream time jumped forward by 86400\.\d s \(stream 'a'", node.log())
    assert re.search(r'stream time jumped forward by 3600\.\d s', node.log())


def test_burst_at_ten_times_the_rate_is_counted(node):
    """1 s at 1 kHz on both topics: every message is either received (and its sample
    accepted or dropped with a reason) or missing from the node's count; MI goes on."""
    c, f = node.client, node.feeder
    f.healthy()
    c.idle(0.3)                                    # what is in flight arrives
    est0 = values(fresh_status(c, 'estimator'))
    a0 = values(latest(c, 'stream a'))
    sent0, mi0 = dict(f.sent), len(c.received['mi'])
    f.run(1.0, rate_hz=10 * RATE_HZ)
    f.healthy(2, timeout=15)
    c.idle(0.3)
    est = values(fresh_status(c, 'estimator'))
    a = values(latest(c, 'stream a'))
    accounted(latest(c, 'stream a'))
    accounted(latest(c, 'stream b'))
    sent = sum(f.sent.values()) - sum(sent0.values())
    got = int(est['input_messages_received']) - int(est0['input_messages_received'])
    assert got <= sent
    # one stream per topic: each message is one sample
    assert int(a['messages_received']) == int(a['received'])
    assert int(a['messages_received']) - int(a0['messages_received']) <= \
        f.sent['/fault/a'] - sent0['/fault/a']
    assert len(c.received['mi']) > mi0
    assert int(est['windows_published']) > int(est0['windows_published'])
    assert int(est['buffered_samples']) <= int(est['buffer_capacity_samples'])
    print(f'burst: sent {sent}, the node received {got} ({sent - got} not received), '
          f"windows skipped {int(est['windows_skipped']) - int(est0['windows_skipped'])}")


WRONG_TYPE_PUBLISHER = """
import sys, time, rclpy
from rclpy.qos import QoSProfile
from std_msgs.msg import Float64
rclpy.init()
node = rclpy.create_node('wrong_type_publisher')
pub = node.create_publisher(Float64, '/fault/a', QoSProfile(depth=10))
end = time.monotonic() + float(sys.argv[1])
try:
    while time.monotonic() < end:
        pub.publish(Float64(data=1.0))
        time.sleep(0.01)
except KeyboardInterrupt:
    pass
node.destroy_node()
rclpy.try_shutdown()
"""


def test_other_message_type_on_a_configured_topic(node, tmp_path):
    """A std_msgs/Float64 publisher (another process) on /fault/a, where stream a expects
    sensor_msgs/Imu: DDS never matches it; the node names both types in its log and on
    /diagnostics, and the right publisher still gets through."""
    c, f = node.client, node.feeder
    f.healthy()
    env = ros_env(node.domain)
    with process([sys.executable, '-c', WRONG_TYPE_PUBLISHER, '30'], env,
                 tmp_path / 'wrong.log'):
        deadline = time.monotonic() + 15
        seen = False
        while time.monotonic() < deadline and not seen:
            f.run(0.2)
            seen = 'publisher type mismatch' in latest(c, 'stream a').message
        status = latest(c, 'stream a')
        assert seen and level(status) == 2, (status.message, node.log()[-2000:])
        assert values(status)['offered_types'] == 'std_msgs/msg/Float64'
        f.healthy(2)
    assert ('topic /fault/a: a publisher offers type std_msgs/msg/Float64, but stream(s) a '
            'expect sensor_msgs/msg/Imu') in node.log()
    deadline = time.monotonic() + 15                # that publisher gone: cleared
    while time.monotonic() < deadline and 'mismatch' in latest(c, 'stream a').message:
        f.run(0.2)
    assert level(latest(c, 'stream a')) == 0, latest(c, 'stream a').message
    assert 'topic /fault/a: no publisher of another type any more' in node.log()


def test_unreadable_field_at_run_time_is_counted(node):
    """JointState messages with one position where the field is position[1]: each is
    counted as unreadable (the start-up check cannot know the array's length)."""
    c, f = node.client, node.feeder
    f.healthy()
    errors = int(values(latest(c, 'stream b'))['errors'])
    f.run(1.0, b_positions=[0.5])
    f.healthy(2, timeout=15)
    status = fresh_status(c, 'stream b')
    v = accounted(status)
    assert 90 <= v['errors'] - errors <= 100
    assert "stream 'b': field 'position[1]'" in values(status)['last_error'] or \
        'position[1]' in values(status)['last_error'], values(status)['last_error']
    assert re.search(r"stream 'b' \(/fault/b position\[1\]\): dropped \d+ late, \d+ "
                     r'non-finite, \d+ unreadable sample\(s\) so far', node.log())


def test_parameters_set_at_run_time_are_applied_or_refused(node):
    """Through the SetParameters service from this process, as `ros2 param set` does."""
    c, f = node.client, node.feeder
    f.healthy()
    refused = {'window_size': (16, 'read-only'), 'device': ('tpu', 'read-only'),
               'model_path': ('/nope.safetensors', 'read-only'),
               'pairs': (['a:nope'], "unknown stream 'nope'"),
               'publish_rate_hz': (-1.0, 'out of range')}
    for name, (value, words) in refused.items():
        result = c.set_param(name, value)
        assert not result.successful and words in result.reason, (name, result.reason)
    assert c.get_params(['window_size'])['window_size'].integer_value == 64
    f.healthy(2)
    assert c.set_param('pairs', ['b:a']).successful
    f.run(0.5)
    msgs = f.healthy(2)
    assert list(zip(msgs[-1].pair_first, msgs[-1].pair_second)) == [(1, 0)]
    assert c.set_param('pairs', []).successful
    assert 'parameter change refused' in node.log() and "parameter pairs set to ['b:a']" \
        in node.log()


# --- start-up and shutdown (own processes) --------------------------------------------------

def test_invalid_parameters_at_start_up_name_the_parameter(tmp_path):
    """Through the entry point: exit code 1, one 'cannot start' line naming the parameter
    and the valid values, no traceback. (window_size below 32 and a field path missing
    from the type: test_node.py::test_bad_start_exits_cleanly_with_the_error.)"""
    cases = {
        'window_size': ({'window_size': 16}, ["'window_size'", 'integer in [32, 100000]']),
        'device': ({'device': 'tpu'}, ["'device'", 'auto, cpu, cuda or cuda:N', "'tpu'"]),
        'model_path': ({'model_path': str(tmp_path / 'missing.safetensors')},
                       ["'model_path'", 'missing.safetensors', 'not found',
                        "or '' for the bundled weights"]),
        'pairs': ({'pairs': '["a:nope"]'}, ["'pairs'", "unknown stream 'nope'",
                                           "streams are ['a', 'b']"]),
    }
    configs = {name: write_params(tmp_path / f'{name}.yaml', STREAMS, **{**PARAMS, **params})
               for name, (params, _) in cases.items()}
    for name, text in failed_starts(configs).items():
        lines = [line for line in text.splitlines() if 'cannot start' in line]
        assert len(lines) == 1, (name, text)
        for word in cases[name][1]:
            assert word in lines[0], (name, lines[0])


@pytest.mark.slow
def test_sigint_and_sigterm_during_an_evaluation_exit_cleanly(tmp_path):
    """Two nodes whose evaluations take ~0.5-3 s (KSG, 3000 permutations) get SIGINT and
    SIGTERM while their evaluation thread is busy: exit code 0 after the running window,
    no traceback. (800 permutations took 0.13 s on a fast host, too short to be hit.)"""
    domain = new_domain_id()
    env = ros_env(domain)
    params = {**PARAMS, 'window_size': 128, 'estimator': 'ksg', 'permutations': 3000}
    config = write_params(tmp_path / 'params.yaml', STREAMS, **params)
    text = config.read_text().replace('infonet_estimator:', '/**:', 1)   # both node names
    config.write_text(text)
    client = Client(domain)
    logs = {sig: tmp_path / f'{sig.name}.log' for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with process(estimator_command() + ['--ros-args', '--params-file', str(config),
                                            '-r', '__node:=node_sigint'],
                     env, logs[signal.SIGINT]) as p_int, \
             process(estimator_command() + ['--ros-args', '--params-file', str(config),
                                            '-r', '__node:=node_sigterm'],
                     env, logs[signal.SIGTERM]) as p_term:
            f = Feeder(client)
            f.wait_for_node()
            names = {'/node_sigint: estimator', '/node_sigterm: estimator'}

            def both_busy():
                busy = {n for n, found in statuses(client).items() if n in names and
                        values(found[-1]).get('evaluation_busy') == 'True' and
                        int(values(found[-1])['windows_published']) >= 1}
                return busy == names

            assert f.run(40.0, until=both_busy), {n: values(s[-1]) for n, s in
                                                  statuses(client).items() if n in names}
            latency = {n: float(values(statuses(client)[n][-1])['window_latency_s'])
                       for n in names}
            start = time.monotonic()
            p_int.send_signal(signal.SIGINT)
            p_term.send_signal(signal.SIGTERM)
            codes = {signal.SIGINT: p_int.wait(timeout=30),
                     signal.SIGTERM: p_term.wait(timeout=30)}
            took = time.monotonic() - start
    finally:
        client.close()
    for sig, code in codes.items():
        text = logs[sig].read_text()
        assert code == 0 and 'Traceback' not in text, (sig, code, text[-3000:])
    assert took < 15, took
    assert min(latency.values()) > 0.2, latency    # a window takes long enough to be hit
    print(f'SIGINT/SIGTERM during an evaluation: exit codes {codes}, {took:.1f} s; '
          f'evaluations took {latency} s')
