"""The estimator node end to end: real processes talking over loopback DDS.

Each test starts the node through its console entry point with a parameters file (same
structure as config/estimator.yaml), starts test/ros_publisher.py with synthetic streams
of known dependence in another process, and listens to the node's outputs from this one.
Every test uses its own ROS_DOMAIN_ID; processes get SIGINT, then SIGKILL, in `finally`.
"""

import math
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from ros_process import process
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from rclpy.signals import SignalHandlerOptions
from visualization_msgs.msg import Marker, MarkerArray

ROOT = Path(__file__).resolve().parents[1]
PUBLISHER = ROOT / 'test' / 'ros_publisher.py'
ESTIMATOR = 'infonet'                    # the bundled, pretrained weights
RHO = 0.8
TRUTH = -0.5 * math.log(1 - RHO ** 2)    # 0.511 nats
THRESHOLD = 0.05                         # nats; graph edges at or above (the default)
TIMEOUT_S = 60.0

msgs = pytest.importorskip('infonet_ros.msg', reason='infonet_ros.msg not built '
                           '(scripts/setup.sh or colcon build)')


def estimator_command():
    exe = Path(sys.executable).parent / 'infonet_estimator'
    return [str(exe)] if exe.exists() else [sys.executable, '-m', 'infonet_ros.node']


def new_domain_id():
    taken = os.environ.get('ROS_DOMAIN_ID')
    while True:
        domain = random.SystemRandom().randint(1, 100)
        if str(domain) != taken:
            return domain


def failed_starts(configs: dict) -> dict:
    """Start the node once per parameters file (name -> path), all at once; each must exit
    with code 1 and no traceback. Returns name -> the node's output."""
    env = {**os.environ, 'ROS_DOMAIN_ID': str(new_domain_id())}
    runs = {name: subprocess.Popen(
        estimator_command() + ['--ros-args', '--params-file', str(config)], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for name, config in configs.items()}
    out = {}
    try:
        for name, proc in runs.items():
            out[name] = proc.communicate(timeout=90)[0]
            assert proc.returncode == 1, (name, out[name])
            assert 'Traceback' not in out[name], (name, out[name])
    finally:
        for proc in runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return out


def write_params(path, streams, **params):
    lines = ['infonet_estimator:', '  ros__parameters:',
             f'    stream_names: [{", ".join(streams)}]', '    streams:']
    for name, (topic, type_, field) in streams.items():
        lines.append(f'      {name}: {{topic: {topic}, type: {type_}, field: "{field}"}}')
    defaults = {'pairs': '[]', 'device': 'cpu', 'model_path': '""', 'estimator': ESTIMATOR,
                'graph_threshold': THRESHOLD, 'publish_rate_hz': 5.0}
    for key, value in {**defaults, **params}.items():
        lines.append(f'    {key}: {value}')
    path.write_text('\n'.join(lines) + '\n')
    return path


class OutputListener:
    """Subscribes, in this process, to everything the node publishes."""

    def __init__(self, domain_id, namespace='/infonet_estimator'):
        self.context = rclpy.Context()
        rclpy.init(args=[], context=self.context, domain_id=domain_id,
                   signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node('test_listener', context=self.context)
        self.received = defaultdict(list)
        topics = {'mi': (msgs.MutualInformation, f'{namespace}/mutual_information'),
                  'graph': (msgs.DependencyGraph, f'{namespace}/dependency_graph'),
                  'markers': (MarkerArray, f'{namespace}/graph_markers'),
                  'diagnostics': (DiagnosticArray, '/diagnostics')}
        for key, (msg_type, topic) in topics.items():
            self.node.create_subscription(
                msg_type, topic, lambda msg, key=key: self.received[key].append(msg),
                QoSProfile(depth=100))
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def spin_until(self, done, timeout, procs=()):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.1)
            if done():
                return True
            for proc, log in procs:
                if proc.poll() is not None:
                    pytest.fail(f'{proc.args[0]} exited with {proc.returncode}:\n'
                                f'{Path(log).read_text()[-3000:]}')
        return False

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def run_scenario(tmp_path, scenario, streams, params, n_windows=3, publisher_args=()):
    """Node + publisher; returns (listener outputs, node log text, node exit code)."""
    domain = new_domain_id()
    env = {**os.environ, 'ROS_DOMAIN_ID': str(domain),
           'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'PYTHONUNBUFFERED': '1'}
    config = write_params(tmp_path / 'params.yaml', streams, **params)
    node_log, pub_log = tmp_path / 'node.log', tmp_path / 'publisher.log'
    listener = OutputListener(domain)
    try:
        with process(estimator_command() + ['--ros-args', '--params-file', str(config)],
                     env, node_log) as node, \
             process([sys.executable, str(PUBLISHER), '--scenario', scenario,
                      '--rho', str(RHO), '--duration', str(TIMEOUT_S), *publisher_args],
                     env, pub_log) as pub:
            procs = [(node, node_log), (pub, pub_log)]
            ok = listener.spin_until(
                lambda: (len(listener.received['mi']) >= n_windows
                         and len(listener.received['graph']) >= n_windows
                         and listener.received['markers'] and listener.received['diagnostics']),
                TIMEOUT_S, procs)
            assert ok, (f'outputs within {TIMEOUT_S} s: '
                        f'{ {k: len(v) for k, v in listener.received.items()} }\n'
                        f'node log:\n{node_log.read_text()[-3000:]}\n'
                        f'publisher log:\n{pub_log.read_text()[-2000:]}')
            # Clean shutdown on repeated SIGINT (as under `ros2 launch` on ctrl-C).
            node.send_signal(signal.SIGINT)
            time.sleep(0.05)
            node.send_signal(signal.SIGINT)
            code = node.wait(timeout=15)
    finally:
        listener.close()
    return listener.received, node_log.read_text(), code


def mi_of(msg, a, b):
    names = list(msg.streams)
    i, j = names.index(a), names.index(b)
    for k, (p, q) in enumerate(zip(msg.pair_first, msg.pair_second)):
        if {p, q} == {i, j}:
            return msg.mi[k]
    raise AssertionError(f'pair {a}:{b} not in message')


def check_graph_and_extras(out, names, expected_edge):
    for graph in out['graph']:
        assert list(graph.nodes) == names
        assert math.isclose(graph.threshold, THRESHOLD, rel_tol=1e-6)
        assert graph.method == 'threshold'
        edges = [(names[i], names[j]) for i, j in zip(graph.edge_from, graph.edge_to)]
        assert edges == [expected_edge], edges
        # p-values come with every window (the shipped null table), not only with permutations
        assert graph.weight[0] >= THRESHOLD and 0 < graph.p_value[0] < 1e-3
    markers = out['markers'][-1].markers
    assert markers[0].action == Marker.DELETEALL
    spheres = [m for m in markers if m.type == Marker.SPHERE]
    labels = {m.text for m in markers if m.ns == 'infonet/labels'}
    lines = [m for m in markers if m.type == Marker.LINE_LIST]
    assert len(spheres) == len(names) and labels == set(names) and len(lines) == 1
    statuses = {s.name: s for d in out['diagnostics'] for s in d.status}
    estimator = statuses['/infonet_estimator: estimator']
    values = {kv.key: kv.value for kv in estimator.values}
    assert values['device'] == 'cpu' and values['method'] == ESTIMATOR
    for name in names:
        assert f'/infonet_estimator: stream {name}' in statuses


@pytest.mark.slow
def test_dependent_pair_and_graph_from_live_topics(tmp_path):
    names = ['accel_x', 'cmd_vx', 'noise']
    streams = {'accel_x': ('/test/imu', 'sensor_msgs/msg/Imu', 'linear_acceleration.x'),
               'cmd_vx': ('/test/cmd_vel', 'geometry_msgs/msg/Twist', 'linear.x'),
               'noise': ('/test/noise', 'std_msgs/msg/Float64', 'data')}
    out, log, code = run_scenario(tmp_path, 'gaussian', streams,
                                  {'window_size': 512, 'sample_rate_hz': 100.0})
    first = out['mi'][0]
    assert list(first.streams) == names and first.window_size == 512
    assert list(zip(first.pair_first, first.pair_second)) == [(0, 1), (0, 2), (1, 2)]
    assert first.method == ESTIMATOR and first.device == 'cpu' and first.latency > 0
    span = (first.header.stamp.sec - first.window_start.sec) + \
        (first.header.stamp.nanosec - first.window_start.nanosec) * 1e-9
    assert span == pytest.approx(511 / 100.0, abs=1e-3)
    dependent = [mi_of(m, 'accel_x', 'cmd_vx') for m in out['mi']]
    assert np.median(dependent) == pytest.approx(TRUTH, abs=0.12), dependent
    for m in out['mi']:
        assert mi_of(m, 'accel_x', 'noise') < THRESHOLD
        assert mi_of(m, 'cmd_vx', 'noise') < THRESHOLD
        assert all(0 < p <= 1 for p in m.p_value) and m.p_value[0] < 1e-3
        # the read-out's 90 % interval travels with every estimate: low <= mi <= high
        assert len(m.mi_low) == len(m.mi_high) == len(m.mi) == 3
        for low, mid, high in zip(m.mi_low, m.mi, m.mi_high):
            assert 0.0 <= low <= mid <= high, (low, mid, high)
        k = [i for i, (p, q) in enumerate(zip(m.pair_first, m.pair_second)) if (p, q) == (0, 1)][0]
        assert m.mi_high[k] - m.mi_low[k] > 0.01   # a real interval, not a point
    check_graph_and_extras(out, names, ('accel_x', 'cmd_vx'))
    assert code == 0 and 'Traceback' not in log, log[-3000:]
    # Twist and Float64 have no header: reception stamps need the SingleThreadedExecutor
    assert 'executor: SingleThreadedExecutor' in log, log[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize('significance, memory', [('table', 1), ('prewhitened', 1),
                                                  ('prewhitened', 2)])
def test_fdr_graph_with_p_values_from_live_topics(tmp_path, significance, memory):
    """graph_method fdr: edges by Benjamini-Hochberg over the window's calibrated
    p-values (the null table, or prewhitened innovations at lags; with evidence memory,
    combined over disjoint windows), which both messages carry for every pair."""
    names = ['accel_x', 'cmd_vx', 'noise']
    streams = {'accel_x': ('/test/imu', 'sensor_msgs/msg/Imu', 'linear_acceleration.x'),
               'cmd_vx': ('/test/cmd_vel', 'geometry_msgs/msg/Twist', 'linear.x'),
               'noise': ('/test/noise', 'std_msgs/msg/Float64', 'data')}
    out, log, code = run_scenario(tmp_path, 'gaussian', streams,
                                  {'window_size': 256, 'sample_rate_hz': 100.0,
                                   'graph_method': 'fdr', 'graph_alpha': 0.05,
                                   'significance': significance,
                                   'significance_memory': memory},
                                  # memory: windows of 2.56 s every 0.2 s, the 14th is the
                                  # first with a disjoint predecessor
                                  n_windows=4 if memory == 1 else 16)
    for m in out['mi']:
        assert all(0 < p <= 1 for p in m.p_value), list(m.p_value)
        assert m.p_value[0] < 1e-3                     # accel_x:cmd_vx, rho = 0.8
    noise_edges = {}                              # window end (s) -> false edges
    for graph in out['graph']:
        assert graph.method == 'fdr' and list(graph.nodes) == names
        edges = [(names[i], names[j]) for i, j in zip(graph.edge_from, graph.edge_to)]
        assert ('accel_x', 'cmd_vx') in edges, edges
        assert all(0 < p <= 0.05 for p in graph.p_value), list(graph.p_value)
        noise_edges[graph.header.stamp.sec + graph.header.stamp.nanosec * 1e-9] = len(edges) - 1
    # Windows 0.2 s apart share 92 % of their samples, so one false edge persists over
    # several of them: count false edges over disjoint windows only (FDR 5 %: a false edge
    # there is rare, not impossible), and bound how many of all windows carry one.
    disjoint, last = [], -math.inf
    for stamp in sorted(noise_edges):
        if stamp - last >= 2.56:
            disjoint.append(noise_edges[stamp])
            last = stamp
    assert sum(disjoint) <= 1, (disjoint, noise_edges)
    assert sum(n > 0 for n in noise_edges.values()) <= len(noise_edges) // 2, noise_edges
    assert 'null table' not in log            # the shipped table fits the shipped weights
    assert code == 0 and 'Traceback' not in log, log[-3000:]


@pytest.mark.slow
def test_streams_at_200hz_and_30hz_are_aligned(tmp_path):
    names = ['fast', 'slow', 'noise']
    streams = {'fast': ('/test/fast', 'sensor_msgs/msg/Imu', 'linear_acceleration.x'),
               'slow': ('/test/slow', 'sensor_msgs/msg/JointState', 'position[0]'),
               'noise': ('/test/noise', 'sensor_msgs/msg/Imu', 'angular_velocity.z')}
    out, log, code = run_scenario(tmp_path, 'multirate', streams,
                                  {'window_size': 512, 'sample_rate_hz': 50.0})
    dependent = [mi_of(m, 'fast', 'slow') for m in out['mi']]
    assert np.median(dependent) == pytest.approx(TRUTH, abs=0.15), dependent
    for m in out['mi']:
        assert mi_of(m, 'fast', 'noise') < THRESHOLD and mi_of(m, 'slow', 'noise') < THRESHOLD
    check_graph_and_extras(out, names, ('fast', 'slow'))
    rates = {}
    for d in out['diagnostics']:
        for s in d.status:
            values = {kv.key: kv.value for kv in s.values}
            if 'rate_hz' in values:
                rates[s.name.rsplit(' ', 1)[-1]] = float(values['rate_hz'])
    assert rates['fast'] == pytest.approx(200, rel=0.3)
    assert rates['slow'] == pytest.approx(30, rel=0.1)
    assert code == 0 and 'Traceback' not in log, log[-3000:]
    assert 'executor: EventsExecutor' in log, log[-3000:]   # every input has a header


@pytest.mark.slow
def test_binary_contact_stream_is_not_linked_to_noise(tmp_path):
    """A contact switch (std_msgs/Bool): its ties are broken per pair, so it reads ~0
    against independent noise (1.8 nats with averaged ranks) and keeps its true MI with the
    force it depends on; the node names the tied stream once in the log and on /diagnostics."""
    from infonet_ros.tasks import QuantisedGaussian

    truth = QuantisedGaussian(RHO, 2, None).mutual_information()   # 0.267 nats
    names = ['contact', 'force', 'noise']
    streams = {'contact': ('/test/contact', 'std_msgs/msg/Bool', 'data'),
               'force': ('/test/force', 'geometry_msgs/msg/WrenchStamped', 'wrench.force.z'),
               'noise': ('/test/noise', 'std_msgs/msg/Float64', 'data')}
    out, log, code = run_scenario(tmp_path, 'contact', streams,
                                  {'window_size': 512, 'sample_rate_hz': 100.0}, n_windows=12)
    for m in out['mi']:
        assert mi_of(m, 'contact', 'noise') < THRESHOLD, mi_of(m, 'contact', 'noise')
        assert mi_of(m, 'force', 'noise') < THRESHOLD
    dependent = [mi_of(m, 'contact', 'force') for m in out['mi']]
    assert np.median(dependent) == pytest.approx(truth, abs=0.1), dependent
    assert log.count("stream 'contact' has tied values: 2 distinct value(s)") == 1, log[-3000:]
    assert "stream 'force' has tied" not in log and "stream 'noise' has tied" not in log
    contact = [s for d in out['diagnostics'] for s in d.status
               if s.name == '/infonet_estimator: stream contact']
    values = [{kv.key: kv.value for kv in s.values} for s in contact]
    assert any(v['distinct_values'] == '2' for v in values), values
    assert any('tied: 2 distinct values' in s.message for s in contact)
    assert code == 0 and 'Traceback' not in log, log[-3000:]


@pytest.mark.slow
def test_blending_of_white_streams_is_named_with_a_suggested_rate(tmp_path):
    """White samples at 40 Hz on a 50 Hz timeline: the node names each blended stream once,
    with its rate as the suggested sample_rate_hz, and flags it on /diagnostics."""
    streams = {'accel_x': ('/test/imu', 'sensor_msgs/msg/Imu', 'linear_acceleration.x'),
               'cmd_vx': ('/test/cmd_vel', 'geometry_msgs/msg/Twist', 'linear.x'),
               'noise': ('/test/noise', 'std_msgs/msg/Float64', 'data')}
    out, log, code = run_scenario(tmp_path, 'gaussian', streams,
                                  {'window_size': 256, 'sample_rate_hz': 50.0}, n_windows=8,
                                  publisher_args=['--rate', '40'])
    for name in streams:
        assert log.count(f"stream '{name}' changes completely from one sample") == 1, log[-3000:]
    assert 'set sample_rate_hz to 39' in log or 'set sample_rate_hz to 40' in log, log[-3000:]
    flagged = {s.name.rsplit(' ', 1)[-1] for d in out['diagnostics'] for s in d.status
               if 'blended by resampling' in s.message}
    assert flagged == set(streams), flagged
    assert code == 0 and 'Traceback' not in log, log[-3000:]


GOOD = {'a': ('/test/a', 'std_msgs/msg/Float64', 'data'),
        'b': ('/test/b', 'sensor_msgs/msg/Imu', 'linear_acceleration.x')}


@pytest.mark.parametrize('streams,params,words', [
    (GOOD, {'window_size': 4}, ["'window_size'", '[32, 100000]']),
    (GOOD, {'pairs': '["a:nope"]'}, ["'pairs'", "'nope'"]),
    (GOOD, {'windowsize': 5}, ["unknown parameter 'windowsize'"]),
    (GOOD, {'stream_names': 'a'}, ["'stream_names'"]),
    (GOOD, {'device': 'tpu'}, ["'device'", 'cuda:N']),
    ({**GOOD, 'b': ('/test/b', 'sensor_msgs/msg/Imu', 'linear_acceleration.q')}, {},
     ["'streams.b.field'", "no field 'q'"]),
    ({**GOOD, 'b': ('/test/b', 'sensor_msgs/msg/Imux', 'data')}, {},
     ["'streams.b.type'", "'sensor_msgs/msg/Imux'"]),
    ({**GOOD, 'b': ('/test/b c', 'sensor_msgs/msg/Imu', 'linear_acceleration.x')}, {},
     ["bad topic '/test/b c'", 'stream(s) b']),
], ids=['window_size', 'pairs', 'typo', 'stream_names', 'device', 'field', 'type', 'topic'])
def test_bad_parameters_are_named(tmp_path, streams, params, words):
    """The node's constructor, fed the parameters file as on the command line."""
    from infonet_ros.node import InfoNetEstimatorNode

    config = write_params(tmp_path / 'params.yaml', streams, **params)
    if 'stream_names' in params:   # replace the generated list with a bare string
        text = config.read_text().replace('stream_names: [a, b]', 'stream_names: a')
        config.write_text(text)
    context = rclpy.Context()
    rclpy.init(args=[], context=context, domain_id=new_domain_id(),
               signal_handler_options=SignalHandlerOptions.NO)
    try:
        with pytest.raises(ValueError) as info:
            InfoNetEstimatorNode(context=context,
                                 cli_args=['--ros-args', '--params-file', str(config)])
        for word in words:
            assert word in str(info.value)
    finally:
        rclpy.try_shutdown(context=context)


def test_default_config_with_namespace_and_launch_overrides(tmp_path):
    """config/estimator.yaml + the launch file's overrides, in a namespace (in-process)."""
    from infonet_ros.baselines import KSG
    from infonet_ros.node import InfoNetEstimatorNode

    overrides = tmp_path / 'launch_params.yaml'   # what launch_ros writes for a dict
    overrides.write_text('/**:\n  ros__parameters:\n    device: cpu\n'
                         '    use_sim_time: false\n')
    context = rclpy.Context()
    rclpy.init(args=[], context=context, domain_id=new_domain_id(),
               signal_handler_options=SignalHandlerOptions.NO)
    try:
        node = InfoNetEstimatorNode(
            estimator=KSG(), context=context,
            cli_args=['--ros-args', '-r', '__ns:=/robot1', '--params-file',
                      str(ROOT / 'config' / 'estimator.yaml'), '--params-file', str(overrides)])
        try:
            assert node.get_fully_qualified_name() == '/robot1/infonet_estimator'
            assert node.config.stream_names == ['accel_x', 'odom_vx']
            assert node.config.pairs == [(0, 1)]                 # `pairs: []`
            assert node.config.device == 'cpu'
            assert node.get_parameter('pairs').value == []
            assert node.mi_publisher.topic_name == '/robot1/infonet_estimator/mutual_information'
            assert node.diagnostics_publisher.topic_name == '/diagnostics'
            topics = {sub.topic_name for sub in node.subscriptions}
            assert topics == {'/imu/data', '/odom'}
            assert node.headerless_streams() == []          # EventsExecutor (item 9)
            result = node.set_parameters([Parameter('window_size', value=64)])[0]
            assert not result.successful and 'read-only' in result.reason
            assert node.config.window_size == 512
        finally:
            node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


@pytest.mark.slow
def test_bad_start_exits_cleanly_with_the_error(tmp_path):
    """Through the entry point: exit code 1, the error named, no traceback."""
    cases = {
        'field': ({**GOOD, 'b': ('/test/b', 'sensor_msgs/msg/Imu', 'linear_acceleration.q')},
                  {}, ["'streams.b.field'", "no field 'q'"]),
        'yaml': (GOOD, {'window_size': '[1, 2'}, ['params file']),
        # issue 14, item 2: below the estimators' minimum, refused before anything runs
        'window_size': (GOOD, {'window_size': 31}, ["'window_size'", '[32, 100000]']),
        'integer_for_double': (GOOD, {'sample_rate_hz': 50}, ["'sample_rate_hz'", '50.0']),
    }
    configs = {name: write_params(tmp_path / f'{name}.yaml', streams, **params)
               for name, (streams, params, _) in cases.items()}
    for name, text in failed_starts(configs).items():
        assert 'cannot start' in text, (name, text)
        for word in cases[name][2]:
            assert word in text, (name, text)


def test_results_to_messages():
    """Pure conversions used by the node: stamps, NaN p-values, edge order, markers."""
    from infonet_ros.node import (to_dependency_graph, to_marker_array,
                                  to_mutual_information, to_time_msg)
    from infonet_ros.pipeline import WindowResult
    from infonet_ros.streams import PipelineConfig

    stamp = to_time_msg(1.9999999999)
    assert (stamp.sec, stamp.nanosec) == (2, 0)
    stamp = to_time_msg(1795978440.25)
    assert (stamp.sec, stamp.nanosec) == (1795978440, 250_000_000)
    result = WindowResult(
        t_start=100.0, t_end=105.11, window_size=512, streams=['a', 'b', 'c'],
        pairs=[(2, 0), (0, 1), (1, 2)], mi=np.array([0.4, 0.01, 1.2]),
        p_value=np.full(3, np.nan), edges=[(2, 0, 0.4, math.nan), (1, 2, 1.2, math.nan)],
        method='infonet', latency_s=0.02, device='cpu')
    mi = to_mutual_information(result, msgs.MutualInformation)
    assert list(mi.pair_first) == [2, 0, 1] and list(mi.pair_second) == [0, 1, 2]
    assert mi.mi[2] == pytest.approx(1.2) and all(math.isnan(p) for p in mi.p_value)
    assert (mi.window_start.sec, mi.header.stamp.sec, mi.header.stamp.nanosec) == \
        (100, 105, 110_000_000)
    config = PipelineConfig.from_params({
        'stream_names': ['a', 'b', 'c'], 'graph_threshold': 0.1,
        'streams': {n: {'topic': f'/{n}', 'type': 'std_msgs/msg/Float64', 'field': 'data'}
                    for n in 'abc'}})
    graph = to_dependency_graph(result, config, msgs.DependencyGraph)
    assert list(graph.edge_from) == [0, 1] and list(graph.edge_to) == [2, 2]   # from < to
    assert graph.method == 'threshold' and graph.threshold == pytest.approx(0.1)
    markers = to_marker_array(result, 'base_link').markers
    assert markers[0].action == Marker.DELETEALL
    lines = [m for m in markers if m.type == Marker.LINE_LIST]
    assert len(lines) == 2 and lines[1].scale.x > lines[0].scale.x       # wider = more MI
    assert {m.header.frame_id for m in markers[1:]} == {'base_link'}
