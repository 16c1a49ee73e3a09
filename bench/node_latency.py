"""End-to-end latency of the infonet_estimator node: real rclpy processes on loopback.

    .venv/bin/python bench/node_latency.py                     # 60 s, infonet, device auto
    .venv/bin/python bench/node_latency.py --estimator ksg --out /tmp/ksg.md
    .venv/bin/python bench/node_latency.py --duration 10 --out /tmp/smoke.md   # smoke run

Three processes, one fresh random ROS_DOMAIN_ID, ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST:

1. publisher (bench/ros_load_publisher.py): 8 streams at 200 Hz, one topic per stream
   (sensor_msgs/Imu and geometry_msgs/TwistStamped alternating), header.stamp = wall clock
   just before the tick's first publish (same clock as this process); pairs (s0,s1),
   (s2,s3), (s4,s5) have correlation 0.9, 0.6, 0.3, all other pairs are independent;
2. the node (``estimator --ros-args --params-file <generated>``): these 8 streams,
   window_size 512, sample_rate_hz 200 (= the publish rate: a window spans 2.56 s),
   publish_rate_hz 10, all 28 pairs, ``--device``, ``--estimator`` (infonet | ksg);
3. this process: subscribes to ``/infonet_estimator/mutual_information`` and
   ``/diagnostics`` and samples CPU time from /proc.

Measured, over ``--duration`` s that start ``--warmup`` s after the first MutualInformation
message arrives (start-up, discovery, filling the first window and the first evaluations
are excluded):

- end-to-end latency per message = wall time when this process's callback starts minus
  header.stamp (= the window's last aligned sample, stamped by the publisher when it
  published it). It includes: the sample's transport to the node and its subscription
  callback, the wait for the node's 10 Hz evaluation timer, the evaluation, publishing and
  transport of the result, and this process's executor (shown separately as "listener
  delay" = callback start minus the middleware's reception stamp);
- evaluation latency: the ``latency`` field of each message (wall time of the node's
  batched estimator call); "rest" = end-to-end minus evaluation;
- messages received vs expected (duration x publish_rate_hz); gaps between consecutive
  window ends longer than 1.5 periods;
- skipped windows: delta of ``windows_skipped`` in the node's /diagnostics (1 Hz; the
  last report before the interval's start and before its end), also errors and windows
  without data; per-stream arrival rate and dropped samples from the last report;
- CPU: utime + stime deltas of /proc/<pid>/stat (all threads) over the interval, as % of
  one core, for the node, the publisher and this process; busy share of all cores from
  /proc/stat (so load from other jobs shows as "other");
- MI sanity: mean and sd of the dependent pairs vs the truth -0.5 log(1 - rho^2).

Prints a markdown report and writes it to ``--out`` (default
bench/results/node_latency.md) with the raw per-message data next to it (.json). Exit 2
if the node (or publisher) fails to start or dies (its log tail is shown), 1 on other
errors. Children get SIGINT, then SIGKILL after 10 s, in ``finally``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Before anything can start rclpy (this process or its children).
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
PUBLISHER = BENCH / 'ros_load_publisher.py'
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from infonet_ros.streams import PipelineConfig  # noqa: E402
from ros_load_publisher import layout, pair_rhos, true_mi  # noqa: E402

NODE = 'infonet_estimator'
MI_TOPIC = f'/{NODE}/mutual_information'
CLK_TCK = os.sysconf('SC_CLK_TCK')


class BenchError(Exception):
    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


# --- processes --------------------------------------------------------------------------

def estimator_command() -> list[str]:
    exe = Path(sys.executable).parent / 'infonet_estimator'
    return [str(exe)] if exe.exists() else [sys.executable, '-m', 'infonet_ros.node']


def start(cmd, env, log_path) -> subprocess.Popen:
    with open(log_path, 'w') as log:
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


def stop(proc, timeout=10.0):
    """SIGINT, then SIGKILL after ``timeout`` s. Returns the exit code."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def tail(path, chars=3000) -> str:
    try:
        text = Path(path).read_text(errors='replace')
    except OSError:
        return '(no log)'
    return text[-chars:] if text.strip() else '(empty)'


# --- /proc ------------------------------------------------------------------------------

def cpu_ticks(pid) -> int | None:
    """utime + stime of all threads of ``pid`` in clock ticks; None if gone."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])   # fields 14, 15 of stat(5)


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all cores from /proc/stat."""
    with open('/proc/stat') as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)   # idle + iowait
    total = sum(values[:8])                                    # guest is within user
    return total - idle, total


def rss_mib(pid) -> float | None:
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def torch_info(env) -> dict:
    """torch version and thread count as the node's environment sees them."""
    code = ('import json, torch; print(json.dumps({"torch": torch.__version__, '
            '"torch_threads": torch.get_num_threads(), "cuda": torch.cuda.get_device_name(0) '
            'if torch.cuda.is_available() else None}))')
    try:
        out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                             text=True, timeout=120, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        return {'torch': None, 'torch_threads': None, 'cuda': None, 'error': str(exc)}


class CpuSample:
    def __init__(self, pids: dict):
        self.wall = time.monotonic()
        self.ticks = {name: cpu_ticks(pid) for name, pid in pids.items()}
        self.machine = machine_ticks()


def cpu_percent(a: CpuSample, b: CpuSample) -> dict:
    """% of one core per process between two samples; machine: % of all cores busy."""
    dt_s = b.wall - a.wall
    out = {}
    for name in a.ticks:
        if a.ticks[name] is None or b.ticks.get(name) is None or dt_s <= 0:
            out[name] = None
        else:
            out[name] = 100.0 * (b.ticks[name] - a.ticks[name]) / CLK_TCK / dt_s
    busy, total = (b.machine[0] - a.machine[0]), (b.machine[1] - a.machine[1])
    out['machine_all_cores'] = 100.0 * busy / total if total > 0 else None
    return out


# --- parameters -------------------------------------------------------------------------

def write_params(path: Path, streams: dict, args) -> Path:
    lines = [f'/**/{NODE}:', '  ros__parameters:',
             f'    stream_names: [{", ".join(streams)}]', '    streams:']
    for name, (topic, type_, field) in streams.items():
        lines.append(f'      {name}: {{topic: {topic}, type: {type_}, field: "{field}"}}')
    params = {'pairs': '[]', 'window_size': args.window, 'sample_rate_hz':
              float(args.sample_rate or args.rate), 'publish_rate_hz': float(args.eval_rate),
              'device': args.device, 'model_path': '""', 'estimator': args.estimator,
              'graph_threshold': 0.05}
    for item in args.param:
        key, sep, value = item.partition('=')
        if not sep or not key.strip():
            raise BenchError(f'--param wants KEY=VALUE, got {item!r}')
        params[key.strip()] = value.strip()
    for key, value in params.items():
        lines.append(f'    {key}: {value}')
    path.write_text('\n'.join(lines) + '\n')
    return path


# --- listening --------------------------------------------------------------------------

class Listener:
    """This process's subscriber to the node's MI messages and /diagnostics."""

    def __init__(self, domain_id: int, probe: tuple | None = None):
        import importlib

        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from rclpy.signals import SignalHandlerOptions
        try:
            from infonet_ros.msg import MutualInformation
        except ImportError as exc:
            raise BenchError(f'infonet_ros.msg is not built (scripts/setup.sh): {exc}') from exc
        self._rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(args=[], context=self.context, domain_id=domain_id,
                   signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node('node_latency_bench', context=self.context)
        self.mi = []      # dicts, one per MutualInformation message
        self.diag = []    # (receive wall time, estimator values, {stream: values})
        qos = QoSProfile(depth=100)
        self.node.create_subscription(MutualInformation, MI_TOPIC, self._on_mi, qos)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, qos)
        self.probe = []   # (receive monotonic, callback wall - header.stamp) of one input topic
        if probe:
            topic, type_ = probe
            package, _, name = type_.split('/')
            msg_type = getattr(importlib.import_module(f'{package}.msg'), name)
            # the node's input QoS: best effort, volatile, depth 100
            sensor = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT,
                                durability=DurabilityPolicy.VOLATILE)
            self.node.create_subscription(msg_type, topic, self._on_probe, sensor)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def _on_mi(self, msg, info):   # two parameters: rclpy passes the message info
        recv = time.time_ns()
        dds_ns = info.get('received_timestamp', 0) if info else 0
        self.mi.append({
            'recv': recv * 1e-9, 'recv_mono': time.monotonic(),
            'recv_dds': dds_ns * 1e-9 if dds_ns else None,
            't_end': msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9,
            't_start': msg.window_start.sec + msg.window_start.nanosec * 1e-9,
            'window_size': int(msg.window_size), 'eval_s': float(msg.latency),
            'method': msg.method, 'device': msg.device,
            'streams': list(msg.streams), 'pairs': list(zip(msg.pair_first, msg.pair_second)),
            'mi': [float(v) for v in msg.mi],
        })

    def _on_probe(self, msg):
        recv = time.time_ns() * 1e-9
        self.probe.append((time.monotonic(),
                           recv - (msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9)))

    def _on_diag(self, msg):
        recv = time.monotonic()
        estimator, streams = None, {}
        for status in msg.status:
            prefix = f'/{NODE}: '   # status names start with the node's fully qualified name
            if not status.name.startswith(prefix):
                continue
            values = {kv.key: kv.value for kv in status.values}
            kind = status.name[len(prefix):]
            if kind == 'estimator':
                estimator = values
            elif kind.startswith('stream '):
                streams[kind[len('stream '):]] = values
        if estimator is not None:
            self.diag.append((recv, estimator, streams))

    def spin_once(self, timeout=0.05):
        self.executor.spin_once(timeout_sec=timeout)

    def close(self):
        try:
            self.executor.shutdown()
            self.node.destroy_node()
        finally:
            self._rclpy.try_shutdown(context=self.context)


# --- statistics -------------------------------------------------------------------------

def pct(values, qs=(50, 95, 99, 100)) -> list[float] | None:
    values = np.asarray([v for v in values if v is not None and math.isfinite(v)], float)
    if values.size == 0:
        return None
    return [float(v) for v in np.percentile(values, qs)]


def ms(values) -> str:
    return ' / '.join(f'{1e3 * v:.1f}' for v in values) + ' ms' if values else '-'


def num(value, spec='.1f', suffix='') -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return '-'
    return f'{value:{spec}}{suffix}'


def diag_value(snapshot, key, cast=float):
    if snapshot is None:
        return None
    try:
        return cast(snapshot[1][key])
    except (KeyError, ValueError):
        return None


def last_before(diags, t):
    before = [d for d in diags if d[0] <= t]
    return before[-1] if before else None


def summarize(args, listener, interval, cpu, cpu_series, pub_stats, meta) -> dict:
    t0, t1 = interval
    measured = [m for m in listener.mi if t0 <= m['recv_mono'] < t1]
    duration = t1 - t0
    expected = duration * args.eval_rate
    e2e = [m['recv'] - m['t_end'] for m in measured]
    dds = [m['recv_dds'] - m['t_end'] for m in measured if m['recv_dds']]
    listener_delay = [m['recv'] - m['recv_dds'] for m in measured if m['recv_dds']]
    evals = [m['eval_s'] for m in measured]
    rest = [a - b for a, b in zip(e2e, evals)]
    ends = [m['t_end'] for m in measured]
    steps = np.diff(ends) if len(ends) > 1 else np.array([])
    gaps = int(np.sum(steps > 1.5 / args.eval_rate))

    d0, d1 = last_before(listener.diag, t0), last_before(listener.diag, t1)
    d_last = listener.diag[-1] if listener.diag else None

    def delta(key):
        a, b = diag_value(d0, key), diag_value(d1, key)
        return None if a is None or b is None else int(b - a)

    streams_final = d1[2] if d1 else {}
    rates = [float(v['rate_hz']) for v in streams_final.values() if 'rate_hz' in v]
    dropped = {}
    for key in ('dropped_late', 'dropped_nonfinite', 'dropped_overflow', 'duplicates',
                'out_of_order', 'errors'):
        dropped[key] = sum(int(float(v.get(key, 0) or 0)) for v in streams_final.values())

    # MI sanity
    names = measured[0]['streams'] if measured else []
    mi_pairs = {}
    if measured:
        index = {tuple(p): k for k, p in enumerate(measured[0]['pairs'])}
        arr = np.array([m['mi'] for m in measured], float)
        dependent = pair_rhos(args.streams, [float(r) for r in args.rhos.split(',')])
        for (i, j), rho in dependent.items():
            k = index.get((i, j))
            if k is not None:
                col = arr[:, k]
                mi_pairs[f'{names[i]}:{names[j]}'] = {
                    'rho': rho, 'truth': true_mi(rho), 'mean': float(np.nanmean(col)),
                    'sd': float(np.nanstd(col))}
        indep = [k for p, k in index.items() if p not in dependent]
        if indep:
            vals = arr[:, indep]
            mi_pairs['independent'] = {'pairs': len(indep), 'mean': float(np.nanmean(vals)),
                                       'p95': float(np.nanpercentile(vals, 95))}

    peak = {}
    for name in ('node', 'publisher'):
        series = [c[name] for c in cpu_series if c.get(name) is not None]
        peak[name] = max(series) if series else None

    own = sum(v for k, v in cpu.items() if k in ('node', 'publisher', 'bench') and v)
    machine_pct_one_core = (cpu['machine_all_cores'] * meta['cores']
                            if cpu.get('machine_all_cores') is not None else None)
    first = listener.mi[0] if listener.mi else {}
    probe = [lag for t, lag in listener.probe if t0 <= t < t1]
    return {
        'duration_s': duration,
        'messages': len(measured), 'expected': expected,
        'first_mi_after_s': meta.get('first_mi_after_s'),
        'method': first.get('method'), 'device': first.get('device'),
        'window_size': first.get('window_size'),
        'window_span_s': (first['t_end'] - first['t_start']) if first else None,
        'pairs': len(first.get('pairs', [])),
        'latency_e2e_s': pct(e2e), 'latency_e2e_at_reception_s': pct(dds),
        'listener_delay_s': pct(listener_delay),
        'probe_sample_latency_s': pct(probe) if listener.probe else None,
        'probe_rate_hz': len(probe) / duration if listener.probe and duration > 0 else None,
        'evaluation_s': pct(evals), 'rest_s': pct(rest),
        'window_end_gaps': gaps,
        'max_window_end_step_s': float(steps.max()) if steps.size else None,
        'windows_skipped': delta('windows_skipped'),
        'windows_skipped_whole_run': diag_value(d_last, 'windows_skipped', int),
        'evaluation_errors': delta('evaluation_errors'),
        'windows_unavailable': delta('windows_unavailable'),
        'windows_without_new_data': delta('windows_without_new_data'),
        'diagnostics_reports': len(listener.diag),
        'stream_rate_hz': [min(rates), max(rates)] if rates else None,
        'stream_counters': dropped,
        'cpu_percent_of_one_core': {k: v for k, v in cpu.items() if k != 'machine_all_cores'},
        'cpu_peak_1s_percent': peak,
        'machine_busy_percent_all_cores': cpu.get('machine_all_cores'),
        # two counters read at slightly different instants: clamp the difference at 0
        'other_load_percent_of_one_core': (max(0.0, machine_pct_one_core - own)
                                           if machine_pct_one_core is not None else None),
        'node_rss_mib': meta.get('node_rss_mib'),
        'publisher': pub_stats,
        'mi': mi_pairs,
    }


def markdown(args, meta, s) -> str:
    m = meta['machine']
    cpu = s['cpu_percent_of_one_core']
    lat = s['latency_e2e_s']
    pub = s['publisher'] or {}
    smoke = ' (smoke run: shorter than 60 s)' if args.duration < 60 else ''
    step = s['max_window_end_step_s']
    step_ms = None if step is None else 1e3 * step
    layout_text = (f"{args.streams} streams on {meta['topics']} topic(s) "
                   '(sensor_msgs/Imu, geometry_msgs/TwistStamped)')
    rows = [
        ('date', meta['date']),
        ('machine', f"{m['cpu']}, {m['cores']} cores; load average at start "
                    f"{meta['loadavg_start']}"),
        ('software', f"python {m['python']}, torch {m.get('torch')} "
                     f"({m.get('torch_threads')} threads in the node"
                     f"{', OMP_NUM_THREADS=' + meta['omp'] if meta['omp'] else ''}), "
                     f"{meta['rmw']}"),
        ('setup', f"{layout_text} at {args.rate:g} Hz -> node: window {s['window_size']} "
                  f"samples at {float(args.sample_rate or args.rate):g} Hz "
                  f"({num(s['window_span_s'], '.2f')} s), {args.eval_rate:g} windows/s, "
                  f"{s['pairs']} pairs, {s['method']} on {s['device']}"),
        ('duration', f"{s['duration_s']:.1f} s measured{smoke}, after {args.warmup:g} s "
                     f"warm-up (first MI message {num(s['first_mi_after_s'], '.1f')} s after "
                     'the node started)'),
        ('MI messages received / expected',
         f"{s['messages']} / {s['expected']:.0f} ({100 * s['messages'] / s['expected']:.1f} %)"
         if s['expected'] else '-'),
        ('**end-to-end latency** p50 / p95 / p99 / max', f'**{ms(lat)}**'),
        ('... at the middleware reception of the MI message', ms(s['latency_e2e_at_reception_s'])),
        ('evaluation (msg.latency) p50 / p95 / p99 / max', ms(s['evaluation_s'])),
        ('rest (end-to-end - evaluation) p50 / p95 / p99 / max', ms(s['rest_s'])),
        ('listener delay (callback - reception) p50 / p95 / p99 / max',
         ms(s['listener_delay_s'])),
        *([('input sample transport (bench probe on one input topic) p50 / p95 / p99 / max',
             f"{ms(s['probe_sample_latency_s'])} at {num(s['probe_rate_hz'], '.1f', ' Hz')}")]
          if args.probe else []),
        ('skipped windows (node diagnostics)',
         f"{num(s['windows_skipped'], 'd')} in the interval "
         f"({num(s['windows_skipped_whole_run'], 'd')} in the whole run); "
         f"gaps between window ends > 1.5 periods: {s['window_end_gaps']} "
         f"(largest step {num(step_ms, '.0f', ' ms')}); "
         f"evaluation errors {num(s['evaluation_errors'], 'd')}"),
        ('**node CPU**', f"**{num(cpu.get('node'), '.0f', ' %')}** of one core "
                         f"(peak 1 s: {num(s['cpu_peak_1s_percent'].get('node'), '.0f', ' %')}); "
                         f"RSS {num(s['node_rss_mib'], '.0f', ' MiB')}"),
        ('publisher CPU / bench listener CPU',
         f"{num(cpu.get('publisher'), '.0f', ' %')} / {num(cpu.get('bench'), '.0f', ' %')} "
         'of one core'),
        ('machine', f"{num(s['machine_busy_percent_all_cores'], '.0f', ' %')} of all cores busy; "
                    f"other processes: {num(s['other_load_percent_of_one_core'], '.0f', ' %')} "
                    'of one core'),
        ('publisher', f"{num(pub.get('achieved_rate_hz'), '.1f', ' Hz')} achieved, "
                      f"{pub.get('late_ticks', '-')} tick(s) > 1 period late (max "
                      f"{num(pub.get('max_late_s') and 1e3 * pub['max_late_s'], '.1f', ' ms')}), "
                      'publishing one tick p50 '
                      f"{num(pub.get('publish_tick_p50_ms'), '.2f', ' ms')}"),
        ('streams at the node', (f"{s['stream_rate_hz'][0]:.1f}-{s['stream_rate_hz'][1]:.1f} Hz; "
                                 if s['stream_rate_hz'] else '- ; ')
         + ', '.join(f'{k} {v}' for k, v in s['stream_counters'].items())),
    ]
    mi = s['mi']
    parts = [f"{k} (rho {v['rho']:g}) {v['mean']:.3f} +- {v['sd']:.3f} (truth {v['truth']:.3f})"
             for k, v in mi.items() if k != 'independent']
    if 'independent' in mi:
        parts.append(f"{mi['independent']['pairs']} independent pairs: mean "
                     f"{mi['independent']['mean']:.3f}, p95 {mi['independent']['p95']:.3f}")
    rows.append(('MI (nats), mean +- sd over the interval', '; '.join(parts) or '-'))
    lines = ['# Node latency benchmark', '', f"`{meta['command']}`", '',
             '| quantity | value |', '|---|---|']
    lines += [f'| {k} | {v} |' for k, v in rows]
    notes = []
    if args.duration < 60:
        notes.append(f'Smoke run ({args.duration:g} s): not a measurement.')
    other = s['other_load_percent_of_one_core']
    if other is not None and other > 20:
        notes.append(f'Not a quiet machine: other processes used {other:.0f} % of one core '
                     'during the interval.')
    if s['stream_rate_hz'] and s['stream_rate_hz'][0] < 0.95 * args.rate:
        depth_s = 100 / args.rate
        notes.append(
            f"The node received its streams at {s['stream_rate_hz'][0]:.0f}-"
            f"{s['stream_rate_hz'][1]:.0f} Hz of {args.rate:g} Hz published: its input "
            'callbacks fall behind, samples are lost in the DDS reader queues (node QoS '
            f'depth 100 = {depth_s:.2f} s at {args.rate:g} Hz; not counted by the node) and '
            'the newest sample it holds is up to that old, which shows in "rest". Lost '
            'samples are interpolated over, which also biases MI of dependent pairs down.')
    if s['expected'] and s['messages'] < 0.95 * s['expected']:
        notes.append(f"Only {s['messages']} of {s['expected']:.0f} expected windows arrived "
                     '(evaluation slower than the publish period: skipped windows).')
    if notes:
        lines += ['', '**Notes.** ' + ' '.join(notes)]
    lines += ['', 'End-to-end latency = wall time at the start of the listener callback minus '
              "the MI message's header.stamp (the window's last aligned sample, stamped with "
              'the wall clock by the publisher). Latency percentiles: numpy linear '
              'interpolation; max = p100. CPU: /proc utime+stime over the interval. '
              'Skipped windows: delta of the node\'s windows_skipped (1 Hz diagnostics). '
              'See the docstring of bench/node_latency.py.', '']
    return '\n'.join(lines)


# --- main -------------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--duration', type=float, default=60.0, help='measured seconds (60)')
    p.add_argument('--warmup', type=float, default=5.0,
                   help='seconds after the first MI message that are not measured (5)')
    p.add_argument('--estimator', choices=['infonet', 'ksg'], default='infonet')
    p.add_argument('--device', default='auto', help='node parameter device (auto)')
    p.add_argument('--streams', type=int, default=8)
    p.add_argument('--streams-per-topic', type=int, default=1,
                   help='fields per message (1 = one topic per stream)')
    p.add_argument('--rate', type=float, default=200.0, help='publish rate per stream, Hz')
    p.add_argument('--sample-rate', type=float, default=0.0,
                   help='node sample_rate_hz (default: = --rate)')
    p.add_argument('--window', type=int, default=512, help='node window_size')
    p.add_argument('--eval-rate', type=float, default=10.0, help='node publish_rate_hz')
    p.add_argument('--rhos', default='0.9,0.6,0.3,0',
                   help='correlation of pairs (s0,s1), (s2,s3), ... (cycled)')
    p.add_argument('--param', action='append', default=[], metavar='KEY=VALUE',
                   help='extra node parameter (YAML value), e.g. max_gap_s=0.5; repeatable')
    p.add_argument('--torch-threads', type=int, default=0,
                   help='OMP_NUM_THREADS for the node (default: torch default)')
    p.add_argument('--domain-id', type=int, default=0, help='ROS_DOMAIN_ID (default: random)')
    p.add_argument('--startup-timeout', type=float, default=120.0,
                   help='seconds to wait for the first MI message')
    p.add_argument('--out', default=str(ROOT / 'bench' / 'results' / 'node_latency.md'),
                   help='markdown report; raw data goes to the same name with .json')
    p.add_argument('--probe', action='store_true',
                   help='also subscribe to the first input topic (as the node does) and '
                        'report sample transport latency; adds ~200 callbacks/s here')
    p.add_argument('--keep-logs', action='store_true',
                   help='keep the params file and process logs (temporary directory)')
    args = p.parse_args(argv)
    if args.streams < 2 or args.duration <= 0 or args.warmup < 0 or args.eval_rate <= 0:
        p.error('need --streams >= 2, --duration > 0, --warmup >= 0, --eval-rate > 0')
    for item in args.param:
        if '=' not in item or not item.partition('=')[0].strip():
            p.error(f'--param wants KEY=VALUE, got {item!r}')
    return args


def run(args) -> int:
    domain = args.domain_id or random.SystemRandom().randint(1, 100)
    env = {**os.environ, 'ROS_DOMAIN_ID': str(domain),
           'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'PYTHONUNBUFFERED': '1'}
    os.environ['ROS_DOMAIN_ID'] = str(domain)
    node_env = dict(env)
    if args.torch_threads:
        node_env['OMP_NUM_THREADS'] = str(args.torch_threads)
    workdir = Path(tempfile.mkdtemp(prefix='node_latency_'))
    streams = layout(args.streams, args.streams_per_topic)
    params = write_params(workdir / 'params.yaml', streams, args)
    node_log, pub_log = workdir / 'node.log', workdir / 'publisher.log'
    pub_stats_file = workdir / 'publisher_stats.json'

    with open('/proc/loadavg') as f:
        loadavg = ' '.join(f.read().split()[:3])
    machine = {'cpu': cpu_model(), 'cores': os.cpu_count(), 'python': platform.python_version(),
               **torch_info(node_env)}
    # the node sets torch's thread count from its torch_threads parameter (0 = torch default)
    threads = dict(item.partition('=')[::2] for item in args.param).get('torch_threads')
    threads = int(threads) if threads is not None else PipelineConfig.torch_threads
    if threads > 0:
        machine['torch_threads'] = threads
    meta = {'date': dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
            'machine': machine, 'loadavg_start': loadavg, 'cores': os.cpu_count() or 1,
            'omp': node_env.get('OMP_NUM_THREADS', ''), 'domain_id': domain,
            'topics': len({t for t, _, _ in streams.values()}),
            'command': ' '.join(shlex.quote(a) for a in
                                [os.path.relpath(sys.executable, ROOT),
                                 os.path.relpath(__file__, ROOT), *sys.argv[1:]])}
    print(f'[node_latency] domain {domain}, logs in {workdir}', flush=True)

    listener = node = pub = None
    ok = False
    try:
        first_stream = next(iter(streams.values()))
        listener = Listener(domain, probe=first_stream[:2] if args.probe else None)
        import rclpy
        meta['rmw'] = rclpy.get_rmw_implementation_identifier()
        node_start = time.monotonic()
        node = start(estimator_command() + ['--ros-args', '--params-file', str(params)],
                     node_env, node_log)
        total = args.startup_timeout + args.warmup + args.duration + 30
        pub = start([sys.executable, str(PUBLISHER), '--streams', str(args.streams),
                     '--streams-per-topic', str(args.streams_per_topic),
                     '--rate', str(args.rate), '--rhos', args.rhos,
                     '--duration', str(total), '--wait', str(args.startup_timeout),
                     '--stats-file', str(pub_stats_file)], env, pub_log)
        procs = {'node': (node, node_log), 'publisher': (pub, pub_log)}

        last_check = [0.0]

        def check_alive(phase):
            now = time.monotonic()
            if now - last_check[0] < 0.25:   # keep this process's own CPU use low
                return
            last_check[0] = now
            for name, (proc, log) in procs.items():
                if proc.poll() is not None:
                    raise BenchError(f'{name} exited with code {proc.returncode} {phase}; '
                                     f'last output ({log}):\n{tail(log)}', code=2)

        # 1. start-up: wait for the first MI message
        deadline = node_start + args.startup_timeout
        while not listener.mi:
            listener.spin_once(0.05)
            check_alive('before the first MI message')
            if time.monotonic() > deadline:
                raise BenchError(
                    f'no MI message within {args.startup_timeout:g} s of starting the node.\n'
                    f'node log ({node_log}):\n{tail(node_log)}\n'
                    f'publisher log ({pub_log}):\n{tail(pub_log, 1000)}', code=2)
        meta['first_mi_after_s'] = listener.mi[0]['recv_mono'] - node_start
        print(f"[node_latency] first MI message after {meta['first_mi_after_s']:.1f} s "
              f"({listener.mi[0]['method']} on {listener.mi[0]['device']}); warm-up "
              f'{args.warmup:g} s, measuring {args.duration:g} s', flush=True)

        # 2. warm-up, then the measured interval with CPU samples every second
        pids = {'node': node.pid, 'publisher': pub.pid, 'bench': os.getpid()}
        t_start = listener.mi[0]['recv_mono'] + args.warmup
        while time.monotonic() < t_start:
            listener.spin_once(min(0.05, max(0.0, t_start - time.monotonic())))
            check_alive('during warm-up')
        first = previous = CpuSample(pids)
        t_end = first.wall + args.duration
        series = []
        while True:
            now = time.monotonic()
            if now >= t_end:
                break
            listener.spin_once(min(0.05, t_end - now))
            check_alive('during the measurement')
            if time.monotonic() - previous.wall >= 1.0:
                sample = CpuSample(pids)
                series.append(cpu_percent(previous, sample))
                previous = sample
        last = CpuSample(pids)
        meta['node_rss_mib'] = rss_mib(node.pid)
        cpu = cpu_percent(first, last)
        interval = (first.wall, last.wall)

        # 3. stop the publisher first (it writes its statistics), then the node
        stop(pub)
        pub_stats = None
        try:
            pub_stats = json.loads(pub_stats_file.read_text())
        except (OSError, ValueError):
            pass
        summary = summarize(args, listener, interval, cpu, series, pub_stats, meta)
        report = markdown(args, meta, summary)
        print(report, flush=True)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report)
        raw = {'meta': meta, 'args': vars(args), 'summary': summary, 'cpu_series': series,
               'params_yaml': params.read_text(),
               'messages': [{k: v for k, v in m.items() if k not in ('streams', 'pairs')}
                            for m in listener.mi],
               'streams': listener.mi[0]['streams'] if listener.mi else [],
               'pairs': listener.mi[0]['pairs'] if listener.mi else [],
               'interval_monotonic': interval}
        out.with_suffix('.json').write_text(json.dumps(raw, indent=1, default=str))
        print(f'[node_latency] wrote {out} and {out.with_suffix(".json")}', flush=True)
        ok = True
        return 0
    finally:
        codes = {'publisher': stop(pub), 'node': stop(node)}
        if listener is not None:
            listener.close()
        if ok and node is not None and codes['node'] not in (0, None):
            print(f"[node_latency] warning: node exited with {codes['node']} on SIGINT; "
                  f'log tail:\n{tail(node_log, 1500)}', file=sys.stderr)
        if ok and not args.keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f'[node_latency] logs kept in {workdir}', file=sys.stderr)


def main(argv=None) -> int:
    args = parse_args(argv)

    def terminate(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)   # even if started with it ignored
    try:
        return run(args)
    except BenchError as exc:
        print(f'node_latency: error: {exc}', file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print('node_latency: interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
