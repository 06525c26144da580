r"""What a grid partition minimises, and a proven lower bound on it.

For grids g of one community with households h_g, a target T and bounds [lo, hi]:

.. math::

    f = \sum_g |h_g - T| \; + \; P \sum_g \operatorname{dist}(h_g, [lo, hi])

in households: the households each grid is off the target, summed, plus ``P`` times the
households by which grids fall outside the bounds (:data:`OUTSIDE_PENALTY`). The number of grids
is free. A partition's objective is the sum over its communities.

:func:`lower_bound` is valid for every partition of the community's buildings into k >= 1
grids, whatever their shape: by the triangle inequality ``sum |h_g - T| >= |H - kT|`` and
``sum dist(h_g, [lo, hi]) >= max(0, k lo - H, H - k hi)``; and since a building is never split,
a building of w > T households puts its grid at least w - T over the target (w - hi over the
bound), whichever grid it is in. The bound is the smallest over k of these.
"""

from __future__ import annotations

import numpy as np

#: A household outside the bounds counts this many times one household off the target.
OUTSIDE_PENALTY = 10.0


def grid_costs(
    loads: np.ndarray,
    target: float,
    bounds: tuple[float, float],
    penalty: float = OUTSIDE_PENALTY,
) -> np.ndarray:
    """Return each grid's share of the objective, in households.

    Parameters
    ----------
    loads
        (k,) households (or the chosen weight) of each grid.
    target
        Households a grid should hold.
    bounds
        (lo, hi): the households a grid may hold without penalty.
    penalty
        Weight of a household outside the bounds.
    """
    h = np.asarray(loads, dtype=float)
    lo, hi = bounds
    outside = np.maximum(0.0, h - hi) + np.maximum(0.0, lo - h)
    return np.abs(h - target) + penalty * outside


def objective(
    loads: np.ndarray,
    target: float,
    bounds: tuple[float, float],
    penalty: float = OUTSIDE_PENALTY,
) -> float:
    """Return the objective of grids with these ``loads`` (households), see the module."""
    return float(grid_costs(loads, target, bounds, penalty).sum())


def bound_by_count(
    weights: np.ndarray,
    target: float,
    bounds: tuple[float, float],
    k: np.ndarray | int,
    penalty: float = OUTSIDE_PENALTY,
) -> np.ndarray:
    """Return, for each grid count ``k``, a lower bound on the objective of any k grids.

    Parameters
    ----------
    weights
        Households of each building (never split) of the community.
    target, bounds, penalty
        As for :func:`objective`.
    k
        Grid counts (each >= 1).
    """
    w = np.asarray(weights, dtype=float)
    ks = np.atleast_1d(np.asarray(k, dtype=float))
    total = float(w.sum())
    lo, hi = bounds
    over_target = float(np.maximum(0.0, w - target).sum())
    over_hi = float(np.maximum(0.0, w - hi).sum())
    off = np.maximum(np.abs(total - ks * target), over_target)
    outside = np.maximum.reduce(
        [np.zeros_like(ks), ks * lo - total, total - ks * hi, np.full_like(ks, over_hi)]
    )
    return off + penalty * outside


def lower_bound(
    weights: np.ndarray,
    target: float,
    bounds: tuple[float, float],
    max_count: int,
    penalty: float = OUTSIDE_PENALTY,
) -> tuple[float, int]:
    """Return (bound, k): the smallest :func:`bound_by_count` over 1 <= k <= ``max_count``.

    ``max_count`` is the most grids the community can make (its number of units).
    """
    ks = np.arange(1, max(1, max_count) + 1)
    per = bound_by_count(weights, target, bounds, ks, penalty)
    best = int(np.argmin(per))
    return float(per[best]), int(ks[best])
