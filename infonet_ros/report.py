"""Report of a ``bag_eval`` run: tables (CSV/JSON), summary (JSON/Markdown) and plots.

Files written into the output directory by :func:`write_report`:

- ``mi.csv`` / ``mi.json``: one row per window and pair: ``t_start``, ``t_end`` (seconds,
  message time of the window's first/last sample), ``t_rel`` (``t_end`` minus the bag's
  first log time), ``first``, ``second`` (stream names), ``mi`` (nats), ``mi_low``,
  ``mi_high`` (its 90 % interval, nats; nan where the estimator gives none), ``p_value``,
  ``edge`` (1 if the pair is an edge of that window's graph); with ``--compare ksg`` also
  ``mi_ksg`` and ``edge_ksg``; ``lag_s``, ``mi_lag``, ``directed`` with time lags
  (parameter ``max_lag_s``; see ``_lag_columns``).
- ``graph.json``: the dependency graph of every window (edges with their MI).
- ``summary.json`` / ``summary.md``: per pair mean/max MI and the fraction of windows in
  which it is an edge; windows evaluated and skipped (with reasons); wall time and
  windows/s; agreement and speed against the compared estimators; truth, if given.
- ``mi_over_time.png`` (MI of each pair against time with its 90 % band, threshold and
  truth drawn in),
  ``mi_matrix.png`` (mean MI heat map), ``dependency_graph.png`` (streams on a circle; an
  edge for every pair that is an edge in at least half of the windows, width by mean MI),
  and with a comparison ``compare_<method>.png`` (scatter of the two estimates).

Plots use matplotlib's Agg canvas directly (no pyplot, no global backend switch).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np

from infonet_ros.graph import circle_layout

__all__ = ['console_summary', 'skip_reasons', 'summarize', 'truth_table', 'write_report']

EDGE_MAJORITY = 0.5   # the summary graph keeps edges present in >= this fraction of windows


def _clean(value):
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def skip_reasons(skipped) -> list[tuple[str, int]]:
    """Reasons for skipped windows, numbers blanked, most common first."""
    counts = Counter(re.sub(r'-?\d+(\.\d+)?', '#', reason) for _, reason in skipped)
    return counts.most_common()


LAG_COLUMNS = ('lag_s', 'mi_lag', 'directed')


def _lag_columns(result, p: int) -> dict:
    """Time-lag columns of pair ``p`` (parameter max_lag_s): ``lag_s`` (s, > 0: the first
    stream leads; NaN when lags are off or for vector pairs), ``mi_lag`` (MI at that lag,
    nats), ``directed`` (1 if the peak is at a clearly non-zero lag, see infonet_ros.lags)."""
    lag = math.nan if result.lag_s is None else float(result.lag_s[p])
    mi_lag = math.nan if result.mi_lag is None else float(result.mi_lag[p])
    directed = 0 if result.directed is None else int(bool(result.directed[p]))
    return {'lag_s': lag, 'mi_lag': mi_lag, 'directed': directed}


def rows(ev) -> list[dict]:
    """One dict per window and pair (the rows of mi.csv)."""
    out = []
    names = ev.pair_names
    for w, result in enumerate(ev.results):
        edges = {(i, j) for i, j, *_ in result.edges}
        others = {m: ev.compare[m][w] for m in ev.compare}
        for p, (i, j) in enumerate(result.pairs):
            row = {'t_start': result.t_start, 't_end': result.t_end,
                   't_rel': result.t_end - ev.bag_start_s,
                   'first': names[p][0], 'second': names[p][1],
                   'mi': float(result.mi[p]), 'mi_low': float(result.mi_low[p]),
                   'mi_high': float(result.mi_high[p]), 'p_value': float(result.p_value[p]),
                   'edge': int((i, j) in edges)}
            row.update(_lag_columns(result, p))
            for m, other in others.items():
                row[f'mi_{m}'] = float(other.mi[p])
                row[f'edge_{m}'] = int(any(e[:2] == (i, j) for e in other.edges))
            out.append(row)
    return out


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return float('nan')
    return float(np.corrcoef(a, b)[0, 1])


def truth_table(ev, truth: dict) -> list[dict]:
    """Per pair and ground-truth segment: mean estimate over the windows lying inside it."""
    from infonet_ros.demo_data import true_mi

    mi = ev.mi_matrix()
    table = []
    for p, (first, second) in enumerate(ev.pair_names):
        for seg in truth['segments']:
            if {seg['first'], seg['second']} != {first, second}:
                continue
            inside = [w for w, r in enumerate(ev.results)
                      if true_mi({'segments': [seg]}, first, second, r.t_start, r.t_end)
                      is not None]
            values = mi[inside, p] if inside else np.zeros(0)
            row = {'first': first, 'second': second, 'start_s': seg['start_s'],
                   'end_s': seg['end_s'], 'true_mi': seg['mi'], 'windows': len(inside),
                   'mean_mi': float(values.mean()) if len(values) else float('nan'),
                   'std_mi': float(values.std()) if len(values) else float('nan'),
                   'mae': float(np.abs(values - seg['mi']).mean()) if len(values)
                   else float('nan')}
            for m in ev.compare:
                other = ev.mi_matrix(m)[inside, p] if inside else np.zeros(0)
                row[f'mean_mi_{m}'] = float(other.mean()) if len(other) else float('nan')
            table.append(row)
    return table


def summarize(ev, truth: dict | None = None) -> dict:
    """The content of summary.json."""
    cfg = ev.config
    mi = ev.mi_matrix()
    n_windows = len(ev.results)
    edge_counts = np.zeros(len(cfg.pairs))
    for result in ev.results:
        for i, j, *_ in result.edges:
            edge_counts[result.pairs.index((i, j))] += 1
    pairs = []
    for p, (first, second) in enumerate(ev.pair_names):
        col = mi[:, p]
        entry = {'first': first, 'second': second,
                 'mean_mi': float(np.nanmean(col)) if n_windows else float('nan'),
                 'max_mi': float(np.nanmax(col)) if n_windows else float('nan'),
                 'min_mi': float(np.nanmin(col)) if n_windows else float('nan'),
                 'std_mi': float(np.nanstd(col)) if n_windows else float('nan'),
                 'edge_fraction': float(edge_counts[p] / n_windows) if n_windows else 0.0}
        for m in ev.compare:
            other = ev.mi_matrix(m)[:, p]
            entry[f'mean_mi_{m}'] = float(np.nanmean(other)) if n_windows else float('nan')
            entry[f'pearson_{m}'] = _pearson(col, other)
            entry[f'mae_{m}'] = float(np.nanmean(np.abs(col - other))) if n_windows \
                else float('nan')
        pairs.append(entry)
    per_window = ev.estimator_time_s / n_windows if n_windows else float('nan')
    summary = {
        'bag': ev.bag, 'storage': ev.storage,
        'bag_start_s': ev.bag_start_s, 'bag_end_s': ev.bag_end_s,
        'bag_duration_s': ev.bag_end_s - ev.bag_start_s,
        'messages_read': ev.messages_read,
        'method': ev.method, 'device': ev.device,
        'config': {'stream_names': cfg.stream_names,
                   'streams': {n: {'topic': s.topic, 'type': s.type, 'field': s.field}
                               for n, s in cfg.streams.items()},
                   'pairs': [f'{a}:{b}' for a, b in cfg.pair_names],
                   'window_size': cfg.window_size, 'sample_rate_hz': cfg.sample_rate_hz,
                   'window_span_s': cfg.window_span_s,
                   'publish_rate_hz': cfg.publish_rate_hz,
                   'graph_threshold': cfg.graph_threshold, 'permutations': cfg.permutations,
                   'graph_method': cfg.graph_method, 'graph_alpha': cfg.graph_alpha,
                   'max_gap_s': cfg.max_gap_s, 'model_path': cfg.model_path},
        'windows_evaluated': n_windows,
        'windows_skipped': len(ev.skipped),
        'skip_reasons': [{'reason': r, 'count': c} for r, c in skip_reasons(ev.skipped)],
        'wall_time_s': ev.wall_time_s,
        'estimator_time_s': ev.estimator_time_s,
        'windows_per_s': n_windows / ev.wall_time_s if ev.wall_time_s > 0 else float('nan'),
        'estimator_time_per_window_s': per_window,
        'pairs': pairs,
        'graph': {'rule': f'pairs that are an edge in >= {EDGE_MAJORITY:.0%} of the windows;'
                          + _edge_rule(cfg),
                  'edges': [{'first': e['first'], 'second': e['second'],
                             'mean_mi': e['mean_mi'], 'edge_fraction': e['edge_fraction']}
                            for e in pairs if e['edge_fraction'] >= EDGE_MAJORITY]},
        'streams': ev.stream_diagnostics,
        'tied_streams': tied_stream_table(ev),
        'damage': getattr(ev, 'damage', ''),     # where a damaged bag was cut
        'notes': list(getattr(ev, 'notes', [])),
    }
    compare = {}
    for m in ev.compare:
        other = ev.mi_matrix(m)
        other_per_window = ev.compare_time_s[m] / n_windows if n_windows else float('nan')
        compare[m] = {
            'pearson_r': _pearson(mi.ravel(), other.ravel()),
            'mae_nats': float(np.nanmean(np.abs(mi - other))) if n_windows else float('nan'),
            'time_s': ev.compare_time_s[m],
            'time_per_window_s': other_per_window,
            # > 1: the main estimator is that many times faster than this one.
            'speed_ratio': other_per_window / per_window if per_window > 0 else float('nan'),
        }
    if compare:
        summary['compare'] = compare
    if truth is not None:
        summary['truth'] = truth_table(ev, truth)
    return summary


def _edge_rule(cfg) -> str:
    """How one window's edges were decided (graph.graph_edges), in words."""
    if cfg.graph_method == 'fdr':
        return (f' an edge: kept by Benjamini-Hochberg at false-discovery rate graph_alpha '
                f'{cfg.graph_alpha:g} over the p-values of the window')
    return (f' an edge: MI >= graph_threshold {cfg.graph_threshold:g} nats'
            + (f' and p <= {cfg.p_value_alpha:g}' if cfg.permutations else ''))


def tied_stream_table(ev) -> list[dict]:
    """Streams with few distinct values or a dominant value in some windows (see
    ``pipeline.tied_streams``): in how many windows, and their range of distinct values.
    A component of a vector stream is its own row ('js[1]'), in column order."""
    table: dict[str, dict] = {}
    for result in ev.results:
        for name, (levels, top) in getattr(result, 'tied', {}).items():
            row = table.setdefault(name, {'stream': name, 'windows': 0, 'min_distinct': levels,
                                          'max_distinct': levels, 'max_most_common_share': top})
            row['windows'] += 1
            row['min_distinct'] = min(row['min_distinct'], levels)
            row['max_distinct'] = max(row['max_distinct'], levels)
            row['max_most_common_share'] = max(row['max_most_common_share'], top)
    order = list(ev.config.column_names)
    return [table[name] for name in order if name in table] \
        + [table[name] for name in sorted(table) if name not in order]


def _fmt(value, digits=3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return '-'
    return f'{value:.{digits}f}' if isinstance(value, float) else str(value)


def summary_markdown(summary: dict) -> str:
    s = summary
    cfg = s['config']
    lines = [f"# bag_eval: {Path(s['bag']).name}", '',
             f"- bag: `{s['bag']}` ({s['storage']}, {s['bag_duration_s']:.1f} s, "
             f"{s['messages_read']} messages on the configured topics)",
             f"- estimator: {s['method']} on {s['device']}; windows of {cfg['window_size']} "
             f"samples at {cfg['sample_rate_hz']:g} Hz ({cfg['window_span_s']:.2f} s), "
             f"{cfg['publish_rate_hz']:g} per second; graph threshold "
             f"{cfg['graph_threshold']:g} nats",
             *[f'- **warning: {text}**' for text in [s.get('damage', '')] if text],
             *[f'- warning: {text}' for text in s.get('notes', [])],
             f"- windows: {s['windows_evaluated']} evaluated, {s['windows_skipped']} skipped",
             f"- time: {s['wall_time_s']:.2f} s wall ({s['windows_per_s']:.1f} windows/s); "
             f"estimator {s['estimator_time_s']:.2f} s "
             f"({1e3 * s['estimator_time_per_window_s']:.1f} ms per window)", '']
    if s['skip_reasons']:
        lines += ['Skipped windows:', '']
        lines += [f"- {r['count']} x {r['reason']}" for r in s['skip_reasons']]
        lines.append('')
    methods = list(s.get('compare', {}))
    head = ['pair', 'mean MI', 'max MI', 'edge in'] + [f'mean {m}' for m in methods]
    lines += ['## MI per pair (nats)', '', '| ' + ' | '.join(head) + ' |',
              '|' + '---|' * len(head)]
    for p in s['pairs']:
        cells = [f"{p['first']} : {p['second']}", _fmt(p['mean_mi']), _fmt(p['max_mi']),
                 f"{100 * p['edge_fraction']:.0f} %"]
        cells += [_fmt(p.get(f'mean_mi_{m}')) for m in methods]
        lines.append('| ' + ' | '.join(cells) + ' |')
    lines += ['', f"Graph ({s['graph']['rule']}): "
              + (', '.join(f"{e['first']} - {e['second']}" for e in s['graph']['edges'])
                 or 'no edges'), '']
    for m, c in s.get('compare', {}).items():
        lines += [f'## {s["method"]} vs {m}', '',
                  f"- agreement over all windows and pairs: Pearson r = {_fmt(c['pearson_r'])},"
                  f" MAE = {_fmt(c['mae_nats'])} nats",
                  f"- speed per window: {s['method']} "
                  f"{1e3 * s['estimator_time_per_window_s']:.1f} ms, {m} "
                  f"{1e3 * c['time_per_window_s']:.1f} ms (speed ratio {m} / {s['method']}"
                  f" = {_fmt(c['speed_ratio'], 2)})", '']
    if 'truth' in s:
        lines += ['## Against the ground truth (windows inside each segment)', '',
                  '| pair | segment (s) | true MI | mean MI | MAE | windows |',
                  '|---|---|---|---|---|---|']
        for t in s['truth']:
            lines.append(f"| {t['first']} : {t['second']} | {t['start_s']:g}-{t['end_s']:g}"
                         f" | {_fmt(t['true_mi'])} | {_fmt(t['mean_mi'])} | {_fmt(t['mae'])}"
                         f" | {t['windows']} |")
        lines.append('')
    if s.get('tied_streams'):
        lines += ['## Tied streams (binary, quantised or saturated)', '',
                  'Ties are broken pseudo-randomly per pair, which keeps the MI; two discrete '
                  'streams with a small joint table get the plug-in MI (README: tied data).', '',
                  '| stream | windows | distinct values | most common value |',
                  '|---|---|---|---|']
        for t in s['tied_streams']:
            levels = (str(t['min_distinct']) if t['min_distinct'] == t['max_distinct']
                      else f"{t['min_distinct']}-{t['max_distinct']}")
            lines.append(f"| {t['stream']} | {t['windows']} of {s['windows_evaluated']} | "
                         f"{levels} | up to {100 * t['max_most_common_share']:.0f} % |")
        lines.append('')
    lines += ['Plots: mi_over_time.png, mi_matrix.png, dependency_graph.png'
              + ''.join(f', compare_{m}.png' for m in methods), '']
    return '\n'.join(lines)


def console_summary(ev, out_dir) -> str:
    """A few lines for the terminal."""
    s = summarize(ev)
    lines = [f"{s['windows_evaluated']} windows ({s['windows_skipped']} skipped) in "
             f"{s['wall_time_s']:.1f} s ({s['windows_per_s']:.1f} windows/s, "
             f"{s['method']} on {s['device']})"]
    width = max(len(f"{p['first']} : {p['second']}") for p in s['pairs'])
    for p in s['pairs']:
        lines.append(f"  {p['first'] + ' : ' + p['second']:<{width}}  mean {p['mean_mi']:.3f}"
                     f"  max {p['max_mi']:.3f}  edge in {100 * p['edge_fraction']:3.0f} %")
    for m, c in s.get('compare', {}).items():
        lines.append(f"  vs {m}: r = {_fmt(c['pearson_r'])}, MAE {_fmt(c['mae_nats'])} nats; "
                     f"time per window {m} / {s['method']} = {_fmt(c['speed_ratio'], 2)}")
    for t in s.get('tied_streams', []):
        lines.append(f"  tied stream {t['stream']}: {t['min_distinct']} distinct value(s) at "
                     f"fewest, in {t['windows']} window(s); ties broken per pair")
    if s.get('damage'):
        lines.append(f"  warning: {s['damage']}")
    lines += [f'  warning: {note}' for note in s.get('notes', [])]
    lines.append(f'report: {Path(out_dir) / "summary.md"}')
    return '\n'.join(lines)


def write_report(ev, out_dir, plots: bool = True, truth: dict | None = None) -> dict:
    """Write every report file into ``out_dir`` (created). Returns name -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    table = rows(ev)
    fieldnames = ['t_start', 't_end', 't_rel', 'first', 'second', 'mi', 'mi_low', 'mi_high',
                  'p_value', 'edge']
    fieldnames += list(LAG_COLUMNS)
    for m in ev.compare:
        fieldnames += [f'mi_{m}', f'edge_{m}']
    paths['csv'] = out / 'mi.csv'
    with open(paths['csv'], 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames)
        writer.writeheader()
        for row in table:
            writer.writerow({k: (f'{v:.6f}' if k in ('t_start', 't_end', 't_rel')
                                 else f'{v:.6g}' if isinstance(v, float) else v)
                             for k, v in row.items()})
    paths['json'] = out / 'mi.json'
    paths['json'].write_text(json.dumps(_clean(table)) + '\n')
    names = ev.config.stream_names
    snapshots = [{'t_start': r.t_start, 't_end': r.t_end,
                  'edges': [{'first': names[i], 'second': names[j], 'mi': w, 'p_value': p}
                            for i, j, w, p in r.edges]} for r in ev.results]
    paths['graph'] = out / 'graph.json'
    paths['graph'].write_text(json.dumps(_clean({
        'streams': names, 'threshold': ev.config.graph_threshold, 'method': ev.method,
        'windows': snapshots})) + '\n')
    summary = summarize(ev, truth)
    paths['summary_json'] = out / 'summary.json'
    paths['summary_json'].write_text(json.dumps(_clean(summary), indent=1) + '\n')
    paths['summary_md'] = out / 'summary.md'
    paths['summary_md'].write_text(summary_markdown(summary))
    if plots and ev.results:
        paths.update(write_plots(ev, summary, out, truth))
    return paths


# --- plots ---------------------------------------------------------------------------------

def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def write_plots(ev, summary: dict, out: Path, truth: dict | None = None) -> dict:
    paths = {'plot_time': out / 'mi_over_time.png', 'plot_matrix': out / 'mi_matrix.png',
             'plot_graph': out / 'dependency_graph.png'}
    _plot_over_time(ev, paths['plot_time'], truth)
    _plot_matrix(ev, summary, paths['plot_matrix'])
    _plot_graph(ev, summary, paths['plot_graph'])
    for m in ev.compare:
        paths[f'plot_compare_{m}'] = out / f'compare_{m}.png'
        _plot_compare(ev, m, summary, paths[f'plot_compare_{m}'])
    return paths


def _plot_over_time(ev, path, truth):
    pairs = ev.pair_names
    mi = ev.mi_matrix()
    t = np.array([r.t_end for r in ev.results]) - ev.bag_start_s
    fig = _figure(9, 1.2 + 1.5 * len(pairs))
    axes = fig.subplots(len(pairs), 1, sharex=True, squeeze=False)[:, 0]
    top = max(float(np.nanmax(mi)) if mi.size else 0.0, ev.config.graph_threshold) * 1.15
    for m in ev.compare:
        top = max(top, float(np.nanmax(ev.mi_matrix(m))) * 1.15)
    if truth is not None:
        top = max(top, max(s['mi'] for s in truth['segments']) * 1.15)
    low, high = ev.mi_matrix(bound='mi_low'), ev.mi_matrix(bound='mi_high')
    if np.isfinite(high).any():
        top = max(top, float(np.nanmax(high)) * 1.05)
    for p, ((first, second), ax) in enumerate(zip(pairs, axes)):
        if np.isfinite(low[:, p]).any():
            ax.fill_between(t, low[:, p], high[:, p], color='C0', alpha=0.2, lw=0,
                            label='90 % interval')
        ax.plot(t, mi[:, p], lw=1.4, label=ev.method, color='C0')
        for n, m in enumerate(ev.compare):
            ax.plot(t, ev.mi_matrix(m)[:, p], lw=1.0, alpha=0.8, label=m, color=f'C{n + 1}')
        if truth is not None:
            # At the ends of the windows lying wholly inside a segment.
            span = ev.config.window_span_s
            drawn = False
            for seg in truth['segments']:
                if {seg['first'], seg['second']} != {first, second} \
                        or seg['t_end'] - seg['t_start'] < span:
                    continue
                ax.hlines(seg['mi'], seg['t_start'] + span - ev.bag_start_s,
                          seg['t_end'] - ev.bag_start_s, colors='k', lw=1.2,
                          label=None if drawn else 'truth (windows inside a segment)')
                drawn = True
        ax.axhline(ev.config.graph_threshold, color='grey', ls='--', lw=0.8,
                   label='graph threshold')
        ax.set_ylim(0, max(top, 0.1))
        ax.set_ylabel('MI (nats)')
        ax.set_title(f'{first} : {second}', fontsize=9, loc='left')
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc='upper right', ncol=4)
    axes[-1].set_xlabel('window end (s from bag start)')
    fig.suptitle(f'Mutual information per window ({ev.method}, {ev.config.window_size} '
                 f'samples, {ev.config.window_span_s:.1f} s)', fontsize=10)
    fig.tight_layout()
    fig.savefig(path)


def _plot_matrix(ev, summary, path):
    names = ev.config.stream_names
    k = len(names)
    matrix = np.full((k, k), np.nan)
    for (i, j), entry in zip(ev.config.pairs, summary['pairs']):
        matrix[i, j] = matrix[j, i] = entry['mean_mi']
    fig = _figure(1.6 + 0.9 * k, 1.2 + 0.8 * k)
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap='viridis', vmin=0)
    fig.colorbar(image, ax=ax, label='mean MI (nats)')
    ax.set_xticks(range(k), names, rotation=30, ha='right')
    ax.set_yticks(range(k), names)
    vmax = np.nanmax(matrix) if np.isfinite(matrix).any() else 1.0
    for i in range(k):
        for j in range(k):
            if np.isfinite(matrix[i, j]):
                ax.text(j, i, f'{matrix[i, j]:.2f}', ha='center', va='center', fontsize=8,
                        color='white' if matrix[i, j] < 0.6 * vmax else 'black')
    ax.set_title(f'Mean MI over {len(ev.results)} windows ({ev.method})', fontsize=10)
    fig.tight_layout()
    fig.savefig(path)


def _plot_graph(ev, summary, path):
    names = ev.config.stream_names
    pos = circle_layout(len(names))
    fig = _figure(6, 6)
    ax = fig.subplots()
    edges = summary['graph']['edges']
    top = max((e['mean_mi'] for e in edges), default=1.0) or 1.0
    index = {n: i for i, n in enumerate(names)}
    for e in edges:
        a, b = pos[index[e['first']]], pos[index[e['second']]]
        ax.plot([a[0], b[0]], [a[1], b[1]], color='C3', alpha=0.8,
                lw=1.0 + 9.0 * e['mean_mi'] / top, solid_capstyle='round', zorder=1)
        mid = (a + b) / 2
        ax.text(mid[0], mid[1], f"{e['mean_mi']:.2f}\n({100 * e['edge_fraction']:.0f} %)",
                fontsize=8, ha='center', va='center', zorder=3,
                bbox={'boxstyle': 'round', 'fc': 'white', 'ec': 'none', 'alpha': 0.8})
    ax.scatter(pos[:, 0], pos[:, 1], s=900, color='C0', zorder=2)
    for (x, y), name in zip(pos, names):
        ax.text(x * 1.28, y * 1.2, name, ha='center', va='center', fontsize=9)
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect('equal')
    ax.axis('off')
    ax.set_title('Dependency graph: edges present in >= 50 % of windows\n'
                 'width and label: mean MI (nats), (share of windows)', fontsize=9)
    fig.tight_layout()
    fig.savefig(path)


def _plot_compare(ev, method, summary, path):
    a, b = ev.mi_matrix(), ev.mi_matrix(method)
    c = summary['compare'][method]
    fig = _figure(5.5, 5)
    ax = fig.subplots()
    for p, (first, second) in enumerate(ev.pair_names):
        ax.scatter(b[:, p], a[:, p], s=8, alpha=0.6, label=f'{first} : {second}')
    lo = min(0.0, float(np.nanmin(b)))
    hi = max(float(np.nanmax(a)), float(np.nanmax(b)), 0.1)
    ax.plot([lo, hi], [lo, hi], 'k--', lw=0.8)
    ax.set_xlabel(f'{method} MI (nats)')
    ax.set_ylabel(f'{ev.method} MI (nats)')
    ax.set_title(f"r = {_fmt(c['pearson_r'])}, MAE = {_fmt(c['mae_nats'])} nats; "
                 f"time per window {method} / {ev.method} = {_fmt(c['speed_ratio'], 2)}",
                 fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
