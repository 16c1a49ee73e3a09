"""The node as a ROS user meets it (issue 14): parameters through the parameter services
(what `ros2 param` calls), the managed lifecycle through its services (what `ros2 lifecycle`
and lifecycle managers call), the ~/estimate service, diagnostics names, simulated time,
the executable and its --help.

Real rclpy throughout: the node runs in its own process (console entry point, parameters
file) or, where noted, in this process in its own context; test/ros_publisher.py publishes
the synthetic streams. Every test uses its own ROS_DOMAIN_ID.
"""

import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import DescribeParameters, GetParameters, ListParameters, SetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile
from rclpy.signals import SignalHandlerOptions
from rclpy.time import Time
from ros_process import process
from rosgraph_msgs.msg import Clock
from test_node import (GOOD, PUBLISHER, RHO, ROOT, TRUTH, OutputListener, estimator_command,
                       mi_of, new_domain_id, write_params)

msgs = pytest.importorskip('infonet_ros.msg', reason='infonet_ros.msg not built')
srvs = pytest.importorskip('infonet_ros.srv', reason='infonet_ros.srv not built')

NODE = '/infonet_estimator'
GAUSSIAN = {'accel_x': ('/test/imu', 'sensor_msgs/msg/Imu', 'linear_acceleration.x'),
            'cmd_vx': ('/test/cmd_vel', 'geometry_msgs/msg/Twist', 'linear.x'),
            'noise': ('/test/noise', 'std_msgs/msg/Float64', 'data')}
STAMPED = {'fast': ('/test/fast', 'sensor_msgs/msg/Imu', 'linear_acceleration.x'),
           'slow': ('/test/slow', 'sensor_msgs/msg/JointState', 'position[0]'),
           'noise': ('/test/noise', 'sensor_msgs/msg/Imu', 'angular_velocity.z')}
DEBUG_LINE = re.compile(r'^\[DEBUG\] \[[\d.]+\] \[([^\]]+)\]: (.*)$', re.M)


class Client(OutputListener):
    """OutputListener that also calls services, as the ros2 CLI and lifecycle managers do."""

    def __init__(self, domain_id):
        super().__init__(domain_id)
        self._clients = {}

    def call(self, srv_type, name, request, timeout=30.0):
        client = self._clients.get(name)
        if client is None:
            client = self._clients[name] = self.node.create_client(srv_type, name)
        assert client.wait_for_service(timeout_sec=timeout), f'no service {name}'
        future = client.call_async(request)
        assert self.spin_until(future.done, timeout), f'{name}: no response in {timeout} s'
        return future.result()

    # --- what `ros2 param` does -------------------------------------------------------

    def set_param(self, name, value):
        kinds = {bool: (ParameterType.PARAMETER_BOOL, 'bool_value'),
                 int: (ParameterType.PARAMETER_INTEGER, 'integer_value'),
                 float: (ParameterType.PARAMETER_DOUBLE, 'double_value'),
                 str: (ParameterType.PARAMETER_STRING, 'string_value'),
                 list: (ParameterType.PARAMETER_STRING_ARRAY, 'string_array_value')}
        kind, field = kinds[type(value)]
        request = SetParameters.Request(parameters=[ParameterMsg(
            name=name, value=ParameterValue(type=kind, **{field: value}))])
        return self.call(SetParameters, f'{NODE}/set_parameters', request).results[0]

    def get_params(self, names):
        response = self.call(GetParameters, f'{NODE}/get_parameters',
                             GetParameters.Request(names=names))
        return dict(zip(names, response.values))

    def describe(self, names):
        response = self.call(DescribeParameters, f'{NODE}/describe_parameters',
                             DescribeParameters.Request(names=names))
        return {d.name: d for d in response.descriptors}

    # --- what `ros2 lifecycle` / a lifecycle manager does -----------------------------

    def transition(self, transition_id):
        request = ChangeState.Request(transition=Transition(id=transition_id))
        return self.call(ChangeState, f'{NODE}/change_state', request).success

    def state(self):
        return self.call(GetState, f'{NODE}/get_state', GetState.Request()).current_state.label

    def estimate(self, x=(), y=(), pairs=()):
        request = srvs.Estimate.Request(x=list(x), y=list(y), pairs=list(pairs))
        return self.call(srvs.Estimate, f'{NODE}/estimate', request)

    def wait_for(self, key, count, timeout=60.0, procs=()):
        """Until ``count`` more messages of ``key`` arrived; returns the new ones."""
        start = len(self.received[key])
        ok = self.spin_until(lambda: len(self.received[key]) >= start + count, timeout, procs)
        assert ok, f'{count} more {key} message(s) within {timeout} s: ' \
                   f'{ {k: len(v) for k, v in self.received.items()} }'
        return self.received[key][start:]

    def idle(self, seconds):
        self.spin_until(lambda: False, seconds)


def ros_env(domain):
    return {**os.environ, 'ROS_DOMAIN_ID': str(domain),
            'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'PYTHONUNBUFFERED': '1'}


def publisher_command(scenario):
    return [sys.executable, str(PUBLISHER), '--scenario', scenario, '--rho', str(RHO),
            '--duration', '120']


def stop(node):
    """SIGINT like a terminal; the exit code."""
    node.send_signal(signal.SIGINT)
    return node.wait(timeout=20)


@pytest.mark.slow
def test_parameters_through_the_parameter_services(tmp_path):
    """Items 1, 3 and 6: every parameter declared with a descriptor (ranges, read_only);
    run-time ones applied when set, bad values refused with the reason; log_level sets the
    node's logger only."""
    from infonet_ros.streams import PARAMETERS

    domain = new_domain_id()
    env = ros_env(domain)
    config = write_params(tmp_path / 'params.yaml', GAUSSIAN, window_size=256,
                          sample_rate_hz=100.0, estimator='ksg', torch_threads=2)
    node_log = tmp_path / 'node.log'
    client = Client(domain)
    try:
        with process(estimator_command() + ['--ros-args', '--params-file', str(config)],
                     env, node_log) as node, \
             process(publisher_command('gaussian'), env, tmp_path / 'pub.log'):
            names = client.call(ListParameters, f'{NODE}/list_parameters',
                                ListParameters.Request()).result.names
            assert set(PARAMETERS) | {'streams.accel_x.topic', 'streams.noise.field'} \
                <= set(names)
            values = client.get_params(['torch_threads', 'window_size', 'log_level'])
            assert values['torch_threads'].integer_value == 2          # item 1
            assert values['window_size'].integer_value == 256
            assert values['log_level'].type == ParameterType.PARAMETER_STRING

            d = client.describe(['window_size', 'torch_threads', 'graph_threshold',
                                 'publish_rate_hz', 'pairs', 'streams.cmd_vx.topic'])
            assert d['window_size'].read_only and d['torch_threads'].read_only
            assert d['streams.cmd_vx.topic'].read_only
            assert (d['window_size'].integer_range[0].from_value,
                    d['window_size'].integer_range[0].to_value) == (32, 100_000)
            assert 'restart' in d['window_size'].description
            assert not d['graph_threshold'].read_only and not d['pairs'].read_only
            assert d['graph_threshold'].type == ParameterType.PARAMETER_DOUBLE
            assert d['graph_threshold'].floating_point_range[0].to_value == 100.0
            assert d['publish_rate_hz'].additional_constraints == '> 0'

            client.wait_for('mi', 2, procs=[(node, node_log)])
            assert not DEBUG_LINE.search(node_log.read_text())

            refused = {
                'window_size': (64, 'read-only'),
                'graph_threshold': (-1.0, 'out of range'),
                'publish_rate_hz': (0.0, '(0, 1000]'),
                'permutations': (2.5, 'Wrong parameter type'),
                'pairs': (['accel_x:nope'], "unknown stream 'nope'"),
                'log_level': ('loud', "'debug'"),
            }
            for name, (value, words) in refused.items():
                result = client.set_param(name, value)
                assert not result.successful and words in result.reason, (name, result)

            for name, value in [('graph_threshold', 0.3), ('pairs', ['cmd_vx:accel_x']),
                                ('permutations', 9), ('marker_frame_id', 'base_link'),
                                ('log_level', 'debug')]:
                result = client.set_param(name, value)
                assert result.successful, (name, result.reason)
            assert client.get_params(['graph_threshold'])['graph_threshold'].double_value \
                == 0.3
            client.idle(0.5)   # a window evaluated before the change may still arrive
            client.received.clear()
            mi = client.wait_for('mi', 3)
            graph = client.received['graph'][-1]
            for m in mi:
                assert list(zip(m.pair_first, m.pair_second)) == [(1, 0)]
                assert m.p_value[0] == pytest.approx(0.1)     # 1 / (1 + 9): dependent pair
            assert graph.threshold == pytest.approx(0.3) and graph.method == 'permutation_test'
            frames = {mk.header.frame_id for mk in client.received['markers'][-1].markers[1:]}
            assert frames == {'base_link'}

            assert client.set_param('publish_rate_hz', 2.0).successful
            client.idle(1.0)
            client.received.clear()
            start = time.monotonic()
            client.wait_for('mi', 3)
            assert 0.7 < time.monotonic() - start < 2.5   # two periods of 0.5 s, not 0.2 s

            # item 6: the node's debug lines, and none of rcl/rmw
            loggers = {m.group(1) for m in DEBUG_LINE.finditer(node_log.read_text())}
            assert loggers == {'infonet_estimator'}, loggers
            assert 'window ending' in node_log.read_text()
            assert stop(node) == 0
    finally:
        client.close()
    log = node_log.read_text()
    assert 'Traceback' not in log, log[-3000:]
    assert 'parameter change refused' in log and 'parameter graph_threshold set to 0.3' in log


@pytest.mark.slow
def test_estimate_service_good_and_bad_requests(tmp_path):
    """~/estimate: arrays the caller holds, pairs of the current window, and bad requests
    answered with success = false and the reason; the node keeps publishing."""
    domain = new_domain_id()
    env = ros_env(domain)
    config = write_params(tmp_path / 'params.yaml', GAUSSIAN, window_size=512,
                          sample_rate_hz=100.0)
    node_log = tmp_path / 'node.log'
    client = Client(domain)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(1000)
    y = RHO * x + math.sqrt(1 - RHO ** 2) * rng.standard_normal(1000)
    try:
        with process(estimator_command() + ['--ros-args', '--params-file', str(config)],
                     env, node_log) as node:
            answer = client.estimate(pairs=['accel_x:cmd_vx'])
            assert not answer.success and answer.error.startswith('no window yet: ')
            answer = client.estimate(x, y)
            assert answer.success and answer.error == '', answer.error
            assert list(answer.pairs) == ['x:y'] and answer.window_size == 1000
            assert answer.mi[0] == pytest.approx(TRUTH, abs=0.12)
            assert 0.0 <= answer.mi_low[0] <= answer.mi[0] <= answer.mi_high[0]   # 90 % interval
            assert answer.mi_low[0] < TRUTH < answer.mi_high[0]
            assert 0 < answer.p_value[0] < 1e-3 and answer.method == 'infonet'   # calibrated
            assert answer.window_end.sec == 0

            bad = {
                'unequal': (dict(x=x, y=y[:-1]), ['same length', '1000 and 999']),
                'short': (dict(x=x[:20], y=y[:20]), ['32', 'got 20']),
                'nan': (dict(x=np.r_[x[:7], math.nan, x[8:]], y=y), ['NaN', 'index 7']),
                'both': (dict(x=x, y=y, pairs=['accel_x:cmd_vx']), ['not both']),
                'empty': ({}, ['empty request']),
                'unknown': (dict(pairs=['accel_x:nope']), ["unknown stream 'nope'"]),
                'syntax': (dict(pairs=['accel_x-cmd_vx']), ["'a:b'"]),
            }
            for case, (request, words) in bad.items():
                answer = client.estimate(**request)
                assert not answer.success and len(answer.mi) == 0, case
                for word in words:
                    assert word in answer.error, (case, answer.error)

            with process(publisher_command('gaussian'), env, tmp_path / 'pub.log') as pub:
                procs = [(node, node_log), (pub, tmp_path / 'pub.log')]
                client.wait_for('mi', 2, procs=procs)
                answer = client.estimate(pairs=['cmd_vx:accel_x', 'accel_x:noise'])
                assert answer.success, answer.error
                assert list(answer.pairs) == ['cmd_vx:accel_x', 'accel_x:noise']
                assert answer.window_size == 512 and answer.window_end.sec > 0
                assert answer.mi[0] == pytest.approx(TRUTH, abs=0.15)
                assert answer.mi[1] < 0.1
                assert client.estimate(x, y[:5]).success is False
                client.wait_for('mi', 2, procs=procs)   # still publishing
            assert stop(node) == 0
    finally:
        client.close()
    assert 'Traceback' not in node_log.read_text(), node_log.read_text()[-3000:]


@pytest.mark.slow
def test_managed_node_walks_the_lifecycle(tmp_path):
    """--managed: unconfigured -> configure -> activate -> deactivate -> cleanup ->
    configure -> activate -> shutdown, through the lifecycle services; subscriptions and
    output exist only while active. Stamped inputs: the EventsExecutor serves it."""
    domain = new_domain_id()
    env = ros_env(domain)
    config = write_params(tmp_path / 'params.yaml', STAMPED, window_size=256,
                          sample_rate_hz=50.0, estimator='ksg')
    node_log = tmp_path / 'node.log'
    client = Client(domain)

    def subscribers():
        client.idle(1.0)   # graph changes take a moment to propagate
        return client.node.count_subscribers('/test/fast')

    try:
        with process(estimator_command() + ['--managed', '--ros-args', '--params-file',
                                            str(config)], env, node_log) as node, \
             process(publisher_command('multirate') + ['--wait', '100'], env,
                     tmp_path / 'pub.log'):
            assert client.state() == 'unconfigured'
            answer = client.estimate(np.arange(64.0), np.arange(64.0) ** 3)
            assert not answer.success and 'not configured' in answer.error
            assert subscribers() == 0

            assert client.transition(Transition.TRANSITION_CONFIGURE)
            assert client.state() == 'inactive'
            answer = client.estimate(np.arange(64.0), np.arange(64.0) ** 3)
            assert answer.success and answer.method == 'ksg'      # the model is loaded
            answer = client.estimate(pairs=['fast:slow'])
            assert not answer.success and 'not active' in answer.error
            assert subscribers() == 0 and not client.received['mi']

            assert client.transition(Transition.TRANSITION_ACTIVATE)
            assert client.state() == 'active'
            assert subscribers() == 1
            mi = client.wait_for('mi', 2, procs=[(node, node_log)])
            assert mi_of(mi[-1], 'fast', 'slow') > 0.2
            assert client.estimate(pairs=['fast:slow']).success

            assert client.transition(Transition.TRANSITION_DEACTIVATE)
            assert client.state() == 'inactive'
            assert subscribers() == 0
            count = len(client.received['mi'])
            client.idle(2.0)
            assert len(client.received['mi']) == count         # nothing while inactive

            assert client.transition(Transition.TRANSITION_CLEANUP)
            assert client.state() == 'unconfigured'
            assert not client.estimate(np.arange(64.0), np.arange(64.0)).success

            assert client.transition(Transition.TRANSITION_CONFIGURE)
            assert client.transition(Transition.TRANSITION_ACTIVATE)
            client.wait_for('mi', 2, procs=[(node, node_log)])

            assert client.transition(Transition.TRANSITION_ACTIVE_SHUTDOWN)
            assert client.state() == 'finalized'
            assert stop(node) == 0
    finally:
        client.close()
    log = node_log.read_text()
    assert 'Traceback' not in log, log[-3000:]
    assert 'executor: EventsExecutor' in log, log[-3000:]
    for line in ['unconfigured, waiting for configure', 'configured', 'active: subscribed',
                 'inactive: unsubscribed', 'cleaned up']:
        assert line in log, (line, log[-3000:])


def test_managed_node_refuses_a_bad_configuration(tmp_path):
    """A bad stream field fails the configure transition (service answer: false), the node
    stays unconfigured and says why. In this process: node and client in one context."""
    from infonet_ros.baselines import KSG
    from infonet_ros.node import ManagedInfoNetEstimatorNode

    streams = {**GOOD, 'b': ('/test/b', 'sensor_msgs/msg/Imu', 'linear_acceleration.q')}
    config = write_params(tmp_path / 'params.yaml', streams)
    context = rclpy.Context()
    rclpy.init(args=[], context=context, domain_id=new_domain_id(),
               signal_handler_options=SignalHandlerOptions.NO)
    try:
        node = ManagedInfoNetEstimatorNode(
            estimator=KSG(), context=context,
            cli_args=['--ros-args', '--params-file', str(config)])
        caller = rclpy.create_node('lifecycle_manager', context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        executor.add_node(caller)
        try:
            def call(srv_type, name, request):
                client = caller.create_client(srv_type, name)
                assert client.wait_for_service(timeout_sec=10)
                future = client.call_async(request)
                executor.spin_until_future_complete(future, timeout_sec=30)
                return future.result()

            answer = call(ChangeState, f'{NODE}/change_state', ChangeState.Request(
                transition=Transition(id=Transition.TRANSITION_CONFIGURE)))
            assert answer.success is False
            state = call(GetState, f'{NODE}/get_state', GetState.Request()).current_state
            assert state.id == State.PRIMARY_STATE_UNCONFIGURED
            assert node.config is None and node.pipeline is None
        finally:
            executor.shutdown()
            caller.destroy_node()
            node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_callbacks_queued_before_deactivate_are_dropped(tmp_path):
    """The EventsExecutor can still deliver a message or a timer tick that was queued when
    deactivate (and then cleanup) ran; the node drops them instead of failing."""
    from std_msgs.msg import Float64

    from infonet_ros.baselines import KSG
    from infonet_ros.node import ManagedInfoNetEstimatorNode

    config = write_params(tmp_path / 'params.yaml', GOOD, estimator='ksg')
    context = rclpy.Context()
    rclpy.init(args=[], context=context, domain_id=new_domain_id(),
               signal_handler_options=SignalHandlerOptions.NO)
    try:
        node = ManagedInfoNetEstimatorNode(
            estimator=KSG(), context=context,
            cli_args=['--ros-args', '--params-file', str(config)])
        try:
            state = State(id=State.PRIMARY_STATE_UNCONFIGURED, label='unconfigured')
            assert node.on_configure(state).name == 'SUCCESS'
            assert node.on_activate(state).name == 'SUCCESS'
            node.listener_callback('/test/a', Float64(data=1.0))
            assert node.aligner.diagnostics()['streams']['a']['count'] == 1
            assert node.on_deactivate(state).name == 'SUCCESS'
            node.listener_callback('/test/a', Float64(data=2.0))      # dropped
            assert node.aligner.diagnostics()['streams']['a']['count'] == 1
            assert node.on_cleanup(state).name == 'SUCCESS'
            node.listener_callback('/test/a', Float64(data=3.0))      # dropped, no error
            node.timer_callback()
            node.diagnostics_callback()
        finally:
            node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_diagnostics_are_named_by_the_fully_qualified_node_name(tmp_path):
    """Item 4: two instances in /robot1 and /robot2 publish distinct status names on
    /diagnostics (in this process: both nodes and a listener in one context)."""
    from infonet_ros.baselines import KSG
    from infonet_ros.node import InfoNetEstimatorNode

    overrides = tmp_path / 'overrides.yaml'
    overrides.write_text('/**:\n  ros__parameters:\n    device: cpu\n')
    context = rclpy.Context()
    rclpy.init(args=[], context=context, domain_id=new_domain_id(),
               signal_handler_options=SignalHandlerOptions.NO)
    nodes, names = [], set()
    try:
        for ns in ('/robot1', '/robot2'):
            nodes.append(InfoNetEstimatorNode(
                estimator=KSG(), context=context,
                cli_args=['--ros-args', '-r', f'__ns:={ns}', '--params-file',
                          str(ROOT / 'config' / 'estimator.yaml'),
                          '--params-file', str(overrides)]))
        listener = rclpy.create_node('diagnostics_listener', context=context)
        listener.create_subscription(
            DiagnosticArray, '/diagnostics',
            lambda msg: names.update(s.name for s in msg.status), QoSProfile(depth=50))
        executor = SingleThreadedExecutor(context=context)
        for n in [*nodes, listener]:
            executor.add_node(n)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(names) < 6:
            executor.spin_once(timeout_sec=0.1)
        executor.shutdown()
        listener.destroy_node()
    finally:
        for n in nodes:
            n.destroy_node()
        rclpy.try_shutdown(context=context)
    assert names == {f'/robot{k}/infonet_estimator: {what}' for k in (1, 2)
                     for what in ('estimator', 'stream accel_x', 'stream odom_vx')}, names


@pytest.mark.slow
def test_sim_time_without_clock_says_it_waits(tmp_path):
    """Item 7: use_sim_time and no /clock: one log line, a WARN on /diagnostics; when
    /clock arrives the node says so."""
    domain = new_domain_id()
    env = ros_env(domain)
    config = write_params(tmp_path / 'params.yaml', GOOD, estimator='ksg', use_sim_time='true')
    node_log = tmp_path / 'node.log'
    client = Client(domain)
    try:
        with process(estimator_command() + ['--ros-args', '--params-file', str(config)],
                     env, node_log) as node:
            procs = [(node, node_log)]

            def waiting_status():
                return any(s.name == f'{NODE}: estimator' and 'waiting for /clock' in s.message
                           for d in client.received['diagnostics'] for s in d.status)

            assert client.spin_until(waiting_status, 60, procs), node_log.read_text()[-2000:]
            client.idle(3.0)
            assert node_log.read_text().count('waiting for /clock') == 1
            assert not client.received['mi']
            clock = client.node.create_publisher(Clock, '/clock', QoSProfile(depth=10))
            deadline = time.monotonic() + 30
            t = 100.0
            while time.monotonic() < deadline and '/clock arrived' not in node_log.read_text():
                clock.publish(Clock(clock=Time(seconds=t).to_msg()))
                t += 0.1
                client.idle(0.1)
            assert '/clock arrived' in node_log.read_text(), node_log.read_text()[-2000:]
            assert stop(node) == 0
    finally:
        client.close()
    assert 'Traceback' not in node_log.read_text()


def test_help_and_the_executable_ros2_run_finds():
    """Items 5 and 10: `ros2 run infonet_ros infonet_estimator` runs
    <prefix>/lib/infonet_ros/infonet_estimator; --help prints the usage and every
    parameter, without starting ROS; `estimator` is the same program."""
    from ament_index_python.packages import get_package_prefix

    from infonet_ros.streams import PARAMETERS

    lib = Path(get_package_prefix('infonet_ros')) / 'lib' / 'infonet_ros'
    for name in ('infonet_estimator', 'estimator'):
        exe = lib / name
        assert exe.is_file() and os.access(exe, os.X_OK), exe
        out = subprocess.run([str(exe), '--help'], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith('usage: ros2 run infonet_ros infonet_estimator')
        for parameter in PARAMETERS:
            assert f'\n  {parameter} (' in out.stdout, parameter
        assert '--managed' in out.stdout and '~/estimate' in out.stdout
    out = subprocess.run([str(lib / 'infonet_estimator'), '--bogus'], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and 'unrecognized arguments: --bogus' in out.stderr
