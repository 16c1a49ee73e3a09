#!/usr/bin/env python3
"""Evidence memory (``significance_memory``): calibration and power of combined p-values.

    python bench/evidence_memory.py          # -> bench/results/evidence_memory.md / .json

One long recording of K = 6 mutually independent streams per kind (white, AR(1) phi = 0.9,
smooth, Student-t 2 dof, tied AR(1)) is cut into overlapping windows of N samples every
N / 4 samples, as the node cuts its buffers, and every window goes through
``MIPipeline.evaluate`` (InfoNet, shipped null table) with ``significance`` table and
prewhitened. The p-values of each pair are then combined by the pipeline's own
``EvidenceMemory`` for M = 3 and 5 windows (the same code path as ``significance_memory``:
evaluating with memory 1 and combining afterwards gives the published p-values of memory M).
Reported: the per-pair false-positive rate at alpha = 0.05 after the warm-up (windows
whose p combines M windows), target 0.03-0.07, and the power on a weakly dependent AR(1)
pair (y = rho x + sqrt(1 - rho^2) e, x and e independent AR(1), phi = 0.9) in the same
set-up. Seeds are fixed.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'bench'))

from infonet_ros.evidence import EvidenceMemory  # noqa: E402
from infonet_ros.pipeline import MIPipeline  # noqa: E402
from infonet_ros.windowing import Window  # noqa: E402
from significance import K, ar1, config, streams  # noqa: E402

KINDS = ('white', 'ar1_0.9', 'smooth', 'student_t2', 'tied_ar1_0.9')
NS = (128, 512)
MEMORY = (1, 3, 5)
WINDOWS = 240            # windows per recording (hop N / 4): ~60 disjoint windows
ALPHA = 0.05
RHO = (0.1, 0.2)
RATE = 50.0


def sliding(data, n):
    t = np.arange(len(data)) / RATE
    hop = n // 4
    for s in range(0, len(data) - n + 1, hop):
        yield Window(t=t[s:s + n], data=data[s:s + n], t_start=t[s], t_end=t[s + n - 1])


def run(pipeline, cfgs, data, n):
    """p-values [windows, P] per significance mode, plus window times."""
    p = {mode: [] for mode in cfgs}
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        for w in sliding(data, n):
            times.append((w.t_start, w.t_end))
            for mode, cfg in cfgs.items():
                p[mode].append(pipeline.evaluate(w, cfg).p_value)
    return {m: np.array(v) for m, v in p.items()}, times


def combined(p, times, memory):
    """The p-values significance_memory = ``memory`` publishes, and the warm-up mask."""
    mem = EvidenceMemory()
    keys = [str(k) for k in range(p.shape[1])]
    out, full = [], []
    for row, (t0, t1) in zip(p, times):
        c, used = mem.combine(t0, t1, keys, row, memory)
        out.append(c)
        full.append(used.min() >= memory)
    return np.array(out), np.array(full)


def main() -> int:
    start = time.perf_counter()
    pipeline = MIPipeline(config('infonet'))
    cfgs = {'table': config('infonet'), 'prewhitened': config('infonet', significance='prewhitened')}
    pair_cfgs = {'table': config('infonet', 2),
                 'prewhitened': config('infonet', 2, significance='prewhitened')}
    out = {'alpha': ALPHA, 'k': K, 'windows': WINDOWS, 'fpr': {}, 'power': {}}
    for n in NS:
        length = WINDOWS * (n // 4) + n
        for kind in KINDS:
            rng = np.random.default_rng([21, n, KINDS.index(kind)])
            p, times = run(pipeline, cfgs, streams(kind, rng, length), n)
            for mode, pm in p.items():
                for m in MEMORY:
                    c, full = combined(pm, times, m)
                    out['fpr'][f'{mode}/{kind}/{n}/{m}'] = float(np.mean(c[full] <= ALPHA))
            print(n, kind, {k: v for k, v in out['fpr'].items() if f'/{kind}/{n}/' in k},
                  flush=True)
        for rho in RHO:
            rng = np.random.default_rng([22, n, int(100 * rho)])
            x, e = ar1(rng, length, 2, 0.9).T
            data = np.stack([x, rho * x + np.sqrt(1 - rho ** 2) * e], 1)
            p, times = run(pipeline, pair_cfgs, data, n)
            for mode, pm in p.items():
                for m in MEMORY:
                    c, full = combined(pm, times, m)
                    out['power'][f'{mode}/{rho}/{n}/{m}'] = float(np.mean(c[full] <= ALPHA))
            print(n, 'power', rho, {k: v for k, v in out['power'].items()
                                    if f'/{rho}/{n}/' in k}, flush=True)
    out['seconds'] = round(time.perf_counter() - start, 1)
    res = ROOT / 'bench' / 'results'
    (res / 'evidence_memory.json').write_text(json.dumps(out, indent=1) + '\n')
    (res / 'evidence_memory.md').write_text(markdown(out))
    print(markdown(out))
    return 0


def markdown(out) -> str:
    cols = [(n, m) for n in NS for m in MEMORY]
    head = '| significance | streams | ' + ' | '.join(f'N = {n}, M = {m}' for n, m in cols) + ' |'
    sep = '| --- | --- | ' + ' | '.join('---' for _ in cols) + ' |'
    lines = ['# Evidence memory: calibration and power (bench/evidence_memory.py)', '',
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. One recording of "
             f"{out['k']} independent streams per kind, {out['windows']} overlapping windows "
             'of N samples every N / 4 (about '
             f"{out['windows'] // 4} disjoint windows), InfoNet with the shipped null table. "
             'M = `significance_memory` (1: the window alone); rates after the warm-up '
             '(windows whose p combines M windows).', '',
             f"Per-pair false-positive rate at alpha = {out['alpha']} (target 0.03-0.07; "
             f"{K * (K - 1) // 2} pairs per window; consecutive windows overlap, so a cell "
             'holds about as much information as 60 x 15 independent pair-windows: '
             'sampling error about +-0.015):', '', head, sep]
    for mode in ('prewhitened', 'table'):
        for kind in KINDS:
            lines.append(f'| {mode} | {kind} | ' + ' | '.join(
                f"{out['fpr'][f'{mode}/{kind}/{n}/{m}']:.3f}" for n, m in cols) + ' |')
    lines += ['', f"Power at alpha = {out['alpha']}: one weakly dependent AR(1) pair (phi = "
              '0.9), the same windows:', '', head.replace('streams', 'rho'), sep]
    for mode in ('prewhitened', 'table'):
        for rho in RHO:
            lines.append(f'| {mode} | {rho} | ' + ' | '.join(
                f"{out['power'][f'{mode}/{rho}/{n}/{m}']:.2f}" for n, m in cols) + ' |')
    lines += ['', f"Run time {out['seconds']} s.", '']
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())
