"""The ``infonet_estimator`` node: topics in, mutual information out.

A thin ROS shell around the functional core (streams -> windowing -> pipeline -> graph):

- one subscription per configured topic (sensor-data QoS); each message becomes
  ``(t, value)`` samples of its streams (header stamp, else receive time);
- a timer at ``publish_rate_hz`` takes the newest aligned window (cheap) and hands it to
  the evaluation thread, which evaluates every pair in one batched estimator call and
  publishes. Subscriptions and timers run on one executor thread (rclpy's C++
  EventsExecutor when every input has a header). While a window is evaluated the input
  callbacks wait (messages queue in the middleware for those milliseconds) instead of
  contending for the GIL with every torch op, as long as the last evaluation took at most
  ``INPUT_HOLD_MAX_S`` (so a slow estimator never overflows the reader queues); when the
  evaluation falls behind, the pending window is replaced by the newer one and the
  replaced window is counted as skipped (nothing queues up);
- publishes ``~/mutual_information``, ``~/dependency_graph``, ``~/graph_markers`` and
  ``/diagnostics`` (reliable QoS). Messages the middleware reports lost on an input
  topic are counted per topic in the diagnostics (Fast DDS reports samples lost in
  transport, not those a full KEEP_LAST reader queue overwrote: a node that cannot keep
  up shows as a stream rate below the publisher's).

Run: ``ros2 run infonet_ros estimator --ros-args --params-file config/estimator.yaml``.
"""

from __future__ import annotations

import contextlib
import functools
import math
import signal
import sys
import threading

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.event_handler import SubscriptionEventCallbacks, UnsupportedEventTypeError
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.exceptions import NameValidationException, ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from rclpy.subscription import RCLError
from visualization_msgs.msg import Marker, MarkerArray

from infonet_ros.graph import circle_layout, edge_width
from infonet_ros.pipeline import LatestOnlyWorker, MIPipeline, WindowResult
from infonet_ros.runtime import tune_malloc
from infonet_ros.streams import (NODE_NAME, FieldExtractionError, PipelineConfig,
                                 StreamExtractor)
from infonet_ros.windowing import StreamAligner

# Sensor-data QoS (best effort, volatile) with a deeper queue: at 200 Hz, 100 messages
# cover 0.5 s of the executor thread being held up (GIL, CPU).
SENSOR_QOS = QoSProfile(depth=100, reliability=qos_profile_sensor_data.reliability,
                        durability=qos_profile_sensor_data.durability,
                        history=qos_profile_sensor_data.history)
OUTPUT_QOS = QoSProfile(depth=10)   # reliable, volatile
WARN_PERIOD_S = 5.0                 # throttle for repeated warnings
INPUT_HOLD_MAX_S = 0.05             # input may wait for evaluations up to this long (10 % of
                                    # the reader queue at 200 Hz)

_PARAMETER_HELP = {
    'stream_names': 'stream names; their order is the order in published messages',
    'pairs': "'a:b' stream pairs to evaluate; empty = all pairs",
    'window_size': 'samples per window (N)',
    'sample_rate_hz': 'rate of the common timeline the streams are aligned to',
    'publish_rate_hz': 'windows evaluated per second',
    'device': 'auto | cpu | cuda | cuda:N',
    'model_path': 'InfoNet weights (.safetensors); empty = bundled weights',
    'graph_threshold': 'MI (nats) at or above which a pair is an edge of the graph',
    'estimator': 'infonet | ksg (baseline)',
    'max_gap_s': 'largest gap in a stream interpolated across within a window',
    'stale_after_s': 'a stream without samples for this long is reported stalled',
    'buffer_seconds': 'history kept per stream; 0 = two windows + 2 s',
    'permutations': 'shuffles per pair for permutation p-values; 0 = no p-values',
    'p_value_alpha': 'with permutations > 0, edges also need p <= alpha',
    'marker_frame_id': 'frame_id of the graph markers',
}


def _import_output_messages():
    try:
        from infonet_ros.msg import DependencyGraph, MutualInformation
    except ImportError as exc:
        raise RuntimeError('infonet_ros.msg is not built: build the package (colcon build, '
                           f'or scripts/setup.sh) and source it ({exc})') from exc
    return MutualInformation, DependencyGraph


class InfoNetEstimatorNode(Node):
    """Subscribes to the configured streams and publishes their pairwise MI."""

    def __init__(self, estimator=None, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        self._mi_type, self._graph_type = _import_output_messages()
        self.config = PipelineConfig.from_params(self._declare_parameters())
        self.add_on_set_parameters_callback(self.parameters_callback)
        self.extractor = StreamExtractor(self.config)
        self.aligner = StreamAligner.from_config(self.config)
        self.pipeline = MIPipeline(self.config, estimator)
        self._use_sim_time = self.get_parameter('use_sim_time').value
        self._stats = {'published': 0, 'skipped': 0, 'no_window': 0, 'no_new_data': 0,
                       'errors': 0, 'latency_s': math.nan, 'last_error': ''}
        self._last_tick = None
        self._last_t_end = None
        self._reported = {}
        self._tied = {}             # streams with few distinct values in the last window
        self._tied_logged = set()   # streams named in the log already (once each)

        # Messages without a header are stamped with their reception time; only then is
        # the middleware's MessageInfo needed (see make_executor).
        self.needs_message_info = not all(
            'header' in t.get_fields_and_field_types()
            for t in self.extractor.message_types.values())
        self._lost = {topic: 0 for topic in self.extractor.topics}
        self._subscriptions_by_topic = {}
        for topic in self.extractor.topics:
            try:
                self._subscriptions_by_topic[topic] = self._subscribe(topic)
            except NameValidationException as exc:
                streams = ', '.join(self.extractor.streams_on(topic))
                raise ValueError(f"bad topic '{topic}' of stream(s) {streams}: {exc}") from None
        self.mi_publisher = self.create_publisher(
            self._mi_type, '~/mutual_information', OUTPUT_QOS)
        self.graph_publisher = self.create_publisher(
            self._graph_type, '~/dependency_graph', OUTPUT_QOS)
        self.marker_publisher = self.create_publisher(MarkerArray, '~/graph_markers', OUTPUT_QOS)
        self.diagnostics_publisher = self.create_publisher(
            DiagnosticArray, '/diagnostics', OUTPUT_QOS)
        # Held by the evaluation thread while it evaluates a window: the input callbacks
        # wait for it instead of contending for the GIL with every torch op, which doubled
        # the evaluation time at 1 600 messages/s. Messages wait in the reader queues
        # (SENSOR_QOS: 0.5 s at 200 Hz) for the milliseconds of an evaluation.
        self._evaluating = threading.Lock()
        # evaluation thread with a one-slot mailbox (the newest window wins)
        self._worker = LatestOnlyWorker(self._evaluate, name='infonet_evaluation',
                                        on_error=self._evaluation_failed)
        self.evaluation_timer = self.create_timer(
            1.0 / self.config.publish_rate_hz, self.timer_callback)
        self.diagnostics_timer = self.create_timer(1.0, self.diagnostics_callback)

        streams = ', '.join(f'{n} <- {s.topic} [{s.type}] {s.field}'
                            for n, s in self.config.streams.items())
        self.get_logger().info(
            f'{self.pipeline.method} on {self.pipeline.device}: {len(self.config.pairs)} '
            f'pair(s), windows of {self.config.window_size} samples at '
            f'{self.config.sample_rate_hz} Hz, {self.config.publish_rate_hz} per second; '
            f'streams: {streams}')

    # --- parameters -------------------------------------------------------------------

    def _declare_parameters(self) -> dict:
        """Declare every parameter and return their values as a flat dict.

        Scalars are dynamically typed so that ``sample_rate_hz: 50`` (an integer in YAML)
        reaches PipelineConfig, which checks types and ranges with clear messages. Lists
        are declared as string arrays: an empty YAML list (``pairs: []``) has no type ROS
        can infer and arrives unset.
        """
        defaults = PipelineConfig(stream_names=[], streams={}, pairs=[])
        params = {}
        for name in ('stream_names', 'pairs'):
            value = self._declare(name, Parameter.Type.STRING_ARRAY)
            if value is not None:
                params[name] = list(value)
            elif name == 'pairs':   # `pairs: []` arrives unset; make it a real empty list
                self.set_parameters([Parameter(name, Parameter.Type.STRING_ARRAY, [])])
        for name in _PARAMETER_HELP:
            if name not in ('stream_names', 'pairs'):
                params[name] = self._declare(name, getattr(defaults, name), dynamic=True)
        for stream in params.get('stream_names', []):
            for attr in ('topic', 'type', 'field'):
                key = f'streams.{stream}.{attr}'
                value = self._declare(key, Parameter.Type.STRING)
                if value is not None:
                    params[key] = value
        # Overrides nobody declared (typos, streams missing from stream_names): pass them
        # on so that PipelineConfig names them in its error.
        for key, param in getattr(self, '_parameter_overrides', {}).items():
            if key not in params and not self.has_parameter(key):
                params[key] = param.value
        return params

    def _declare(self, name, value, dynamic=False):
        descriptor = ParameterDescriptor(description=_PARAMETER_HELP.get(name, ''),
                                         dynamic_typing=dynamic)
        try:
            return self.declare_parameter(name, value, descriptor).value
        except ParameterException as exc:
            raise ValueError(f"parameter '{name}': {exc}") from exc

    def parameters_callback(self, params):
        names = ', '.join(p.name for p in params)
        return SetParametersResult(
            successful=False,
            reason=f'{self.get_name()} reads its parameters at start; restart it to change '
                   f'{names}')

    # --- input ------------------------------------------------------------------------

    def _subscribe(self, topic):
        callback = functools.partial(
            self.listener_callback_with_info if self.needs_message_info
            else self.listener_callback, topic)
        msg_type = self.extractor.message_types[topic]
        events = SubscriptionEventCallbacks(
            message_lost=functools.partial(self._message_lost, topic))
        try:
            return self.create_subscription(msg_type, topic, callback, SENSOR_QOS,
                                            event_callbacks=events)
        except UnsupportedEventTypeError:   # an rmw without the lost-message event
            return self.create_subscription(msg_type, topic, callback, SENSOR_QOS)

    def _message_lost(self, topic, event):
        self._lost[topic] = int(event.total_count)

    def listener_callback(self, topic, msg, receive_time=None):
        with self._evaluating:   # input waits while a window is evaluated (see __init__)
            self._add_samples(topic, msg, receive_time)

    def _add_samples(self, topic, msg, receive_time):
        for name, t, value in self.extractor.extract_topic(
                topic, msg, self._now if receive_time is None else receive_time):
            if isinstance(value, FieldExtractionError):
                self.aligner.reject(name, str(value))
                self.get_logger().warning(str(value), throttle_duration_sec=WARN_PERIOD_S)
            else:
                self.aligner.add(name, t, value)

    def listener_callback_with_info(self, topic, msg, info):
        # The middleware's reception stamp is free of executor delays; it is system time,
        # so under simulated time use the node's clock instead.
        stamp_ns = info.get('received_timestamp', 0) if info else 0
        if stamp_ns and not self._use_sim_time:
            return self.listener_callback(topic, msg, stamp_ns * 1e-9)
        return self.listener_callback(topic, msg)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # --- evaluation -------------------------------------------------------------------

    def timer_callback(self):
        now = self.get_clock().now().nanoseconds * 1e-9
        if self._last_tick is not None:
            if now < self._last_tick - 1.0:
                self.get_logger().warning(
                    f'clock jumped back by {self._last_tick - now:.1f} s; restarting windows')
                self.aligner.reset()
                self._last_t_end = None
            else:
                missed = round((now - self._last_tick) * self.config.publish_rate_hz) - 1
                if missed > 0:
                    self._stats['skipped'] += missed
                    self.get_logger().warning(
                        f'the executor fell behind its timer: skipped {missed} window(s) '
                        f"({self._stats['skipped']} in total); too much input for this CPU?",
                        throttle_duration_sec=WARN_PERIOD_S)
        self._last_tick = now

        window = self.aligner.window()
        if window is None:
            self._stats['no_window'] += 1
            return
        if window.t_end == self._last_t_end:
            self._stats['no_new_data'] += 1
            return
        self._last_t_end = window.t_end
        if self._worker.submit(window):   # the previous window had not started yet
            self._stats['skipped'] += 1
            self.get_logger().warning(
                f"evaluation falls behind: skipped a window ({self._stats['skipped']} in "
                'total); lower publish_rate_hz or window_size, or use a GPU',
                throttle_duration_sec=WARN_PERIOD_S)

    def _evaluate(self, window):
        """On the evaluation thread: evaluate one window and publish the results."""
        last = self._stats['latency_s']
        hold = self._evaluating if last <= INPUT_HOLD_MAX_S else contextlib.nullcontext()
        with hold:   # NaN (first window: torch warms up) compares False: input keeps going
            result = self.pipeline.evaluate(window)
        for note in result.notes:
            self.get_logger().warning(note, throttle_duration_sec=WARN_PERIOD_S)
        self._tied = result.tied
        for name, (levels, top) in result.tied.items():
            if name not in self._tied_logged:
                self._tied_logged.add(name)
                self.get_logger().info(
                    f"stream '{name}' has tied values: {levels} distinct value(s) in a window "
                    f'of {result.window_size} samples, the most common in {100 * top:.0f} % '
                    '(binary, quantised or saturated); its ties are broken pseudo-randomly '
                    'per pair, which keeps its MI (README: tied data)')
        self._stats['latency_s'] = result.latency_s
        self._stats['published'] += 1
        self.mi_publisher.publish(to_mutual_information(result, self._mi_type))
        self.graph_publisher.publish(to_dependency_graph(result, self.config, self._graph_type))
        self.marker_publisher.publish(to_marker_array(result, self.config.marker_frame_id))

    def _evaluation_failed(self, exc):
        # keep the node alive; the error goes to diagnostics
        self._stats['errors'] += 1
        self._stats['last_error'] = f'{type(exc).__name__}: {exc}'
        self.get_logger().error(f'evaluation failed: {self._stats["last_error"]}',
                                throttle_duration_sec=WARN_PERIOD_S)

    def destroy_node(self):
        """Stop the evaluation thread (after the window it is on), then the node."""
        worker = getattr(self, '_worker', None)   # None: the constructor failed earlier
        if worker is not None:
            worker.close()
        return super().destroy_node()

    # --- diagnostics ------------------------------------------------------------------

    def diagnostics_callback(self):
        diag = self.aligner.diagnostics()
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.status.append(self._estimator_status(diag))
        for name, stream in diag['streams'].items():
            msg.status.append(self._stream_status(name, stream))
        self.diagnostics_publisher.publish(msg)

    def _estimator_status(self, diag) -> DiagnosticStatus:
        s = self._stats
        status = DiagnosticStatus(name=f'{self.get_name()}: estimator',
                                  hardware_id=self.pipeline.device)
        new_errors = self._changed('errors', s['errors'])
        new_skips = self._changed('skipped', s['skipped'])
        if s['published'] == 0 and diag['last_reason']:
            status.level, status.message = DiagnosticStatus.WARN, \
                f"no window yet: {diag['last_reason']}"
        elif new_errors:
            status.level, status.message = DiagnosticStatus.ERROR, s['last_error']
        elif new_skips:
            status.level, status.message = DiagnosticStatus.WARN, \
                'evaluation falls behind; windows skipped'
        else:
            status.level, status.message = DiagnosticStatus.OK, \
                f"{s['published']} windows, last took {1e3 * s['latency_s']:.1f} ms"
        status.values = _key_values({
            'method': self.pipeline.method, 'device': self.pipeline.device,
            'window_size': self.config.window_size, 'pairs': len(self.config.pairs),
            'windows_published': s['published'], 'windows_skipped': s['skipped'],
            'windows_unavailable': s['no_window'], 'windows_without_new_data':
            s['no_new_data'], 'evaluation_errors': s['errors'],
            'window_latency_s': s['latency_s'], 'last_error': s['last_error'],
            'last_reason': diag['last_reason'], 'buffer_resets': diag['resets'],
        })
        if self._changed('resets', diag['resets']):
            self.get_logger().warning(
                'stream time jumped back (bag restarted or clock reset): windows restarted '
                f"({diag['resets']} time(s))")
        return status

    def _stream_status(self, name, stream) -> DiagnosticStatus:
        spec = self.config.streams[name]
        status = DiagnosticStatus(name=f'{self.get_name()}: stream {name}',
                                  hardware_id=spec.topic)
        dropped = (stream['dropped_late'] + stream['dropped_nonfinite']
                   + stream['errors'])
        problems = []
        if stream['stalled']:
            problems.append('stalled' if stream['count'] else 'no data')
        if self._changed(f'{name}.dropped', dropped):
            problems.append('samples dropped')
            self.get_logger().warning(
                f"stream '{name}' ({spec.topic} {spec.field}): dropped "
                f"{stream['dropped_late']} late, {stream['dropped_nonfinite']} non-finite, "
                f"{stream['errors']} unreadable sample(s) so far {stream['last_error']}",
                throttle_duration_sec=WARN_PERIOD_S)
        lost = self._lost.get(spec.topic, 0)
        if self._changed(f'{name}.lost', lost):
            problems.append('messages lost')
            self.get_logger().warning(
                f'topic {spec.topic}: the middleware reports {lost} message(s) lost in '
                'transport so far',
                throttle_duration_sec=WARN_PERIOD_S)
        if stream['upsampled'] and not self._reported.get(f'{name}.upsampled'):
            self._reported[f'{name}.upsampled'] = True
            self.get_logger().info(
                f"stream '{name}' arrives at {stream['rate_hz']:.1f} Hz, slower than "
                f'sample_rate_hz {self.config.sample_rate_hz}: it is interpolated, and '
                'neighbouring samples of a window are not independent')
        if stream.get('blended'):
            problems.append('blended by resampling')
            if not self._reported.get(f'{name}.blended'):
                self._reported[f'{name}.blended'] = True
                self.get_logger().warning(
                    f"stream '{name}' changes completely from one sample to the next (lag-1 "
                    f"autocorrelation {stream['lag1_autocorrelation']:.2f} at "
                    f"{stream['suggested_sample_rate_hz']:.1f} Hz) and the "
                    f'{self.config.sample_rate_hz:g} Hz timeline falls between its samples: '
                    'its grid values blend independent samples, which lowers its MI with '
                    'streams stamped at other times; set sample_rate_hz to '
                    f"{stream['suggested_sample_rate_hz']:g} (its rate) or a divisor of it "
                    '(README: choosing sample_rate_hz)')
        tied = self._tied.get(name)
        status.level = DiagnosticStatus.WARN if problems else DiagnosticStatus.OK
        status.message = ', '.join(problems) or f"{stream['rate_hz']:.1f} Hz"
        if tied is not None:
            status.message += f', tied: {tied[0]} distinct values in the last window'
        status.values = _key_values({
            'topic': spec.topic, 'type': spec.type, 'field': spec.field,
            'messages_lost': lost, **stream,
            'distinct_values': tied[0] if tied else '',
            'most_common_share': tied[1] if tied else ''})
        return status

    def _changed(self, key, value) -> bool:
        changed = value != self._reported.get(key, 0)
        self._reported[key] = value
        return changed


# --- core results -> messages (pure functions, no node needed) ------------------------

def to_time_msg(t: float):
    from builtin_interfaces.msg import Time
    sec = math.floor(t)
    nanosec = int(round((t - sec) * 1e9))
    if nanosec >= 1_000_000_000:
        sec, nanosec = sec + 1, nanosec - 1_000_000_000
    return Time(sec=int(sec), nanosec=nanosec)


def to_mutual_information(result: WindowResult, msg_type):
    msg = msg_type()
    msg.header.stamp = to_time_msg(result.t_end)
    msg.window_start = to_time_msg(result.t_start)
    msg.window_size = result.window_size
    msg.streams = list(result.streams)
    msg.pair_first = [int(i) for i, _ in result.pairs]
    msg.pair_second = [int(j) for _, j in result.pairs]
    msg.mi = [float(v) for v in result.mi]
    msg.p_value = [float(v) for v in result.p_value]
    msg.method = result.method
    msg.device = result.device
    msg.latency = float(result.latency_s)
    return msg


def to_dependency_graph(result: WindowResult, config: PipelineConfig, msg_type):
    msg = msg_type()
    msg.header.stamp = to_time_msg(result.t_end)
    msg.nodes = list(result.streams)
    msg.edge_from = [min(i, j) for i, j, _, _ in result.edges]
    msg.edge_to = [max(i, j) for i, j, _, _ in result.edges]
    msg.weight = [float(w) for _, _, w, _ in result.edges]
    msg.p_value = [float(p) for _, _, _, p in result.edges]
    msg.method = 'permutation_test' if config.permutations > 0 else 'threshold'
    msg.threshold = float(config.graph_threshold)
    return msg


def to_marker_array(result: WindowResult, frame_id: str, radius: float = 1.0) -> MarkerArray:
    """Streams on a circle with labels; one line per edge, wider for larger MI."""
    stamp = to_time_msg(result.t_end)
    positions = circle_layout(len(result.streams), radius)
    markers = [Marker(action=Marker.DELETEALL)]

    def marker(ns, ident, kind, **fields):
        m = Marker(ns=ns, id=ident, type=kind, action=Marker.ADD, **fields)
        m.header.frame_id, m.header.stamp = frame_id, stamp
        m.pose.orientation.w = 1.0
        return m

    for k, name in enumerate(result.streams):
        x, y = (float(v) for v in positions[k])
        node = marker('infonet/nodes', k, Marker.SPHERE)
        node.pose.position.x, node.pose.position.y = x, y
        node.scale.x = node.scale.y = node.scale.z = 0.12
        node.color.r, node.color.g, node.color.b, node.color.a = 0.2, 0.5, 0.9, 1.0
        label = marker('infonet/labels', k, Marker.TEXT_VIEW_FACING, text=name)
        label.pose.position.x, label.pose.position.y = 1.25 * x, 1.25 * y
        label.pose.position.z = 0.1
        label.scale.z = 0.1
        label.color.r = label.color.g = label.color.b = label.color.a = 1.0
        markers += [node, label]
    for e, (i, j, w, _) in enumerate(result.edges):
        line = marker('infonet/edges', e, Marker.LINE_LIST)
        line.points = [Point(x=float(positions[i][0]), y=float(positions[i][1])),
                       Point(x=float(positions[j][0]), y=float(positions[j][1]))]
        line.scale.x = edge_width(w)
        line.color.r, line.color.g, line.color.b, line.color.a = 1.0, 0.4, 0.1, 0.9
        text = marker('infonet/edge_labels', e, Marker.TEXT_VIEW_FACING, text=f'{w:.2f}')
        mid = (positions[i] + positions[j]) / 2
        text.pose.position.x, text.pose.position.y = float(mid[0]), float(mid[1])
        text.scale.z = 0.08
        text.color.r = text.color.g = text.color.b = text.color.a = 1.0
        markers += [line, text]
    return MarkerArray(markers=markers)


def _key_values(values: dict) -> list:
    def text(v):
        if isinstance(v, float):
            # epoch stamps (~1.8e9 s) keep millisecond resolution; small values 6 digits
            return f'{v:.3f}' if abs(v) >= 1e5 else f'{v:.6g}'
        return '' if v is None else str(v)
    return [KeyValue(key=k, value=text(v)) for k, v in values.items()]


def make_executor(needs_message_info: bool = False):
    """One executor thread for subscriptions and timers (evaluation has its own thread).

    rclpy's EventsExecutor dispatches from C++: 8 x 200 Hz IMU streams cost it ~20 % of a
    core, against ~55 % for the SingleThreadedExecutor and a saturated core (with lost
    messages) for a MultiThreadedExecutor. It cannot hand a callback the middleware's
    MessageInfo (SystemError in this rclpy), whose reception stamp is the only exact time
    of a message without a header; so it is used when every input has a header, and the
    SingleThreadedExecutor otherwise (or where rclpy has no EventsExecutor).
    """
    if not needs_message_info:
        try:
            from rclpy.experimental import EventsExecutor
            return EventsExecutor()
        except ImportError:
            pass
    return SingleThreadedExecutor()


def main(args=None):
    tune_malloc()   # InfoNet on the CPU: no page faults for its temporaries (runtime.py)
    # The evaluation thread releases the GIL in every torch op and must win it back from
    # the executor thread (input callbacks, timers; see INPUT_HOLD_MAX_S for when input
    # waits instead); with the default 5 ms switch interval each of the ~200 ops of a
    # forward pass can wait that long (seconds per window). 0.1 ms keeps it short.
    sys.setswitchinterval(1e-4)
    # Own signal handling: the first SIGINT/SIGTERM asks the spin loop to stop, later
    # ones (launch sends SIGINT twice on ctrl-C) are ignored while we clean up.
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except RCLError as exc:   # e.g. a parameters file that is missing or not valid YAML
        rclpy.logging.get_logger(NODE_NAME).fatal(f'cannot start: {exc}')
        return 1
    try:
        node = InfoNetEstimatorNode()
    except (ValueError, RuntimeError, TypeError, OSError) as exc:
        rclpy.logging.get_logger(NODE_NAME).fatal(f'cannot start: {exc}')
        rclpy.try_shutdown()
        return 1
    executor = make_executor(node.needs_message_info)
    executor.add_node(node)
    node.get_logger().info(f'executor: {type(executor).__name__}')
    try:
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
