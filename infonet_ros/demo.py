"""``infonet_demo``: the demo bag, evaluated, against its ground truth.

    infonet_demo                      # or: python -m infonet_ros.demo
    infonet_demo --out demo_out --storage sqlite3 --duration 120

1. writes ``demo_out/demo_bag`` (robot-like streams with a known, time-varying dependency
   structure, see ``infonet_ros.demo_data``) and ``demo_out/ground_truth.json``, unless a
   bag made with the same settings is already there;
2. runs ``bag_eval`` on it with ``config/demo.yaml`` and the bundled InfoNet weights, KSG on
   the same windows for comparison;
3. prints, per pair, the mean MI over the windows inside each ground-truth segment next to
   the true value, and where the report (``demo_out/report/summary.md``, plots) is.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from infonet_ros.bag_io import BagError
from infonet_ros.runtime import tune_malloc

__all__ = ['demo_config_path', 'main']


def demo_config_path() -> Path:
    """``config/demo.yaml``: in the source tree, else the installed share directory."""
    candidates = [Path(__file__).resolve().parents[1] / 'config' / 'demo.yaml']
    try:
        from ament_index_python.packages import get_package_share_directory
        candidates.append(Path(get_package_share_directory('infonet_ros')) / 'config'
                          / 'demo.yaml')
    except Exception:   # not installed with ament (PackageNotFoundError), or no ament_index
        pass
    candidates.append(Path(sys.prefix) / 'share' / 'infonet_ros' / 'config' / 'demo.yaml')
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError('config/demo.yaml not found; looked in '
                            + ', '.join(str(p) for p in candidates))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='infonet_demo',
        description='Build the demo bag (known, time-varying dependencies), run bag_eval on '
                    'it and compare with the ground truth.')
    parser.add_argument('--out', default='demo_out', metavar='DIR',
                        help='where the bag, ground truth and report go (default demo_out)')
    parser.add_argument('--storage', choices=['mcap', 'sqlite3'], default='mcap')
    parser.add_argument('--duration', type=float, default=120.0, metavar='S',
                        help='bag length in seconds (default 120)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--rebuild', action='store_true', help='write the bag again')
    parser.add_argument('--config', metavar='PARAMS.yaml',
                        help='node parameters (default: config/demo.yaml)')
    parser.add_argument('--model', metavar='PATH',
                        help='InfoNet weights (default: the bundled ones)')
    parser.add_argument('--device', help='auto | cpu | cuda | cuda:N')
    parser.add_argument('--no-compare', action='store_true', help='skip the KSG comparison')
    parser.add_argument('--no-plots', action='store_true')
    parser.add_argument('-q', '--quiet', action='store_true', help='no progress bar')
    return parser


def ensure_bag(out: Path, storage: str, duration: float, seed: int, rebuild: bool):
    """The demo bag under ``out`` (reused when made with these settings) and its truth."""
    from infonet_ros.demo_data import DemoScenario, ground_truth_path, write_demo_bag

    bag = out / 'demo_bag'
    truth_file = ground_truth_path(bag)
    if bag.exists() and truth_file.exists() and not rebuild:
        try:
            truth = json.loads(truth_file.read_text())
            same = (truth.get('storage') == storage and truth.get('duration_s') == duration
                    and truth.get('scenario', {}).get('seed') == seed)
        except ValueError:
            same = False
        if same:
            return bag, truth, False
    truth = write_demo_bag(bag, DemoScenario(duration_s=duration, seed=seed),
                           storage=storage, overwrite=True)
    return bag, truth, True


def truth_lines(summary: dict, method: str, compare: list[str]) -> list[str]:
    head = f"{'pair':<22} {'segment (s)':>12} {'true':>6} {method:>8}" \
        + ''.join(f' {m:>6}' for m in compare) + f" {'windows':>8}"
    lines = [head, '-' * len(head)]
    for row in summary['truth']:
        if not row['windows']:
            continue
        pair = f"{row['first']} : {row['second']}"
        seg = f"{row['start_s']:g}-{row['end_s']:g}"
        line = f"{pair:<22} {seg:>12} {row['true_mi']:>6.3f} {row['mean_mi']:>8.3f}"
        line += ''.join(f" {row[f'mean_mi_{m}']:>6.3f}" for m in compare)
        lines.append(line + f" {row['windows']:>8d}")
    return lines


def main(argv=None) -> int:
    from infonet_ros import report
    from infonet_ros.bag_eval import evaluate_bag, load_config

    args = build_parser().parse_args(argv)
    tune_malloc()
    out = Path(args.out)
    compare = [] if args.no_compare else ['ksg']
    start = time.perf_counter()
    try:
        config = load_config(args.config or demo_config_path(), args.model, args.device)
        bag, truth, built = ensure_bag(out, args.storage, args.duration, args.seed,
                                       args.rebuild)
        print(f"{'wrote' if built else 'using'} demo bag {bag} ({args.storage}, "
              f"{truth['duration_s']:g} s); ground truth {bag.parent / 'ground_truth.json'}")
        ev = evaluate_bag(bag, config, compare=compare, progress=not args.quiet)
        if not ev.results:
            raise BagError(f'no window could be evaluated: the bag ({args.duration:g} s) '
                           f'is shorter than a window ({config.window_span_s:.1f} s)')
        paths = report.write_report(ev, out / 'report', plots=not args.no_plots, truth=truth)
    except (BagError, ValueError, FileNotFoundError, OSError) as exc:
        print(f"infonet_demo: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('infonet_demo: interrupted', file=sys.stderr)
        return 130
    summary = json.loads(paths['summary_json'].read_text())
    print(f"\n{summary['windows_evaluated']} windows of {config.window_size} samples "
          f'({config.window_span_s:.2f} s) in {ev.wall_time_s:.1f} s '
          f"({summary['windows_per_s']:.1f} windows/s; {ev.method} on {ev.device})\n")
    print('Mean MI (nats) over the windows inside each ground-truth segment:')
    print('\n'.join(truth_lines(summary, ev.method, compare)))
    lag = truth['lagged']
    print(f"\nwheel_vel follows cmd_vx {1e3 * lag['lag_s']:.0f} ms late: MI at zero lag "
          f"{lag['mi_zero_lag']:.3f}, at the lag {lag['mi_at_lag']:.3f} nats.")
    edges = summary['graph']['edges']
    print('Graph (edges in >= 50 % of windows): '
          + (', '.join(f"{e['first']} - {e['second']}" for e in edges) or 'none'))
    for m, c in summary.get('compare', {}).items():
        print(f"{ev.method} vs {m}: r = {c['pearson_r']:.3f}, MAE = {c['mae_nats']:.3f} nats; "
              f"{1e3 * summary['estimator_time_per_window_s']:.1f} vs "
              f"{1e3 * c['time_per_window_s']:.1f} ms per window")
    print(f"\nreport: {paths['summary_md']}"
          + ('' if args.no_plots else f" (plots: {paths['plot_time'].name}, "
             f"{paths['plot_matrix'].name}, {paths['plot_graph'].name})")
          + f'\ntotal {time.perf_counter() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
