r"""The exact partition of a small community: a mixed-integer program solved by HiGHS.

Units i (street blocks) with households :math:`w_i` and the adjacency graph's arcs
:math:`(i, j) \in A` (both directions of each shared boundary) are split into k regions. For a
fixed k the model is

.. math::

    \min \; & \sum_g (d^+_g + d^-_g) + P \sum_g (o^+_g + o^-_g) \\
    \text{s.t.} \; & \textstyle\sum_g x_{ig} = 1 \quad \forall i
        & \text{(every unit in one region)} \\
    & \textstyle\sum_i r_{ig} = 1, \; r_{ig} \le x_{ig}
        & \text{(one root per region)} \\
    & \textstyle\sum_{(j,i)} f_{jig} - \sum_{(i,j)} f_{ijg} \ge x_{ig} - n \, r_{ig}
        & \text{(each non-root unit takes one unit of flow)} \\
    & f_{ijg} \le (n - 1) x_{ig}, \; f_{ijg} \le (n - 1) x_{jg}
        & \text{(flow only inside the region)} \\
    & \textstyle\sum_i w_i x_{ig} - T = d^+_g - d^-_g, \;
      \sum_i w_i x_{ig} - hi \le o^+_g, \; lo - \sum_i w_i x_{ig} \le o^-_g \\
    & \textstyle\sum_i i \, r_{ig} + 1 \le \sum_i i \, r_{i,g+1}
        & \text{(roots in increasing order: no symmetric copies)}

with :math:`x, r \in \{0, 1\}` and :math:`f, d, o \ge 0`: a region is connected because the
flow from its root reaches each of its units through units of the region (Shirabe 2005). The
objective is that of :mod:`gridmap.grids.objective`. :func:`exact_regions` tries the counts k in
the order of their lower bound and stops when the bound of the next count is no better than
the best partition found: the result is optimal over every count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gridmap.errors import InputError
from gridmap.grids import objective
from gridmap.solve import ABS_TOLERANCE, Deadline, SolveError

#: The exact method refuses communities of more units than this (the model grows as n² k).
MAX_UNITS = 40


@dataclass(frozen=True)
class ExactRegions:
    """The best partition the MILP found and what HiGHS proved about it.

    ``labels`` is None when no count was solved in time; ``bound`` is a proven lower bound on
    every contiguous partition of the units; ``proven`` says that ``labels`` meet it.
    """

    labels: np.ndarray | None
    objective: float
    bound: float
    proven: bool


def _milp_for_count(
    weights: np.ndarray,
    neighbours: list[set[int]],
    k: int,
    target: float,
    bounds: tuple[float, float],
    penalty: float,
    time_limit: float | None,
) -> tuple[np.ndarray | None, float, float, bool]:
    """Solve the model for k regions; return (labels, objective, bound, proven optimal)."""
    try:
        from scipy import sparse
        from scipy.optimize import Bounds, LinearConstraint, milp
    except ImportError as exc:  # pragma: no cover - until pyproject.toml declares scipy
        raise InputError("The exact method needs scipy (pip install scipy).") from exc
    n = len(weights)
    arcs = [(i, j) for i in range(n) for j in sorted(neighbours[i])]
    m = len(arcs)
    into: list[list[int]] = [[] for _ in range(n)]
    out_of: list[list[int]] = [[] for _ in range(n)]
    for a, (i, j) in enumerate(arcs):
        out_of[i].append(a)
        into[j].append(a)
    # variable layout: x (n k), r (n k), f (m k), d+ d- o+ o- (4 k)
    nx, nr, nf = n * k, n * k, m * k
    X, R, F = 0, nx, nx + nr
    DP, DM, OP, OM = (F + nf + t * k for t in range(4))
    nvar = F + nf + 4 * k

    def x(i: int, g: int) -> int:
        return X + i * k + g

    def r(i: int, g: int) -> int:
        return R + i * k + g

    def f(a: int, g: int) -> int:
        return F + a * k + g

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lower: list[float] = []
    upper: list[float] = []

    def add(coefs: list[tuple[int, float]], lo: float, hi: float) -> None:
        row = len(lower)
        for col, val in coefs:
            rows.append(row)
            cols.append(col)
            vals.append(val)
        lower.append(lo)
        upper.append(hi)

    big = float(n - 1)
    lo_b, hi_b = bounds
    for i in range(n):
        add([(x(i, g), 1.0) for g in range(k)], 1.0, 1.0)
    for g in range(k):
        add([(r(i, g), 1.0) for i in range(n)], 1.0, 1.0)
        for i in range(n):
            add([(r(i, g), 1.0), (x(i, g), -1.0)], -np.inf, 0.0)
            flow = [(f(a, g), 1.0) for a in into[i]] + [(f(a, g), -1.0) for a in out_of[i]]
            add([*flow, (x(i, g), -1.0), (r(i, g), float(n))], 0.0, np.inf)
        for a, (i, j) in enumerate(arcs):
            add([(f(a, g), 1.0), (x(i, g), -big)], -np.inf, 0.0)
            add([(f(a, g), 1.0), (x(j, g), -big)], -np.inf, 0.0)
        load = [(x(i, g), float(weights[i])) for i in range(n)]
        add([*load, (DP + g, -1.0), (DM + g, 1.0)], target, target)
        add([*load, (OP + g, -1.0)], -np.inf, hi_b)
        add([*load, (OM + g, 1.0)], lo_b, np.inf)
        if g + 1 < k:
            add(
                [(r(i, g), float(i)) for i in range(n)]
                + [(r(i, g + 1), -float(i)) for i in range(n)],
                -np.inf,
                -1.0,
            )
    cost = np.zeros(nvar)
    cost[DP : DP + k] = cost[DM : DM + k] = 1.0
    cost[OP : OP + k] = cost[OM : OM + k] = penalty
    integrality = np.zeros(nvar)
    integrality[: nx + nr] = 1
    upper_var = np.full(nvar, np.inf)
    upper_var[: nx + nr] = 1.0
    upper_var[F : F + nf] = big
    a = sparse.csr_array((vals, (rows, cols)), shape=(len(lower), nvar))
    options: dict[str, float | bool] = {"disp": False, "mip_rel_gap": 0.0}
    if time_limit is not None:
        options["time_limit"] = max(time_limit, 0.01)
    res = milp(
        cost,
        constraints=LinearConstraint(a, lower, upper),
        integrality=integrality,
        bounds=Bounds(np.zeros(nvar), upper_var),
        options=options,
    )
    if res.status == 2:  # infeasible: the graph has more than k pieces
        return None, math.inf, math.inf, True
    bound = float(getattr(res, "mip_dual_bound", None) or -np.inf)
    if res.x is None:
        return None, math.inf, max(bound, 0.0), False
    xs = np.round(res.x[:nx].reshape(n, k)).astype(int)
    labels = np.argmax(xs, axis=1)
    value = float(res.fun)
    if res.status == 0:
        bound = value  # HiGHS proved it (mip_rel_gap 0)
    return labels, value, min(bound, value), res.status == 0


def exact_regions(
    weights: np.ndarray,
    neighbours: list[set[int]],
    building_weights: np.ndarray,
    target: float,
    bounds: tuple[float, float],
    *,
    penalty: float = objective.OUTSIDE_PENALTY,
    deadline: Deadline | None = None,
) -> ExactRegions:
    """Return the optimal contiguous partition of units into any number of regions.

    Parameters
    ----------
    weights
        (n,) households of each unit.
    neighbours
        For each unit, the units it shares a boundary with.
    building_weights
        Households of each building of the units, for the lower bound of each count.
    target, bounds, penalty
        As for :func:`gridmap.grids.objective.objective`.
    deadline
        Stops the search; what is proven by then is returned.
    """
    n = len(weights)
    if n > MAX_UNITS:
        raise InputError(
            f"The exact method handles communities of up to {MAX_UNITS} street units; this one "
            f"has {n}. Use the heuristic (the default)."
        )
    deadline = deadline or Deadline(None)
    ks = np.arange(1, n + 1)
    analytic = objective.bound_by_count(building_weights, target, bounds, ks, penalty)
    best: tuple[np.ndarray | None, float] = (None, math.inf)
    open_bounds: list[float] = []  # bounds of the counts not solved to optimality
    order = np.argsort(analytic, kind="stable")
    for pos, idx in enumerate(order.tolist()):
        k = int(ks[idx])
        if analytic[idx] >= best[1] - ABS_TOLERANCE:
            break  # this count and every later one cannot beat the best partition found
        if deadline.expired():
            open_bounds.extend(float(analytic[j]) for j in order[pos:].tolist())
            break
        labels, value, bound, proven = _milp_for_count(
            weights, neighbours, k, target, bounds, penalty, deadline.remaining()
        )
        if labels is not None and value < best[1]:
            best = (labels, value)
        if not proven:
            open_bounds.append(max(bound, float(analytic[idx])))
    labels, value = best
    if labels is not None:  # score the labels exactly: HiGHS works in floating point
        load = np.bincount(labels, weights=weights.astype(float))
        scored = objective.objective(load, target, bounds, penalty)
        if abs(scored - value) > 1e-6 * max(1.0, abs(value)):
            raise SolveError("HiGHS' objective does not match the partition it returned.")
        value = scored
    proven = labels is not None and all(b >= value - 1e-6 for b in open_bounds)
    bound = value if proven else min([value, *open_bounds])
    return ExactRegions(labels, value, bound, proven)
