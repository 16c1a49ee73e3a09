#!/usr/bin/env python3
"""Simulate an estimator's null distribution (independent streams) and ship it as a table.

    python scripts/calibrate_null.py                     # both shipped tables (infonet, ksg)
    python scripts/calibrate_null.py --estimator infonet --draws 4000
    python scripts/calibrate_null.py --estimator infonet --model my.safetensors --out my_null.json

Rerun it whenever the weights, the read-out or what ``estimate_batch`` returns change: the
pipeline refuses a table whose fingerprint (sha256 of the weights and read-out files, and
the estimates on a seeded probe set) differs from the running estimator, and then
publishes NaN p-values rather than wrong ones (infonet_ros/significance.py).

Each draw is one independent pair (x, y) of N samples: two independent Gaussian series,
each white (10 %) or autocorrelated like robot streams (AR(1) with phi up to 0.995, a
smooth twice low-passed signal with a correlation time of 0.5..30 samples, or an
oscillating AR(2)), each then mapped to one of the marginal families robots produce:
Gaussian, Student-t (2 dof), binary, 3..20 equiprobable levels, and 50 %-clipped (a
saturated signal: half of the samples at one value). The draws of each N are grouped by
their Bartlett factor Bq of order q = 2 (``significance.bartlett_factors``, as the pipeline
measures it) into log-spaced groups (``significance.BQ_EDGES``, at least 200 draws each).
Pairs go through
the public ``estimate_batch`` exactly as the pipeline sends them (copula ranks with the
per-pair tie-breaking of copula.py). Pairs the estimator answers with the discrete plug-in
(both columns discrete, a small joint table) are left out: their p-value is the G test.
On top, infonet gets 14 000 iid Gaussian pairs per N (``--white-draws``), which fill the
B ~ 1 group (white streams, and the innovations of ``significance: prewhitened``) deeply
enough for its 0.999 quantile.
The table stores, for each N of a log-spaced grid from 32 to 8192 and each B group, the
quantiles at levels 0, 0.01, ..., 0.99, 0.995, 0.998, 0.999 and an exponential tail
fitted to the group's 100 largest values (or its top 10 %, whichever is smaller a share).
Beyond the grid the quantiles follow a power law in N fitted to the two outermost sizes
(significance.NullTable.at).

Cost (1 core, idle): about 6 min for infonet (16000 + 14000 draws per N), 3 min for ksg (6000
draws per N, N <= 4096: KSG costs O(N log N) per pair in Python).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infonet_ros.discrete import use_plugin  # noqa: E402
from infonet_ros.significance import (bartlett_factors_rows,  # noqa: E402
                                      estimator_fingerprint, fit_table, null_path_for,
                                      probe_estimates)

N_GRID = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
# 0, 0.01, ..., 0.99 and a deeper upper tail: Benjamini-Hochberg over ~100 pairs decides
# at p ~ 5e-4 - 5e-3, where an extrapolated tail was 2-4x liberal (docs/SIGNIFICANCE.md)
LEVELS = np.concatenate([np.round(np.arange(0, 100) / 100, 2), [0.995, 0.998, 0.999]])
FAMILIES = ('gauss', 'student_t2', 'binary', 'levels', 'clipped')
FAMILY_P = (0.4, 0.15, 0.15, 0.15, 0.15)
PROCESSES = ('white', 'ar1', 'lowpass2', 'ar2')
PROCESS_P = (0.1, 0.3, 0.35, 0.25)
DRAWS = {'infonet': 16000, 'ksg': 6000}           # per N
# extra white Gaussian pairs per N: they fill the B ~ 1 group (innovations of prewhitened
# streams, white streams) deep enough to read its 0.999 quantile
WHITE_DRAWS = {'infonet': 14000, 'ksg': 0}
MAX_N = {'infonet': 8192, 'ksg': 4096}
CHUNK = 250                                       # pairs per estimate_batch call


def gaussian_series(rng: np.random.Generator, n: int) -> tuple[np.ndarray, str]:
    """One stationary Gaussian series of n samples (unit variance) of a random process."""
    from scipy.signal import lfilter
    kind = PROCESSES[rng.choice(len(PROCESSES), p=PROCESS_P)]
    burn = 1000
    e = rng.standard_normal(n + burn)
    if kind == 'white':
        x = e
    elif kind == 'ar1':
        x = lfilter([1.0], [1.0, -(1.0 - 10 ** rng.uniform(-2.3, -0.3))], e)
    elif kind == 'lowpass2':
        a = np.exp(-1.0 / 10 ** rng.uniform(-0.3, 1.5))
        x = lfilter([1.0], [1.0, -a], lfilter([1.0], [1.0, -a], e))
    else:
        r, theta = 1.0 - 10 ** rng.uniform(-2, -0.5), rng.uniform(0.05, 0.6)
        x = lfilter([1.0], [1.0, -2 * r * np.cos(theta), r * r], e)
    x = x[burn:]
    return (x - x.mean()) / max(x.std(), 1e-12), kind


def marginal(rng: np.random.Generator, family: str, z: np.ndarray) -> np.ndarray:
    """A standard-normal series z [n] mapped to a family (see the module docstring)."""
    from scipy.special import ndtr
    from scipy.stats import t as student_t
    if family == 'gauss':
        return z
    if family == 'student_t2':
        return student_t.ppf(ndtr(z), 2)
    if family == 'binary':
        return (z > rng.normal(0.0, 0.6)).astype(float)
    if family == 'levels':
        return np.floor(ndtr(z) * rng.integers(3, 21))
    if family == 'clipped':
        return np.maximum(z, 0.0)
    raise ValueError(f'unknown family {family!r}')


def draw_pairs(rng, n: int, m: int, white: bool = False):
    """m independent pairs of length n: xs, ys [m, n], names [m] ('process/family' x2).
    ``white``: iid Gaussian pairs only."""
    if white:
        return rng.standard_normal((m, n)), rng.standard_normal((m, n)), ['white/gauss white/gauss'] * m
    xs, ys, names = np.empty((m, n)), np.empty((m, n)), []
    for k in range(m):
        label = []
        for out in (xs, ys):
            z, kind = gaussian_series(rng, n)
            family = FAMILIES[rng.choice(len(FAMILIES), p=FAMILY_P)]
            out[k] = marginal(rng, family, z)
            label.append(f'{kind}/{family}')
        names.append(' '.join(label))
    return xs, ys, names


def make_estimator(name: str, model: str | None):
    if name == 'ksg':
        from infonet_ros.baselines import KSG
        return KSG()
    from infonet_ros import InfoNetEstimator
    if model:
        return InfoNetEstimator.load(model, device='cpu', threads=1)
    return InfoNetEstimator.pretrained(device='cpu', threads=1)


def simulate(estimator, name: str, draws: int, seed: int, grid, progress: bool = True, white_draws: int = 0):
    """{N: (null estimates [M], Bartlett factors Bq [M])}, {N: {family: q95 of white
    draws}} and the plug-in share."""
    from tqdm import tqdm
    samples, by_family, plugin_share = {}, {}, {}
    with tqdm(total=sum(grid) * (draws + white_draws), unit='sample', unit_scale=True, desc=f'null {name}',
              disable=not progress, dynamic_ncols=True) as bar:
        for n in grid:
            rng = np.random.default_rng([seed, n])
            values, bs, names, plugin = [], [], [], 0
            chunks = [(start, False) for start in range(0, draws, CHUNK)]
            chunks += [(draws + start, True) for start in range(0, white_draws, CHUNK)]
            for start, white_only in chunks:
                m = min(CHUNK, (draws + white_draws if white_only else draws) - start)
                xs, ys, labels = draw_pairs(rng, n, m, white_only)
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore', RuntimeWarning)
                    est = np.asarray(estimator.estimate_batch(xs, ys), np.float64)
                _, bq = bartlett_factors_rows(xs, ys)
                for x, y, v, b, label in zip(xs, ys, est, bq, labels):
                    if name == 'infonet' and use_plugin(np.unique(x).size,
                                                        np.unique(y).size, n):
                        plugin += 1   # answered by the plug-in MI: G test, not this table
                        continue
                    values.append(v)
                    bs.append(b)
                    names.append(label)
                bar.update(m * n)
            values = np.asarray(values)
            samples[n] = (values, np.asarray(bs))
            plugin_share[n] = plugin / (draws + white_draws)
            white = np.array([lab.count('white/') == 2 for lab in names])
            by_family[n] = {}
            for fam in ('gauss', 'student_t2', 'tied'):
                if fam == 'tied':
                    has = [any(t in lab for t in ('binary', 'levels', 'clipped')) for lab in names]
                else:
                    has = [lab.count(fam) == 2 for lab in names]
                mask = white & np.array(has)
                if mask.sum() >= 50:
                    by_family[n][fam] = round(float(np.quantile(values[mask], 0.95)), 5)
    return samples, by_family, plugin_share


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--estimator', choices=('infonet', 'ksg', 'all'), default='all')
    parser.add_argument('--model', help='InfoNet weights (default: the bundled ones)')
    parser.add_argument('--out', help='output JSON (default: infonet_ros/data/null_<est>.json)')
    parser.add_argument('--draws', type=int, help=f'independent pairs per N (default {DRAWS})')
    parser.add_argument('--white-draws', type=int,
                        help=f'extra iid Gaussian pairs per N (default {WHITE_DRAWS})')
    parser.add_argument('--max-n', type=int, help=f'largest N of the grid (default {MAX_N})')
    parser.add_argument('--seed', type=int, default=13)
    parser.add_argument('-q', '--quiet', action='store_true')
    args = parser.parse_args(argv)
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    names = ('infonet', 'ksg') if args.estimator == 'all' else (args.estimator,)
    if args.out and len(names) > 1:
        parser.error('--out needs one --estimator')
    for name in names:
        grid = [n for n in N_GRID if n <= (args.max_n or MAX_N[name])]
        if len(grid) < 2:
            parser.error('--max-n must be at least 64')
        estimator = make_estimator(name, args.model)
        draws = args.draws or DRAWS[name]
        white_draws = WHITE_DRAWS[name] if args.white_draws is None else args.white_draws
        start = time.perf_counter()
        samples, by_family, plugin_share = simulate(estimator, name, draws, args.seed, grid,
                                                    progress=not args.quiet, white_draws=white_draws)
        info = {'seed': args.seed, 'families': dict(zip(FAMILIES, FAMILY_P)),
                'processes': dict(zip(PROCESSES, PROCESS_P)), 'draws': draws, 'white_draws': white_draws,
                'q95_white_by_family': {str(k): v for k, v in by_family.items()},
                'plugin_share': {str(k): round(v, 4) for k, v in plugin_share.items()},
                'seconds': round(time.perf_counter() - start, 1),
                'made_by': 'scripts/calibrate_null.py'}
        table = fit_table(name, estimator_fingerprint(estimator), probe_estimates(estimator),
                          samples, LEVELS, info=info)
        out = Path(args.out) if args.out else null_path_for(name)
        table.save(out)
        print(f'{name}: {out} ({info["seconds"]} s)')
        for g, n in enumerate(table.n):   # how well the exponential tail reads the far tail
            v, b = samples[int(n)]
            white = v[b <= table.b[g, 0] * 1.05]
            p = table.p_values(np.quantile(white, [0.95, 0.99, 0.999]), n, 1.0)
            print(f'  N={int(n):5d}: Bq groups {table.b[g].round(2).tolist()}; q95 '
                  f'{table.quantiles[g, :, 95].round(4).tolist()}; white: table p at the '
                  f'empirical 0.95/0.99/0.999 quantiles {p.round(4).tolist()}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
