"""Pipeline: one aligned window in, MI for every requested pair out.

This is how a sample travels (live and offline alike)::

    message --StreamExtractor--> (t, value) --StreamAligner--> Window [N, K]
            --MIPipeline.evaluate--> WindowResult (MI per pair, nats; edges)

The estimator is any object with ``estimate_pairs(data [N, K], pairs) -> [P]`` (InfoNet:
one batched forward pass) or ``estimate_batch(xs [P, N], ys [P, N]) -> [P]``.

Every pair gets a p-value in every window (``significance``: the estimator's simulated
null at the window's N and the pair's autocorrelation, no per-window cost; or, with
``permutations > 0``, a permutation test), and the graph's edges follow ``graph_method``
(``graph.graph_edges``: MI threshold, or Benjamini-Hochberg FDR over the window's pairs).

On demand (the node's ``~/estimate`` service), ``MIPipeline.estimate_arrays`` takes two
samples the caller holds and ``estimate_window_pairs`` named stream pairs of a window; a
bad request raises ``RequestError`` saying what to fix.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from infonet_ros.evidence import EvidenceMemory
from infonet_ros.graph import graph_edges
from infonet_ros.streams import MIN_WINDOW_SIZE, PipelineConfig, parse_pairs
from infonet_ros.windowing import DISCRETE_MAX_LEVELS, Window

__all__ = ['EstimateResult', 'LatestOnlyWorker', 'MIPipeline', 'RequestError', 'WindowResult',
           'make_estimator', 'tied_streams', 'window_schedule']

MAX_REQUEST_SAMPLES = 100_000   # x/y of one ~/estimate request (bounds its time and memory)


@dataclass
class WindowResult:
    """MI of one window. ``mi``/``p_value`` are ``[P]`` in ``pairs`` order (nats)."""

    t_start: float
    t_end: float
    window_size: int
    streams: list[str]
    pairs: list[tuple[int, int]]
    mi: np.ndarray                 # [P] nats
    p_value: np.ndarray            # [P] in (0, 1]; NaN without a null table or MI
    edges: list[tuple[int, int, float, float]]   # (i, j, mi, p_value)
    method: str                    # 'infonet', 'ksg', ...
    latency_s: float               # wall time of the evaluation
    device: str = ''
    notes: list[str] = field(default_factory=list)   # e.g. constant streams, NaN MI
    # streams with few distinct values in this window (binary, quantised, saturated):
    # name -> (distinct values, share of the most common value); see ``tied_streams``
    tied: dict[str, tuple[int, float]] = field(default_factory=dict)
    # 90 % interval of ``mi`` (5 / 95 % quantiles of the read-out), [P] nats; NaN where the
    # estimator gives none (estimator: ksg, InfoNet without a read-out, vector pairs)
    mi_low: np.ndarray | None = None
    mi_high: np.ndarray | None = None
    # Lags (parameter max_lag_s > 0; NaN / False per pair otherwise, and for vector pairs):
    lag_s: np.ndarray | None = None      # [P] lag of the MI peak, s; > 0: the first stream leads
    mi_lag: np.ndarray | None = None     # [P] MI at that lag, nats (>= mi)
    directed: np.ndarray | None = None   # [P] bool: the peak is at a clearly non-zero lag
                                         # (lags.best_lags); the edge points leader -> follower

    def edge_direction(self, i: int, j: int) -> tuple[int, int, bool, float]:
        """(from, to, directed, lag_s >= 0) of the edge between streams i and j: from the
        leader to the follower when directed, else (min, max, False, NaN)."""
        k = self.pairs.index((i, j)) if (i, j) in self.pairs else self.pairs.index((j, i))
        a, b = self.pairs[k]
        if self.directed is None or not self.directed[k]:
            return min(i, j), max(i, j), False, math.nan
        lag = float(self.lag_s[k])
        return (a, b, True, lag) if lag > 0 else (b, a, True, -lag)

    # how the edges were decided: 'threshold', 'fdr' or 'permutation_test'
    graph_method: str = 'threshold'
    # [P] windows whose p-values ``p_value`` combines (significance_memory; 1 = this
    # window alone, 0 = no p-value)
    memory_windows: np.ndarray | None = None

    def __post_init__(self):
        for name in ('mi_low', 'mi_high'):
            if getattr(self, name) is None:
                setattr(self, name, np.full(len(self.pairs), np.nan))


class RequestError(ValueError):
    """An on-demand request that cannot be answered; the message says what to fix."""


@dataclass
class EstimateResult:
    """Answer to an on-demand request; arrays are ``[P]`` in request order (nats).

    ``mi_low``/``mi_high``: the 90 % interval of ``mi`` (the read-out's 5 / 95 %
    quantiles); NaN where the estimator gives none (ksg). ``p_value``: as in windows
    (calibrated null, or permutations).
    """

    pairs: list[str]               # 'a:b' per estimate ('x:y' for two arrays)
    mi: np.ndarray
    mi_low: np.ndarray
    mi_high: np.ndarray
    p_value: np.ndarray
    window_size: int               # N
    method: str
    t_start: float | None = None   # window of a pairs request (stream time, s)
    t_end: float | None = None


TIED_MAX_LEVELS = DISCRETE_MAX_LEVELS   # at most this many distinct values in a window ...
TIED_TOP_SHARE = 0.10    # ... or one value in at least this share of it is reported as tied


def is_tied(distinct: np.ndarray, top: np.ndarray) -> np.ndarray:
    """The tied-stream rule on ``copula.tie_summary`` output ([K] each): few distinct values
    or one dominant value -> bool [K]."""
    return (distinct <= TIED_MAX_LEVELS) | (top >= TIED_TOP_SHARE)


def tied_streams(data: np.ndarray, names: list[str]) -> dict[str, tuple[int, float]]:
    """Streams of a window [N, K] with few distinct values or a dominant value (a contact
    flag, a mode, a quantised encoder, a saturated command): name -> (distinct values, share
    of the most common value). Not constant streams (those are noted separately)."""
    from infonet_ros.copula import tie_summary
    distinct, top = tie_summary(data)
    tied = is_tied(distinct, top)
    return {names[k]: (int(distinct[k]), float(top[k])) for k in range(len(names))
            if 1 < distinct[k] < len(data) and tied[k]}


def make_estimator(config: PipelineConfig):
    """The estimator the config asks for: bundled/loaded InfoNet, or the KSG baseline."""
    if config.estimator == 'ksg':
        from infonet_ros.baselines import KSG
        return KSG()
    import torch

    from infonet_ros import InfoNetEstimator
    from infonet_ros.estimator import resolve_device
    threads = config.torch_threads if config.torch_threads > 0 else None   # 0: torch's default
    if threads:
        torch.set_num_threads(threads)
    try:
        resolve_device(config.device)
    except ValueError as exc:
        raise ValueError(f"parameter 'device': {exc}") from None
    if config.model_path:
        try:
            return InfoNetEstimator.load(config.model_path, device=config.device, threads=threads)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ValueError(f"parameter 'model_path': cannot load InfoNet weights from "
                             f"'{config.model_path}': {exc}; expected a readable InfoNet "
                             "checkpoint (.safetensors), or '' for the bundled weights") \
                from None
    try:
        return InfoNetEstimator.pretrained(device=config.device, threads=threads,
                                           readout=config.readout)
    except FileNotFoundError as exc:
        raise ValueError(f"{exc} (or set parameter 'model_path', or 'estimator: ksg')") from None


class MIPipeline:
    """Evaluates windows with one estimator. The only state kept between windows is the
    evidence memory (``significance_memory``, ``evidence.EvidenceMemory``): the recent
    windows' p-values per pair."""

    def __init__(self, config: PipelineConfig, estimator=None):
        self.config = config
        self.estimator = make_estimator(config) if estimator is None else estimator
        if not (hasattr(self.estimator, 'estimate_pairs')
                or hasattr(self.estimator, 'estimate_batch')):
            raise TypeError(f'{type(self.estimator).__name__} has neither estimate_pairs '
                            'nor estimate_batch')
        self.method = _method_name(self.estimator, config)
        self.device = str(getattr(self.estimator, 'device', 'cpu'))
        self._rng = np.random.default_rng(0)
        # the estimator's simulated null (significance.py); None, with the reason, when
        # no shipped table fits this estimator: p-values are then NaN
        from infonet_ros.significance import load_null
        self.null, self.null_warning = load_null(self.estimator, self.method,
                                                 config.null_path or None)
        # The live node evaluates windows on one thread and answers ~/estimate requests on
        # another; the estimator (and the permutation RNG) is not thread-safe.
        self._lock = threading.Lock()
        self.memory = EvidenceMemory()

    def evaluate(self, window: Window, config: PipelineConfig | None = None) -> WindowResult:
        """MI of every configured pair of ``window`` (one batched estimator call).

        ``config`` (default ``self.config``) may differ in its run-time settings (pairs,
        threshold, permutations), as after a parameter change of the live node.
        """
        cfg = self.config if config is None else config
        data = np.asarray(window.data, dtype=np.float64)
        n, k = data.shape
        columns = cfg.column_names
        if k != len(columns):
            raise ValueError(f'window has {k} columns for {len(columns)} stream columns')
        pairs = list(cfg.pairs)
        notes: list[str] = []

        start = time.perf_counter()
        scan = None
        if cfg.has_vectors or cfg.lag_samples > 0:
            (mi, mi_low, mi_high), p_value, constant, scan = self._evaluate_lags_and_vectors(window, cfg)
        else:
            (mi, mi_low, mi_high), p_value, constant = self._mi_and_p_values(data, pairs, cfg.permutations, cfg)
        for c in np.flatnonzero(constant):
            notes.append(f"stream '{columns[c]}' is constant over the window")
        bad = ~np.isfinite(mi)
        for p in np.flatnonzero(bad):
            a, b = cfg.pair_names[p]
            notes.append(f"estimator returned {mi[p]} for pair '{a}:{b}'")
        latency = time.perf_counter() - start

        p_value, memory_used = self._remember(window, cfg, p_value)
        lag_s = np.full(len(pairs), np.nan)
        mi_lag = np.full(len(pairs), np.nan)
        directed = np.zeros(len(pairs), dtype=bool)
        weight = mi
        if scan is not None:
            lag_s, mi_lag, directed = scan
            # an edge stands for the dependence at its best lag (a delayed copy has ~0 MI
            # at lag 0); the zero-lag value stays in ``mi``
            weight = np.where(np.isfinite(mi_lag), np.fmax(mi_lag, mi), mi)
        decided, graph_method = graph_edges(
            weight, pairs, p_value, cfg.graph_method, cfg.graph_threshold, cfg.graph_alpha,
            cfg.permutations, cfg.p_value_alpha)
        if cfg.graph_method != graph_method and cfg.graph_method == 'fdr':
            notes.append(f'graph_method fdr needs p-values; edges by threshold: '
                         f'{self.null_warning}')
        edges = [(i, j, w, float(p_value[pairs.index((i, j))])) for i, j, w in decided]
        return WindowResult(
            t_start=float(window.t_start), t_end=float(window.t_end), window_size=n,
            streams=list(cfg.stream_names), pairs=pairs, mi=mi, p_value=p_value,
            edges=edges, method=self.method, latency_s=latency, device=self.device,
            notes=notes, tied=tied_streams(data, columns), lag_s=lag_s, mi_lag=mi_lag,
            directed=directed, mi_low=mi_low, mi_high=mi_high, graph_method=graph_method,
            memory_windows=memory_used)

    def _remember(self, window: Window, cfg: PipelineConfig, p_value: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Record this window's p-values and, with ``significance_memory`` > 1, return
        them combined with the pair's earlier disjoint windows (``evidence``), and the
        number of windows each combines."""
        keys = [f'{a}:{b}' for a, b in cfg.pair_names]
        combined, used = self.memory.combine(float(window.t_start), float(window.t_end), keys,
                                             p_value, cfg.significance_memory)
        # vector pairs keep their window's p: the sliced test permutes samples as if they
        # were iid, which autocorrelated streams are not, and combining would add that up
        vector = cfg.vector_pairs
        combined[vector] = p_value[vector]
        used[vector] = np.isfinite(p_value[vector]).astype(used.dtype)
        return combined, used

    # --- lags and vector streams (issue 13) ---------------------------------------------

    def _evaluate_lags_and_vectors(self, window: Window, cfg: PipelineConfig):
        """MI of every pair with lags and/or vector streams, in ONE ``estimate_batch`` call:
        the rows of every (scalar pair, lag) (``lags.lagged_rows``) and of every
        (vector pair, slice) (``sliced.sliced_rows``) are stacked.

        Returns (mi [P] zero-lag / sliced MI, p_value [P], constant columns [K],
        (lag_s [P], mi_lag [P], directed [P]) or None when lags are off).
        Scalar pairs get the permutation p-values of ``permutations`` as without lags;
        vector pairs always get the sliced test's permutation p-value (``sliced.sliced_test``).
        Lags are scanned for scalar pairs only (vector pairs: NaN lag, undirected).
        """
        from infonet_ros.lags import best_lags, effective_n, lag_margin, lagged_rows
        from infonet_ros.sliced import sliced_rows, sliced_test

        data = np.asarray(window.data, dtype=np.float64)
        n = data.shape[0]
        groups = cfg.column_groups
        pairs = list(cfg.pairs)
        vector = cfg.vector_pairs
        scalar = [p for p in range(len(pairs)) if p not in vector]
        col_pairs = [(groups[pairs[p][0]][0], groups[pairs[p][1]][0]) for p in scalar]
        use_lags = cfg.lag_samples > 0 and window.history is not None \
            and len(window.history) >= cfg.lag_samples
        lags = cfg.lags if use_lags else [0]
        extended = np.vstack([window.history, data]) if use_lags else data
        constant = np.ptp(data, axis=0) == 0

        blocks_x, blocks_y = [], []
        if col_pairs:
            xs, ys = lagged_rows(extended, n, col_pairs, lags)
            blocks_x.append(xs)
            blocks_y.append(ys)
        k = cfg.sliced_projections
        slices = {}
        for p in vector:
            i, j = pairs[p]
            slices[p] = sliced_rows(data[:, groups[i]], data[:, groups[j]], k, seed=p)
            blocks_x.append(slices[p][0])
            blocks_y.append(slices[p][1])

        mi = np.full(len(pairs), np.nan)
        mi_low, mi_high = np.full(len(pairs), np.nan), np.full(len(pairs), np.nan)
        p_value = np.full(len(pairs), np.nan)
        with self._lock:
            rows, rows_low, rows_high = self._estimate_rows(np.concatenate(blocks_x),
                                                            np.concatenate(blocks_y))
            by_lag = rows[:len(col_pairs) * len(lags)].reshape(len(col_pairs), len(lags))
            zero = lags.index(0)
            for r, p in enumerate(scalar):
                a, b = col_pairs[r]
                if constant[a] or constant[b]:
                    by_lag[r] = 0.0
                mi[p] = by_lag[r, zero]
                k0 = r * len(lags) + zero   # the zero-lag row carries the pair's interval
                mi_low[p], mi_high[p] = ((0.0, 0.0) if constant[a] or constant[b]
                                         else (rows_low[k0], rows_high[k0]))
            offset = len(col_pairs) * len(lags)
            for p in vector:
                mi[p] = float(np.mean(rows[offset:offset + k]))
                offset += k
                if all(constant[c] for c in groups[pairs[p][0]]) \
                        or all(constant[c] for c in groups[pairs[p][1]]):
                    mi[p], p_value[p] = 0.0, 1.0
                else:
                    p_value[p] = sliced_test(*slices[p], seed=p).p_value
            if col_pairs:
                if cfg.permutations > 0:
                    pv = self._permutation_p_values(data, col_pairs, mi[scalar], cfg.permutations)
                else:   # calibrated: the null table, or prewhitened innovations
                    pv = self._significance_p_values(data, col_pairs, mi[scalar], cfg)
                bad = np.array([constant[a] or constant[b] for a, b in col_pairs])
                pv[bad] = 1.0
                pv[~np.isfinite(mi[scalar])] = np.nan
                p_value[scalar] = pv
            m = len(col_pairs) * len(lags)
            widen = np.array([np.sqrt(n / effective_n(data[:, a], data[:, b]))
                              for a, b in col_pairs])
            spread = (self._lag_spread(lags, by_lag, rows_low[:m].reshape(by_lag.shape),
                                       rows_high[:m].reshape(by_lag.shape), widen)
                      if use_lags else None)

        if not use_lags or cfg.lag_samples == 0:
            return (mi, mi_low, mi_high), p_value, constant, None
        margin = [lag_margin(data[:, a], data[:, b], len(lags)) for a, b in col_pairs]
        scan = best_lags(by_lag, lags, cfg.sample_rate_hz, margin, *spread)
        lag_s = np.full(len(pairs), np.nan)
        mi_lag = np.full(len(pairs), np.nan)
        directed = np.zeros(len(pairs), dtype=bool)
        lag_s[scalar], mi_lag[scalar], directed[scalar] = scan.best_lag_s, scan.mi_best, \
            scan.directed
        return (mi, mi_low, mi_high), p_value, constant, (lag_s, mi_lag, directed)

    def _estimate_rows(self, xs: np.ndarray, ys: np.ndarray):
        """xs, ys [R, N] -> (MI, low, high) [R] each in one batched call (constant rows: 0;
        low/high NaN where the estimator gives no interval)."""
        import warnings
        if not hasattr(self.estimator, 'estimate_batch'):
            raise TypeError(f'{type(self.estimator).__name__} has no estimate_batch, which '
                            'lags (max_lag_s) and vector streams need')
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)   # constant rows: noted per stream
            if getattr(self.estimator, 'output', None) == 'readout':
                low, mid, high = self.estimator.estimate_interval_batch(xs, ys)
            else:
                mid = self.estimator.estimate_batch(xs, ys)
                low = high = np.full(len(xs), np.nan)
        return tuple(np.asarray(a, dtype=np.float64).reshape(-1) for a in (mid, low, high))

    @staticmethod
    def _lag_spread(lags, by_lag, low_by_lag, high_by_lag, widen):
        """(5 % quantile at each pair's peak lag, 95 % quantile at lag 0), [pairs] each, from
        the interval of every (pair, lag) row of the scan, each widened about its median by
        ``widen`` [pairs] (sqrt(N / N_eff): the read-out's interval assumes i.i.d. samples);
        (None, None) for an estimator without intervals (``lags.best_lags`` then uses the
        margin alone). Pairs whose peak is at lag 0 get (-inf, inf)."""
        if not np.isfinite(low_by_lag).any():
            return None, None
        low_by_lag = by_lag - (by_lag - low_by_lag) * widen[:, None]
        high_by_lag = by_lag + (high_by_lag - by_lag) * widen[:, None]
        lags_arr = np.asarray(lags)
        order = np.argsort(np.abs(lags_arr), kind='stable')
        best = order[np.argmax(np.where(np.isfinite(by_lag), by_lag, -np.inf)[:, order], 1)]
        rows = np.arange(len(by_lag))
        zero = list(lags).index(0)
        low = np.where(lags_arr[best] != 0, low_by_lag[rows, best], -np.inf)
        high = np.where(lags_arr[best] != 0, high_by_lag[:, zero], np.inf)
        return low, high

    def estimate_arrays(self, x, y) -> EstimateResult:
        """MI of two samples the caller holds (equal length N >= 32, finite)."""
        data = _request_arrays(x, y)
        q, p_value, _ = self._mi_and_p_values(data, [(0, 1)], self.config.permutations)
        return self._result(['x:y'], q, p_value, len(data))

    def estimate_window_pairs(self, window: Window | None, pairs,
                              config: PipelineConfig | None = None,
                              why_no_window: str = '') -> EstimateResult:
        """MI of ``'a:b'`` stream pairs (names from ``stream_names``) of ``window``.

        ``window`` None (the streams do not cover a window yet) is a RequestError that
        carries ``why_no_window``.
        """
        cfg = self.config if config is None else config
        if isinstance(pairs, str) or not all(isinstance(p, str) for p in pairs):
            raise RequestError(f"pairs must be 'a:b' strings, got {pairs!r}")
        try:
            index_pairs = parse_pairs(list(pairs), cfg.stream_names, what='request pairs')
        except ValueError as exc:
            raise RequestError(str(exc)) from None
        if window is None:
            raise RequestError('no window yet' + (f': {why_no_window}' if why_no_window
                                                  else ''))
        data = np.asarray(window.data, dtype=np.float64)
        groups = cfg.column_groups
        vectors = [cfg.stream_names[s] for pair in index_pairs for s in pair
                   if len(groups[s]) > 1]
        if vectors:
            raise RequestError(f"stream(s) {', '.join(sorted(set(vectors)))} are vector "
                               'streams; ~/estimate answers scalar pairs (the published '
                               'messages carry the sliced MI of vector pairs)')
        column_pairs = [(groups[i][0], groups[j][0]) for i, j in index_pairs]
        q, p_value, _ = self._mi_and_p_values(data, column_pairs, cfg.permutations, cfg)
        names = [f'{cfg.stream_names[i]}:{cfg.stream_names[j]}' for i, j in index_pairs]
        return self._result(names, q, p_value, len(data), window.t_start, window.t_end)

    def _result(self, names, q, p_value, n, t_start=None, t_end=None) -> EstimateResult:
        mi_low, mi, mi_high = q[1], q[0], q[2]
        return EstimateResult(pairs=names, mi=mi, mi_low=mi_low, mi_high=mi_high,
                              p_value=p_value, window_size=n, method=self.method,
                              t_start=t_start, t_end=t_end)

    def _mi_and_p_values(self, data: np.ndarray, pairs: list[tuple[int, int]],
                         permutations: int, config: PipelineConfig | None = None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """((MI, low, high) [P] each, p-values [P], constant-column mask [K]) of ``pairs``
        of ``data``; low/high NaN where the estimator gives no interval. ``config``
        (default ``self.config``) chooses the calibrated test (``significance``)."""
        with self._lock:
            mi, low, high = self._estimate(data, pairs)
            # Constant streams carry no information; say so instead of trusting the
            # estimator.
            constant = np.ptp(data, axis=0) == 0
            for p, (i, j) in enumerate(pairs):
                if constant[i] or constant[j]:
                    mi[p] = 0.0
                    low[p] = 0.0 if np.isfinite(low[p]) else low[p]
                    high[p] = 0.0 if np.isfinite(high[p]) else high[p]
            if permutations > 0:
                p_value = self._permutation_p_values(data, pairs, mi, permutations)
            else:
                p_value = self._significance_p_values(data, pairs, mi,
                                                      config or self.config)
            p_value[constant[[i for i, _ in pairs]] | constant[[j for _, j in pairs]]] = 1.0
            p_value[~np.isfinite(mi)] = np.nan
        return (mi, low, high), p_value, constant

    def _significance_p_values(self, data, pairs, mi, cfg: PipelineConfig) -> np.ndarray:
        """Calibrated p [P] of column ``pairs`` of ``data`` [N, K] by ``cfg.significance``:
        'table' (``_calibrated_p_values``: the zero-lag MI ``mi`` [P] against the null
        table) or 'prewhitened' (``prewhiten.prewhitened_p_values``: the MI of the
        streams' AR innovations at lags -significance_lags..significance_lags, one more
        batched estimator call). Pairs of two tied streams (``tied_streams``: binary,
        quantised, saturated) keep the table's p: the linear AR innovations of a discrete
        autocorrelated stream are not independent over time (docs/SIGNIFICANCE.md).
        NaN without a null table."""
        p_value = self._calibrated_p_values(data, pairs, mi)
        if cfg.significance != 'prewhitened' or self.null is None \
                or not hasattr(self.estimator, 'estimate_batch') or not pairs:
            return p_value
        import warnings

        from infonet_ros.copula import tie_summary
        from infonet_ros.prewhiten import prewhitened_p_values
        tied = is_tied(*tie_summary(data))
        rows = [r for r, (i, j) in enumerate(pairs) if not (tied[i] and tied[j])]
        if rows:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', RuntimeWarning)   # constant rows: p = 1
                p_value[rows] = prewhitened_p_values(
                    self.estimator.estimate_batch, self.null, data,
                    [pairs[r] for r in rows], cfg.significance_lags)
        return p_value

    def _calibrated_p_values(self, data, pairs, mi) -> np.ndarray:
        """p [P] from the estimator's null table at (N, Bartlett factor Bq) of each pair;
        pairs the estimator answers with the discrete plug-in get the G test. NaN when
        there is no table (``null_warning`` says why)."""
        from infonet_ros import significance
        if self.null is None:
            return np.full(len(pairs), np.nan)
        n = data.shape[0]
        b1, bq = significance.bartlett_factors(data, pairs)
        p_value = self.null.p_values(mi, n, bq)
        if self.method == 'infonet':
            from infonet_ros.copula import tie_summary
            from infonet_ros.discrete import use_plugin
            distinct, _ = tie_summary(data)
            rows = [r for r, (i, j) in enumerate(pairs)
                    if use_plugin(int(distinct[i]), int(distinct[j]), n)]
            if rows:
                p_value[rows] = significance.g_test_p_values(data, pairs, rows, b1)
        return p_value

    def _estimate(self, data: np.ndarray, pairs: list[tuple[int, int]]):
        """(MI, low, high), each [P]: the estimator's 90 % interval where it has one (an
        InfoNetEstimator with a read-out: one pass gives both), else NaN bounds."""
        nan = np.full(len(pairs), np.nan)
        if getattr(self.estimator, 'output', None) == 'readout':
            low, mid, high = self.estimator.estimate_interval_pairs(data, pairs)
            return (np.array(mid, dtype=np.float64), np.array(low, dtype=np.float64),
                    np.array(high, dtype=np.float64))
        if hasattr(self.estimator, 'estimate_pairs'):
            out = self.estimator.estimate_pairs(data, pairs)
        else:
            idx = np.asarray(pairs)
            out = self.estimator.estimate_batch(data[:, idx[:, 0]].T.copy(),
                                                data[:, idx[:, 1]].T.copy())
        mi = np.array(out, dtype=np.float64).reshape(-1)
        if mi.shape != (len(pairs),):
            raise ValueError(f'{type(self.estimator).__name__} returned {mi.shape[0]} '
                             f'values for {len(pairs)} pairs')
        return mi, nan, nan.copy()

    def _permutation_p_values(self, data, pairs, mi, m: int) -> np.ndarray:
        """p = (1 + #{MI(x, shuffled y) >= MI}) / (1 + m), all shuffles in one batch."""
        if not hasattr(self.estimator, 'estimate_batch'):
            return np.full(len(pairs), np.nan)
        n = data.shape[0]
        idx = np.asarray(pairs)
        xs = np.repeat(data[:, idx[:, 0]].T, m, axis=0)                    # [P*m, N]
        ys = np.repeat(data[:, idx[:, 1]].T, m, axis=0)
        perm = np.argsort(self._rng.random((len(xs), n)), axis=1)
        ys = np.take_along_axis(ys, perm, axis=1)
        null = np.asarray(self.estimator.estimate_batch(xs, ys), dtype=np.float64)
        null = null.reshape(len(pairs), m)
        exceed = (null >= mi[:, None]).sum(axis=1)
        return (1.0 + exceed) / (1.0 + m)


class LatestOnlyWorker:
    """Runs ``fn(item)`` on its own thread for the newest submitted item.

    The live node's evaluation thread: a one-slot mailbox between the executor (which
    submits a window per timer tick and must never wait) and the estimator. An item still
    waiting when a newer one arrives is dropped, and ``submit`` says so, so the caller can
    count skipped windows; nothing queues up behind a slow evaluation. Exceptions from
    ``fn`` go to ``on_error`` (the thread keeps running).
    """

    def __init__(self, fn: Callable, name: str = 'worker',
                 on_error: Callable[[BaseException], None] | None = None):
        self._fn = fn
        self._on_error = on_error
        self._cond = threading.Condition()
        self._pending = None
        self._has_pending = False
        self._busy = False
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item) -> bool:
        """Hand over ``item``; True if it replaced an item that had not started."""
        with self._cond:
            if self._closing:
                raise RuntimeError('LatestOnlyWorker is closed')
            replaced = self._has_pending
            self._pending, self._has_pending = item, True
            self._cond.notify_all()
            return replaced

    @property
    def busy(self) -> bool:
        """An item is running or waiting."""
        with self._cond:
            return self._busy or self._has_pending

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing runs or waits; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not (self._busy or self._has_pending), timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Drop a waiting item, let a running one finish, stop the thread; True if stopped."""
        with self._cond:
            self._closing = True
            self._pending, self._has_pending = None, False
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self):
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._has_pending or self._closing)
                if self._closing:
                    return
                item, self._pending, self._has_pending = self._pending, None, False
                self._busy = True
            try:
                self._fn(item)
            except BaseException as exc:  # noqa: BLE001 - keep the thread alive
                if self._on_error is None:
                    raise
                self._on_error(exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


def _request_arrays(x, y) -> np.ndarray:
    """x, y of a request -> data [N, 2]; RequestError naming what is wrong."""
    arrays = []
    for name, a in (('x', x), ('y', y)):
        try:
            arr = np.asarray(a, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise RequestError(f'{name} must be a list of numbers: {exc}') from None
        if arr.ndim != 1:
            raise RequestError(f'{name} must be one-dimensional, got shape {arr.shape}')
        bad = np.flatnonzero(~np.isfinite(arr))
        if len(bad):
            raise RequestError(f'{name} has {len(bad)} NaN/Inf value(s), the first at index '
                               f'{bad[0]}; x and y must be finite')
        arrays.append(arr)
    x, y = arrays
    if len(x) != len(y):
        raise RequestError(f'x and y must have the same length (paired samples), got '
                           f'{len(x)} and {len(y)}')
    if not MIN_WINDOW_SIZE <= len(x) <= MAX_REQUEST_SAMPLES:
        raise RequestError(f'x and y need {MIN_WINDOW_SIZE} to {MAX_REQUEST_SAMPLES} samples '
                           f'each, got {len(x)}')
    return np.stack([x, y], axis=1)


def window_schedule(t0: float, t1: float, publish_rate_hz: float) -> np.ndarray:
    """Window end times in ``[t0, t1]`` at the node's cadence: multiples of the period.

    Anchoring on multiples of ``1 / publish_rate_hz`` (not on ``t0``) makes the schedule
    independent of where a bag happens to start.
    """
    if not (publish_rate_hz > 0 and math.isfinite(publish_rate_hz)):
        raise ValueError(f'publish_rate_hz must be > 0, got {publish_rate_hz}')
    if not t1 >= t0:
        return np.empty(0)
    period = 1.0 / publish_rate_hz
    first = math.ceil(t0 / period - 1e-9)
    last = math.floor(t1 / period + 1e-9)
    return np.arange(first, last + 1) * period


def _method_name(estimator, config: PipelineConfig) -> str:
    name = getattr(estimator, 'name', None)
    if isinstance(name, str) and name:
        return name.lower()
    cls = type(estimator).__name__.lower()
    if 'infonet' in cls:
        return 'infonet'
    if 'ksg' in cls:
        return 'ksg'
    return cls
