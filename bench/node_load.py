"""The infonet_estimator node under input load: memory, input accounting, evaluation rate.

    .venv/bin/python bench/node_load.py                       # 8 streams x 1 kHz, 60 s
    .venv/bin/python bench/node_load.py --streams 4 --rate 500 --duration 10 --out /tmp/x.md

Three processes on one fresh ROS_DOMAIN_ID (loopback only): bench/ros_load_publisher.py
(``--streams`` streams at ``--rate`` Hz, one topic per stream, stamped), the node (all
pairs, ``--window`` samples at ``--sample-rate`` Hz, ``--eval-rate`` windows/s, InfoNet
on the CPU with the default 1 thread) and this process, which samples the node's RSS from
/proc every second and listens to /diagnostics.

Reported:
- RSS of the node: at the start of the load, every 10 s, peak (VmHWM); flat = bounded;
- input accounting from the node's own counters (estimator status): messages the
  subscriptions took vs. messages the publisher sent (its stats file), messages the
  middleware reports lost, the rest = overwritten in full reader queues (DDS does not
  report those); per sample: accepted + dropped on arrival (late, non-finite, duplicate,
  unreadable), forgotten for room (overflow); buffered samples vs. buffer capacity;
- windows published, skipped (evaluation fell behind) and expected (duration x rate);
- how busy the machine was (/proc/loadavg, /proc/stat: the share of all cores busy).

Writes a markdown table to ``--out`` (default bench/results/node_load.md) and the raw
series next to it (.json). ``run_load`` is also what test/test_node_load.py calls.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
from node_latency import (cpu_model, cpu_ticks, estimator_command, machine_ticks,  # noqa: E402
                          start, stop, tail)
from ros_load_publisher import layout  # noqa: E402

NODE = 'infonet_estimator'
KEYS = ('input_messages_received', 'input_messages_lost', 'input_samples_received',
        'input_samples_dropped', 'samples_forgotten_overflow', 'buffered_samples',
        'buffer_capacity_samples', 'windows_published', 'windows_skipped',
        'windows_unavailable', 'evaluation_errors', 'window_latency_s', 'buffer_seconds',
        'reader_queue_depth')


def memory_kib(pid) -> dict:
    """VmRSS and VmHWM (peak RSS) of ``pid`` in KiB; {} if gone."""
    out = {}
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith(('VmRSS:', 'VmHWM:')):
                    out[line.split(':')[0]] = int(line.split()[1])
    except OSError:
        pass
    return out


def write_params(path: Path, streams: dict, window: int, sample_rate: float,
                 eval_rate: float) -> Path:
    lines = [f'/**/{NODE}:', '  ros__parameters:',
             f'    stream_names: [{", ".join(streams)}]', '    streams:']
    for name, (topic, type_, field) in streams.items():
        lines.append(f'      {name}: {{topic: {topic}, type: {type_}, field: "{field}"}}')
    params = {'pairs': '[]', 'window_size': window, 'sample_rate_hz': float(sample_rate),
              'publish_rate_hz': float(eval_rate), 'device': 'cpu', 'model_path': '""',
              'estimator': 'infonet'}
    lines += [f'    {k}: {v}' for k, v in params.items()]
    path.write_text('\n'.join(lines) + '\n')
    return path


def run_load(streams=8, rate=1000.0, duration=60.0, window=512, sample_rate=200.0,
             eval_rate=5.0, workdir=None, startup_timeout=90.0) -> dict:
    """Publisher -> node for ``duration`` s; returns the measurements (see the docstring)."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile
    from rclpy.signals import SignalHandlerOptions

    workdir = Path(workdir or tempfile.mkdtemp(prefix='node_load_'))
    domain = random.SystemRandom().randint(1, 100)
    env = {**os.environ, 'ROS_DOMAIN_ID': str(domain),
           'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'PYTHONUNBUFFERED': '1'}
    names = layout(streams)
    params = write_params(workdir / 'params.yaml', names, window, sample_rate, eval_rate)
    node_log, pub_log = workdir / 'node.log', workdir / 'publisher.log'
    pub_stats = workdir / 'publisher_stats.json'
    context = rclpy.Context()
    rclpy.init(args=[], context=context, domain_id=domain,
               signal_handler_options=SignalHandlerOptions.NO)
    listener = rclpy.create_node('node_load_listener', context=context)
    diags = []   # (monotonic time, {key: value}) of the estimator status
    stream_status = {}   # stream name -> {key: value} of its newest status

    def on_diag(msg):
        for s in msg.status:
            values = {kv.key: kv.value for kv in s.values}
            if s.name == f'/{NODE}: estimator':
                diags.append((time.monotonic(), values))
            elif s.name.startswith(f'/{NODE}: stream '):
                stream_status[s.name.rsplit(' ', 1)[-1]] = values

    listener.create_subscription(DiagnosticArray, '/diagnostics', on_diag,
                                 QoSProfile(depth=50))
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(listener)
    node = pub = None
    series = []    # (seconds into the load, RSS KiB, HWM KiB, node CPU ticks)
    try:
        node = start(estimator_command() + ['--ros-args', '--params-file', str(params)],
                     env, node_log)
        pub = start([sys.executable, str(BENCH / 'ros_load_publisher.py'),
                     '--streams', str(streams), '--rate', str(rate),
                     '--duration', str(duration), '--wait', str(startup_timeout),
                     '--stats-file', str(pub_stats)], env, pub_log)
        deadline = time.monotonic() + startup_timeout
        while 'publishing' not in pub_log.read_text():
            if time.monotonic() > deadline or node.poll() is not None or \
                    pub.poll() is not None:
                raise RuntimeError(f'no start: node log:\n{tail(node_log)}\n'
                                   f'publisher log:\n{tail(pub_log)}')
            executor.spin_once(timeout_sec=0.1)
        t0 = time.monotonic()
        busy0 = machine_ticks()
        next_sample = t0
        while pub.poll() is None:
            executor.spin_once(timeout_sec=0.05)
            if time.monotonic() >= next_sample:
                mem = memory_kib(node.pid)
                series.append((time.monotonic() - t0, mem.get('VmRSS'), mem.get('VmHWM'),
                               cpu_ticks(node.pid)))
                next_sample += 1.0
            if node.poll() is not None:
                raise RuntimeError(f'node died:\n{tail(node_log)}')
            if time.monotonic() - t0 > duration + 60:
                raise RuntimeError('publisher did not stop')
        busy1 = machine_ticks()
        end = time.monotonic()
        while time.monotonic() < end + 2.5:           # the last counters after the load
            executor.spin_once(timeout_sec=0.1)
        final_mem = memory_kib(node.pid)
        with open('/proc/loadavg') as f:
            loadavg = f.read().split()[:3]
        code = stop(node)
        node = None
    finally:
        stop(pub)
        stop(node)
        executor.shutdown()
        listener.destroy_node()
        rclpy.try_shutdown(context=context)
    stats = json.loads(pub_stats.read_text()) if pub_stats.exists() else {}
    during = [d for t, d in diags if t0 <= t <= end + 2.5]
    first = next((d for t, d in diags if t >= t0), {})
    last = during[-1] if during else {}
    ticks_per_s = os.sysconf('SC_CLK_TCK')
    cpu = [s[3] for s in series if s[3] is not None]
    return {
        'streams': streams, 'rate_hz': rate, 'duration_s': duration, 'window': window,
        'sample_rate_hz': sample_rate, 'eval_rate_hz': eval_rate,
        'publisher': stats, 'first': first, 'last': last, 'series': series,
        'stream_status': stream_status,
        'peak_rss_mib': final_mem.get('VmHWM', 0) / 1024,
        'node_cpu_percent': (100.0 * (cpu[-1] - cpu[0]) / ticks_per_s / (len(cpu) - 1)
                             if len(cpu) > 1 else float('nan')),
        'machine_busy_percent': 100.0 * (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
        'loadavg': loadavg, 'node_exit_code': code, 'node_log_tail': tail(node_log, 1500),
        'cores': os.cpu_count(), 'cpu_model': cpu_model(),
    }


def delta(r: dict, key: str) -> int:
    return int(float(r['last'].get(key, 0))) - int(float(r['first'].get(key, 0)))


def markdown(r: dict) -> str:
    last = r['last']
    sent = int(r['publisher'].get('messages', 0))
    received = int(float(last.get('input_messages_received', 0)))
    lost = int(float(last.get('input_messages_lost', 0)))
    samples = int(float(last.get('input_samples_received', 0)))
    dropped = int(float(last.get('input_samples_dropped', 0)))
    rss = [(t, rss) for t, rss, _, _ in r['series'] if rss]
    at = {}
    for t, kib in rss:
        at.setdefault(int(t // 10) * 10, kib / 1024)
    half = len(rss) // 2
    first_half = max((k for _, k in rss[:half]), default=0) / 1024
    second_half = max((k for _, k in rss[half:]), default=0) / 1024
    expected = r['duration_s'] * r['eval_rate_hz']
    when = dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    lines = [
        f"# Node under load (`bench/node_load.py`, {when})", '',
        f"{r['streams']} streams at {r['rate_hz']:g} Hz (one stamped topic each) for "
        f"{r['duration_s']:g} s into the node: windows of {r['window']} samples at "
        f"{r['sample_rate_hz']:g} Hz, {r['eval_rate_hz']:g} per second, all "
        f"{r['streams'] * (r['streams'] - 1) // 2} pairs, InfoNet on the CPU (1 thread). "
        f"{r['cpu_model']}, {r['cores']} cores; the machine was "
        f"{r['machine_busy_percent']:.0f} % busy over all cores during the run (load average "
        f"{' / '.join(r['loadavg'])} at its end; other jobs shared it).", '',
        '| measure | value |', '|---|---|',
        f"| node RSS: peak (VmHWM) | **{r['peak_rss_mib']:.0f} MiB** |",
        f"| node RSS at 0 / 10 / 20 / ... s | "
        f"{' / '.join(f'{v:.0f}' for _, v in sorted(at.items()))} MiB |",
        f'| node RSS max, first half / second half of the run | {first_half:.0f} / '
        f'{second_half:.0f} MiB |',
        f"| node CPU | {r['node_cpu_percent']:.0f} % of one core |",
        f"| publisher: ticks, achieved rate, late ticks | {r['publisher'].get('ticks', 0)}, "
        f"{r['publisher'].get('achieved_rate_hz', 0):.0f} Hz, "
        f"{r['publisher'].get('late_ticks', 0)} |",
        f'| messages sent (publisher) | {sent} |',
        f'| messages received by the node (`input_messages_received`) | {received} '
        f'({100 * received / max(1, sent):.1f} %) |',
        f'| messages the middleware reports lost (`input_messages_lost`) | {lost} |',
        f'| not received, not reported (overwritten in a full reader queue of '
        f"{last.get('reader_queue_depth', '?')}) | {sent - received - lost} |",
        f'| samples received / accepted / dropped on arrival (`input_samples_dropped`) | '
        f'{samples} / {samples - dropped} / {dropped} |',
        f"| samples forgotten for room (`samples_forgotten_overflow`) | "
        f"{last.get('samples_forgotten_overflow', '?')} |",
        f"| buffered samples at the end / capacity (`buffer_seconds` "
        f"{float(last.get('buffer_seconds', 0)):.2f} s) | {last.get('buffered_samples', '?')}"
        f" / {last.get('buffer_capacity_samples', '?')} |",
        f"| windows published / skipped / expected | {delta(r, 'windows_published')} / "
        f"{delta(r, 'windows_skipped')} / {expected:.0f} |",
        f"| last window's evaluation | {1e3 * float(last.get('window_latency_s', 'nan')):.0f}"
        ' ms |',
        f"| node exit code | {r['node_exit_code']} |", '']
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--streams', type=int, default=8)
    parser.add_argument('--rate', type=float, default=1000.0)
    parser.add_argument('--duration', type=float, default=60.0)
    parser.add_argument('--window', type=int, default=512)
    parser.add_argument('--sample-rate', type=float, default=200.0)
    parser.add_argument('--eval-rate', type=float, default=5.0)
    parser.add_argument('--out', default=str(BENCH / 'results' / 'node_load.md'))
    args = parser.parse_args(argv)
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    result = run_load(args.streams, args.rate, args.duration, args.window, args.sample_rate,
                      args.eval_rate)
    text = markdown(result)
    print(text)
    out = Path(args.out)
    out.write_text(text)
    out.with_suffix('.json').write_text(json.dumps(result, indent=1) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
