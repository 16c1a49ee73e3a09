#!/usr/bin/env python3
"""Calibration of the published p-values: false-positive rate on independent streams.

    python bench/significance.py            # -> bench/results/significance.md / .json

Windows of K = 6 mutually independent streams (15 pairs each) go through the pipeline
(``MIPipeline.evaluate``, as in the node and bag_eval) with the shipped null tables; the
per-pair false-positive rate at alpha = 0.05 is the share of pairs with p <= 0.05
(target: 0.03-0.07). Stream kinds: white Gaussian, AR(1) with phi = 0.9, Student-t with
2 dof (heavy tails), tied (each stream binary or quantised to 3-10 levels, white), and
tied AR(1) (the same, thresholding an AR(1) phi = 0.9 series). Seeds are fixed.

For the autocorrelated kinds two rejected variants are shown from the same estimates: the
white (iid) null (B = 1) and the classical effective sample size (the white null read at
N_eff = N / B1). Power: dependent AR(1) pairs (phi = 0.9, y = rho x + sqrt(1 - rho^2) e,
e an independent AR(1) of the same phi), the share with p <= 0.05.

Prewhitened (``significance: prewhitened``, infonet_ros/prewhiten.py): the same windows
through the pipeline with the prewhitened test (AR innovations, lags -3..3, Sidak), the
same power pairs; and, on smooth streams, the rejected variant that fits the AR model to
the normal scores instead of the values.
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

from infonet_ros.pipeline import MIPipeline  # noqa: E402
from infonet_ros.prewhiten import prewhitened_p_values  # noqa: E402
from infonet_ros.significance import bartlett_factors  # noqa: E402
from infonet_ros.streams import PipelineConfig  # noqa: E402
from infonet_ros.windowing import Window  # noqa: E402

K = 6
NS = (128, 512, 2048)
KINDS = ('white', 'ar1_0.9', 'smooth', 'student_t2', 'tied', 'tied_ar1_0.9')
WINDOWS = {'infonet': 100, 'ksg': 60}    # x 15 pairs per cell
ALPHA = 0.05
POWER_RHO = (0.2, 0.4, 0.6)
POWER_WINDOWS = 100


def ar1(rng, n, k, phi):
    """[n, k] stationary AR(1) columns with unit variance."""
    from scipy.signal import lfilter
    e = rng.standard_normal((n, k)) * np.sqrt(1 - phi * phi)
    e[0] = rng.standard_normal(k)
    return lfilter([1.0], [1.0, -phi], e, axis=0)


def lowpass2(rng, n, k, samples):
    """[n, k] smooth signals: white noise through two first-order low-passes with a
    time constant of ``samples`` samples (a smooth actuator command, a filtered rate)."""
    from scipy.signal import lfilter
    a = np.exp(-1.0 / samples)
    e = rng.standard_normal((n + 1000, k))
    return lfilter([1.0], [1.0, -a], lfilter([1.0], [1.0, -a], e, axis=0), axis=0)[1000:]


def tied(rng, z):
    """Each column binary or quantised to 3-10 equiprobable levels."""
    from scipy.special import ndtr
    out = np.empty_like(z)
    for c in range(z.shape[1]):
        if rng.random() < 0.5:
            out[:, c] = (z[:, c] > rng.normal(0, 0.5)).astype(float)
        else:
            out[:, c] = np.floor(ndtr(z[:, c]) * rng.integers(3, 11))
    return out


def streams(kind, rng, n, k=K):
    if kind == 'white':
        return rng.standard_normal((n, k))
    if kind == 'ar1_0.9':
        return ar1(rng, n, k, 0.9)
    if kind == 'smooth':
        return lowpass2(rng, n, k, 10.0)
    if kind == 'student_t2':
        return rng.standard_t(2, (n, k))
    if kind == 'tied':
        return tied(rng, rng.standard_normal((n, k)))
    if kind == 'tied_ar1_0.9':
        return tied(rng, ar1(rng, n, k, 0.9))
    raise ValueError(kind)


def window(data):
    t = np.arange(len(data)) / 50.0
    return Window(t=t, data=data, t_start=t[0], t_end=t[-1])


def config(estimator, k=K, **params):
    names = [f's{i}' for i in range(k)]
    return PipelineConfig.from_params({
        'stream_names': names, 'device': 'cpu', 'estimator': estimator, **params,
        'streams': {n: {'topic': f'/{n}', 'type': 'std_msgs/msg/Float64', 'field': 'data'}
                    for n in names}})


def false_positives(pipeline, kind, n, windows, seed, prewhitened=None):
    """``prewhitened``: a PipelineConfig with significance prewhitened, evaluated on the
    same windows (or None)."""
    rng = np.random.default_rng([seed, n, KINDS.index(kind)])
    p, p_iid, p_neff, p_pw, p_scores = [], [], [], [], []
    for _ in range(windows):
        data = streams(kind, rng, n)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            result = pipeline.evaluate(window(data))
            if prewhitened is not None:
                p_pw.append(pipeline.evaluate(window(data), prewhitened).p_value)
                if kind == 'smooth':
                    p_scores.append(prewhitened_p_values(
                        pipeline.estimator.estimate_batch, pipeline.null, data,
                        result.pairs, prewhitened.significance_lags, scores=True))
        p.append(result.p_value)
        b, _ = bartlett_factors(data, result.pairs)
        p_iid.append(pipeline.null.p_values(result.mi, n, 1.0))
        p_neff.append(pipeline.null.p_values(result.mi, n / b, 1.0))
    rate = lambda a: float(np.mean(np.concatenate(a) <= ALPHA))  # noqa: E731
    out = {'fpr': rate(p), 'fpr_iid_null': rate(p_iid), 'fpr_n_eff': rate(p_neff),
           'pairs': int(sum(len(a) for a in p)),
           'nan': int(np.isnan(np.concatenate(p)).sum())}
    if p_pw:
        out['fpr_prewhitened'] = rate(p_pw)
        out['nan_prewhitened'] = int(np.isnan(np.concatenate(p_pw)).sum())
    if p_scores:
        out['fpr_prewhitened_scores'] = rate(p_scores)
    return out


def power(pipeline, n, rho, seed, config=None):
    rng = np.random.default_rng([seed, n, int(rho * 100)])
    hits = 0
    for _ in range(POWER_WINDOWS):
        x, e = ar1(rng, n, 2, 0.9).T
        data = np.stack([x, rho * x + np.sqrt(1 - rho ** 2) * e], 1)
        result = pipeline.evaluate(window(data), config)
        hits += bool(result.p_value[0] <= ALPHA)
    return hits / POWER_WINDOWS


PREWHITENED = ('infonet',)   # estimators with prewhitened rows (KSG: 7x its cost)


def main() -> int:
    out = {'alpha': ALPHA, 'k': K, 'cells': {}, 'power': {}, 'power_prewhitened': {}}
    start = time.perf_counter()
    for est in ('infonet', 'ksg'):
        pipeline = MIPipeline(config(est))
        pair_pipeline = MIPipeline(config(est, 2))
        pw = config(est, significance='prewhitened') if est in PREWHITENED else None
        pw_pair = config(est, 2, significance='prewhitened') if pw else None
        if pipeline.null is None:
            print(f'{est}: {pipeline.null_warning}', file=sys.stderr)
            return 2
        for kind in KINDS:
            for n in NS:
                cell = false_positives(pipeline, kind, n, WINDOWS[est], seed=13,
                                       prewhitened=pw)
                out['cells'][f'{est}/{kind}/{n}'] = cell
                print(est, kind, n, cell, flush=True)
        for n in NS:
            for rho in POWER_RHO:
                out['power'][f'{est}/{n}/{rho}'] = power(pair_pipeline, n, rho, seed=14)
                print(est, 'power', n, rho, out['power'][f'{est}/{n}/{rho}'], flush=True)
                if pw_pair is not None:
                    out['power_prewhitened'][f'{est}/{n}/{rho}'] = power(
                        pair_pipeline, n, rho, seed=14, config=pw_pair)
    out['seconds'] = round(time.perf_counter() - start, 1)
    res = ROOT / 'bench' / 'results'
    (res / 'significance.json').write_text(json.dumps(out, indent=1) + '\n')
    (res / 'significance.md').write_text(markdown(out))
    print(markdown(out))
    return 0


def markdown(out) -> str:
    lines = ['# Calibration of the p-values (bench/significance.py)', '',
             f"Per-pair false-positive rate at alpha = {out['alpha']} on independent "
             f"streams (target 0.03-0.07): windows of {out['k']} mutually independent "
             'streams through `MIPipeline.evaluate` with the shipped null tables. Pairs per '
             'cell: ' + ', '.join(f"{e} {out['cells'][f'{e}/white/128']['pairs']}"
                                  for e in ('infonet', 'ksg')) + '.', '',
             '| estimator | streams | N = 128 | N = 512 | N = 2048 |',
             '| --- | --- | --- | --- | --- |']
    for est in ('infonet', 'ksg'):
        for kind in KINDS:
            cells = [out['cells'][f'{est}/{kind}/{n}']['fpr'] for n in NS]
            lines.append(f'| {est} | {kind} | ' + ' | '.join(f'{c:.3f}' for c in cells) + ' |')
    lines += ['', 'Rejected variants on the same estimates: the white (iid) null, and '
              'the white null read at the effective sample size N / B1:', '',
              '| estimator | streams | variant | N = 128 | N = 512 | N = 2048 |',
              '| --- | --- | --- | --- | --- | --- |']
    for est in ('infonet', 'ksg'):
        for kind in ('ar1_0.9', 'smooth', 'tied_ar1_0.9'):
            for key, label in (('fpr_iid_null', 'white null'), ('fpr_n_eff', 'N_eff = N / B1'),
                               ('fpr', 'shipped (N, Bq) table')):
                cells = [out['cells'][f'{est}/{kind}/{n}'][key] for n in NS]
                lines.append(f'| {est} | {kind} | {label} | '
                             + ' | '.join(f'{c:.3f}' for c in cells) + ' |')
    lines += ['', f'Power at alpha = {out["alpha"]}: dependent AR(1) pairs (phi = 0.9), '
              f'{POWER_WINDOWS} windows each:', '',
              '| estimator | rho | N = 128 | N = 512 | N = 2048 |',
              '| --- | --- | --- | --- | --- |']
    for est in ('infonet', 'ksg'):
        for rho in POWER_RHO:
            lines.append(f'| {est} | {rho} | ' + ' | '.join(
                f"{out['power'][f'{est}/{n}/{rho}']:.2f}" for n in NS) + ' |')
    lines += ['', 'Prewhitened (`significance: prewhitened`: AR innovations of each stream, '
              'MI at lags -3..3, Sidak over the 7 lags; pairs of two tied streams keep the '
              'table p-value), the same windows and pairs:', '',
              '| estimator | streams | N = 128 | N = 512 | N = 2048 |',
              '| --- | --- | --- | --- | --- |']
    for est in PREWHITENED:
        for kind in KINDS:
            cells = [out['cells'][f'{est}/{kind}/{n}']['fpr_prewhitened'] for n in NS]
            lines.append(f'| {est} | {kind} | ' + ' | '.join(f'{c:.3f}' for c in cells) + ' |')
        cells = [out['cells'][f'{est}/smooth/{n}']['fpr_prewhitened_scores'] for n in NS]
        lines.append(f'| {est} | smooth, AR fitted to normal scores (rejected) | '
                     + ' | '.join(f'{c:.3f}' for c in cells) + ' |')
    lines += ['', f'Power of the prewhitened test at alpha = {out["alpha"]}, the same '
              'dependent AR(1) pairs:', '',
              '| estimator | rho | N = 128 | N = 512 | N = 2048 |',
              '| --- | --- | --- | --- | --- |']
    for est in PREWHITENED:
        for rho in POWER_RHO:
            lines.append(f'| {est} | {rho} | ' + ' | '.join(
                f"{out['power_prewhitened'][f'{est}/{n}/{rho}']:.2f}" for n in NS) + ' |')
    lines += ['', f"Run time {out['seconds']} s.", '']
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())
