"""Load publisher for bench/node_latency.py: N scalar streams at a fixed rate over rclpy.

    .venv/bin/python bench/ros_load_publisher.py --streams 8 --rate 200 --duration 70

Streams ``s0 .. s{N-1}`` are spread over topics ``<prefix>t0, <prefix>t1, ...``
(``--streams-per-topic`` fields per topic, default 1 = one topic per stream). Topics
alternate between ``sensor_msgs/msg/Imu`` (fields ``linear_acceleration.x/y/z``,
``angular_velocity.x/y/z``) and ``geometry_msgs/msg/TwistStamped`` (``twist.linear.x/y/z``,
``twist.angular.x/y/z``), so every message has a header. :func:`layout` gives the
(topic, type, field) of each stream; the benchmark builds the node's parameters from it.

Values: every tick draws z ~ N(0, I_N). Streams are paired (s0, s1), (s2, s3), ...; pair k
has correlation ``rhos[k]`` (``--rhos``, cycled; default 0.9, 0.6, 0.3, 0):
s_{2k} = z_{2k}, s_{2k+1} = rho z_{2k} + sqrt(1 - rho^2) z_{2k+1}. Streams of different
pairs are independent; the true MI of pair k is -0.5 log(1 - rho^2) nats. All messages of
a tick carry the same header.stamp: the wall clock (system time, as the ROS clock) taken
just before the tick's first publish. Linear interpolation onto any grid uses the same
weights for both streams of a pair, so aligned pairs keep correlation rho.

QoS: best effort, volatile, depth 10 (like sensor drivers). Ticks follow an absolute
schedule (tick k at start + k / rate); a tick more than one period late is published at
once and the schedule moves on (counted as ``late_ticks``).

Waits until every topic has a subscriber (``--wait`` s at most, exit 1 otherwise), prints
``publishing``, then publishes for ``--duration`` s or until SIGINT/SIGTERM. With
``--stats-file`` it writes a JSON summary at exit (ticks, achieved rate, lateness, time
spent publishing per tick).
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
import time

FIELDS = {
    'sensor_msgs/msg/Imu': ['linear_acceleration.x', 'linear_acceleration.y',
                            'linear_acceleration.z', 'angular_velocity.x',
                            'angular_velocity.y', 'angular_velocity.z'],
    'geometry_msgs/msg/TwistStamped': ['twist.linear.x', 'twist.linear.y', 'twist.linear.z',
                                       'twist.angular.x', 'twist.angular.y',
                                       'twist.angular.z'],
}
TYPES = list(FIELDS)
DEFAULT_RHOS = (0.9, 0.6, 0.3, 0.0)


def layout(n_streams: int, per_topic: int = 1, prefix: str = '/bench/') -> dict:
    """``{stream name: (topic, type, field)}`` in stream order."""
    if not 1 <= per_topic <= 6:
        raise ValueError('--streams-per-topic must be in 1..6')
    out = {}
    for i in range(n_streams):
        topic_index, slot = divmod(i, per_topic)
        type_ = TYPES[topic_index % len(TYPES)]
        out[f's{i}'] = (f'{prefix}t{topic_index}', type_, FIELDS[type_][slot])
    return out


def pair_rhos(n_streams: int, rhos=DEFAULT_RHOS) -> dict:
    """``{(2k, 2k + 1): rho}`` for the dependent pairs (rho != 0) of the layout."""
    rhos = list(rhos) or [0.0]
    return {(2 * k, 2 * k + 1): float(rhos[k % len(rhos)])
            for k in range(n_streams // 2) if rhos[k % len(rhos)] != 0.0}


def true_mi(rho: float) -> float:
    return -0.5 * math.log(1.0 - rho * rho)


def _setter(field: str):
    *path, attr = field.split('.')

    def set_value(msg, value):
        for part in path:
            msg = getattr(msg, part)
        setattr(msg, attr, value)
    return set_value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--streams', type=int, default=8)
    parser.add_argument('--streams-per-topic', type=int, default=1)
    parser.add_argument('--rate', type=float, default=200.0, help='ticks per second')
    parser.add_argument('--rhos', default=','.join(str(r) for r in DEFAULT_RHOS),
                        help='correlation of pairs (s0,s1), (s2,s3), ... (cycled)')
    parser.add_argument('--prefix', default='/bench/')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--duration', type=float, default=3600.0)
    parser.add_argument('--wait', type=float, default=120.0,
                        help='seconds to wait for a subscriber on every topic')
    parser.add_argument('--stats-file', default='')
    args, ros_args = parser.parse_known_args(argv)

    import numpy as np
    import rclpy
    from geometry_msgs.msg import TwistStamped
    from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile,
                           ReliabilityPolicy)
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import Imu

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    rclpy.init(args=[sys.argv[0], *ros_args], signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node('bench_load_publisher')
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT,
                     durability=DurabilityPolicy.VOLATILE, history=HistoryPolicy.KEEP_LAST)
    classes = {'sensor_msgs/msg/Imu': Imu, 'geometry_msgs/msg/TwistStamped': TwistStamped}

    streams = layout(args.streams, args.streams_per_topic, args.prefix)
    topics = {}   # topic -> [publisher, message, [(stream index, setter)]]
    for i, (topic, type_, field) in enumerate(streams.values()):
        if topic not in topics:
            topics[topic] = [node.create_publisher(classes[type_], topic, qos),
                             classes[type_](), []]
        topics[topic][2].append((i, _setter(field)))
    plan = list(topics.values())

    rhos = [float(r) for r in args.rhos.split(',') if r.strip()] or [0.0]
    n = args.streams
    rho = np.zeros(n)
    rest = np.ones(n)
    for k in range(n // 2):
        r = rhos[k % len(rhos)]
        rho[2 * k + 1], rest[2 * k + 1] = r, math.sqrt(1.0 - r * r)
    partner = np.array([i - 1 if i % 2 else i for i in range(n)])
    rng = np.random.default_rng(args.seed)

    stats = {'ticks': 0, 'messages': 0, 'late_ticks': 0, 'max_late_s': 0.0,
             'topics': len(plan), 'streams': n, 'rate_hz': args.rate}
    code = 0
    try:
        deadline = time.monotonic() + args.wait
        while not stop.is_set() and any(p[0].get_subscription_count() == 0 for p in plan):
            if time.monotonic() > deadline:
                missing = [t for t, p in topics.items() if p[0].get_subscription_count() == 0]
                print(f'no subscriber for {missing} after {args.wait} s', flush=True)
                return 1
            time.sleep(0.05)
        print('publishing', flush=True)

        period = 1.0 / args.rate
        publish_s = []
        start = time.monotonic()
        stats['start_wall'] = time.time()
        end = start + args.duration
        k = 0
        while not stop.is_set():
            now = time.monotonic()
            if now >= end:
                break
            due = start + k * period
            if now < due:
                time.sleep(due - now)
                continue
            late = now - due
            stats['max_late_s'] = max(stats['max_late_s'], late)
            if late > period:            # fell behind: publish now, restart the schedule
                stats['late_ticks'] += 1
                start, k = now, 0
            z = rng.standard_normal(n)
            values = rho * z[partner] + rest * z
            t0 = time.perf_counter()
            stamp_ns = time.time_ns()
            sec, nanosec = divmod(stamp_ns, 1_000_000_000)
            for pub, msg, setters in plan:
                msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
                for i, set_value in setters:
                    set_value(msg, float(values[i]))
                pub.publish(msg)
            publish_s.append(time.perf_counter() - t0)
            stats['messages'] += len(plan)
            stats['ticks'] += 1
            k += 1
        stats['end_wall'] = time.time()
        elapsed = stats['end_wall'] - stats['start_wall']
        stats['elapsed_s'] = elapsed
        stats['achieved_rate_hz'] = stats['ticks'] / elapsed if elapsed > 0 else 0.0
        if publish_s:
            p = np.percentile(np.asarray(publish_s), [50, 99])
            stats['publish_tick_p50_ms'], stats['publish_tick_p99_ms'] = 1e3 * p[0], 1e3 * p[1]
    except Exception as exc:   # report, then clean up
        print(f'publisher failed: {type(exc).__name__}: {exc}', file=sys.stderr, flush=True)
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if args.stats_file:
            with open(args.stats_file, 'w') as f:
                json.dump(stats, f, indent=1)
        node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == '__main__':
    sys.exit(main())
