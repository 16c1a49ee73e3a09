"""Dependency graph: which stream pairs are dependent, and how to draw them.

Plain numpy; the node turns the results into DependencyGraph and MarkerArray messages.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ['GRAPH_METHODS', 'circle_layout', 'edge_width', 'fdr_edges', 'graph_edges',
           'threshold_edges']

GRAPH_METHODS = ('threshold', 'fdr')   # the node parameter graph_method


def threshold_edges(mi: np.ndarray, pairs, threshold: float,
                    p_value: np.ndarray | None = None, alpha: float | None = None
                    ) -> list[tuple[int, int, float]]:
    """Edges ``(i, j, weight)`` for pairs with finite ``mi >= threshold`` (nats).

    With ``p_value`` and ``alpha``, a pair also needs ``p_value <= alpha`` where the
    p-value is finite (NaN p-values, i.e. not computed, do not veto an edge).
    """
    mi = np.asarray(mi, dtype=np.float64).reshape(-1)
    if len(mi) != len(pairs):
        raise ValueError(f'{len(mi)} MI values for {len(pairs)} pairs')
    edges = []
    for k, (i, j) in enumerate(pairs):
        w = float(mi[k])
        if not (math.isfinite(w) and w >= threshold):
            continue
        if p_value is not None and alpha is not None:
            p = float(p_value[k])
            if math.isfinite(p) and p > alpha:
                continue
        edges.append((int(i), int(j), w))
    return edges


def fdr_edges(mi, pairs, p_value, alpha: float) -> list[tuple[int, int, float]]:
    """Edges ``(i, j, mi)`` of the pairs that the Benjamini-Hochberg procedure keeps at
    false-discovery rate ``alpha`` among the pairs of one window (NaN p: no edge)."""
    from infonet_ros.significance import benjamini_hochberg
    mi = np.asarray(mi, dtype=np.float64).reshape(-1)
    keep = benjamini_hochberg(p_value, alpha)
    if len(mi) != len(pairs) or len(keep) != len(pairs):
        raise ValueError(f'{len(mi)} MI values and {len(keep)} p-values for {len(pairs)} pairs')
    return [(int(i), int(j), float(mi[k])) for k, (i, j) in enumerate(pairs)
            if keep[k] and math.isfinite(mi[k])]


def graph_edges(mi, pairs, p_value, method: str, threshold: float, alpha: float,
                permutations: int = 0, permutation_alpha: float = 0.05
                ) -> tuple[list[tuple[int, int, float]], str]:
    """The edges of one window and how they were decided (the graph message's ``method``).

    - ``method='fdr'``: Benjamini-Hochberg at ``alpha`` over the window's p-values
      ('fdr'); with no finite p-value at all (no null table), the threshold instead.
    - ``method='threshold'`` and ``permutations > 0``: MI >= threshold and permutation
      p <= ``permutation_alpha`` ('permutation_test', as before).
    - otherwise MI >= ``threshold`` nats ('threshold'; p-values do not veto).
    """
    if method not in GRAPH_METHODS:
        raise ValueError(f"graph_method must be one of {', '.join(GRAPH_METHODS)}, "
                         f'got {method!r}')
    p_value = np.asarray(p_value, dtype=np.float64).reshape(-1)
    if method == 'fdr' and np.isfinite(p_value).any():
        return fdr_edges(mi, pairs, p_value, alpha), 'fdr'
    if permutations > 0:
        return threshold_edges(mi, pairs, threshold, p_value, permutation_alpha), \
            'permutation_test'
    return threshold_edges(mi, pairs, threshold), 'threshold'


def circle_layout(n: int, radius: float = 1.0) -> np.ndarray:
    """``[n, 2]`` positions evenly on a circle, the first node at the top, clockwise."""
    angles = math.pi / 2 - 2 * math.pi * np.arange(n) / max(n, 1)
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def edge_width(weight: float, max_width: float = 0.15, min_width: float = 0.01,
               saturation_nats: float = 1.5) -> float:
    """Line width (m) growing linearly with MI, clipped to ``[min_width, max_width]``."""
    if not math.isfinite(weight):
        return min_width
    frac = min(max(weight / saturation_nats, 0.0), 1.0)
    return min_width + frac * (max_width - min_width)
