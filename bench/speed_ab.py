"""Speed of the published estimate now against an earlier revision, interleaved with KSG.

    python bench/speed_ab.py --baseline 87879de            # N = 1000, 28 pairs, 90 s
    python bench/speed_ab.py --baseline v0.3 --ns 256,1000 --seconds 60 --out /tmp/ab.md

The machine's speed drifts (up to 40 % between runs, and not alike for every method: a
busy memory bus slows the network and the rank statistics more than KSG's tree search), so
"is the new estimate slower than the one it replaces" needs both in one process, round by
round. The baseline's package (code, bundled weights, read-out and null tables) is taken
from git at ``--baseline`` (``git archive``) and imported under another name, the working
tree's package is copied beside it and imported under a third; the package modules the
estimator imports use relative imports, so they do not mix.

Each round, in an order shuffled every round (``speed.time_interleaved``): four one-pair
KSG calls (k = 3), one ``estimate_batch`` call of the baseline, of the current package, and
of the current network without its read-out, on the same P pairs (bench/speed.py's inputs).
A revision timed against itself reads 1.00 (0.999, 2026-12-03); with the fixed order used
until then (baseline, then current) it read 0.95: the call right after the same code finds
warm caches, so A/B ratios before that date favour the current side by ~5 %.

Reported per N: median latency per window, pair throughput and its ratio to KSG's one-pair
calls (bench/speed.py's "x KSG"), and current / baseline time. Writes a markdown table
(stdout and ``--out``) and a JSON file beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from accuracy import machine_info  # noqa: E402
from infonet_ros.runtime import tune_malloc  # noqa: E402
from speed import Group, ksg_groups, make_inputs, time_interleaved  # noqa: E402

BASELINE_NAME = "infonet_ros_baseline"
CURRENT_NAME = "infonet_ros_current"


def import_baseline(rev: str, into: Path):
    """The package at git revision ``rev`` as module ``infonet_ros_baseline`` (its estimator)."""
    try:
        blob = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "infonet_ros"],
                              check=True, capture_output=True).stdout
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"--baseline {rev!r}: git archive failed: {e.stderr.decode().strip()}") from None
    tar_path = into / "baseline.tar"
    tar_path.write_bytes(blob)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    (into / "infonet_ros").rename(into / BASELINE_NAME)
    sys.path.insert(0, str(into))
    return importlib.import_module(f"{BASELINE_NAME}.estimator")


def import_current(into: Path):
    """The working tree's package, copied as module ``infonet_ros_current`` (its estimator).

    Loaded the same way as the baseline (a fresh copy in the same folder), so that the code
    is the only difference between the two sides."""
    shutil.copytree(ROOT / "infonet_ros", into / CURRENT_NAME, ignore=shutil.ignore_patterns("__pycache__"))
    if str(into) not in sys.path:
        sys.path.insert(0, str(into))
    return importlib.import_module(f"{CURRENT_NAME}.estimator")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True, help="git revision whose package is the baseline")
    ap.add_argument("--ns", default="1000", help="sample sizes (default 1000)")
    ap.add_argument("--pairs", type=int, default=28, help="pairs per window (default 28)")
    ap.add_argument("--seconds", type=float, default=90.0, help="interleaved timing per N (default 90)")
    ap.add_argument("--out", default="bench/results/speed_ab.md")
    args = ap.parse_args(argv)
    tune_malloc()
    import torch
    torch.set_num_threads(1)
    ns = [int(v) for v in args.ns.split(",")]
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.baseline], capture_output=True,
                         text=True).stdout.strip() or args.baseline
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "infonet_ros"], capture_output=True,
                                text=True).stdout.strip())
    rows = []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        base_mod = import_baseline(args.baseline, Path(tmp))
        InfoNetEstimator = import_current(Path(tmp)).InfoNetEstimator
        ests = {
            f"baseline {rev}": base_mod.InfoNetEstimator.pretrained(device="cpu"),
            f"current {head}{' (+ uncommitted)' if dirty else ''}": InfoNetEstimator.pretrained(device="cpu"),
            "current, raw network (readout=False)": InfoNetEstimator.pretrained(device="cpu", readout=False),
        }
        for n in ns:
            xs, ys = make_inputs(n)
            xs, ys = xs[: args.pairs], ys[: args.pairs]
            unlimited = 1 << 30  # the time budget ends the rounds, not a call count
            ksg = ksg_groups(xs, ys)[0]  # one pair per call, four per round
            ksg.calls, ksg.max_calls = ksg.calls[: args.pairs], unlimited
            groups = [Group(k, "cpu", args.pairs, [lambda e=e: e.estimate_batch(xs, ys)], max_calls=unlimited)
                      for k, e in ests.items()]
            time_interleaved([ksg, *groups], min_rounds=1, budget_s=args.seconds)
            ksg_rate = 1.0 / float(np.median(ksg.lat))
            base = float(np.median(groups[0].lat))
            rows.append({"method": "KSG (one pair per call)", "n": n, "p50_ms": 1e3 / ksg_rate, "pairs_per_s": ksg_rate,
                         "x_ksg": 1.0, "vs_baseline": None, "calls": len(ksg.lat)})
            for g in groups:
                med = float(np.median(g.lat))
                rows.append({"method": g.method, "n": n, "p50_ms": med * 1e3, "pairs_per_s": args.pairs / med,
                             "x_ksg": args.pairs / med / ksg_rate, "vs_baseline": med / base, "calls": len(g.lat)})
    meta = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "machine": machine_info(),
            "load_at_start": [round(v, 2) for v in load], "baseline": rev, "head": head, "pairs": args.pairs,
            "seconds_per_n": args.seconds, "command": "bench/speed_ab.py " + " ".join(argv or sys.argv[1:])}
    lines = ["# Speed against an earlier revision (`bench/speed_ab.py`)", "",
             f"- date: {meta['date']}; machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores; load average "
             f"at start {' '.join(map(str, meta['load_at_start']))}; torch 1 thread",
             f"- baseline: the package at {rev} (its code, weights, read-out); current: {head}"
             f"{' with uncommitted changes' if dirty else ''}",
             f"- {args.pairs} pairs per window (bench/speed.py's inputs), interleaved round by round for "
             f"{args.seconds:g} s per N", f"- command: `{meta['command']}`", "",
             "| method | N | window p50 (ms) | pairs / s | x KSG | time / baseline | calls |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        vs = "" if r["vs_baseline"] is None else f"{r['vs_baseline']:.3f}"
        lines.append(f"| {r['method']} | {r['n']} | {r['p50_ms']:.2f} | {r['pairs_per_s']:.0f} | {r['x_ksg']:.2f} | "
                     f"{vs} | {r['calls']} |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
