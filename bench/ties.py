"""Tied data benchmark: binary, quantised, saturated and counter streams.

    python bench/ties.py                 # N = 128, 500, 2000; 40 repeats; ~2 min on 2 cores
    python bench/ties.py --repeats 10    # quicker

Two tables, InfoNet as shipped next to InfoNet fed averaged tied ranks (what the estimator
did before ties were broken per pair) and KSG (k = 3, its tie jitter) on the same samples:

1. independence: a tied stream (binary, 3/7/20 equiprobable levels, clipped in 30/50/70 %
   of the samples, an integer counter floor(3 e^z)) against independent Gaussian noise:
   mean estimate over the repeats (truth 0);
2. dependence: ``infonet_ros.tasks.tied_suite()`` (sign(Z1) against a correlated Gaussian,
   Gaussian pairs quantised on one or both axes, clipped axes) with exact ground truth:
   mean estimate and its error.

Evaluation seeds come from ``tasks.data_seed`` (>= 10^7, disjoint from training).
Writes bench/results/ties.md (and prints it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infonet_ros import InfoNetEstimator, tune_malloc  # noqa: E402
from infonet_ros.baselines import KSG  # noqa: E402
from infonet_ros.copula import rank_transform_numpy  # noqa: E402
from infonet_ros.tasks import data_seed, tied_marginals, tied_suite  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "ties.md"


def tied_inputs():
    return {**tied_marginals(), "continuous (reference)": lambda z: z}


class AveragedTies:
    """InfoNet on ranks with ties averaged: the estimator before ties were broken."""

    def __init__(self, est: InfoNetEstimator):
        self.est = est

    def estimate_batch(self, xs, ys):
        import torch
        u = torch.from_numpy(np.stack([rank_transform_numpy(xs), rank_transform_numpy(ys)], -1))
        return np.maximum(self.est._forward_points(u), 0.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ns", default="128,500,2000")
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    tune_malloc()
    import torch
    torch.set_num_threads(1)
    ns = [int(n) for n in args.ns.split(",")]
    est = InfoNetEstimator.pretrained(device="cpu")
    before = AveragedTies(est)
    ksg = KSG(k=3)
    r = args.repeats
    start = time.time()
    lines = [f"# Tied data (`bench/ties.py`, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC)", "",
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
             f"{r} repeats per cell, mean estimates in nats. \"averaged ties\": the same network fed "
             "ranks with ties averaged (the estimator before the fix).", "",
             "## 1. A tied stream against independent Gaussian noise (truth 0)", ""]
    head = "| x | " + " | ".join(f"N = {n}: InfoNet | averaged ties | KSG" for n in ns) + " |"
    lines += [head, "|---|" + "---:|---:|---:|" * len(ns)]
    for name, f in tied_inputs().items():
        cells = []
        for n in ns:
            rng = np.random.default_rng(data_seed(name, n, 0))
            xs = np.stack([f(rng.standard_normal(n)) for _ in range(r)])
            ys = rng.standard_normal((r, n))
            cells += [f"{est.estimate_batch(xs, ys).mean():.3f}", f"{before.estimate_batch(xs, ys).mean():.3f}",
                      f"{np.mean([ksg.estimate(a, b) for a, b in zip(xs, ys)]):+.3f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    lines += ["", "## 2. Dependent pairs with exact ground truth (`tasks.tied_suite()`)", "",
              "Lx, Ly: levels of x and y (c = continuous); clipped: share of x at its limits. "
              "Cells: mean estimate (error against the truth).", ""]
    head = "| task | truth | " + " | ".join(f"N = {n}: InfoNet | averaged ties | KSG" for n in ns) + " |"
    lines += [head, "|---|---:|" + "---:|---:|---:|" * len(ns)]
    worst = {n: 0.0 for n in ns}
    for task in tied_suite():
        truth = task.mutual_information()
        cells = []
        for n in ns:
            xs, ys = (np.array(a) for a in zip(*(task.sample(n, data_seed(task.name, n, k)) for k in range(r))))
            a = est.estimate_batch(xs, ys).mean()
            b = before.estimate_batch(xs, ys).mean()
            c = np.mean([ksg.estimate(x, y) for x, y in zip(xs, ys)])
            worst[n] = max(worst[n], abs(a - truth))
            cells += [f"{a:.3f} ({a - truth:+.3f})", f"{b:.3f} ({b - truth:+.3f})", f"{c:.3f} ({c - truth:+.3f})"]
        lines.append(f"| {task.name.replace('quantised_gaussian', 'quantised').replace('clipped_gaussian', 'clipped')} "
                     f"| {truth:.3f} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    lines += ["", "Largest |InfoNet error| over the dependent tasks: "
              + ", ".join(f"N = {n}: {worst[n]:.3f}" for n in ns) + f". Run time {time.time() - start:.0f} s.", ""]
    text = "\n".join(lines)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
