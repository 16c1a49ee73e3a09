"""Evidence memory: a pair's p-value combined over its last non-overlapping windows.

One window of a few seconds often cannot hold a weak but persistent link once its p-value
is honest (docs/SIGNIFICANCE.md, "Anchor"): the evidence is there, spread over time. With
``significance_memory`` M > 1 the pipeline combines, per pair, the p-value of the current
window with those of up to M - 1 earlier windows that share no sample with it or with each
other (walking back from the current window: each chosen window ends before the start of
the one chosen after it), by Stouffer's method::

    z_i = Phi^-1(1 - p_i),    p = 1 - Phi(sum_i z_i / sqrt(m))       (m <= M windows)

A window with p = 1 (a constant stream: no information) is left out; InfoNet's null has a
point mass at 0 (its clipped estimate), where the table gives Lancaster's mid-p rather than
1 (``NullTable.p_values``), so that about half the windows of an independent pair do not
each cast a z of minus infinity. Under independence the window p-values are uniform (on
average, with the mid-p) and, on disjoint windows of streams
whose autocorrelation has died out (the prewhitened test's innovations; any stream over
windows much longer than its correlation time), close to independent, so the combined p is
uniform too: false-positive rates and the FDR of the graph keep their meaning
(bench/significance.py, "Evidence memory"). Under a persistent dependence the z-values
add up and the combined p shrinks like exp(-m z^2 / 2).

The price is inertia: a link that appears needs up to M windows to reach full weight, one
that disappears fades over M windows, and the published ``p_value`` is the combined one
(the one the graph's edges were decided by). Windows are taken in stream time; when time
jumps back (a bag restarted, simulated time reset) the memory is cleared.

Pure Python/numpy: ``MIPipeline`` holds one :class:`EvidenceMemory` and feeds it every
window, so the live node and ``bag_eval`` combine alike. Only p-values whose window values
are calibrated on autocorrelated streams may be combined: the pipeline allows
``significance_memory`` > 1 only with ``significance: prewhitened``, and vector pairs
(the sliced test's iid permutations) keep their window's p-value.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from scipy.special import ndtri, ndtr

__all__ = ['EvidenceMemory', 'stouffer']

# p-values are clipped into [P_MIN, 1) before Phi^-1 (the null table floors its p-values
# far above P_MIN; permutation p-values are >= 1 / (permutations + 1))
P_MIN = 1e-300


def stouffer(p_values: np.ndarray, axis: int = 0) -> np.ndarray:
    """Stouffer's combination of independent p-values along ``axis``. Left out: NaN (a
    pair without a p-value in some window) and p >= 1 (a window without information: a
    constant stream; an estimate in the null's point mass at 0 has the mid-p, < 1, see
    ``NullTable.p_values``); nothing left gives NaN."""
    p = np.asarray(p_values, dtype=np.float64)
    finite = np.isfinite(p) & (p < 1.0)
    z = np.where(finite, -ndtri(np.clip(np.where(finite, p, 0.5), P_MIN, 1.0)), 0.0)
    m = finite.sum(axis=axis)
    with np.errstate(invalid='ignore', divide='ignore'):
        combined = ndtr(-z.sum(axis=axis) / np.sqrt(m))
    return np.where(m > 0, combined, np.nan)


class EvidenceMemory:
    """Per-pair p-values of recent windows, and their combination (module docstring).

    ``combine(t_start, t_end, keys, p_value, windows)`` records the current window and
    returns ``(combined [P], used [P])``: the Stouffer p over the current window and up to
    ``windows - 1`` earlier disjoint windows, and how many windows each pair's p combines.
    ``keys`` name the pairs ('a:b'), so a pair keeps its history when others are added or
    removed at run time. A pair without a p-value in the current window gets NaN.
    """

    def __init__(self):
        self._history: deque[tuple[float, float, dict[str, float]]] = deque()

    def clear(self) -> None:
        self._history.clear()

    def __len__(self) -> int:
        return len(self._history)

    def combine(self, t_start: float, t_end: float, keys: list[str], p_value,
                windows: int) -> tuple[np.ndarray, np.ndarray]:
        p_value = np.asarray(p_value, dtype=np.float64).reshape(-1)
        if len(keys) != len(p_value):
            raise ValueError(f'{len(keys)} pair keys for {len(p_value)} p-values')
        if windows < 1:
            raise ValueError(f'significance_memory must be >= 1, got {windows}')
        if self._history and t_end < self._history[-1][1]:
            self._history.clear()              # time went back: a new run
        chosen = [(t_start, t_end)]
        rows = [p_value]
        start = t_start
        for s, e, ps in reversed(self._history):
            if len(rows) >= windows:
                break
            if e < start:                      # shares no sample with the windows chosen
                rows.append(np.array([ps.get(k, np.nan) for k in keys]))
                chosen.append((s, e))
                start = s
        self._history.append((float(t_start), float(t_end), dict(zip(keys, p_value.tolist()))))
        self._prune(t_start, t_end, windows)
        stacked = np.vstack(rows)
        used = (np.isfinite(stacked) & (stacked < 1.0)).sum(axis=0)
        combined = stouffer(stacked, axis=0) if len(rows) > 1 else p_value.copy()
        # no p-value now (no MI, no null table), or none with information (a constant
        # stream: p = 1): the window's own, whatever the past said
        alone = ~(np.isfinite(p_value) & (p_value < 1.0))
        combined[alone] = p_value[alone]
        used[alone] = np.isfinite(p_value[alone]).astype(used.dtype)
        return combined, used

    def _prune(self, t_start: float, t_end: float, windows: int) -> None:
        """Keep what the next windows can still use: entries ending within ``windows``
        window spans (plus one) of the current window's start."""
        horizon = t_start - (windows + 1) * max(t_end - t_start, 1e-9)
        while self._history and self._history[0][1] < horizon:
            self._history.popleft()
