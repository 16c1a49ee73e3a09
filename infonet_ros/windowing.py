"""Windowing: align streams that arrive at different rates onto one timeline.

Each stream keeps a bounded, time-sorted history of ``(t, value)`` samples. A window is
the last ``window_size`` points of a common grid with spacing ``1 / sample_rate_hz``,
ending at ``t_end``; every stream is resampled onto the grid by **linear interpolation**
between its two neighbouring samples, except **discrete** streams, which take the value
of the **nearest sample** in time.

Why linear interpolation for continuous streams, also for streams slower than the grid:
it keeps simultaneous samples of two streams paired with the same weights, and gives a
slow stream distinct values between its samples rather than runs of repeats.

Why the nearest sample for discrete streams: a stream whose raw samples in the window take at most
``DISCRETE_MAX_LEVELS`` distinct values, each repeated (a contact switch, a button, a gear
or mode, an integer counter), only ever has those values; interpolating a 0 -> 1 contact
edge between jittered stamps invents 0.37 or 0.81, turns a binary stream into hundreds of
distinct values and blends samples across the edge. The estimator handles the ties that
this keeps (``copula.pair_ranks``). Nearest rather than previous sample (zero-order hold):
when the grid falls on the stamps of another stream, a sample stamped by its reception time
arrives a little after its partner's header stamp, and a hold would pair it with the
partner's previous sample (measured: a contact switch and the force it depends on, both at
100 Hz, read 0.00 nats held and 0.27 nats nearest; truth 0.27). The choice is made per
window from the data, so bag replay and the live node agree, and message types need not
be known.

A stream is never extrapolated, and a window whose span holds a gap longer than
``max_gap_s`` in any stream is refused rather than bridged.

Thread safety: ``add`` and ``window`` may be called from different threads (the node's
subscription callbacks and its evaluation timer).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np

__all__ = ['DISCRETE_MAX_LEVELS', 'StreamAligner', 'Window', 'blending', 'is_discrete', 'nearest',
           'resample']

DISCRETE_MAX_LEVELS = 32   # raw samples with at most this many distinct values, each
                           # value seen at least twice on average: a discrete stream


def is_discrete(values: np.ndarray) -> bool:
    """Do these raw samples look like a discrete signal (few levels, repeated)?"""
    if len(values) < 4:
        return False
    if len(values) > 4 * DISCRETE_MAX_LEVELS and np.unique(values[:2 * DISCRETE_MAX_LEVELS]).size > DISCRETE_MAX_LEVELS:
        return False   # more levels in a prefix already (continuous data: the cheap exit)
    levels = np.unique(values).size
    return levels <= DISCRETE_MAX_LEVELS and 2 * levels <= len(values)


SNAP_S = 1e-6   # a grid point this close to a sample (float rounding of epoch stamps) takes it
BLEND_MAX_LAG1 = 0.2       # raw samples this uncorrelated from one to the next ...
BLEND_MIN_OFF_GRID = 0.25  # ... with this share of grid points between two samples: blended


def nearest(grid: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Index of the sample (ts sorted, at least 2) nearest to each grid point, the earlier
    one on a tie. One search per stream and window, shared by ``resample`` and ``blending``."""
    i = np.clip(np.searchsorted(ts, grid), 1, len(ts) - 1)
    return np.where(grid - ts[i - 1] <= ts[i] - grid, i - 1, i)


def blending(grid: np.ndarray, ts: np.ndarray, vs: np.ndarray,
             idx: np.ndarray | None = None) -> tuple[bool, float, float]:
    """Does linear interpolation onto ``grid`` blend independent samples of this stream?

    Returns (blended, lag-1 autocorrelation of the raw samples, their rate in Hz). Blended:
    the values change completely from one sample to the next (|lag-1 autocorrelation| <
    ``BLEND_MAX_LAG1``) and more than ``BLEND_MIN_OFF_GRID`` of the grid points fall between
    samples (further than 5 % of a sample period from both): such a grid value mixes two
    independent samples, and the MI of the stream with its partners drops (measured: a
    rho = 0.9 pair of 40 Hz white samples, 1.20 nats, read 0.36 through a 50 Hz timeline).
    The cure is a timeline at the stream's own rate, or slower. ``idx``: ``nearest(grid, ts)``
    when the caller has it."""
    n = len(vs)
    if n < 16 or ts[-1] <= ts[0]:
        return False, math.nan, math.nan
    v = vs - vs.mean()
    denom = float(v @ v)
    if denom == 0.0:
        return False, math.nan, math.nan
    lag1 = float(v[1:] @ v[:-1]) / denom
    rate = (n - 1) / float(ts[-1] - ts[0])
    idx = nearest(grid, ts) if idx is None else idx
    off_grid = float(np.mean(np.abs(grid - ts[idx]) > 0.05 / rate))
    return abs(lag1) < BLEND_MAX_LAG1 and off_grid > BLEND_MIN_OFF_GRID, lag1, rate


def resample(grid: np.ndarray, ts: np.ndarray, vs: np.ndarray, discrete: bool,
             idx: np.ndarray | None = None) -> np.ndarray:
    """Values of the samples (ts sorted, vs) on ``grid``: linear interpolation, or for a
    ``discrete`` stream the value of the nearest sample in time (the earlier one on a tie).

    A grid point within ``SNAP_S`` of a sample takes that sample's value exactly: a grid that
    falls on the stamps up to float rounding (~2e-7 s at epoch times) must reproduce the
    samples bit for bit, or the exact ties of a saturated signal turn into values that differ
    in the last bits, ordered by their neighbours. ``idx``: ``nearest(grid, ts)`` when the
    caller has it."""
    if len(ts) < 2:
        return np.interp(grid, ts, vs)
    idx = nearest(grid, ts) if idx is None else idx
    if discrete:
        return vs[idx]
    out = np.interp(grid, ts, vs)
    snap = np.abs(grid - ts[idx]) <= SNAP_S
    out[snap] = vs[idx[snap]]
    return out


@dataclass
class Window:
    """One aligned window; ``data[:, k]`` is stream ``k`` (in ``stream_names`` order)."""

    t: np.ndarray      # [N] seconds, common timeline
    data: np.ndarray   # [N, K] float64
    t_start: float     # == t[0]
    t_end: float       # == t[-1]
    # [L, K]: the L grid samples just before data[0] on the same timeline, for lagged MI
    # (the aligner's ``history_samples``); None when the aligner keeps none.
    history: np.ndarray | None = None


class _History:
    """Bounded, time-sorted samples of one stream (numpy-backed, amortised O(1) append)."""

    def __init__(self, capacity: int):
        self.t = np.empty(capacity)
        self.v = np.empty(capacity)
        self.lo = 0   # first valid index
        self.hi = 0   # one past the last valid index

    def __len__(self) -> int:
        return self.hi - self.lo

    def times(self) -> np.ndarray:
        return self.t[self.lo:self.hi]

    def values(self) -> np.ndarray:
        return self.v[self.lo:self.hi]

    def first(self) -> float:
        return float(self.t[self.lo])

    def last(self) -> float:
        return float(self.t[self.hi - 1])

    def insert(self, t: float, v: float) -> bool:
        """Insert in time order; returns False if it replaced a sample with the same t."""
        if self.hi == len(self.t):
            self._make_room()
        if len(self) == 0 or t > self.t[self.hi - 1]:
            self.t[self.hi], self.v[self.hi] = t, v
            self.hi += 1
            return True
        i = self.lo + int(np.searchsorted(self.times(), t))
        if i < self.hi and self.t[i] == t:
            self.v[i] = v
            return False
        self.t[i + 1:self.hi + 1] = self.t[i:self.hi].copy()
        self.v[i + 1:self.hi + 1] = self.v[i:self.hi].copy()
        self.t[i], self.v[i] = t, v
        self.hi += 1
        return True

    def drop_before(self, t: float) -> None:
        self.lo += int(np.searchsorted(self.times(), t))

    def _make_room(self) -> None:
        n = len(self)
        if n == len(self.t):        # full: forget the oldest quarter
            self.lo += max(1, n // 4)
            n = len(self)
        self.t[:n] = self.t[self.lo:self.hi].copy()
        self.v[:n] = self.v[self.lo:self.hi].copy()
        self.lo, self.hi = 0, n


class _StreamStats:
    def __init__(self) -> None:
        self.received = 0       # samples offered (add or reject): accepted + dropped on arrival
        self.count = 0          # samples accepted
        self.late = 0           # older than the buffer: dropped
        self.late_run = 0       # consecutive late samples (a long run = time jumped back)
        self.nonfinite = 0      # NaN/inf value or stamp: dropped
        self.duplicate = 0      # same stamp as a buffered sample: value replaced
        self.out_of_order = 0   # accepted, inserted before newer samples
        self.overflow = 0       # forgotten because the buffer hit max_samples
        self.errors = 0         # rejected upstream (e.g. field missing in a message)
        self.discrete = False   # the last window took nearest samples (see resample)
        self.blended = False    # the last window blended independent samples (see blending)
        self.lag1 = math.nan    # lag-1 autocorrelation of the raw samples of the last window
        self.raw_rate = math.nan
        self.last_error = ''
        self.last_t: float | None = None                # newest stamp ever accepted
        self.last_received_wall: float | None = None   # time.monotonic() of the last add


class StreamAligner:
    """Bounded per-stream buffers + resampling onto a common grid.

    ``buffer_seconds`` (default: two window spans + 2 s) bounds each stream's history in
    stream time; ``max_samples`` (default: buffer_seconds * 2 kHz) bounds it in memory.
    Samples older than ``latest - buffer_seconds`` are dropped and counted as late;
    ``jump_after`` consecutive late samples of one stream mean its time jumped back (a
    bag restarted, a clock was reset): all buffers are then cleared and ``resets``
    counted. ``max_gap_s`` (default 0.5 s) is the largest gap interpolated across.
    """

    def __init__(self, stream_names, sample_rate_hz: float, window_size: int,
                 buffer_seconds: float | None = None, max_gap_s: float | None = None,
                 stale_after_s: float = 2.0, max_samples: int | None = None,
                 jump_after: int = 20, history_samples: int = 0):
        if len(stream_names) == 0 or len(set(stream_names)) != len(stream_names):
            raise ValueError(f'stream_names must be unique and non-empty, got {stream_names}')
        if not (sample_rate_hz > 0 and math.isfinite(sample_rate_hz)):
            raise ValueError(f'sample_rate_hz must be > 0, got {sample_rate_hz}')
        if window_size < 2:
            raise ValueError(f'window_size must be >= 2, got {window_size}')
        if not (isinstance(history_samples, int) and history_samples >= 0):
            raise ValueError(f'history_samples must be an integer >= 0, got {history_samples!r}')
        self.stream_names = list(stream_names)
        self.sample_rate_hz = float(sample_rate_hz)
        self.window_size = int(window_size)
        self.span_s = (self.window_size - 1) / self.sample_rate_hz
        # Lagged MI shifts one stream against another by up to L samples: a window carries
        # L samples of history so that every lagged pair still has N samples.
        self.history_samples = history_samples
        self.history_s = history_samples / self.sample_rate_hz
        if not buffer_seconds:
            buffer_seconds = 2.0 * self.span_s + 2.0 + self.history_s
        if buffer_seconds <= self.span_s + self.history_s:
            raise ValueError(f'buffer_seconds ({buffer_seconds}) must exceed the window span '
                             f'({self.span_s:.3f} s)')
        self.buffer_seconds = float(buffer_seconds)
        self.max_gap_s = 0.5 if max_gap_s is None else float(max_gap_s)
        self.stale_after_s = float(stale_after_s)
        self.jump_after = int(jump_after)
        self.resets = 0
        self.jumps_forward = 0             # a stamp beyond the buffer ahead of all others
        self.last_jump_forward = ('', 0.0)   # (stream, seconds) of the last one
        capacity = max_samples or int(self.buffer_seconds * 2000) + 64
        self._history = {name: _History(capacity) for name in self.stream_names}
        self._stats = {name: _StreamStats() for name in self.stream_names}
        self._latest = -math.inf           # newest stamp over all streams
        self._lock = threading.Lock()
        self.last_reason = 'no data yet'    # why the last window() returned None
        self.windows_made = 0
        self.windows_refused = 0

    @classmethod
    def from_config(cls, config) -> 'StreamAligner':
        """The aligner for a PipelineConfig, exactly as the node builds it."""
        return cls(config.column_names, config.sample_rate_hz, config.window_size,
                   buffer_seconds=config.effective_buffer_seconds,
                   max_gap_s=config.max_gap_s, stale_after_s=config.stale_after_s,
                   history_samples=config.lag_samples)

    # --- input ------------------------------------------------------------------------

    def add(self, name: str, t: float, value: float) -> None:
        """Add one sample (t in seconds). Never raises on bad data: it is counted instead.
        An unknown stream name is a caller's error: ValueError naming it."""
        hist, stats = self._stream(name)
        with self._lock:
            stats.received += 1
            stats.last_received_wall = time.monotonic()
            if not (math.isfinite(t) and math.isfinite(value)):
                stats.nonfinite += 1
                return
            horizon = self._latest - self.buffer_seconds
            if t < horizon:
                stats.late += 1
                stats.late_run += 1
                if stats.late_run < self.jump_after:
                    return
                self._reset_locked()
                self.resets += 1
                stats.late -= 1   # this sample starts the new buffers: accepted, not dropped
            stats.late_run = 0
            was_newest = len(hist) == 0 or t > hist.last()
            before = len(hist)
            if not hist.insert(t, value):
                stats.duplicate += 1
                return
            stats.count += 1
            if stats.last_t is None or t > stats.last_t:
                stats.last_t = t
            stats.overflow += before + 1 - len(hist)
            stats.out_of_order += int(not was_newest)
            if t > self._latest:
                if t - self._latest > self.buffer_seconds and math.isfinite(self._latest):
                    # everything buffered is now too old: windows start again from here
                    self.jumps_forward += 1
                    self.last_jump_forward = (name, t - self._latest)
                self._latest = t
                for h in self._history.values():
                    if len(h) and h.first() < t - self.buffer_seconds:
                        h.drop_before(t - self.buffer_seconds)

    def _stream(self, name: str):
        try:
            return self._history[name], self._stats[name]
        except (KeyError, TypeError):
            raise ValueError(f"unknown stream {name!r}; the aligner has {self.stream_names}") from None

    def reject(self, name: str, reason: str) -> None:
        """Count a sample of ``name`` that could not be read upstream (kept in diagnostics)."""
        _, stats = self._stream(name)
        with self._lock:
            stats.received += 1
            stats.errors += 1
            stats.last_error = reason
            stats.last_received_wall = time.monotonic()

    def reset(self) -> None:
        """Forget all samples (e.g. after the clock jumped backwards); keeps the counters."""
        with self._lock:
            self._reset_locked()

    def _reset_locked(self) -> None:
        for h in self._history.values():
            h.lo = h.hi = 0
        for s in self._stats.values():
            s.last_t = None
            s.late_run = 0
        self._latest = -math.inf

    # --- output -----------------------------------------------------------------------

    def latest_common_time(self) -> float | None:
        """Latest time covered by all streams (min over streams of the newest stamp)."""
        with self._lock:
            if any(len(h) == 0 for h in self._history.values()):
                return None
            return min(h.last() for h in self._history.values())

    def window(self, t_end: float | None = None) -> Window | None:
        """The window of ``window_size`` grid points ending at ``t_end``, or None.

        ``t_end`` defaults to the latest time covered by all streams. On None,
        ``last_reason`` (also in ``diagnostics()``) says why.
        """
        with self._lock:
            result = self._window_locked(t_end)
        if isinstance(result, str):
            self.last_reason = result
            self.windows_refused += 1
            return None
        self.last_reason = ''
        self.windows_made += 1
        return result

    def _window_locked(self, t_end: float | None) -> Window | str:
        for name, h in self._history.items():
            if len(h) < 2:
                return f"stream '{name}' has {len(h)} sample(s) buffered"
        if t_end is None:
            t_end = min(h.last() for h in self._history.values())
        t_start = t_end - self.span_s
        eps = 1e-6   # s; stamps near 1.8e9 s (epoch) resolve to ~2e-7 s in float64
        hist = self.history_samples
        data = np.empty((hist + self.window_size, len(self.stream_names)))
        grid = t_start + np.arange(-hist, self.window_size) / self.sample_rate_hz
        grid[-1] = t_end
        t_first = float(grid[0])
        for k, (name, h) in enumerate(self._history.items()):
            if h.first() > t_first + eps:
                need = self.span_s + self.history_s
                return (f"stream '{name}' covers only {h.last() - h.first():.2f} s "
                        f'from {h.first():.3f}; a window needs {need:.2f} s '
                        f'ending at {t_end:.3f}'
                        + (f' (with {self.history_s:g} s of history for lags)' if hist else ''))
            if h.last() < t_end - eps:
                return f"stream '{name}' has no data after {h.last():.3f} (t_end {t_end:.3f})"
            ts, vs = h.times(), h.values()
            lo = max(int(np.searchsorted(ts, t_first, side='right')) - 1, 0)
            hi = int(np.searchsorted(ts, t_end, side='left')) + 1
            ts, vs = ts[lo:hi], vs[lo:hi]
            if len(ts) > 1:
                gap = float(np.max(np.diff(ts)))
                if gap > self.max_gap_s:
                    return (f"stream '{name}' has a {gap:.3f} s gap inside the window "
                            f'(max_gap_s {self.max_gap_s})')
            stats = self._stats[name]
            stats.discrete = discrete = is_discrete(vs)
            idx = nearest(grid, ts) if len(ts) > 1 else None
            data[:, k] = resample(grid, ts, vs, discrete, idx)
            if not discrete:
                stats.blended, stats.lag1, stats.raw_rate = blending(grid, ts, vs, idx)
        if hist:
            return Window(t=grid[hist:], data=data[hist:], t_start=float(grid[hist]),
                          t_end=float(grid[-1]), history=data[:hist])
        return Window(t=grid, data=data, t_start=float(grid[0]), t_end=float(grid[-1]))

    def diagnostics(self, now: float | None = None) -> dict:
        """Per-stream counters and health; ``now`` in stream time (default: newest stamp).

        ``stalled``: no sample for ``max(stale_after_s, 3 / rate)`` seconds, measured
        against ``now`` in stream time and against the wall clock since the last add.
        """
        wall_now = time.monotonic()
        with self._lock:
            reference = self._latest if now is None else now
            streams = {}
            for name in self.stream_names:
                h, s = self._history[name], self._stats[name]
                rate = _rate_hz(h)
                last = s.last_t
                limit = max(self.stale_after_s, 3.0 / rate if rate > 0 else 0.0)
                wall_age = (None if s.last_received_wall is None
                            else wall_now - s.last_received_wall)
                lag = None if last is None or not math.isfinite(reference) \
                    else reference - last
                stalled = (last is None or (lag is not None and lag > limit)
                           or (wall_age is not None and wall_age > limit))
                streams[name] = {
                    # received == count + dropped_late + dropped_nonfinite + duplicates +
                    # errors (every sample is accepted or dropped on arrival, once);
                    # dropped_overflow counts accepted samples forgotten for room
                    'received': s.received, 'count': s.count, 'rate_hz': rate,
                    'last_stamp': last,
                    'lag_s': lag, 'age_wall_s': wall_age, 'buffered': len(h),
                    'buffer_capacity': len(h.t),
                    'dropped_late': s.late, 'dropped_nonfinite': s.nonfinite,
                    'dropped_overflow': s.overflow, 'duplicates': s.duplicate,
                    'out_of_order': s.out_of_order, 'errors': s.errors,
                    'last_error': s.last_error, 'stalled': stalled,
                    # slower than the grid: neighbouring grid values share samples
                    'upsampled': 0 < rate < 0.9 * self.sample_rate_hz,
                    'resampling': 'nearest (discrete)' if s.discrete else 'linear',
                    'blended': s.blended and not s.discrete,
                    'lag1_autocorrelation': s.lag1,
                    'suggested_sample_rate_hz': (math.floor(s.raw_rate * 10) / 10
                                                 if s.blended and not s.discrete else None),
                }
            return {
                'streams': streams,
                'windows_made': self.windows_made,
                'windows_refused': self.windows_refused,
                'resets': self.resets,
                'jumps_forward': self.jumps_forward,
                'last_jump_forward': self.last_jump_forward,
                'last_reason': self.last_reason,
            }


def _rate_hz(h: _History, horizon_s: float = 5.0) -> float:
    """Mean sample rate over the newest ``horizon_s`` seconds of stream time."""
    if len(h) < 2:
        return 0.0
    ts = h.times()
    lo = int(np.searchsorted(ts, ts[-1] - horizon_s))
    lo = min(lo, len(ts) - 2)
    span = ts[-1] - ts[lo]
    return float((len(ts) - 1 - lo) / span) if span > 1e-9 else 0.0   # not 1/(denormal span)
