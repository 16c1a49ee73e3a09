"""``bag_eval``: the estimator node's pipeline run offline over a rosbag2 bag.

    bag_eval BAG --config PARAMS.yaml --out DIR [--compare ksg]
    ros2 run infonet_ros bag_eval BAG --config PARAMS.yaml --out DIR
    bag_eval BAG [BAG ...] | DIR | GLOB --config PARAMS.yaml --out DIR   # a fleet: fleet.py

The same parameters file as the node, and the same code: StreamExtractor (header stamp,
else the bag's log time, as the node uses the receive time) -> StreamAligner -> MIPipeline.
Windows end on multiples of ``1 / publish_rate_hz`` in message time (the schedule of
``pipeline.window_schedule``), from the first time every stream covers a whole window to
the end of the bag. A window is evaluated as soon as every stream has data at or after its
end, as the node's timer would; windows the aligner refuses (gaps, a silent stream) are
counted as skipped, with the reason.

Speed: windows are evaluated in chunks. All pairs of a chunk go through the estimator in one
``estimate_batch`` call (rows are independent, so the values equal the per-window call),
and ``MIPipeline.evaluate`` then does everything else per window as in the node (constant
streams, p-values, edges).

Writes ``mi.csv`` / ``mi.json`` (one row per window and pair), ``graph.json`` (edges per
window), ``summary.json`` / ``summary.md`` and PNG plots (see ``infonet_ros.report``).
Problems with the bag or the parameters exit with status 2 and a one-line message.

A damaged bag (truncated or corrupt storage file) is read up to the damage: the report keeps
the windows evaluated before it and says where the bag was cut (``damage`` in
summary.json, a warning line in summary.md), stderr gets one line naming the file and the
problem, and the exit status is 3. An unfinished bag (no metadata.yaml, an mcap without
its footer, a sqlite3 file with its write-ahead log) is read completely, with a warning line
(``notes``) and exit status 0. See ``bag_io.BagReader(salvage=True)``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from infonet_ros.bag_io import BagError, BagReader
from infonet_ros.pipeline import MIPipeline, WindowResult, make_estimator
from infonet_ros.runtime import tune_malloc
from infonet_ros.streams import (FieldExtractionError, PipelineConfig, StreamExtractor,
                                 import_message_type)
from infonet_ros.windowing import StreamAligner, Window

__all__ = ['BagEvaluation', 'evaluate_bag', 'iter_windows', 'main']

EXIT_DAMAGED = 3              # the report covers the bag up to its damage
FIRST_MESSAGES_CHECKED = 20   # a stream unreadable in all of its first N messages is an error


@dataclass
class BagEvaluation:
    """Everything one ``bag_eval`` run produced. Times in seconds, MI in nats."""

    bag: str
    storage: str
    config: PipelineConfig
    bag_start_s: float                     # first log time of the bag
    bag_end_s: float                       # last log time of the bag
    method: str                            # e.g. 'infonet'
    device: str
    results: list[WindowResult]            # evaluated windows, in time order
    skipped: list[tuple[float, str]]       # (t_end, reason) of windows not evaluated
    compare: dict[str, list[WindowResult]] = field(default_factory=dict)  # same windows
    messages_read: int = 0
    stream_diagnostics: dict = field(default_factory=dict)
    wall_time_s: float = 0.0               # the whole run, reading the bag included
    estimator_time_s: float = 0.0          # evaluating windows with ``method``
    compare_time_s: dict[str, float] = field(default_factory=dict)
    damage: str = ''                       # where a damaged bag was cut ('' if intact)
    notes: list[str] = field(default_factory=list)   # unfinished bag read around, etc.

    @property
    def pair_names(self) -> list[tuple[str, str]]:
        return self.config.pair_names

    def mi_matrix(self, method: str | None = None, bound: str = 'mi') -> np.ndarray:
        """``[W, P]`` MI of every evaluated window and pair (nats); ``bound`` 'mi_low' or
        'mi_high' for the 90 % interval's ends (NaN where the estimator gives none)."""
        results = self.results if method in (None, self.method) else self.compare[method]
        if not results:
            return np.zeros((0, len(self.config.pairs)))
        return np.stack([getattr(r, bound) for r in results])


# --- windows ------------------------------------------------------------------------------

def make_aligner(config: PipelineConfig) -> StreamAligner:
    """The aligner exactly as the node builds it."""
    return StreamAligner.from_config(config)


def make_extractor(config: PipelineConfig) -> StreamExtractor:
    """The node's extractor; field paths are checked against the message types when their
    Python packages are installed (else against the first messages, see iter_windows)."""
    try:
        for spec in config.streams.values():
            import_message_type(spec.type)
    except ValueError:
        return StreamExtractor(config, check_types=False)
    return StreamExtractor(config, check_types=True)


def iter_windows(bag: BagReader, config: PipelineConfig, t_ends: Sequence[float] | None = None,
                 aligner: StreamAligner | None = None, progress=None
                 ) -> Iterator[tuple[float, Window | None, str]]:
    """``(t_end, window or None, reason)`` in time order, reading ``bag`` once.

    ``t_ends`` (seconds, message time) defaults to the node's cadence: multiples of
    ``1 / publish_rate_hz`` from the first time all streams cover a window to the last
    sample. ``progress`` (a tqdm bar or None) is advanced by messages read.
    """
    extractor = make_extractor(config)
    aligner = aligner or make_aligner(config)
    names = config.column_names          # a vector stream is aligned per component
    stream_of = config.column_stream
    topics = sorted({config.streams[n].topic for n in config.stream_names})
    for topic in topics:
        if bag.message_counts.get(topic, 0) == 0:
            streams = ', '.join(extractor.streams_on(topic))
            raise BagError(f"topic '{topic}' (stream {streams}) has no messages in bag "
                           f"'{bag.path}'")
    period = 1.0 / config.publish_rate_hz
    span = config.window_span_s + config.lag_samples / config.sample_rate_hz   # + lag history
    explicit = None if t_ends is None else sorted(float(t) for t in t_ends)
    pos = 0                                # index into explicit t_ends
    k: int | None = None                   # next t_end = k * period (node cadence)
    first_t: dict[str, float] = {}
    last_t: dict[str, float] = {}
    good = {n: 0 for n in names}
    bad: dict[str, tuple[int, str]] = {}
    unread = 0

    def next_t_end() -> float | None:
        if explicit is not None:
            return explicit[pos] if pos < len(explicit) else None
        return None if k is None else k * period

    def windows_until(limit: float):
        """The scheduled windows ending at or before ``limit``; advances the schedule."""
        nonlocal pos, k
        t_end = next_t_end()
        while t_end is not None and t_end <= limit + 1e-9:
            window = aligner.window(t_end)
            yield t_end, window, aligner.last_reason if window is None else ''
            if explicit is not None:
                pos += 1
            else:
                k += 1
            t_end = next_t_end()

    for m in bag.messages(topics):
        unread += 1
        if progress is not None and unread >= 500:
            progress.update(unread)
            unread = 0
        for name, t, value in extractor.extract_topic(m.topic, m.msg, m.log_time_s):
            if isinstance(value, FieldExtractionError):
                aligner.reject(name, str(value))
                count, _ = bad.get(name, (0, ''))
                bad[name] = (count + 1, str(value))
                if good[name] == 0 and count + 1 >= min(FIRST_MESSAGES_CHECKED,
                                                        bag.message_counts[m.topic]):
                    spec = config.streams[stream_of[name]]
                    raise BagError(f"stream '{name}': field '{spec.field}' "
                                   f"is unreadable in the first {count + 1} messages on "
                                   f"'{m.topic}': {value}")
                continue
            good[name] += 1
            aligner.add(name, t, value)
            first_t.setdefault(name, t)
            last_t[name] = max(t, last_t.get(name, -math.inf))
        if k is None and explicit is None and len(first_t) == len(names):
            start = max(first_t.values()) + span
            k = math.ceil(start / period - 1e-9)
        t_end = next_t_end()
        if t_end is None or len(last_t) < len(names) or min(last_t.values()) < t_end:
            continue
        covered = aligner.latest_common_time()
        if covered is not None:
            yield from windows_until(covered)
    if progress is not None and unread:
        progress.update(unread)

    # Scheduled windows the data never covered (a stream ended or stalled).
    yield from windows_until(max(last_t.values(), default=-math.inf))
    if explicit is not None:
        for t in explicit[pos:]:
            yield t, None, 'after the end of the data'


# --- evaluation ---------------------------------------------------------------------------

class _ChunkedEstimator:
    """Wraps an estimator so that all pairs of many windows go through one ``estimate_batch``.

    ``prefetch(datas, pairs)`` evaluates them; ``estimate_pairs(data, pairs)`` (what
    MIPipeline calls) then returns the stored values for exactly that array (by identity),
    or evaluates it directly. Permutation tests go straight to the wrapped estimator.
    """

    def __init__(self, estimator, name: str):
        self.estimator = estimator
        self.name = name
        self.device = getattr(estimator, 'device', 'cpu')
        # 'readout': the wrapped estimator gives (low, mid, high) in one pass, and so does this
        self.output = getattr(estimator, 'output', None)
        self._cache: dict[int, tuple[np.ndarray, tuple[np.ndarray, ...]]] = {}

    def prefetch(self, datas: list[np.ndarray], pairs) -> None:
        idx = np.asarray(pairs)
        xs = np.concatenate([d[:, idx[:, 0]].T for d in datas])   # [W*P, N]
        ys = np.concatenate([d[:, idx[:, 1]].T for d in datas])
        with warnings.catch_warnings():
            # Constant streams: MIPipeline.evaluate notes them and sets their MI to 0.
            warnings.simplefilter('ignore', RuntimeWarning)
            if self.output == 'readout':
                q = self.estimator.estimate_interval_batch(xs, ys)
            else:
                q = (self.estimator.estimate_batch(xs, ys),)
        q = [np.asarray(a, dtype=np.float64).reshape(len(datas), len(pairs)) for a in q]
        for w, data in enumerate(datas):
            self._cache[id(data)] = (data, tuple(a[w] for a in q))

    def _cached(self, data):
        hit = self._cache.pop(id(data), None)
        return hit[1] if hit is not None and hit[0] is data else None

    def estimate_interval_pairs(self, data, pairs):
        hit = self._cached(data)
        if hit is not None and len(hit) == 3:
            return tuple(a.copy() for a in hit)
        return self.estimator.estimate_interval_pairs(data, pairs)

    def estimate_pairs(self, data, pairs):
        hit = self._cached(data)
        if hit is not None:
            return hit[1 if len(hit) == 3 else 0].copy()
        if hasattr(self.estimator, 'estimate_pairs'):
            return self.estimator.estimate_pairs(data, pairs)
        idx = np.asarray(pairs)
        return self.estimator.estimate_batch(data[:, idx[:, 0]].T.copy(),
                                             data[:, idx[:, 1]].T.copy())

    def estimate_batch(self, xs, ys):
        return self.estimator.estimate_batch(xs, ys)


def require_windows(ev: BagEvaluation, bag, config: PipelineConfig) -> None:
    """BagError naming the bag (its length against a window's span, and the most common
    reason) when not one window of it could be evaluated."""
    if ev.results:
        return
    from infonet_ros import report
    reasons = report.skip_reasons(ev.skipped)
    why = f'; most common reason: {reasons[0][0]}' if reasons else ''
    cut = f'; {ev.damage}' if ev.damage else ''
    raise BagError(f"no window could be evaluated in bag '{bag}' "
                   f'({ev.bag_end_s - ev.bag_start_s:.1f} s long; a window spans '
                   f'{config.window_span_s:.1f} s){why}{cut}')


def evaluate_bag(bag_path, config: PipelineConfig, estimator=None,
                 compare: Sequence[str] = (), t_ends: Sequence[float] | None = None,
                 batch_windows: int = 64, progress: bool = True,
                 salvage: bool = True) -> BagEvaluation:
    """Run the node's pipeline over a bag. Raises BagError / ValueError on bad input.

    ``salvage``: a damaged bag is read up to the damage (``damage`` says where); False: it
    is a BagError (the fleet's choice: a damaged bag fails by name there).

    ``estimator``: default from the config (bundled InfoNet, ``model_path``, or KSG).
    ``compare``: other methods ('ksg', 'infonet') evaluated on the same windows.
    ``t_ends``: evaluate windows ending exactly there instead of the node's cadence.
    """
    from tqdm import tqdm

    wall = time.perf_counter()
    if batch_windows < 1:
        raise ValueError(f'batch_windows must be >= 1, got {batch_windows}')
    with BagReader(bag_path, salvage=salvage) as bag:
        bag.check_streams(config)
        make_extractor(config)    # bad field paths fail here, before the model loads
        base = MIPipeline(config, estimator)
        if base.null_warning and config.permutations == 0:
            warnings.warn(f'bag_eval: {base.null_warning}', RuntimeWarning, stacklevel=2)
        chunked = None
        # (lags and vector streams already batch all their rows per window)
        if hasattr(base.estimator, 'estimate_batch') and batch_windows > 1 \
                and not (config.has_vectors or config.lag_samples > 0):
            chunked = _ChunkedEstimator(base.estimator, base.method)
        pipeline = MIPipeline(config, chunked) if chunked is not None else base
        others = {}
        for method in compare:
            if method == base.method:
                raise ValueError(f"--compare {method}: the config's estimator is already "
                                 f'{method}')
            other_config = dataclasses.replace(config, estimator=method)
            others[method] = MIPipeline(other_config, make_estimator(other_config))

        ev = BagEvaluation(bag=str(bag.path), storage=bag.storage, config=config,
                           bag_start_s=bag.start_s, bag_end_s=bag.end_s,
                           method=base.method, device=base.device, results=[], skipped=[],
                           compare={m: [] for m in others},
                           compare_time_s={m: 0.0 for m in others})
        total = sum(bag.message_counts[t] for t in {s.topic for s in config.streams.values()})
        aligner = make_aligner(config)
        chunk: list[Window] = []

        def flush():
            if not chunk:
                return
            start = time.perf_counter()
            if chunked is not None:
                chunked.prefetch([w.data for w in chunk], config.pairs)
            prefetch_s = time.perf_counter() - start
            for w in chunk:
                t = time.perf_counter()
                result = pipeline.evaluate(w)
                result.latency_s = prefetch_s / len(chunk) + (time.perf_counter() - t)
                ev.results.append(result)
            ev.estimator_time_s += time.perf_counter() - start
            for method, other in others.items():
                start = time.perf_counter()
                ev.compare[method].extend(other.evaluate(w) for w in chunk)
                ev.compare_time_s[method] += time.perf_counter() - start
            chunk.clear()

        with tqdm(total=total, unit='msg', desc='bag_eval', disable=not progress,
                  dynamic_ncols=True, leave=False) as bar:
            for t_end, window, reason in iter_windows(bag, config, t_ends, aligner, bar):
                if window is None:
                    ev.skipped.append((t_end, reason))
                    continue
                chunk.append(window)
                if len(chunk) >= batch_windows:
                    flush()
                    bar.set_postfix(windows=len(ev.results), skipped=len(ev.skipped))
            flush()
        ev.messages_read = total
        ev.stream_diagnostics = aligner.diagnostics()['streams']
        ev.damage, ev.notes = bag.damage, list(bag.notes)
        if ev.damage and ev.results:
            ev.damage += f'; the report keeps the {len(ev.results)} windows before it ' \
                         f'(last ending at {ev.results[-1].t_end:.3f} s)'
    ev.wall_time_s = time.perf_counter() - wall
    return ev


# --- command line -------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='bag_eval',
        description='Mutual information between the streams of a rosbag2 bag (sqlite3 or '
                    'mcap), offline, with the estimator node\'s parameters and pipeline.')
    parser.add_argument('bag', nargs='+', metavar='BAG',
                        help='rosbag2 bag: a directory with metadata.yaml, or a .mcap / .db3 '
                             'file; several bags, a directory of bags or a glob pattern '
                             'evaluate a fleet (see --workers, --scheduler)')
    parser.add_argument('--config', required=True, metavar='PARAMS.yaml',
                        help="the estimator node's parameters file (config/estimator.yaml)")
    parser.add_argument('--out', required=True, metavar='DIR', help='report directory')
    parser.add_argument('--compare', action='append', choices=['ksg', 'infonet'], default=[],
                        help='also evaluate the same windows with this estimator and report '
                             'agreement and speed (repeatable)')
    parser.add_argument('--model', metavar='PATH',
                        help='InfoNet weights (.safetensors); overrides model_path')
    parser.add_argument('--device', help='auto | cpu | cuda | cuda:N; overrides device')
    parser.add_argument('--estimator', choices=['infonet', 'ksg'],
                        help='overrides the estimator parameter')
    parser.add_argument('--truth', metavar='JSON',
                        help='ground truth (demo ground_truth.json) to compare against')
    parser.add_argument('--batch', type=int, default=64, metavar='N',
                        help='windows per estimator call (default 64; 1 = one call each)')
    parser.add_argument('--no-plots', action='store_true', help='skip the PNG plots')
    parser.add_argument('-q', '--quiet', action='store_true',
                        help='no progress bar, no summary on stdout')
    fleet = parser.add_argument_group('several bags (a fleet; pip install infonet_ros[fleet])')
    fleet.add_argument('--workers', type=int, metavar='N',
                       help='Dask LocalCluster worker processes on 127.0.0.1 (default: one '
                            'per core); 0 = one bag after another in this process, no Dask')
    fleet.add_argument('--scheduler', metavar='ADDR',
                       help='an existing Dask cluster instead, e.g. tcp://HOST:8786')
    fleet.add_argument('--outlier-z', type=float, metavar='Z',
                       help='robust z-score beyond which a bag is an outlier (default 3.5)')
    fleet.add_argument('--outlier-min-delta', type=float, metavar='NATS',
                       help='smallest departure from the fleet median flagged (default 0.05)')
    return parser


def load_config(path, model=None, device=None, estimator=None) -> PipelineConfig:
    """The node's parameters file, with command-line overrides (validated)."""
    config = PipelineConfig.from_yaml(path)
    overrides = {k: v for k, v in (('model_path', model), ('device', device),
                                   ('estimator', estimator)) if v is not None}
    if overrides:
        config = dataclasses.replace(config, **overrides)
        config.validate()
    return config


def run(args) -> BagEvaluation:
    from infonet_ros import report

    config = load_config(args.config, args.model, args.device, args.estimator)
    truth = None
    if args.truth:
        from infonet_ros.demo_data import load_ground_truth
        truth = load_ground_truth(args.truth)
    ev = evaluate_bag(args.bag, config, compare=args.compare, batch_windows=args.batch,
                      progress=not args.quiet)
    require_windows(ev, args.bag, config)
    report.write_report(ev, args.out, plots=not args.no_plots, truth=truth)
    return ev


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    tune_malloc()
    from infonet_ros import fleet
    if len(args.bag) > 1 or not fleet.is_single_bag(args.bag[0]):
        return fleet.main(args)
    args.bag = args.bag[0]
    try:
        ev = run(args)
    except (BagError, ValueError, FileNotFoundError, OSError) as exc:
        print(f"bag_eval: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('bag_eval: interrupted', file=sys.stderr)
        return 130
    if not args.quiet:
        from infonet_ros.report import console_summary
        print(console_summary(ev, args.out))
    for note in ev.notes:
        print(f"bag_eval: warning: {' '.join(note.split())}", file=sys.stderr)
    if ev.damage:
        print(f"bag_eval: error: {' '.join(ev.damage.split())}", file=sys.stderr)
        return EXIT_DAMAGED
    return 0


if __name__ == '__main__':
    sys.exit(main())
