"""``bag_replay``: publish a rosbag2 bag's messages on their topics, with the original timing.

    bag_replay BAG [--rate 2] [--loop] [--start-offset 10] [--topics /imu/data /cmd_vel]
               [--clock] [--wait-for-subscribers 1 --wait-timeout 30]

A small stand-in for ``ros2 bag play`` (rosbag2 is not on PyPI). The bag's CDR bytes are
published unchanged (``publisher.publish(bytes)``), on publishers created with the message
classes named by the bag's type strings; message *n* goes out at
``(log_time_n - log_time_first) / rate`` seconds after the start.

Time: the messages keep their header stamps, which are the bag's times. A node that mixes
stamped and unstamped streams (it stamps the latter with their receive time) needs the
bag's clock: ``--clock`` publishes ``/clock`` (the log time of each message, and at
``--clock-rate`` Hz in between) and the node runs with ``use_sim_time: true``. Use it with
``--loop`` too: when the clock jumps back, the estimator node restarts its windows.

``--wait-for-subscribers N`` waits (at most ``--wait-timeout`` s) until every replayed topic
has N subscribers, so that a freshly started node does not miss the first messages; on
timeout it names the topics still without subscribers and replays anyway. SIGINT/SIGTERM
stop the replay cleanly (exit status 0).
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
import time

from infonet_ros.bag_io import BagError, BagReader
from infonet_ros.streams import import_message_type

__all__ = ['main']


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='bag_replay',
        description="Publish a rosbag2 bag's messages on their topics with the original "
                    'timing (raw CDR bytes, rclpy). Extra --ros-args are passed to rclpy.')
    parser.add_argument('bag', help='rosbag2 bag: a directory with metadata.yaml, or a '
                                    '.mcap / .db3 file')
    parser.add_argument('--rate', type=float, default=1.0,
                        help='playback speed factor (default 1.0)')
    parser.add_argument('--loop', action='store_true', help='start over at the end')
    parser.add_argument('--start-offset', type=float, default=0.0, metavar='S',
                        help='skip the first S seconds of the bag')
    parser.add_argument('--topics', nargs='+', metavar='TOPIC',
                        help='replay only these topics (default: all)')
    parser.add_argument('--clock', action='store_true',
                        help='publish /clock with the bag time (for use_sim_time nodes)')
    parser.add_argument('--clock-rate', type=float, default=100.0, metavar='HZ',
                        help='/clock updates per second between messages (default 100)')
    parser.add_argument('--wait-for-subscribers', type=int, default=0, metavar='N',
                        help='before replaying, wait until every topic has N subscribers')
    parser.add_argument('--wait-timeout', type=float, default=30.0, metavar='S',
                        help='longest wait for subscribers (default 30 s)')
    parser.add_argument('--qos', choices=['reliable', 'best_effort'], default='reliable',
                        help='reliability of the publishers (default reliable, depth 100)')
    parser.add_argument('-q', '--quiet', action='store_true', help='no progress bar')
    return parser


def _check_args(args) -> None:
    if not (math.isfinite(args.rate) and args.rate > 0):
        raise ValueError(f'--rate must be a number > 0, got {args.rate}')
    if not (math.isfinite(args.start_offset) and args.start_offset >= 0):
        raise ValueError(f'--start-offset must be >= 0 seconds, got {args.start_offset}')
    if not (math.isfinite(args.clock_rate) and args.clock_rate > 0):
        raise ValueError(f'--clock-rate must be > 0, got {args.clock_rate}')
    if args.wait_for_subscribers < 0:
        raise ValueError(f'--wait-for-subscribers must be >= 0, got '
                         f'{args.wait_for_subscribers}')


class BagPlayer:
    """Publishes one bag's messages in time order; ``run()`` returns messages published."""

    def __init__(self, node, bag: BagReader, topics: list[str], args, stop: threading.Event):
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        self.node, self.bag, self.args, self.stop = node, bag, args, stop
        self.topics = topics
        reliability = (ReliabilityPolicy.RELIABLE if args.qos == 'reliable'
                       else ReliabilityPolicy.BEST_EFFORT)
        qos = QoSProfile(depth=100, reliability=reliability)
        self.publishers = {}
        for topic in topics:
            msg_type = import_message_type(bag.topics[topic])
            self.publishers[topic] = node.create_publisher(msg_type, topic, qos)
        self.clock_publisher = None
        if args.clock:
            from rosgraph_msgs.msg import Clock
            self._clock_type = Clock
            self.clock_publisher = node.create_publisher(Clock, '/clock', QoSProfile(depth=10))
        self._last_clock_ns = None

    def wait_for_subscribers(self) -> list[str]:
        """Topics still lacking subscribers after the wait (empty when all have them)."""
        want = self.args.wait_for_subscribers
        deadline = time.monotonic() + self.args.wait_timeout
        while True:
            missing = [t for t, p in self.publishers.items()
                       if p.get_subscription_count() < want]
            if not missing or self.stop.is_set() or time.monotonic() > deadline:
                return missing
            self.stop.wait(0.05)

    def publish_clock(self, t_s: float) -> None:
        if self.clock_publisher is None:
            return
        ns = int(round(t_s * 1e9))
        if self._last_clock_ns is not None and ns <= self._last_clock_ns:
            return
        from builtin_interfaces.msg import Time
        self._last_clock_ns = ns
        self.clock_publisher.publish(self._clock_type(
            clock=Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)))

    def play_once(self, progress=None) -> int:
        """One pass over the bag; returns the number of messages published."""
        rate = self.args.rate
        start = self.bag.start_s + self.args.start_offset
        first_t = None
        wall0 = time.monotonic()
        published = 0
        clock_step = 1.0 / self.args.clock_rate           # wall seconds
        last_shown = start
        self._last_clock_ns = None
        for m in self.bag.messages(self.topics, deserialize=False, start_s=start):
            if first_t is None:
                first_t = m.log_time_s
                self.publish_clock(first_t)
            target = wall0 + (m.log_time_s - first_t) / rate
            while not self.stop.is_set():
                remaining = target - time.monotonic()
                if remaining <= 0:
                    break
                if self.clock_publisher is not None and remaining > clock_step:
                    self.stop.wait(clock_step)
                    self.publish_clock(first_t + (time.monotonic() - wall0) * rate)
                else:
                    self.stop.wait(remaining)
            if self.stop.is_set():
                break
            self.publish_clock(m.log_time_s)
            self.publishers[m.topic].publish(m.raw)
            published += 1
            if progress is not None and m.log_time_s - last_shown >= 0.5:
                progress.update(m.log_time_s - last_shown)
                last_shown = m.log_time_s
        return published


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything from --ros-args on is rclpy's (e.g. --ros-args -r __ns:=/robot).
    split = argv.index('--ros-args') if '--ros-args' in argv else len(argv)
    args, ros_args = build_parser().parse_args(argv[:split]), argv[split:]
    try:
        _check_args(args)
        bag = BagReader(args.bag)
    except (BagError, ValueError) as exc:
        print(f"bag_replay: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    with bag:
        try:
            topics = args.topics or sorted(bag.topics)
            for topic in topics:
                bag.check_topic(topic, what='--topics')
            for topic in topics:
                import_message_type(bag.topics[topic])
        except (BagError, ValueError) as exc:
            print(f"bag_replay: error: {' '.join(str(exc).split())}", file=sys.stderr)
            return 2
        if args.start_offset >= bag.duration_s:
            print(f'bag_replay: error: --start-offset {args.start_offset} s is past the end '
                  f'of the bag ({bag.duration_s:.1f} s)', file=sys.stderr)
            return 2
        return _replay(bag, topics, args, ros_args)


def _replay(bag: BagReader, topics: list[str], args, ros_args) -> int:
    import rclpy
    from rclpy.signals import SignalHandlerOptions
    from tqdm import tqdm

    rclpy.init(args=[sys.argv[0], *ros_args], signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    node = rclpy.create_node('bag_replay')
    log = node.get_logger()
    total = 0
    try:
        player = BagPlayer(node, bag, topics, args, stop)
        if args.wait_for_subscribers:
            missing = player.wait_for_subscribers()
            if missing and not stop.is_set():
                log.warning(f'after {args.wait_timeout:g} s, fewer than '
                            f'{args.wait_for_subscribers} subscriber(s) on: '
                            f"{', '.join(missing)}; replaying anyway")
        log.info(f'replaying {len(topics)} topic(s) of {bag.path} '
                 f'({bag.duration_s - args.start_offset:.1f} s at rate {args.rate:g}'
                 f"{', looping' if args.loop else ''}{', with /clock' if args.clock else ''})")
        wall = time.monotonic()
        while not stop.is_set():
            with tqdm(total=round(bag.duration_s - args.start_offset, 1), unit='s',
                      desc='bag_replay', disable=args.quiet, leave=False) as bar:
                total += player.play_once(bar)
            if not args.loop:
                break
        log.info(f'published {total} message(s) in {time.monotonic() - wall:.1f} s'
                 + (' (interrupted)' if stop.is_set() else ''))
    except BagError as exc:
        log.error(' '.join(str(exc).split()))
        return 2
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
