"""Calibrated significance: a p-value per pair and window, and the edges of the graph.

No per-window permutations. The null distribution of the published estimate (the value of
``estimate_batch`` on independent pairs) is simulated once per estimator, as a function of
the window size N and of the streams' autocorrelation, by ``scripts/calibrate_null.py``,
and shipped beside the weights (``infonet_ros/data/null_<estimator>.json``). A window's
pair then gets

    p = P(null estimate at N samples and autocorrelation Bq >= observed estimate)

read off that table, where Bq is the pair's Bartlett factor of order q = 2 (B2):
autocorrelated streams carry fewer independent samples than they have, and their MI
estimates spread wider at independence (``bartlett_factors``).
Pairs of two discrete streams that the estimator answers with the plug-in MI
(``discrete.use_plugin``) get the likelihood-ratio (G) test instead: 2 (N / B1) MI_plugin is
chi-square with (kx - 1)(ky - 1) degrees of freedom at independence.

Edges are then decided by the Benjamini-Hochberg procedure across the pairs of a window
(``fdr_edges``) or, as before, by a threshold on MI (``graph.threshold_edges``).

A table is keyed by what made it: the sha256 of the weights (and the read-out) and the
estimates on a small seeded probe set. When either differs from the running estimator,
``load_null`` says so, and the pipeline publishes NaN p-values and threshold edges instead
of wrong p-values. docs/SIGNIFICANCE.md explains the method and its measured calibration.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
# scipy.stats takes ~1.5 s to import: at start-up (the pipeline loads this module when it
# is built), not in the first window
from scipy.special import ndtri
from scipy.stats import rankdata

__all__ = ['NullTable', 'bartlett_factors', 'bartlett_factors_rows', 'benjamini_hochberg',
           'estimator_fingerprint', 'fit_table', 'g_test_p_values', 'load_null',
           'normal_scores', 'null_path_for', 'probe_estimates']

DATA_DIR = Path(__file__).resolve().parent / 'data'
FORMAT = 'infonet_ros.null/1'
MAX_ACF_LAG_FRACTION = 0.2   # autocorrelations summed up to lag N / 5 ...
MAX_ACF_LAG = 200            # ... and at most this many lags
PROBE_TOLERANCE = 2e-3       # nats; probe estimates that differ more mean another estimator
P_FLOOR = 1e-30              # smallest p reported: far beyond what the tail model resolves,
                             # and > 0 in a float32 message field


def null_path_for(method: str) -> Path:
    """The shipped table of an estimator name ('infonet', 'ksg')."""
    return DATA_DIR / f'null_{method}.json'


# --- what a table is keyed by ---------------------------------------------------------

def _sha256(paths) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(Path(path).read_bytes())
    return h.hexdigest()


def estimator_fingerprint(estimator) -> dict:
    """``{'kind': ..., 'sha256': ...}`` of an estimator: for InfoNet the sha256 of its
    weights file followed by the shipped read-out files (what ``estimate_batch`` may read),
    for KSG its class and k. Unknown estimators get their repr (never matches a table)."""
    inner = getattr(estimator, 'estimator', estimator)   # bag_eval's chunking wrapper
    path = getattr(inner, 'path', None)
    if path is not None and Path(path).is_file():
        files = [Path(path)] + [DATA_DIR / f for f in ('readout.safetensors', 'readout.json')
                                if (DATA_DIR / f).is_file()]
        return {'kind': type(inner).__name__, 'sha256': _sha256(files),
                'files': [f.name for f in files]}
    if type(inner).__name__ == 'KSG':
        return {'kind': 'KSG', 'sha256': hashlib.sha256(repr(inner).encode()).hexdigest()}
    return {'kind': type(inner).__name__, 'sha256': f'unknown:{inner!r}'}


def _probe_data() -> tuple[np.ndarray, np.ndarray]:
    """A fixed, seeded probe set: 6 pairs of N = 256 (independent, dependent, tied)."""
    rng = np.random.default_rng(20251202)
    n = 256
    x = rng.standard_normal((6, n))
    z = rng.standard_normal((6, n))
    rho = np.array([0.0, 0.3, 0.6, 0.9, 0.0, 0.6])[:, None]
    y = rho * x + np.sqrt(1 - rho ** 2) * z
    x[4] = np.round(x[4])             # quantised
    x[5] = (x[5] > 0).astype(float)   # binary against a continuous partner
    return x, y


def probe_estimates(estimator) -> np.ndarray:
    """The estimator's values on the probe set (nats, [6]); they change whenever what
    ``estimate_batch`` returns changes, even with the same weights files."""
    xs, ys = _probe_data()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        return np.asarray(estimator.estimate_batch(xs, ys), dtype=np.float64)


# --- the table ------------------------------------------------------------------------

@dataclass
class NullTable:
    """Quantiles of the null distribution of an estimator's estimate, per window size N
    and autocorrelation (the Bartlett factor Bq of ``bartlett_factors``).

    At grid size ``n[g]`` the draws are grouped by their Bq (``fit_table``), with median
    ``b[g, c]``; ``quantiles[g, c, l]`` is the ``levels[l]`` quantile (nats) of group c.
    Above the last level the survival function is ``tail_p[g, c] *
    exp(-(mi - q_last) / tail_scale[g, c])`` (an exponential tail fitted to the
    exceedances over the ``tail_level`` quantile, or over the group's 100 largest values
    where it is deeper). Between grid points the quantiles are
    interpolated linearly in log B, then in log N; below the B range the first group is
    used, above it and beyond the N grid they follow power laws in B and N fitted to the
    two outermost groups and sizes.
    """

    method: str                 # 'infonet', 'ksg'
    fingerprint: dict           # estimator_fingerprint of the estimator it was made from
    probe: np.ndarray           # probe_estimates of that estimator [6]
    n: np.ndarray               # [G] window sizes, increasing
    b: np.ndarray               # [G, C] Bartlett factor of each group, increasing in c
    levels: np.ndarray          # [L] increasing in [0, 1)
    quantiles: np.ndarray       # [G, C, L] nats
    tail_p: np.ndarray          # [G, C] share of the null above the last quantile
    tail_scale: np.ndarray      # [G, C] nats
    tail_level: float = 0.9
    draws: int = 0              # null draws per window size
    info: dict | None = None    # how it was made (families, seed, time)

    # -- persistence --
    def to_json(self) -> dict:
        r = lambda a, d=7: np.round(np.asarray(a, float), d).tolist()  # noqa: E731
        return {'format': FORMAT, 'method': self.method, 'fingerprint': self.fingerprint,
                'probe': r(self.probe, 6), 'n': [int(v) for v in self.n], 'b': r(self.b, 4),
                'levels': r(self.levels, 4), 'quantiles': r(self.quantiles),
                'tail_p': r(self.tail_p, 8), 'tail_scale': r(self.tail_scale, 8),
                'tail_level': self.tail_level, 'draws': self.draws, 'info': self.info or {}}

    @classmethod
    def from_json(cls, doc: dict, source: str = 'null table') -> 'NullTable':
        if not isinstance(doc, dict) or doc.get('format') != FORMAT:
            raise ValueError(f"{source}: not a null table (expected format '{FORMAT}')")
        try:
            a = lambda key: np.asarray(doc[key], float)  # noqa: E731
            table = cls(method=str(doc['method']), fingerprint=dict(doc['fingerprint']),
                        probe=a('probe'), n=a('n'), b=a('b'), levels=a('levels'),
                        quantiles=a('quantiles'), tail_p=a('tail_p'),
                        tail_scale=a('tail_scale'),
                        tail_level=float(doc.get('tail_level', 0.9)),
                        draws=int(doc.get('draws', 0)), info=doc.get('info'))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f'{source}: malformed null table ({exc})') from None
        g, c, l_ = table.quantiles.shape if table.quantiles.ndim == 3 else (0, 0, 0)
        if g < 2 or table.n.shape != (g,) or table.b.shape != (g, c) \
                or table.levels.shape != (l_,) or table.tail_p.shape != (g, c) \
                or table.tail_scale.shape != (g, c) or np.any(np.diff(table.n) <= 0) \
                or np.any(np.diff(table.levels) <= 0) or np.any(np.diff(table.b, axis=1) < 0) \
                or not np.all(np.isfinite(table.quantiles)) or np.any(table.tail_scale <= 0) \
                or np.any(table.tail_p <= 0):
            raise ValueError(f'{source}: inconsistent null table (shapes, order or values)')
        return table

    def save(self, path) -> None:
        """Write the JSON atomically (a running node may be reading the old one)."""
        path = Path(path)
        tmp = path.with_name(path.name + '.tmp')
        tmp.write_text(json.dumps(self.to_json(), separators=(',', ':')) + '\n')
        tmp.replace(path)

    # -- the null at any (N, B) --
    def _at_grid(self, g: int, b: float) -> tuple[np.ndarray, float, float]:
        """(quantiles [L], tail_p, tail_scale) at grid size g, interpolated in log B."""
        lb, grid = math.log(max(b, 1e-9)), np.log(self.b[g])
        if lb > grid[-1] and len(grid) > 1 and grid[-1] > grid[-2]:
            # beyond the most autocorrelated group: a power law in B from the last two
            # groups (upper levels), never narrower than the last group
            q1, q0 = self.quantiles[g, -1], self.quantiles[g, -2]
            top = (self.levels >= 0.75) & (q1 > 0) & (q0 > 0)
            s = float(np.median(np.log(q1[top] / q0[top]))) / (grid[-1] - grid[-2]) \
                if top.any() else 1.0
            factor = math.exp(min(max(s, 0.0), 2.0) * (lb - grid[-1]))
            return q1 * factor, float(self.tail_p[g, -1]), float(self.tail_scale[g, -1] * factor)
        if lb <= grid[0] or len(grid) == 1:
            c, w = 0, 0.0
        elif lb >= grid[-1]:
            c, w = len(grid) - 2, 1.0
        else:
            c = int(min(np.searchsorted(grid, lb, side='right') - 1, len(grid) - 2))
            w = 0.0 if grid[c + 1] <= grid[c] else (lb - grid[c]) / (grid[c + 1] - grid[c])
        d = min(c + 1, len(grid) - 1)
        q = (1 - w) * self.quantiles[g, c] + w * self.quantiles[g, d]
        tp = math.exp((1 - w) * math.log(self.tail_p[g, c]) + w * math.log(self.tail_p[g, d]))
        sc = math.exp((1 - w) * math.log(self.tail_scale[g, c])
                      + w * math.log(self.tail_scale[g, d]))
        return q, tp, sc

    def at(self, n: float, b: float = 1.0) -> tuple[np.ndarray, float, float]:
        """(quantiles [L], tail_p, tail_scale) at window size ``n`` (> 0) and Bartlett
        factor ``b`` (>= 1)."""
        logn, grid = math.log(n), np.log(self.n)
        if grid[0] <= logn <= grid[-1]:
            g = int(min(np.searchsorted(grid, logn, side='right') - 1, len(grid) - 2))
            w = (logn - grid[g]) / (grid[g + 1] - grid[g])
            (qa, pa, sa), (qb, pb, sb) = self._at_grid(g, b), self._at_grid(g + 1, b)
            return ((1 - w) * qa + w * qb, math.exp((1 - w) * math.log(pa) + w * math.log(pb)),
                    math.exp((1 - w) * math.log(sa) + w * math.log(sb)))
        # Outside the grid: quantiles and tail scale ~ N^-s, with s from the two outermost
        # sizes (upper levels, where the null is not 0), kept within [0.5, 1] (the rates
        # of a KSG-like and of a chi-square-like null).
        a, o = (0, 1) if logn < grid[0] else (len(grid) - 1, len(grid) - 2)
        (qa, pa, sa), (qo, _, _) = self._at_grid(a, b), self._at_grid(o, b)
        top = self.levels >= 0.75
        ok = (qa[top] > 0) & (qo[top] > 0)
        s = float(np.median(np.log(qo[top][ok] / qa[top][ok]) / (grid[a] - grid[o]))) \
            if ok.any() else -1.0
        s = min(max(-s, 0.5), 1.0)
        factor = math.exp(-s * (logn - grid[a]))
        return qa * factor, pa, sa * factor

    def p_values(self, mi, n, b=1.0) -> np.ndarray:
        """Upper-tail p = P(null >= mi) at window size n and Bartlett factor b:
        mi [P], n and b [P] or scalars -> p [P] in (0, 1].

        At or below the smallest null value (e.g. an estimate of exactly 0 where the null
        has a point mass at 0, InfoNet's clipped estimate: ~45 % of its null) p is
        Lancaster's mid-p, 1 - mass / 2 (1 without a mass there): uniform on average under
        the null, so that combining windows (``evidence``) is not dominated by p = 1;
        between quantiles p is interpolated linearly (a value inside a point mass higher up
        gets the upper p); beyond the last quantile the fitted exponential tail, floored at
        ``P_FLOOR``. NaN mi, n or b give NaN.
        """
        mi = np.asarray(mi, np.float64).reshape(-1)
        n = np.broadcast_to(np.asarray(n, np.float64), mi.shape)
        b = np.broadcast_to(np.asarray(b, np.float64), mi.shape)
        out = np.full(mi.shape, np.nan)
        for k in range(len(mi)):
            if math.isfinite(mi[k]) and math.isfinite(n[k]) and math.isfinite(b[k]) and n[k] > 0:
                out[k] = self._survival(mi[k], *self.at(n[k], max(b[k], 1.0)))
        return out

    def _survival(self, m: float, q: np.ndarray, tail_p: float, scale: float) -> float:
        levels = self.levels
        if m <= q[0]:
            # mid-p of the point mass at the minimum: its mass is at least the highest
            # level whose quantile is still the minimum
            at_min = int(np.searchsorted(q, q[0], side='right'))
            return float(1.0 - 0.5 * levels[at_min - 1])
        if m > q[-1]:
            p = min(tail_p, 1.0 - levels[-1]) * math.exp(max(-(m - q[-1]) / scale, -700.0))
            return float(max(p, P_FLOOR))
        # largest l with q[l] < m (strict: a point mass at m counts as >= m)
        k = int(np.searchsorted(q, m, side='left')) - 1
        lo, hi = q[k], q[k + 1]
        w = 1.0 if hi <= lo else (m - lo) / (hi - lo)
        return float(1.0 - (levels[k] + w * (levels[k + 1] - levels[k])))


BQ_EDGES = (1.0, 1.1, 1.25, 1.45, 1.7, 2.0, 2.4, 2.9, 3.5, 4.2, 5.1, 6.2, 7.5, 9.0, 11.0,
            13.5, 16.5, 20.0, 25.0, 31.0, 40.0, 52.0, 70.0)   # groups of a null table
MIN_GROUP = 200   # draws; a thinner group joins the one below it


def fit_table(method: str, fingerprint: dict, probe, samples: dict, levels,
              edges=BQ_EDGES, min_group: int = MIN_GROUP, tail_level: float = 0.9,
              info: dict | None = None) -> NullTable:
    """A NullTable from simulated null estimates: ``samples`` {N: (mi [M], Bq [M])}.

    The draws of each N are grouped by Bq between ``edges`` (log-spaced: the null changes
    with log Bq; the last group is open above); a group of fewer than ``min_group`` draws
    joins the one below it. Sizes with fewer groups repeat their first group (Bq ~ 1), so
    every size has ``len(edges)`` entries.
    """
    ns = sorted(samples)
    levels = np.asarray(levels, float)
    width = len(edges)
    bs, quantiles, tail_p, scales = [], [], [], []
    last_good = None   # (n, scale) of the last group with a measurable tail
    for n in ns:
        mi, b = (np.asarray(a, np.float64) for a in samples[n])
        group = np.clip(np.searchsorted(np.asarray(edges), b, side='right') - 1, 0, width - 1)
        parts, current = [], []
        for g in range(width - 1, -1, -1):          # from the top: thin groups join below
            current.extend(np.flatnonzero(group == g))
            if len(current) >= min_group:
                parts.append(np.asarray(current))
                current = []
        if current:
            if parts:
                parts[-1] = np.concatenate([parts[-1], current])
            else:
                parts.append(np.asarray(current))
        parts.reverse()
        row_b, row_q, row_p, row_s = [], [], [], []
        for part in parts:
            v = np.sort(mi[part])
            q = np.quantile(v, levels)
            row_b.append(float(np.median(b[part])))
            row_q.append(q)
            above = v[v > q[-1]]
            # a null that is (almost) all one value: at most 1 / (M + 1) above it
            row_p.append(max(above.size, 1) / (v.size + 1.0))
            # the tail's exponential scale from the top 10 %, or from the 100 largest values
            # where the group is deeper (the far tail is heavier than the top 10 % say)
            u = np.quantile(v, max(tail_level, 1.0 - 100.0 / v.size))
            excess = v[v > u] - u
            if excess.size >= 10:
                scale = float(excess.mean())
                last_good = (n, scale)
            elif last_good is not None:    # too few exceedances: the tail scale ~ 1 / N
                scale = last_good[1] * last_good[0] / n
            else:
                scale = max(float(v.std()), 1e-4)
            row_s.append(max(scale, 1e-7))
        pad = width - len(parts)
        bs.append(np.maximum.accumulate([row_b[0]] * pad + row_b))
        quantiles.append([row_q[0]] * pad + row_q)
        tail_p.append([row_p[0]] * pad + row_p)
        scales.append([row_s[0]] * pad + row_s)
    return NullTable(method=method, fingerprint=fingerprint, probe=np.asarray(probe, float),
                     n=np.asarray(ns, float), b=np.asarray(bs), levels=levels,
                     quantiles=np.asarray(quantiles), tail_p=np.asarray(tail_p),
                     tail_scale=np.asarray(scales), tail_level=tail_level,
                     draws=min(len(samples[n][0]) for n in ns), info=info)


def load_null(estimator, method: str, path=None) -> tuple[NullTable | None, str]:
    """(table, '') for ``estimator``, or (None, why) when there is none that fits it.

    ``path`` (default: the shipped ``null_<method>.json``). The table must have been made
    from this estimator: same fingerprint (weights and read-out sha256) and the same
    estimates on the probe set. Otherwise the reason names the file and how to fix it.
    """
    path = Path(path) if path else null_path_for(method)
    model = getattr(getattr(estimator, 'estimator', estimator), 'path', None)
    fix = (f'regenerate it with `python scripts/calibrate_null.py --estimator {method}'
           + (f' --model {model}' if method == 'infonet' and model else '')
           + f' --out {path}` (node parameter null_path)')
    if not path.is_file():
        return None, f"no null table at '{path}': p-values are NaN; {fix}"
    try:
        table = NullTable.from_json(json.loads(path.read_text()), str(path))
    except (OSError, ValueError) as exc:
        return None, f'{exc}; p-values are NaN; {fix}'
    mine = estimator_fingerprint(estimator)
    if table.fingerprint.get('sha256') != mine['sha256']:
        return None, (f"null table '{path}' was made from another estimator "
                      f"({table.fingerprint.get('kind')} sha256 "
                      f"{str(table.fingerprint.get('sha256'))[:12]}, this one is "
                      f"{mine['kind']} {mine['sha256'][:12]}): p-values are NaN and edges "
                      f'use the threshold; {fix}')
    probe = probe_estimates(estimator)
    if probe.shape != table.probe.shape or \
            np.max(np.abs(probe - table.probe)) > PROBE_TOLERANCE:
        return None, (f"null table '{path}' matches the weights but not what the estimator "
                      'returns (probe estimates differ by up to '
                      f'{np.max(np.abs(probe - table.probe)):.4f} nats): p-values are NaN '
                      f'and edges use the threshold; {fix}')
    return table, ''


# --- autocorrelation ------------------------------------------------------------------

def normal_scores(rows: np.ndarray) -> np.ndarray:
    """Rows [R, N] -> normal scores [R, N] of their ranks (ties averaged), mean 0."""
    n = rows.shape[-1]
    z = ndtri(rankdata(rows, axis=-1) / (n + 1.0))
    return z - z.mean(axis=-1, keepdims=True)


def autocorrelations(rows: np.ndarray, max_lag: int) -> np.ndarray:
    """Autocorrelations r(1..max_lag) of the normal scores of each row: [R, N] ->
    [R, max_lag] (one FFT per row). Constant rows get 0."""
    n = rows.shape[-1]
    z = normal_scores(rows)
    size = 1 << int(math.ceil(math.log2(2 * n)))
    f = np.fft.rfft(z, size, axis=-1)
    acov = np.fft.irfft(f * np.conj(f), size, axis=-1)[..., :max_lag + 1]
    var = acov[..., :1]
    return np.where(var > 0, acov[..., 1:] / np.where(var > 0, var, 1.0), 0.0)


def _max_lag(n: int) -> int:
    return max(1, min(int(n * MAX_ACF_LAG_FRACTION), MAX_ACF_LAG))


def bartlett_from_acf(rx: np.ndarray, ry: np.ndarray, power: float = 1.0) -> np.ndarray:
    """B = 1 + 2 sum_k w_k (r_x(k) r_y(k))^power, w_k = 1 - k / (K + 1) (a non-integer
    power is taken of |r_x r_y| with its sign kept): autocorrelations [..., K] x2 -> [...],
    at least 1."""
    lag = rx.shape[-1]
    w = 1.0 - np.arange(1, lag + 1) / (lag + 1.0)
    prod = rx * ry
    term = prod ** int(power) if float(power).is_integer() \
        else np.sign(prod) * np.abs(prod) ** power
    return np.maximum(1.0 + 2.0 * (w * term).sum(-1), 1.0)


INDEX_ORDER = 2.0   # the null table is indexed by B2 (docs/SIGNIFICANCE.md: what was tried)


def index_power(n: int) -> float:
    """The order q of the autocorrelation factor B_q that indexes the null at N samples: 2
    at every N. (An order growing like sqrt(N / 128) was tried: it made the white group
    too wide; docs/SIGNIFICANCE.md.)"""
    return INDEX_ORDER


def bartlett_factors(data: np.ndarray, pairs) -> tuple[np.ndarray, np.ndarray]:
    """Autocorrelation factors of each pair of a window: [N, K], P pairs -> (B1, Bq), [P].

        B_q = 1 + 2 sum_{k=1..K} w_k (r_x(k) r_y(k))^q,   w_k = 1 - k / (K + 1)

    on the normal scores of the columns, summed to K = min(N / 5, 200) lags with
    Bartlett's taper (it damps the noise of the far lags); at least 1. B1 is Bartlett's
    variance inflation of a correlation between two independent autocorrelated series
    (N / B1 is the classical effective sample size): the G test of discrete pairs uses it.
    An MI estimate reads more than the correlation: B2 (q = ``index_power(N)`` = 2), the
    inflation of the second-order components, orders the nulls of AR(1), smooth
    (low-passed) and oscillating streams more consistently than B1 (docs/SIGNIFICANCE.md),
    so the null table is indexed by B2.
    """
    data = np.asarray(data, np.float64)
    r = autocorrelations(data.T, _max_lag(data.shape[0]))        # [K, lag]
    idx = np.asarray(pairs, dtype=int).reshape(-1, 2)
    rx, ry = r[idx[:, 0]], r[idx[:, 1]]
    return (bartlett_from_acf(rx, ry, 1.0),
            bartlett_from_acf(rx, ry, index_power(data.shape[0])))


def bartlett_factors_rows(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``bartlett_factors`` of independent pairs of rows: xs, ys [R, N] -> (B1, Bq) [R]."""
    n = xs.shape[-1]
    lag = _max_lag(n)
    rx, ry = autocorrelations(xs, lag), autocorrelations(ys, lag)
    return bartlett_from_acf(rx, ry, 1.0), bartlett_from_acf(rx, ry, index_power(n))


# --- discrete pairs: the G test -------------------------------------------------------

def g_test_p_values(data: np.ndarray, pairs, rows, b) -> np.ndarray:
    """G-test p-values of the pairs ``rows`` (indices into ``pairs``) of a window [N, K]:
    2 (N / B1) * plug-in MI ~ chi-square((kx - 1)(ky - 1)) at independence, with B1 [P]
    the (first-order) Bartlett factors of the pairs. -> [len(rows)]."""
    from scipy.stats import chi2

    from infonet_ros.discrete import codes
    out = np.full(len(rows), np.nan)
    n = data.shape[0]
    for k, r in enumerate(rows):
        i, j = pairs[r]
        cx, kx = codes(data[:, i])
        cy, ky = codes(data[:, j])
        joint = np.bincount(cx * ky + cy, minlength=kx * ky).reshape(kx, ky) / n
        nz = joint > 0
        plugin = float((joint[nz] * np.log(joint[nz] / np.outer(joint.sum(1),
                                                                 joint.sum(0))[nz])).sum())
        p = float(chi2.sf(2.0 * n / b[r] * max(plugin, 0.0), (kx - 1) * (ky - 1)))
        out[k] = max(p, P_FLOOR)
    return out


# --- edges ----------------------------------------------------------------------------

def benjamini_hochberg(p_value, alpha: float) -> np.ndarray:
    """Benjamini-Hochberg step-up at level ``alpha``: p [P] -> bool [P] (discoveries).

    NaN p-values are not tested (never discoveries, not counted in m).
    """
    p = np.asarray(p_value, np.float64).reshape(-1)
    ok = np.flatnonzero(np.isfinite(p))
    out = np.zeros(p.shape, bool)
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind='stable')]
    below = p[order] <= alpha * np.arange(1, m + 1) / m
    if below.any():
        last = int(np.flatnonzero(below)[-1])
        out[order[:last + 1]] = True
    return out
