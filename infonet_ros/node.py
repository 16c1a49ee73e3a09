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
  up shows as a stream rate below the publisher's), and so is every message taken and
  every sample accepted or dropped on arrival, with the reason (``_input_totals``); a
  publisher of another type on a configured topic, a stalled stream and time jumps are
  named once in the log (README: what the node does when things go wrong);
- answers ``~/estimate`` (infonet_ros/srv/Estimate): MI of two arrays the caller holds, or
  of named stream pairs of the newest window;
- parameters follow one schema (``streams.PARAMETERS``): run-time ones are applied on
  ``ros2 param set`` after validation, the others are read-only.

Two flavours share everything but the start-up: ``InfoNetEstimatorNode`` configures and
activates itself in its constructor; ``ManagedInfoNetEstimatorNode`` (``--managed``) is a
lifecycle node that waits for a lifecycle manager: configure validates the streams, loads
the model and creates the publishers, activate subscribes and starts the timers,
deactivate and cleanup undo them.

Run: ``ros2 run infonet_ros infonet_estimator --ros-args --params-file config/estimator.yaml``
(``--help`` lists the parameters).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import math
import signal
import sys
import threading

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.clock import Clock, ClockType
from rclpy.event_handler import SubscriptionEventCallbacks, UnsupportedEventTypeError
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.exceptions import NameValidationException, ParameterException
from rclpy.expand_topic_name import expand_topic_name
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.logging import LoggingSeverity
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from rclpy.subscription import RCLError
from rclpy.utilities import remove_ros_args
from rclpy.validate_full_topic_name import validate_full_topic_name
from visualization_msgs.msg import Marker, MarkerArray

from infonet_ros.graph import circle_layout, edge_width
from infonet_ros.pipeline import (EstimateResult, LatestOnlyWorker, MIPipeline, RequestError,
                                  WindowResult)
from infonet_ros.runtime import tune_malloc
from infonet_ros.streams import (NODE_NAME, PARAMETERS, STREAM_ATTRIBUTES,
                                 FieldExtractionError, ParameterSpec, PipelineConfig,
                                 StreamExtractor, apply_changes, check_change)
from infonet_ros.windowing import StreamAligner

# Sensor-data QoS (best effort, volatile) with a deeper queue: at 200 Hz, 100 messages
# cover 0.5 s of the executor thread being held up (GIL, CPU).
SENSOR_QOS = QoSProfile(depth=100, reliability=qos_profile_sensor_data.reliability,
                        durability=qos_profile_sensor_data.durability,
                        history=qos_profile_sensor_data.history)
OUTPUT_QOS = QoSProfile(depth=10)   # reliable, volatile
WARN_PERIOD_S = 5.0                 # throttle for repeated warnings
DEBUG_PERIOD_S = 1.0                # throttle for repeated debug lines
INPUT_HOLD_MAX_S = 0.05             # input may wait for evaluations up to this long (10 % of
                                    # the reader queue at 200 Hz)
CLOCK_WAIT_S = 2.0                  # use_sim_time: say that we wait for /clock after this long
_STEADY = ClockType.STEADY_TIME     # timers that must run without /clock (diagnostics)


def _import_interfaces():
    try:
        from infonet_ros.msg import DependencyGraph, MutualInformation
        from infonet_ros.srv import Estimate
    except ImportError as exc:
        raise RuntimeError('infonet_ros.msg / infonet_ros.srv are not built: build the '
                           'package (colcon build, or scripts/setup.sh) and source it '
                           f'({exc})') from exc
    return MutualInformation, DependencyGraph, Estimate


_ROS_TYPES = {bool: Parameter.Type.BOOL, int: Parameter.Type.INTEGER, float: Parameter.Type.DOUBLE,
              str: Parameter.Type.STRING, list: Parameter.Type.STRING_ARRAY}


def parameter_descriptor(spec: ParameterSpec) -> ParameterDescriptor:
    """The ROS descriptor of a schema entry (what ``ros2 param describe`` shows)."""
    how = ('can change at run time (ros2 param set)' if spec.runtime
           else 'read-only: restart the node to change it')
    descriptor = ParameterDescriptor(
        name=spec.name, type=_ROS_TYPES[spec.kind].value,
        description=f'{spec.description} [{how}]', read_only=not spec.runtime)
    if spec.low is not None and spec.kind is int:
        descriptor.integer_range = [IntegerRange(
            from_value=int(spec.low), to_value=int(spec.high), step=1)]
    elif spec.low is not None:
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(spec.low), to_value=float(spec.high), step=0.0)]
    if spec.low_open:
        descriptor.additional_constraints = f'> {spec.low:g}'
    elif spec.choices:
        descriptor.additional_constraints = f"one of: {', '.join(repr(c) for c in spec.choices)}"
    return descriptor


class _EstimatorNode:
    """What the plain and the managed node share (a mixin over rclpy's Node).

    ``_configure`` / ``_activate`` / ``_deactivate`` / ``_cleanup`` are the lifecycle steps;
    the plain node runs the first two in its constructor.
    """

    def _setup(self, estimator=None):
        """Declare the parameters, start the ~/estimate service; no streams yet."""
        self._estimator = estimator   # tests hand in a fast estimator; None = the config's
        self._mi_type, self._graph_type, self._estimate_type = _import_interfaces()
        self._params = self._declare_parameters()
        self._apply_log_level(self._params.get('log_level', ''))
        self.add_on_set_parameters_callback(self.validate_parameters_callback)
        self.add_post_set_parameters_callback(self.apply_parameters_callback)
        self.config = self.extractor = self.aligner = self.pipeline = None
        self._worker = None
        self._subscriptions_by_topic = {}
        self._output_publishers = []
        self.evaluation_timer = self.diagnostics_timer = None
        self._use_sim_time = self.get_parameter('use_sim_time').value
        self._waiting_for_clock = False
        self._clock_timer = None
        if self._use_sim_time:
            self._clock_timer = self.create_timer(
                CLOCK_WAIT_S, self.clock_check_callback, clock=Clock(clock_type=_STEADY))
        self.estimate_service = self.create_service(
            self._estimate_type, '~/estimate', self.estimate_callback)

    # --- parameters -------------------------------------------------------------------

    def _declare_parameters(self) -> dict:
        """Declare every parameter (descriptors from the schema); return the values set.

        Lists are declared as string arrays without a default: an empty YAML list
        (``pairs: []``) has no type ROS can infer and arrives unset; ``stream_names``
        has no default and stays out of the result when missing (PipelineConfig names it).
        """
        params = {}
        for spec in PARAMETERS.values():
            if spec.kind is list:
                value = self._declare(spec.name, Parameter.Type.STRING_ARRAY,
                                      parameter_descriptor(spec))
                if value is not None:
                    params[spec.name] = list(value)
                elif spec.runtime:   # `pairs: []` arrives unset; make it a real empty list
                    self.set_parameters([Parameter(spec.name, Parameter.Type.STRING_ARRAY,
                                                   [])])
            else:
                params[spec.name] = self._declare(spec.name, spec.default,
                                                  parameter_descriptor(spec))
        for stream in params.get('stream_names', []):
            for attr, help_text in STREAM_ATTRIBUTES.items():
                key = f'streams.{stream}.{attr}'
                descriptor = ParameterDescriptor(
                    name=key, description=help_text.format(name=stream) +
                    ' [read-only: restart the node to change it]', read_only=True)
                # a vector stream's field is a list of paths (a string array)
                override = getattr(self, '_parameter_overrides', {}).get(key)
                kind = Parameter.Type.STRING_ARRAY if attr == 'field' and override is not None \
                    and override.type_ == Parameter.Type.STRING_ARRAY else Parameter.Type.STRING
                value = self._declare(key, kind, descriptor)
                if value is not None:
                    params[key] = list(value) if kind == Parameter.Type.STRING_ARRAY else value
        # Overrides nobody declared (typos, streams missing from stream_names): pass them
        # on so that PipelineConfig names them in its error. rclpy keeps the overrides of
        # the command line and parameter files only in this attribute; without it the
        # typo check is skipped (the node then just ignores the undeclared names).
        for key, param in getattr(self, '_parameter_overrides', {}).items():
            if key not in params and not self.has_parameter(key):
                params[key] = param.value
        return params

    def _declare(self, name, value, descriptor):
        try:
            return self.declare_parameter(name, value, descriptor).value
        except ParameterException as exc:
            spec = PARAMETERS.get(name)
            expected = f'{spec.expected()} ({spec.description})' if spec else 'a string'
            hint = '; floating-point values need a decimal point (50.0, not 50)' \
                if spec and spec.kind is float else ''
            raise ValueError(f"parameter '{name}' must be {expected}{hint}; rclpy: {exc}") \
                from exc

    def validate_parameters_callback(self, params):
        """``ros2 param set``: refuse, with the reason, what the schema does not allow."""
        changes = {p.name: p.value for p in params
                   if p.name in PARAMETERS or p.name.startswith('streams.')}
        try:
            if self.config is None:   # not configured: configure checks the whole set
                for name, value in changes.items():
                    check_change(name, value)
            elif changes:
                apply_changes(self._params, changes)
        except ValueError as exc:
            self.get_logger().warning(f'parameter change refused: {exc}')
            return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def apply_parameters_callback(self, params):
        """After a successful ``ros2 param set``: use the new values from now on."""
        changes = {p.name: p.value for p in params if p.name in PARAMETERS}
        if not changes:
            return
        self._params = {**self._params, **changes}
        for name, value in changes.items():
            self.get_logger().info(f'parameter {name} set to {value!r}')
        if 'log_level' in changes:
            self._apply_log_level(changes['log_level'])
        if self.config is None:
            return
        config = PipelineConfig.from_params(self._params)   # checked by the callback above
        self.config = self.pipeline.config = config
        self.aligner.max_gap_s, self.aligner.stale_after_s = config.max_gap_s, \
            config.stale_after_s
        if 'publish_rate_hz' in changes and self.evaluation_timer is not None:
            # a new timer rather than a new period: every executor picks that up
            self.destroy_timer(self.evaluation_timer)
            self.evaluation_timer = self.create_timer(
                1.0 / config.publish_rate_hz, self.timer_callback)

    def _apply_log_level(self, level: str):
        # This node's logger only: `--ros-args --log-level debug` also turns on every
        # rcl/rmw logger (thousands of lines a second).
        if level:
            self.get_logger().set_level(LoggingSeverity[level.upper()])
            self.get_logger().debug(f'log level {level}')

    # --- lifecycle steps --------------------------------------------------------------

    def _configure(self):
        """Validate the streams, load the model, create the publishers (ValueError if bad)."""
        config = PipelineConfig.from_params(self._params)
        extractor = StreamExtractor(config)
        for topic in extractor.topics:
            try:
                validate_full_topic_name(expand_topic_name(
                    topic, self.get_name(), self.get_namespace()))
            except (NameValidationException, ValueError) as exc:
                streams = ', '.join(extractor.streams_on(topic))
                raise ValueError(f"bad topic '{topic}' of stream(s) {streams}: {exc}") from None
        self.pipeline = MIPipeline(config, self._estimator)
        self.config, self.extractor = config, extractor
        self._warn_without_null()
        self.aligner = StreamAligner.from_config(config)
        self._stats = {'published': 0, 'skipped': 0, 'no_window': 0, 'no_new_data': 0,
                       'errors': 0, 'latency_s': math.nan, 'last_error': ''}
        self._reported = {}
        self._tied = {}             # streams with few distinct values in the last window
        self._tied_logged = set()   # streams named in the log already (once each)
        self._lost = {topic: 0 for topic in extractor.topics}
        self._received = {topic: 0 for topic in extractor.topics}   # messages taken per topic
        self._type_mismatch = {}    # topic -> types other publishers offer on it (see below)
        self._first_message = set(extractor.topics)   # topics not heard from yet
        self.mi_publisher = self._output_publisher(self._mi_type, '~/mutual_information')
        self.graph_publisher = self._output_publisher(self._graph_type, '~/dependency_graph')
        self.marker_publisher = self._output_publisher(MarkerArray, '~/graph_markers')
        self.diagnostics_publisher = self._output_publisher(DiagnosticArray, '/diagnostics')
        # Held by the evaluation thread while it evaluates a window: the input callbacks
        # wait for it instead of contending for the GIL with every torch op, which doubled
        # the evaluation time at 1 600 messages/s. Messages wait in the reader queues
        # (SENSOR_QOS: 0.5 s at 200 Hz) for the milliseconds of an evaluation.
        self._evaluating = threading.Lock()

        streams = ', '.join(f'{n} <- {s.topic} [{s.type}] {s.field}'
                            for n, s in config.streams.items())
        self.get_logger().info(
            f'{self.pipeline.method} on {self.pipeline.device}: {len(config.pairs)} '
            f'pair(s), windows of {config.window_size} samples at '
            f'{config.sample_rate_hz} Hz, {config.publish_rate_hz} per second; '
            f'streams: {streams}')

    def _warn_without_null(self):
        """Say once, at start-up, when p-values cannot be calibrated (NaN p-values; the
        graph falls back to the threshold)."""
        if self.pipeline.null_warning and self.config.permutations == 0:
            self.get_logger().warning(self.pipeline.null_warning)

    def _activate(self):
        """Subscribe and start the evaluation and diagnostics timers."""
        self.aligner.reset()   # samples from before an inactive spell would leave a gap
        self._last_tick = None
        self._last_t_end = None
        for topic in self.extractor.topics:
            self._subscriptions_by_topic[topic] = self._subscribe(topic)
            self.get_logger().debug(
                f'subscribed to {topic} [{self.extractor.topics[topic]}] for stream(s) '
                f"{', '.join(self.extractor.streams_on(topic))}")
        # evaluation thread with a one-slot mailbox (the newest window wins)
        self._worker = LatestOnlyWorker(self._evaluate, name='infonet_evaluation',
                                        on_error=self._evaluation_failed)
        self.evaluation_timer = self.create_timer(
            1.0 / self.config.publish_rate_hz, self.timer_callback)
        # steady clock: diagnostics also flow while the node waits for /clock
        self.diagnostics_timer = self.create_timer(
            1.0, self.diagnostics_callback, clock=Clock(clock_type=_STEADY))

    def _deactivate(self):
        """Unsubscribe, stop the timers, let the window being evaluated finish."""
        for timer in (self.evaluation_timer, self.diagnostics_timer):
            if timer is not None:
                self.destroy_timer(timer)
        self.evaluation_timer = self.diagnostics_timer = None
        for subscription in self._subscriptions_by_topic.values():
            self.destroy_subscription(subscription)
        self._subscriptions_by_topic = {}
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def _cleanup(self):
        """Release the publishers and the model (back to 'unconfigured')."""
        for publisher in self._output_publishers:
            self._destroy_output_publisher(publisher)
        self._output_publishers = []
        self.config = self.extractor = self.aligner = self.pipeline = None

    @property
    def needs_message_info(self) -> bool:
        """Messages without a header are stamped with their reception time; only then is
        the middleware's MessageInfo needed (see make_executor)."""
        return bool(self.headerless_streams())

    def headerless_streams(self) -> list[str]:
        """Streams whose messages have no header (from the parameters; [] if unreadable)."""
        try:
            config = self.config or PipelineConfig.from_params(self._params)
            extractor = self.extractor or StreamExtractor(config)
        except ValueError:   # the start-up reports it; until then assume headers
            return []
        return [name for name in config.stream_names
                if 'header' not in extractor.message_types[
                    config.streams[name].topic].get_fields_and_field_types()]

    def destroy_node(self):
        """Stop the evaluation thread (after the window it is on), then the node."""
        worker = getattr(self, '_worker', None)   # None: not active, or start-up failed
        if worker is not None:
            worker.close()
        return super().destroy_node()

    # --- input ------------------------------------------------------------------------

    def _subscribe(self, topic):
        callback = functools.partial(
            self.listener_callback_with_info if self.needs_message_info
            else self.listener_callback, topic)
        msg_type = self.extractor.message_types[topic]
        lost = functools.partial(self._message_lost, topic)
        mismatch = functools.partial(self._incompatible_type, topic)
        for events in (SubscriptionEventCallbacks(message_lost=lost, incompatible_type=mismatch),
                       SubscriptionEventCallbacks(message_lost=lost)):
            try:
                return self.create_subscription(msg_type, topic, callback, SENSOR_QOS,
                                                event_callbacks=events)
            except UnsupportedEventTypeError:   # an rmw without one of these events
                continue
        return self.create_subscription(msg_type, topic, callback, SENSOR_QOS)

    def _message_lost(self, topic, event):
        self._lost[topic] = int(event.total_count)

    def _incompatible_type(self, topic, event=None):
        """The middleware's incompatible-type event (where the rmw raises it)."""
        self._check_publisher_types(topic, event_fired=True)

    def _check_publisher_types(self, topic, event_fired=False):
        """Publishers on ``topic`` that offer another message type: DDS never delivers their
        messages here, so the stream only looks silent. Named once per change (log, and the
        stream's /diagnostics status); checked on every diagnostics tick from the ROS graph,
        because Fast DDS raises no incompatible-type event for it."""
        expected = self.extractor.topics[topic]
        try:
            offered = sorted({info.topic_type for info in self.get_publishers_info_by_topic(
                self.resolve_topic_name(topic)) if info.topic_type != expected})
        except Exception:  # noqa: BLE001 - a graph query must never stop the diagnostics
            offered = []
        if event_fired and not offered:
            offered = ['(unknown)']
        if offered == self._type_mismatch.get(topic, []):
            return
        self._type_mismatch[topic] = offered
        streams = ', '.join(self.extractor.streams_on(topic))
        if offered:
            self.get_logger().error(
                f"topic {topic}: a publisher offers type {', '.join(offered)}, but stream(s) "
                f'{streams} expect {expected}: its messages never reach this node (fix the '
                'publisher or streams.<name>.type)')
        else:
            self.get_logger().info(f'topic {topic}: no publisher of another type any more')

    def listener_callback(self, topic, msg, receive_time=None):
        if topic not in self._subscriptions_by_topic:
            return   # queued before deactivate (the EventsExecutor still delivers it)
        self._received[topic] += 1
        if topic in self._first_message:
            self._first_message.discard(topic)
            self.get_logger().debug(f'first message on {topic}')
        with self._evaluating:   # input waits while a window is evaluated (see _configure)
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

    def clock_check_callback(self):
        """use_sim_time: say once that the node waits for /clock, and when it arrives."""
        if self.get_clock().now().nanoseconds > 0:
            if self._waiting_for_clock:
                self.get_logger().info('/clock arrived: running on simulated time')
            self._waiting_for_clock = False
            self.destroy_timer(self._clock_timer)
            self._clock_timer = None
        elif not self._waiting_for_clock:
            self._waiting_for_clock = True
            self.get_logger().warning(
                'use_sim_time is true and no /clock message has arrived: waiting for /clock '
                '(e.g. a bag replayed with --clock); no windows, MI or graph until it does')

    # --- on-demand service --------------------------------------------------------------

    def estimate_callback(self, request, response):
        """~/estimate: MI of x and y, or of stream pairs of the newest window."""
        try:
            result = self._estimate_request(request)
        except RequestError as exc:
            response.success, response.error = False, str(exc)
            self.get_logger().debug(f'~/estimate refused: {exc}')
            return response
        except Exception as exc:  # noqa: BLE001 - a request must never take the node down
            response.success = False
            response.error = f'estimation failed: {type(exc).__name__}: {exc}'
            self.get_logger().error(f'~/estimate: {response.error}')
            return response
        fill_estimate_response(response, result)
        self.get_logger().debug(
            f"~/estimate: {', '.join(f'{p} {v:.3f}' for p, v in zip(result.pairs, result.mi))}"
            f' nats (N = {result.window_size})')
        return response

    def _estimate_request(self, request) -> EstimateResult:
        pipeline, config, aligner = self.pipeline, self.config, self.aligner
        if pipeline is None:
            raise RequestError('the node is not configured (lifecycle state unconfigured): '
                               'configure it first')
        arrays = len(request.x) > 0 or len(request.y) > 0
        if arrays and len(request.pairs) > 0:
            raise RequestError('set either x and y, or pairs, not both')
        if arrays:
            return pipeline.estimate_arrays(request.x, request.y)
        if len(request.pairs) == 0:
            raise RequestError("empty request: set x and y (paired samples of equal length), "
                               "or pairs ('a:b' stream names)")
        if self.evaluation_timer is None:
            window, why = None, 'the node is not active'
        else:
            window = aligner.window()
            why = aligner.last_reason
        return pipeline.estimate_window_pairs(window, list(request.pairs), config, why)

    # --- evaluation -------------------------------------------------------------------

    def timer_callback(self):
        if self._worker is None:
            return   # a tick queued before deactivate
        now = self.get_clock().now().nanoseconds * 1e-9
        if self._last_tick is not None:
            if now < self._last_tick - 1.0:
                # throttled: two clocks publishing /clock (a bag replayed beside a
                # simulator) would otherwise warn on every tick
                self.get_logger().warning(
                    f'clock jumped back by {self._last_tick - now:.1f} s; restarting windows',
                    throttle_duration_sec=WARN_PERIOD_S)
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
            self.get_logger().debug(f'no window yet: {self.aligner.last_reason}',
                                    throttle_duration_sec=DEBUG_PERIOD_S)
            return
        if window.t_end == self._last_t_end:
            self._stats['no_new_data'] += 1
            self.get_logger().debug('no new data since the last window',
                                    throttle_duration_sec=DEBUG_PERIOD_S)
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
        config = self.config   # one snapshot per window (parameters may change meanwhile)
        last = self._stats['latency_s']
        hold = self._evaluating if last <= INPUT_HOLD_MAX_S else contextlib.nullcontext()
        with hold:   # NaN (first window: torch warms up) compares False: input keeps going
            result = self.pipeline.evaluate(window, config)
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
        self.graph_publisher.publish(to_dependency_graph(result, config, self._graph_type))
        self.marker_publisher.publish(to_marker_array(result, config.marker_frame_id))
        if len(result.mi):
            top = max(range(len(result.mi)), key=lambda p: result.mi[p])
            a, b = (result.streams[k] for k in result.pairs[top])
            self.get_logger().debug(
                f'window ending {result.t_end:.3f}: {len(result.pairs)} pair(s) in '
                f'{1e3 * result.latency_s:.1f} ms, {len(result.edges)} edge(s), highest MI '
                f'{a}:{b} {result.mi[top]:.3f} nats')

    def _evaluation_failed(self, exc):
        # keep the node alive; the error goes to diagnostics
        self._stats['errors'] += 1
        self._stats['last_error'] = f'{type(exc).__name__}: {exc}'
        self.get_logger().error(f'evaluation failed: {self._stats["last_error"]}',
                                throttle_duration_sec=WARN_PERIOD_S)

    # --- diagnostics ------------------------------------------------------------------

    def diagnostics_callback(self):
        if self.diagnostics_timer is None:
            return   # a tick queued before deactivate
        diag = self.aligner.diagnostics()
        for topic in self.extractor.topics:
            self._check_publisher_types(topic)
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.status.append(self._estimator_status(diag))
        for name, stream in diag['streams'].items():
            msg.status.append(self._stream_status(name, stream))
        self.diagnostics_publisher.publish(msg)

    def _estimator_status(self, diag) -> DiagnosticStatus:
        s = self._stats
        # Named by the fully qualified node name: instances in two namespaces stay apart.
        status = DiagnosticStatus(name=f'{self.get_fully_qualified_name()}: estimator',
                                  hardware_id=self.pipeline.device)
        new_errors = self._changed('errors', s['errors'])
        new_skips = self._changed('skipped', s['skipped'])
        if self._waiting_for_clock:
            status.level, status.message = DiagnosticStatus.WARN, \
                'waiting for /clock (use_sim_time is true)'
        elif s['published'] == 0 and diag['last_reason']:
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
            'time_jumps_forward': diag['jumps_forward'],
            **self._input_totals(diag),
        })
        if self._changed('resets', diag['resets']):
            self.get_logger().warning(
                'stream time jumped back (bag restarted or clock reset): windows restarted '
                f"({diag['resets']} time(s))")
        self._log_forward_jump(diag)
        return status

    def _stream_status(self, name, stream) -> DiagnosticStatus:
        # ``name`` is a window column: a scalar stream, or one component of a vector stream
        spec = self.config.streams[self.config.column_stream[name]]
        field = spec.fields[spec.columns.index(name)]
        status = DiagnosticStatus(name=f'{self.get_fully_qualified_name()}: stream {name}',
                                  hardware_id=spec.topic)
        dropped = (stream['dropped_late'] + stream['dropped_nonfinite']
                   + stream['errors'])
        problems = []
        self._log_stall(name, spec, stream)
        if stream['stalled']:
            problems.append('stalled' if stream['count'] else 'no data')
        if self._changed(f'{name}.dropped', dropped):
            problems.append('samples dropped')
            self.get_logger().warning(
                f"stream '{name}' ({spec.topic} {field}): dropped "
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
        mismatch = self._type_mismatch.get(spec.topic)
        if mismatch:
            problems.append(f"publisher type mismatch ({', '.join(mismatch)})")
        tied = self._tied.get(name)
        status.level = DiagnosticStatus.WARN if problems else DiagnosticStatus.OK
        if mismatch:
            status.level = DiagnosticStatus.ERROR
        status.message = ', '.join(problems) or f"{stream['rate_hz']:.1f} Hz"
        if tied is not None:
            status.message += f', tied: {tied[0]} distinct values in the last window'
        status.values = _key_values({
            'topic': spec.topic, 'type': spec.type, 'field': field,
            'messages_received': self._received.get(spec.topic, 0),
            'messages_lost': lost, 'offered_types': ', '.join(mismatch or []), **stream,
            'distinct_values': tied[0] if tied else '',
            'most_common_share': tied[1] if tied else ''})
        return status

    def _log_forward_jump(self, diag):
        if self._changed('jumps_forward', diag['jumps_forward']):
            name, seconds = diag['last_jump_forward']
            self.get_logger().warning(
                f"stream time jumped forward by {seconds:.1f} s (stream '{name}'; more than "
                f'buffer_seconds {self.aligner.buffer_seconds:.1f} s): the buffered samples '
                f"are too old, windows restart ({diag['jumps_forward']} time(s)); a single "
                'stamp far ahead makes the next ones late until the time-jump check resets '
                'the buffers')

    def _log_stall(self, name, spec, stream):
        """Say once when a stream goes silent and once when it comes back."""
        was = self._reported.get(f'{name}.stalled', False)
        now = bool(stream['stalled']) and stream['count'] > 0
        if now and not was:
            age, lag = stream['age_wall_s'], stream['lag_s']
            self.get_logger().warning(
                f"stream '{name}' ({spec.topic}) stalled: last message "
                f"{age if age is not None else math.nan:.1f} s ago, newest stamp "
                f'{lag if lag is not None else math.nan:.1f} s behind the newest of all '
                f'streams (stale_after_s {self.config.stale_after_s:g}); no new windows '
                'until it returns')
        elif was and not now:
            self.get_logger().info(f"stream '{name}' ({spec.topic}) is back")
        self._reported[f'{name}.stalled'] = now

    def _input_totals(self, diag) -> dict:
        """What happened to the input, summed over streams (estimator status keys).

        Per sample: ``input_samples_received`` = accepted + ``input_samples_dropped`` (late,
        non-finite, duplicate stamp, unreadable field), each counted once on arrival.
        ``samples_forgotten_overflow``: accepted samples pushed out of a full buffer.
        ``input_messages_received``: messages the subscriptions took; a publisher's count
        minus this minus ``messages_lost`` is what DDS overwrote in a full reader queue of
        ``reader_queue_depth`` (not reported by the middleware).
        """
        streams = diag['streams'].values()
        dropped = sum(s['dropped_late'] + s['dropped_nonfinite'] + s['duplicates'] + s['errors']
                      for s in streams)
        return {
            'input_messages_received': sum(self._received.values()),
            'input_messages_lost': sum(self._lost.values()),
            'input_samples_received': sum(s['received'] for s in streams),
            'input_samples_dropped': dropped,
            'samples_forgotten_overflow': sum(s['dropped_overflow'] for s in streams),
            'buffered_samples': sum(s['buffered'] for s in streams),
            'buffer_capacity_samples': sum(s['buffer_capacity'] for s in streams),
            'buffer_seconds': self.aligner.buffer_seconds,
            'reader_queue_depth': SENSOR_QOS.depth,
            'evaluation_busy': self._worker is not None and self._worker.busy,
        }

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
    msg.mi_low = [float(v) for v in result.mi_low]
    msg.mi_high = [float(v) for v in result.mi_high]
    msg.p_value = [float(v) for v in result.p_value]
    msg.method = result.method
    msg.device = result.device
    msg.latency = float(result.latency_s)
    nan = [math.nan] * len(result.pairs)
    msg.lag = nan if result.lag_s is None else [float(v) for v in result.lag_s]
    msg.mi_lag = nan if result.mi_lag is None else [float(v) for v in result.mi_lag]
    return msg


def fill_estimate_response(response, result: EstimateResult):
    """An answered ~/estimate request (infonet_ros/srv/Estimate.Response)."""
    response.success, response.error = True, ''
    response.pairs = list(result.pairs)
    response.mi = [float(v) for v in result.mi]
    response.mi_low = [float(v) for v in result.mi_low]
    response.mi_high = [float(v) for v in result.mi_high]
    response.p_value = [float(v) for v in result.p_value]
    response.window_size = int(result.window_size)
    if result.t_end is not None:
        response.window_start = to_time_msg(result.t_start)
        response.window_end = to_time_msg(result.t_end)
    response.method = result.method
    return response


def to_dependency_graph(result: WindowResult, config: PipelineConfig, msg_type):
    msg = msg_type()
    msg.header.stamp = to_time_msg(result.t_end)
    msg.nodes = list(result.streams)
    direction = [result.edge_direction(i, j) for i, j, _, _ in result.edges]
    msg.edge_from = [int(a) for a, _, _, _ in direction]   # the leader when directed
    msg.edge_to = [int(b) for _, b, _, _ in direction]
    msg.directed = [bool(d) for _, _, d, _ in direction]
    msg.lag = [float(lag) for _, _, _, lag in direction]
    msg.weight = [float(w) for _, _, w, _ in result.edges]
    msg.p_value = [float(p) for _, _, _, p in result.edges]
    msg.method = result.graph_method   # threshold | fdr | permutation_test
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
        i, j, directed, _ = result.edge_direction(i, j)
        if directed:   # an arrow from the leader to the follower, its head at the sphere
            line = marker('infonet/edges', e, Marker.ARROW)
            end = positions[i] + 0.9 * (positions[j] - positions[i])
            line.points = [Point(x=float(positions[i][0]), y=float(positions[i][1])),
                           Point(x=float(end[0]), y=float(end[1]))]
            line.scale.x = edge_width(w)          # shaft diameter
            line.scale.y = 2.5 * edge_width(w)    # head diameter
            line.scale.z = 0.15                   # head length
        else:
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


class InfoNetEstimatorNode(_EstimatorNode, Node):
    """The plain node: configured and active from its constructor on.

    Raises ValueError naming the parameter when the configuration is bad.
    """

    def __init__(self, estimator=None, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        self._setup(estimator)
        self._configure()
        self._activate()

    def _output_publisher(self, msg_type, topic):
        publisher = self.create_publisher(msg_type, topic, OUTPUT_QOS)
        self._output_publishers.append(publisher)
        return publisher

    def _destroy_output_publisher(self, publisher):
        self.destroy_publisher(publisher)


class ManagedInfoNetEstimatorNode(_EstimatorNode, LifecycleNode):
    """The managed (lifecycle) node: waits in 'unconfigured' for a lifecycle manager.

    configure: validate the streams, load the model, create the (lifecycle) publishers;
    activate: subscribe, start the timers, publish; deactivate: unsubscribe, stop;
    cleanup: release publishers and model. A bad configuration fails the configure
    transition (the node stays unconfigured and logs why).
    """

    def __init__(self, estimator=None, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        self._setup(estimator)
        self.get_logger().info('managed node: unconfigured, waiting for configure')

    def _output_publisher(self, msg_type, topic):
        publisher = self.create_lifecycle_publisher(msg_type, topic, OUTPUT_QOS)
        self._output_publishers.append(publisher)
        return publisher

    def _destroy_output_publisher(self, publisher):
        self.destroy_lifecycle_publisher(publisher)

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._configure()
        except (ValueError, RuntimeError, TypeError, OSError) as exc:
            self.get_logger().error(f'configure failed: {exc}')
            self._cleanup()
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info('configured')
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)   # publishers first: timers publish
        self._activate()
        self.get_logger().info('active: subscribed, publishing')
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self.get_logger().info('inactive: unsubscribed, not publishing')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._cleanup()
        self.get_logger().info('cleaned up: unconfigured')
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self._cleanup()
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self._cleanup()
        return super().on_error(state)


def usage_text() -> str:
    """What ``--help`` prints after the options: parameters, topics, services."""
    lines = ['parameters (ros2 param list/describe show the same; set them in a parameters '
             'file, see config/estimator.yaml):']
    for spec in PARAMETERS.values():
        default = spec.default
        shown = ('[]' if default == [] else repr(default)) if spec.name != 'stream_names' \
            else '(required)'
        kind = 'string list' if spec.kind is list else spec.kind.__name__
        rng = f', {spec.expected()}' if spec.low is not None or spec.choices else ''
        how = 'run-time' if spec.runtime else 'read-only'
        lines.append(f'  {spec.name} ({kind}, default {shown}{rng}; {how})')
        lines.append(f'      {spec.description}')
    lines.append('  streams.<name>.topic|type|field (string; read-only)')
    lines.append('      one set per entry of stream_names')
    lines += [
        '',
        'publishes: ~/mutual_information (infonet_ros/msg/MutualInformation), '
        '~/dependency_graph',
        '  (infonet_ros/msg/DependencyGraph), ~/graph_markers (visualization_msgs/msg/'
        'MarkerArray), /diagnostics',
        'services: ~/estimate (infonet_ros/srv/Estimate); with --managed also the '
        'lifecycle services',
        '  (~/change_state, ~/get_state, ...)',
        '',
        'examples:',
        '  ros2 run infonet_ros infonet_estimator --ros-args --params-file '
        'config/estimator.yaml',
        '  ros2 run infonet_ros infonet_estimator --managed --ros-args --params-file '
        'my.yaml -r __ns:=/robot1',
    ]
    return '\n'.join(lines)


def parse_command_line(argv: list[str]) -> argparse.Namespace:
    """The node's own options (everything before --ros-args); --help exits here."""
    parser = argparse.ArgumentParser(
        prog='ros2 run infonet_ros infonet_estimator',
        usage='%(prog)s [-h] [--managed] [--ros-args ROS_ARGS ...]',
        description='Estimates the mutual information (nats) between configured scalar\n'
                    'streams of ROS topics with InfoNet and publishes it with a dependency\n'
                    'graph. ROS arguments follow --ros-args: --params-file FILE,\n'
                    '-p name:=value, -r __ns:=/namespace, --log-level LEVEL.',
        epilog=usage_text(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--managed', action='store_true',
        help='start as a managed (lifecycle) node in state unconfigured; configure and '
             'activate it with a lifecycle manager or `ros2 lifecycle set`')
    try:
        user_args = remove_ros_args(argv)[1:]
    except RCLError:   # bad ROS arguments (e.g. a broken parameters file): rclpy.init says so
        user_args = argv[1:argv.index('--ros-args')] if '--ros-args' in argv else argv[1:]
    return parser.parse_args(user_args)


def main(args=None):
    argv = list(sys.argv if args is None else args)
    options = parse_command_line(argv)   # --help: usage, exit 0 (before ROS starts)
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
        rclpy.init(args=argv, signal_handler_options=SignalHandlerOptions.NO)
    except RCLError as exc:   # e.g. a parameters file that is missing or not valid YAML
        rclpy.logging.get_logger(NODE_NAME).fatal(f'cannot start: {exc}')
        return 1
    node_class = ManagedInfoNetEstimatorNode if options.managed else InfoNetEstimatorNode
    try:
        node = node_class()
    except (ValueError, RuntimeError, TypeError, OSError) as exc:
        rclpy.logging.get_logger(NODE_NAME).fatal(f'cannot start: {exc}')
        rclpy.try_shutdown()
        return 1
    headerless = node.headerless_streams()
    executor = make_executor(bool(headerless))
    executor.add_node(node)
    if headerless:
        node.get_logger().info(
            f'executor: {type(executor).__name__}: stream(s) {", ".join(headerless)} have '
            'no header, so their samples are stamped with the reception time the middleware '
            'reports, which only this executor hands over; it costs ~2.5x the CPU per message '
            'of the EventsExecutor used when every input has a header (README: ROS 2 node)')
    else:
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
