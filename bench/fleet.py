"""Fleet benchmark: bags per minute through ``bag_eval``'s Dask engine, 1 and 2 workers.

    python bench/fleet.py                 # 12 demo bags of 60 s; ~3 min on 2 cores
    python bench/fleet.py --bags 6 --duration 30

The bags are demo bags (infonet_ros.demo_data, different seeds) evaluated with
config/demo.yaml (4 streams, 6 pairs, 256-sample windows at 20 Hz, 2 per second, bundled
InfoNet on the CPU). Runs, each into a fresh output directory, one after another:

1. in-process (``--workers 0``): the same task function without Dask (the baseline);
2. a LocalCluster with 1 worker process, then with 2 (``--workers 1`` / ``2``);
3. 2 workers with the per-bag plots (the default of the command line; the driver draws them).

Reported: wall time of the whole run (cluster start included) and bags per minute; the
cluster's start-up (measured on its own: LocalCluster up, one warm-up task importing the
pipeline and torch, closed); and the engine's overhead per bag, ``(1-worker wall - start-up
- in-process wall) / bags``: scheduling, pickling a bag's results back, on top of the
evaluation itself. The 1-minute load average is sampled every second (this machine is
shared): before the runs, and median / max during them (our own run adds up to workers + 1).
Writes bench/results/fleet.md (and prints it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

from infonet_ros import fleet, tune_malloc  # noqa: E402
from infonet_ros.bag_eval import load_config  # noqa: E402
from infonet_ros.demo_data import DemoScenario, write_demo_bag  # noqa: E402

OUT = ROOT / 'bench' / 'results' / 'fleet.md'


class LoadSampler:
    """The 1-minute load average, every second, on a thread."""

    def __init__(self):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(1.0):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _warm_up():
    """What a worker's first task pays: the pipeline, torch and the model."""
    import torch  # noqa: F401

    import infonet_ros.bag_eval  # noqa: F401
    from infonet_ros import InfoNetEstimator
    InfoNetEstimator.pretrained(device='cpu')
    return True


def cluster_start_s(workers: int) -> float:
    start = time.perf_counter()
    with fleet.dask_client(workers=workers) as client:
        client.run(_warm_up)
    return time.perf_counter() - start


def run(bags, config, out: Path, workers: int, plots: bool):
    if out.exists():
        shutil.rmtree(out)
    with LoadSampler() as load:
        result = fleet.run_fleet(bags, config, out, workers=workers, plots=plots,
                                 progress=False)
    assert result.count('done') == len(bags), [o.error for o in result.outcomes]
    return result, load.samples


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--bags', type=int, default=12)
    parser.add_argument('--duration', type=float, default=60.0, help='seconds per bag')
    parser.add_argument('--out', type=Path, default=OUT)
    args = parser.parse_args(argv)
    tune_malloc()
    config = load_config(ROOT / 'config' / 'demo.yaml', device='cpu')
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix='bench_fleet_') as tmp:
        tmp = Path(tmp)
        for i in range(args.bags):
            write_demo_bag(tmp / 'bags' / f'run_{i:02d}',
                           DemoScenario(duration_s=args.duration, seed=1000 + i))
        bags = fleet.find_bags([str(tmp / 'bags')])
        size_mb = sum(f.stat().st_size for f in (tmp / 'bags').rglob('*') if f.is_file()) / 1e6
        # Warm this process (imports, model) so the in-process baseline pays no start-up.
        fleet.run_fleet(bags[:1], config, tmp / 'warm', workers=0, plots=False,
                        progress=False)
        rows = {}
        start_s = {1: cluster_start_s(1), 2: cluster_start_s(2)}
        for label, workers, plots in (('in-process, no Dask', 0, False),
                                      ('LocalCluster, 1 worker', 1, False),
                                      ('LocalCluster, 2 workers', 2, False),
                                      ('LocalCluster, 2 workers, with per-bag plots', 2,
                                       True)):
            result, load = run(bags, config, tmp / f'out_{workers}_{plots}', workers, plots)
            windows = 0
            for o in result.outcomes:
                windows += sum(1 for _ in open(tmp / f'out_{workers}_{plots}' / o.folder
                                               / 'mi.csv')) - 1
            rows[label] = {'workers': workers, 'plots': plots, 'wall_s': result.wall_s,
                           'task_s': statistics.median(o.wall_s for o in result.outcomes),
                           'load': load, 'rows': windows}
            print(f'{label}: {result.wall_s:.1f} s', flush=True)
    load_all = [x for r in rows.values() for x in r['load']]
    base = rows['in-process, no Dask']['wall_s']
    one = rows['LocalCluster, 1 worker']['wall_s']
    overhead = (one - start_s[1] - base) / len(bags)
    n = len(bags)
    lines = [
        f'# Fleet benchmark (`bench/fleet.py`, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC)',
        '',
        f'- {n} demo bags of {args.duration:g} s ({size_mb / n:.1f} MB each, mcap), '
        f'config/demo.yaml (4 streams, 6 pairs, 256-sample windows, 2 per second: '
        f'{rows["in-process, no Dask"]["rows"] // 6 // n} windows per bag), bundled InfoNet, '
        'CPU, 1 torch thread per worker',
        f'- machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), '
        f'Python {platform.python_version()}; shared with other users: 1-min load average '
        f'{load_before[0]:.2f} before the runs, median {statistics.median(load_all):.2f} / max '
        f'{max(load_all):.2f} during them (our own run adds up to workers + 1)',
        '- wall: the whole run, from the bag list to the fleet report (cluster start included); '
        'task: median per-bag wall time on its worker',
        '',
        '| engine | wall (s) | bags / min | task per bag (s) | load during (median) |',
        '|---|---:|---:|---:|---:|',
    ]
    for label, r in rows.items():
        lines.append(f"| {label} | {r['wall_s']:.1f} | {60 * n / r['wall_s']:.1f} | "
                     f"{r['task_s']:.2f} | {statistics.median(r['load']):.2f} |")
    lines += [
        '',
        f'- LocalCluster start-up (up, one warm-up task importing the pipeline and torch, '
        f'closed): {start_s[1]:.1f} s with 1 worker, {start_s[2]:.1f} s with 2',
        f'- engine overhead per bag (1-worker wall - start-up - in-process wall) / bags: '
        f'{overhead:+.2f} s',
        f'- speed-up 2 workers / 1 worker: '
        f"{one / rows['LocalCluster, 2 workers']['wall_s']:.2f}x",
        '',
    ]
    text = '\n'.join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
