"""Dependency graph: which stream pairs are dependent, and how to draw them.

Plain numpy; the node turns the results into DependencyGraph and MarkerArray messages.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ['circle_layout', 'edge_width', 'threshold_edges']


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
