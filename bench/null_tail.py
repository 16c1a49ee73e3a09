#!/usr/bin/env python3
"""The far tail of the shipped null table: are small p-values as rare as they claim?

    python bench/null_tail.py            # -> bench/results/null_tail.md / .json

Benjamini-Hochberg over the ~100 pairs of a window decides at p ~ 5e-4 .. 5e-3, far out in
the null's tail. Independent iid Gaussian pairs (seeded, disjoint from the calibration's
seeds) go through the published estimator (``InfoNetEstimator.pretrained().estimate_batch``)
and get their p-value from the shipped table at their own Bartlett factor, as in the
pipeline; the table reports, per N, the observed share of p <= alpha divided by alpha (1 =
calibrated, > 1 liberal) with its binomial standard error. N = 493 is the length of the
lagged innovations of a 500-sample window under ``significance: prewhitened``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infonet_ros import InfoNetEstimator  # noqa: E402
from infonet_ros.runtime import tune_malloc  # noqa: E402
from infonet_ros.significance import bartlett_factors_rows, load_null  # noqa: E402

NS = {128: 30000, 256: 30000, 493: 30000, 1024: 15000, 2000: 10000}
ALPHAS = (0.05, 0.01, 0.002, 0.001, 0.0004)
OUT = ROOT / 'bench' / 'results' / 'null_tail.md'


def main() -> int:
    tune_malloc()
    est = InfoNetEstimator.pretrained(device='cpu')
    null, why = load_null(est, 'infonet')
    if null is None:
        raise SystemExit(why)
    rows, start = {}, time.perf_counter()
    for n, reps in NS.items():
        rng = np.random.default_rng([424242, n])
        ps = []
        for i in range(0, reps, 1000):
            xs, ys = rng.standard_normal((2, min(1000, reps - i), n))
            mi = est.estimate_batch(xs, ys)
            _, b2 = bartlett_factors_rows(xs, ys)
            ps.append(null.p_values(mi, n, b2))
        p = np.concatenate(ps)
        rows[n] = {str(a): [round(float((p <= a).mean()) / a, 2),
                            round(float(np.sqrt(a * (1 - a) / p.size)) / a, 2)] for a in ALPHAS}
        rows[n]['pairs'] = int(p.size)
        print(n, rows[n], flush=True)
    secs = round(time.perf_counter() - start, 1)
    lines = ['# The far tail of the null table (`bench/null_tail.py`)', '',
             f'{time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}; read-out and table: '
             f'{null.fingerprint.get("sha256", "")[:12]}; {secs} s.', '',
             'Independent iid Gaussian pairs through the published estimator; p-values from the shipped '
             'table at each pair\'s Bartlett factor. Cells: observed share of p <= alpha / alpha '
             '(1 = calibrated; > 1 liberal) ± binomial standard error.', '',
             '| N | pairs | ' + ' | '.join(f'alpha = {a:g}' for a in ALPHAS) + ' |',
             '|---:|---:|' + '---:|' * len(ALPHAS)]
    for n, r in rows.items():
        lines.append(f'| {n} | {r["pairs"]} | ' + ' | '.join(f'{r[str(a)][0]:.2f} ± {r[str(a)][1]:.2f}' for a in ALPHAS) + ' |')
    OUT.write_text('\n'.join(lines) + '\n')
    OUT.with_suffix('.json').write_text(json.dumps({'rows': {str(k): v for k, v in rows.items()}, 'seconds': secs}, indent=1))
    print(f'wrote {OUT}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
