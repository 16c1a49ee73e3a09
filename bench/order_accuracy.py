#!/usr/bin/env python3
"""Order accuracy over many sample draws, against the efficiency bound.

    python bench/order_accuracy.py           # -> bench/results/order_accuracy.md / .json

bench/accuracy.py scores order accuracy (the InfoNet paper's metric: of the pairs of 40
random 10-component Gaussian mixtures whose true MI differ by >= 0.02 nats, the share
ordered like the truths) on ONE sample set per mixture and N. How much of a difference
between two estimators is the draw? Here every mixture is sampled R times
(``data_seed(name, n, r)``, r = 0 .. R-1; r = 0 is bench/accuracy.py's set), and each
estimator's order accuracy is computed per draw: mean, sd and range over the draws.

The oracle is the mean of the TRUE log density ratio log p(x, y) / (p(x) p(y)) over the
same samples (``GaussianMixture.log_ratio``): an unbiased estimate whose variance
Var(log ratio) / N is the efficiency bound of MI estimation, so its order accuracy is about
the best any estimator can reach on these draws. The gap to it splits, per estimator, into
a systematic part (the sd over mixtures of the mean error against the oracle) and a noise
part (the sd over draws of that error, averaged over mixtures).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'bench'))

from accuracy import ORDER_MIN_GAP, load_infonet, order_accuracy  # noqa: E402
from infonet_ros.tasks import data_seed, order_mixtures  # noqa: E402

NS = (256, 1000, 5000)
DRAWS = 10
MIXTURES = 40


def main(argv=None) -> int:
    import argparse

    from tqdm import tqdm

    from infonet_ros.baselines import KSG
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--draws', type=int, default=DRAWS)
    p.add_argument('--readout', default=None,
                   help='a read-out file to evaluate instead of the shipped one (e.g. '
                        'runs/readout_v6b/best.safetensors); results then go to '
                        'bench/results/order_accuracy_<parent dir>.md')
    p.add_argument('--weights', default=None,
                   help='InfoNet weights for --readout (a read-out trained on another network\'s '
                        'features); default: the bundled network')
    args = p.parse_args(argv)

    start = time.perf_counter()
    mixtures = order_mixtures(MIXTURES)
    truth = np.array([m.mutual_information for m in tqdm(mixtures, desc='ground truth')])
    est = load_infonet(args.weights, 'cpu', threads=1, readout=args.readout or True)
    ksg = KSG(k=3)
    methods = {'InfoNet': lambda xs, ys: np.asarray(est.estimate_batch(xs, ys), float),
               'KSG': lambda xs, ys: np.asarray(ksg.estimate_batch(xs, ys), float)}
    out = {'draws': args.draws, 'mixtures': MIXTURES, 'min_gap': ORDER_MIN_GAP, 'n': {},
           'readout': args.readout or 'shipped', 'weights': args.weights or 'shipped'}
    for n in NS:
        values = {m: np.zeros((MIXTURES, args.draws)) for m in ['oracle', *methods]}
        for k, mix in enumerate(tqdm(mixtures, desc=f'N = {n}')):
            samples = [mix.sample(n, data_seed(mix.name, n, r)) for r in range(args.draws)]
            xs = np.stack([s[0] for s in samples])
            ys = np.stack([s[1] for s in samples])
            values['oracle'][k] = [mix.log_ratio(x, y).mean() for x, y in samples]
            for name, fn in methods.items():
                values[name][k] = fn(xs, ys)
        row = {}
        for name, v in values.items():
            acc = np.array([order_accuracy(truth, v[:, r])[0] for r in range(args.draws)])
            err = v - values['oracle']
            row[name] = {'mean': float(acc.mean()), 'sd': float(acc.std(ddof=1)),
                         'min': float(acc.min()), 'max': float(acc.max()),
                         'draw0': float(acc[0]),
                         'rmse_truth': float(np.sqrt(np.mean((v - truth[:, None]) ** 2))),
                         'bias_sd': float(err.mean(1).std(ddof=1)),
                         'noise_sd': float(err.std(1, ddof=1).mean())}
        out['n'][str(n)] = row
        out['pairs'] = order_accuracy(truth, truth)[1]
        print(n, json.dumps(row), flush=True)
    out['seconds'] = round(time.perf_counter() - start, 1)
    res = ROOT / 'bench' / 'results'
    stem = 'order_accuracy' + (f'_{Path(args.readout).parent.name}' if args.readout else '')
    (res / f'{stem}.json').write_text(json.dumps(out, indent=1) + '\n')
    (res / f'{stem}.md').write_text(markdown(out))
    print(markdown(out))
    return 0


def markdown(out) -> str:
    lines = ['# Order accuracy over sample draws (bench/order_accuracy.py)', '',
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, read-out "
             f"{out.get('readout', 'shipped')}"
             f"{'' if out.get('weights', 'shipped') == 'shipped' else ' on InfoNet ' + out['weights']}. "
             f"{out['mixtures']} random "
             f"10-component mixtures ({out['pairs']} pairs with |dI| >= {out['min_gap']} "
             f"nats), each sampled {out['draws']} times; draw 0 is bench/accuracy.py's set. "
             'Oracle: the mean true log density ratio on the same samples (the efficiency '
             'bound). Error parts against the oracle: systematic = sd over mixtures of the '
             'mean error, noise = sd over draws, averaged over mixtures.', '',
             '| N | method | order accuracy: mean +- sd over draws | min - max | draw 0 | '
             'RMSE vs truth | systematic error sd | noise sd |',
             '|---:|---|---|---|---:|---:|---:|---:|']
    for n, row in out['n'].items():
        for name, r in row.items():
            sys_sd = '-' if name == 'oracle' else f"{r['bias_sd']:.4f}"
            noise = '-' if name == 'oracle' else f"{r['noise_sd']:.4f}"
            lines.append(f"| {n} | {name} | {100 * r['mean']:.2f} % +- {100 * r['sd']:.2f} | "
                         f"{100 * r['min']:.1f} - {100 * r['max']:.1f} % | "
                         f"{100 * r['draw0']:.1f} % | {r['rmse_truth']:.4f} | {sys_sd} | "
                         f'{noise} |')
    lines += ['', f"Run time {out['seconds']} s.", '']
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())
