"""Fleet report: which couplings hold across bags, and where one changed.

Built only from the per-bag report folders (``bags/<name>/summary.json`` and ``mi.json``,
written by ``report.write_report``), so bags finished in an earlier run count exactly like
new ones. Files written into the output directory by :func:`write_fleet_report`:

- ``fleet.csv``: one row per bag and pair: windows, median MI over the bag's windows and
  its 10-90 % interval (nats), the fraction of windows in which the pair is an edge, the
  fleet's median of the bag medians, the robust z-score and whether it is an outlier.
- ``fleet.md`` / ``fleet.json``: bags evaluated, reused and failed (with the error), the
  outliers with bag and time span, the per-pair fleet statistics, the engine.
- ``fleet_heatmap.png`` (bags x pairs, median MI, outliers framed) and ``fleet_pairs.png``
  (per pair: each bag's median and interval, the fleet's typical range, outliers marked).

Outliers (per pair, across bags): with ``m_b`` the bag medians, ``c`` their median and
``s = 1.4826 MAD`` (the standard deviation, were they Gaussian), a bag is an outlier when
``|m_b - c| >= z_max * s`` **and** ``|m_b - c| >= min_delta``. The second condition keeps a
fleet of near-identical bags (MAD ~ 0) from flagging estimator noise: ``min_delta``
(default 0.05 nats) is about the window-to-window noise of InfoNet at N = 256. Needs at
least ``MIN_BAGS`` bags. An outlier's time span: the windows of that bag lying on the
outlying side of the midpoint between ``c`` and ``m_b``.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infonet_ros.report import _clean, _figure

__all__ = ['BagPairs', 'fleet_statistics', 'load_bag', 'write_fleet_report']

Z_MAX = 3.5           # robust z-score beyond which a bag median is unusual (Iglewicz-Hoaglin)
MIN_DELTA = 0.05      # nats; smaller departures from the fleet median are never flagged
MIN_BAGS = 3          # fewer bags: no fleet statistics to compare against
MAD_TO_SIGMA = 1.4826
INTERVAL = (10, 90)   # percentiles of a bag's window MI reported as its interval


@dataclass
class BagPairs:
    """One finished bag as the fleet report reads it from its folder."""

    bag: str
    folder: str
    start_s: float            # bag's first log time (s)
    end_s: float
    pairs: list[str]          # 'a:b', the config's order
    t_start: np.ndarray       # [W] s, message time
    t_end: np.ndarray         # [W]
    mi: np.ndarray            # [W, P] nats
    edge: np.ndarray          # [W, P] bool


def load_bag(out: Path, folder: str) -> BagPairs:
    """Read ``out/folder``'s summary.json and mi.json (full-precision floats)."""
    summary = json.loads((out / folder / 'summary.json').read_text())
    rows = json.loads((out / folder / 'mi.json').read_text())
    pairs = summary['config']['pairs']
    w = len(rows) // len(pairs)

    def column(name, dtype=np.float64):
        return np.array([np.nan if r[name] is None else r[name] for r in rows],
                        dtype=dtype).reshape(w, len(pairs))

    return BagPairs(bag=summary['bag'], folder=folder, start_s=summary['bag_start_s'],
                    end_s=summary['bag_end_s'], pairs=pairs,
                    t_start=column('t_start')[:, 0], t_end=column('t_end')[:, 0],
                    mi=column('mi'), edge=column('edge').astype(bool))


def fleet_statistics(bags: list[BagPairs], z_max: float = Z_MAX,
                     min_delta: float = MIN_DELTA) -> dict:
    """Per bag and pair: median, interval, edge fraction, z, outlier; per pair: the fleet's
    median and spread; the outliers with their time spans. ``[B, P]`` arrays, nats."""
    if not bags:
        return {'pairs': [], 'median': np.zeros((0, 0)), 'outliers': [], 'rows': [],
                'per_pair': [], 'z_max': z_max, 'min_delta': min_delta}
    pairs = bags[0].pairs
    for b in bags[1:]:
        if b.pairs != pairs:
            raise ValueError(f"bag '{b.bag}' was evaluated with pairs {b.pairs}, others with "
                             f'{pairs}; one fleet report needs one parameters file')
    shape = (len(bags), len(pairs))
    median, low, high, edge_fraction = (np.full(shape, np.nan) for _ in range(4))
    windows = np.zeros(len(bags), dtype=int)
    for i, b in enumerate(bags):
        windows[i] = len(b.mi)
        for p in range(len(pairs)):
            col = b.mi[:, p][np.isfinite(b.mi[:, p])]
            if len(col):
                median[i, p] = np.median(col)
                low[i, p], high[i, p] = np.percentile(col, INTERVAL)
            edge_fraction[i, p] = b.edge[:, p].mean() if len(b.edge) else np.nan
    center = np.full(len(pairs), np.nan)
    sigma = np.full(len(pairs), np.nan)
    z = np.full(shape, np.nan)
    outlier = np.zeros(shape, dtype=bool)
    if len(bags) >= MIN_BAGS:
        center = np.nanmedian(median, axis=0)
        sigma = MAD_TO_SIGMA * np.nanmedian(np.abs(median - center), axis=0)
        delta = median - center
        with np.errstate(divide='ignore', invalid='ignore'):
            z = np.where(sigma > 0, delta / sigma, np.sign(delta) * np.inf)
            z[delta == 0] = 0.0
        outlier = (np.abs(delta) >= min_delta) & (np.abs(z) >= z_max)
    outliers = []
    for i, p in zip(*np.nonzero(outlier)):
        b = bags[i]
        mid = (center[p] + median[i, p]) / 2
        side = b.mi[:, p] < mid if median[i, p] < center[p] else b.mi[:, p] > mid
        hit = np.flatnonzero(side)
        outliers.append({
            'bag': b.bag, 'folder': b.folder, 'pair': pairs[p],
            'median_mi': median[i, p], 'fleet_median_mi': center[p], 'robust_z': z[i, p],
            'direction': 'lower' if median[i, p] < center[p] else 'higher',
            'windows': int(len(hit)), 'of_windows': int(windows[i]),
            'span_rel_s': ([float(b.t_start[hit[0]] - b.start_s),
                            float(b.t_end[hit[-1]] - b.start_s)] if len(hit) else None),
            'span_abs_s': ([float(b.t_start[hit[0]]), float(b.t_end[hit[-1]])]
                           if len(hit) else None),
        })
    rows = []
    for i, b in enumerate(bags):
        for p, pair in enumerate(pairs):
            first, second = pair.split(':')
            rows.append({'bag': b.bag, 'folder': b.folder, 'first': first, 'second': second,
                         'windows': int(windows[i]), 'median_mi': median[i, p],
                         'mi_p10': low[i, p], 'mi_p90': high[i, p],
                         'edge_fraction': edge_fraction[i, p],
                         'fleet_median_mi': center[p], 'robust_z': z[i, p],
                         'outlier': int(outlier[i, p])})
    per_pair = []
    for p, pair in enumerate(pairs):
        half = max(z_max * sigma[p], min_delta) if np.isfinite(sigma[p]) else math.nan
        per_pair.append({'pair': pair, 'fleet_median_mi': center[p], 'sigma_mad': sigma[p],
                         'typical_low': max(center[p] - half, 0.0), 'typical_high': center[p] + half,
                         'bags_edge_majority': int((edge_fraction[:, p] >= 0.5).sum()),
                         'outliers': int(outlier[:, p].sum())})
    return {'pairs': pairs, 'median': median, 'low': low, 'high': high,
            'edge_fraction': edge_fraction, 'center': center, 'sigma': sigma, 'z': z,
            'outlier': outlier, 'outliers': outliers, 'rows': rows, 'per_pair': per_pair,
            'windows': windows, 'z_max': z_max, 'min_delta': min_delta}


def _fmt(value, digits=3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return '-'
    return f'{value:.{digits}f}'


def _span(o) -> str:
    if o['span_rel_s'] is None:
        return '-'
    a, b = o['span_rel_s']
    return f"{a:.1f}-{b:.1f} s ({o['windows']} of {o['of_windows']} windows)"


def write_fleet_report(out, outcomes, config, config_hash: str, engine: dict,
                       plots: bool = True, z_max: float = Z_MAX,
                       min_delta: float = MIN_DELTA) -> dict:
    """fleet.csv, fleet.json, fleet.md and the plots for the finished bags of ``outcomes``
    (``fleet.BagOutcome`` list, in report order). Returns name -> path."""
    out = Path(out)
    finished = [o for o in outcomes if o.status in ('done', 'skipped')]
    bags = [load_bag(out, o.folder) for o in finished]
    stats = fleet_statistics(bags, z_max, min_delta)
    paths = {'csv': out / 'fleet.csv', 'json': out / 'fleet.json', 'md': out / 'fleet.md'}
    fields = ['bag', 'folder', 'first', 'second', 'windows', 'median_mi', 'mi_p10', 'mi_p90',
              'edge_fraction', 'fleet_median_mi', 'robust_z', 'outlier']
    with open(paths['csv'], 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in stats['rows']:
            writer.writerow({k: (f'{v:.6g}' if isinstance(v, float) else v)
                             for k, v in _clean(row).items()})
    doc = {
        'bags': [{'bag': o.bag, 'status': o.status, 'folder': o.folder, 'error': o.error,
                  'worker': o.worker, 'wall_s': o.wall_s} for o in outcomes],
        'evaluated': sum(o.status == 'done' for o in outcomes),
        'reused': sum(o.status == 'skipped' for o in outcomes),
        'failed': sum(o.status == 'failed' for o in outcomes),
        'config_sha256': config_hash, 'engine': engine,
        'method': config.estimator, 'window_size': config.window_size,
        'sample_rate_hz': config.sample_rate_hz, 'publish_rate_hz': config.publish_rate_hz,
        'outlier_rule': {'z_max': z_max, 'min_delta_nats': min_delta, 'min_bags': MIN_BAGS,
                         'scale': '1.4826 x median absolute deviation of the bag medians'},
        'pairs': stats['per_pair'], 'outliers': stats['outliers'],
    }
    paths['json'].write_text(json.dumps(_clean(doc), indent=1) + '\n')
    paths['md'].write_text(fleet_markdown(doc, stats, bags, out))
    if plots and bags:
        paths['plot_heatmap'] = out / 'fleet_heatmap.png'
        paths['plot_pairs'] = out / 'fleet_pairs.png'
        _plot_heatmap(bags, stats, paths['plot_heatmap'])
        _plot_pairs(bags, stats, paths['plot_pairs'])
    return paths


def fleet_markdown(doc: dict, stats: dict, bags: list[BagPairs], out: Path) -> str:
    n = len(doc['bags'])
    engine = doc['engine']
    lines = [f'# bag_eval fleet: {n} bags', '',
             f"- bags: {doc['evaluated']} evaluated in this run, {doc['reused']} finished "
             f"earlier with the same bag contents and settings (reused), {doc['failed']} "
             'failed',
             f"- estimator: {doc['method']}; windows of {doc['window_size']} samples at "
             f"{doc['sample_rate_hz']:g} Hz, {doc['publish_rate_hz']:g} per second; "
             f"settings sha256 {doc['config_sha256'][:12]}",
             f"- engine: {engine['kind']}, {engine['workers']} worker(s)",
             f"- outliers: bag median beyond {doc['outlier_rule']['z_max']:g} robust "
             f"standard deviations (1.4826 MAD of the bag medians) from the fleet median, "
             f"and by at least {doc['outlier_rule']['min_delta_nats']:g} nats", '']
    lines += ['## Outliers', '']
    if len(bags) < MIN_BAGS:
        lines += [f'Not computed: {len(bags)} finished bag(s), at least {MIN_BAGS} needed.', '']
    elif not doc['outliers']:
        lines += ['None: every pair is within the fleet\'s typical range in every bag.', '']
    else:
        lines += ['| bag | pair | median MI | fleet median | robust z | time span (from bag '
                  'start) | report |', '|---|---|---|---|---|---|---|']
        for o in doc['outliers']:
            z = o['robust_z']
            lines.append(f"| {Path(o['folder']).name} | {o['pair'].replace(':', ' : ')} | "
                         f"{_fmt(o['median_mi'])} | {_fmt(o['fleet_median_mi'])} | "
                         f"{'inf' if not math.isfinite(z) else f'{z:+.1f}'} | {_span(o)} | "
                         f"[{o['folder']}]({o['folder']}/summary.md) |")
        lines.append('')
    lines += ['## Pairs across the fleet (nats)', '',
              '| pair | fleet median | sigma (MAD) | typical range | bags with edge in >= 50 % '
              'of windows | outliers |', '|---|---|---|---|---|---|']
    for p in doc['pairs']:
        lines.append(f"| {p['pair'].replace(':', ' : ')} | {_fmt(p['fleet_median_mi'])} | "
                     f"{_fmt(p['sigma_mad'])} | {_fmt(p['typical_low'])} to "
                     f"{_fmt(p['typical_high'])} | {p['bags_edge_majority']} of {len(bags)} | "
                     f"{p['outliers']} |")
    lines += ['', '## Bags', '', '| bag | status | windows | duration (s) | report |',
              '|---|---|---|---|---|']
    by_folder = {b.folder: b for b in bags}
    for o in doc['bags']:
        b = by_folder.get(o['folder'])
        if b is None:
            lines.append(f"| {o['bag']} | failed: {o['error']} | - | - | - |")
            continue
        status = 'evaluated' if o['status'] == 'done' else 'reused'
        lines.append(f"| {o['bag']} | {status} | {len(b.mi)} | {b.end_s - b.start_s:.1f} | "
                     f"[{o['folder']}]({o['folder']}/summary.md) |")
    lines += ['', 'Table: fleet.csv. Plots: fleet_heatmap.png (bags x pairs), fleet_pairs.png '
              '(per pair, the bags\' medians and 10-90 % intervals).', '']
    return '\n'.join(lines)


# --- plots ---------------------------------------------------------------------------------------

def _labels(bags):
    return [Path(b.folder).name for b in bags]


def _plot_heatmap(bags, stats, path):
    median, outlier = stats['median'], stats['outlier']
    n_bags, n_pairs = median.shape
    fig = _figure(2.5 + 1.1 * n_pairs, 1.6 + 0.28 * n_bags)
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(median), cmap='viridis', vmin=0, aspect='auto',
                      interpolation='nearest')
    fig.colorbar(image, ax=ax, label='median MI (nats)')
    ax.set_xticks(range(n_pairs), [p.replace(':', ' : ') for p in stats['pairs']],
                  rotation=30, ha='right', fontsize=8)
    ax.set_yticks(range(n_bags), _labels(bags), fontsize=7 if n_bags > 30 else 8)
    top = np.nanmax(median) if np.isfinite(median).any() else 1.0
    for i in range(n_bags):
        for p in range(n_pairs):
            if n_bags * n_pairs <= 600 and np.isfinite(median[i, p]):
                ax.text(p, i, f'{median[i, p]:.2f}', ha='center', va='center', fontsize=7,
                        color='white' if median[i, p] < 0.6 * top else 'black')
            if outlier[i, p]:
                ax.add_patch(_rectangle((p - 0.48, i - 0.48), 0.96, 0.96))
    ax.set_title(f'Median MI over each bag\'s windows; outliers framed red: '
                 f'{len(stats["outliers"])}', fontsize=10)
    fig.tight_layout()
    fig.savefig(path)


def _rectangle(xy, w, h):
    from matplotlib.patches import Rectangle
    return Rectangle(xy, w, h, fill=False, edgecolor='red', lw=2.0)


def _plot_pairs(bags, stats, path):
    pairs = stats['pairs']
    cols = min(3, len(pairs))
    rows = math.ceil(len(pairs) / cols)
    fig = _figure(4.2 * cols, 0.8 + 2.6 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    x = np.arange(len(bags))
    for p, pair in enumerate(pairs):
        ax = axes[p]
        med = stats['median'][:, p]
        err = np.vstack([med - stats['low'][:, p], stats['high'][:, p] - med])
        bad = stats['outlier'][:, p]
        c = stats['center'][p]
        if np.isfinite(c):
            info = stats['per_pair'][p]
            ax.axhspan(info['typical_low'], info['typical_high'], color='C0', alpha=0.12,
                       label='typical range')
            ax.axhline(c, color='C0', lw=1.0, label='fleet median')
        ax.errorbar(x[~bad], med[~bad], yerr=err[:, ~bad], fmt='o', ms=4, color='k',
                    elinewidth=0.8, capsize=2, label='bag median, 10-90 %')
        if bad.any():
            ax.errorbar(x[bad], med[bad], yerr=err[:, bad], fmt='o', ms=6, color='red',
                        elinewidth=1.0, capsize=2, label='outlier')
            for i in np.flatnonzero(bad):
                ax.annotate(_labels(bags)[i], (x[i], med[i]), textcoords='offset points',
                            xytext=(4, -10), fontsize=7, color='red')
        ax.set_title(pair.replace(':', ' : '), fontsize=9, loc='left')
        ax.set_ylabel('MI (nats)', fontsize=8)
        ax.set_ylim(bottom=0)
        if len(bags) <= 30:
            ax.set_xticks(x, _labels(bags), rotation=60, ha='right', fontsize=6)
        else:
            ax.set_xlabel('bag (sorted by path)', fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[len(pairs):]:
        ax.axis('off')
    axes[0].legend(fontsize=6, loc='best')
    fig.suptitle('MI across bags per pair: each bag\'s median over its windows', fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
