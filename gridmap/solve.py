"""One solve shape for every optimisation model of gridmap (partition, routing, siting, ...).

A model is a :class:`Problem`: it is built from plain data by a class method (``from_frames``,
``from_graph``), solved by ``problem.solve(time_limit=..., seed=...)``, and answers with a
:class:`Result`: the solution, its objective, a proven bound on the best objective there is, the
relative gap between the two, the solver's :class:`Status`, the method used and the time taken,
and ``to_frames()`` to write it. Every model minimises; its docstring writes out the formulation.

A result is checked when it is made (:meth:`Result.check`): a solve that is not what it claims
raises :class:`SolveError` instead of returning. An "optimal" result whose gap is not 0, a
"bound" above the objective, an objective that the solution does not give, a feasible result
without a solution: each is refused, and each model adds the checks of its own solutions (a
partition whose grids are not contiguous or do not tile the area is refused by
:class:`gridmap.grids.GridPartitionResult`).

This module holds no algorithm and imports nothing of storage.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

import pandas as pd

from gridmap.errors import InputError, SolveError

#: Called with a short line of text at each step of a long solve.
Progress = Callable[[str], None]

#: Objectives and bounds closer than this (absolute, in the objective's unit) count as equal.
ABS_TOLERANCE = 1e-6
#: Relative gap under which a result counts as optimal (HiGHS' default MIP gap is 1e-4).
GAP_TOLERANCE = 1e-4


class Status(StrEnum):
    """What a solver can honestly say about its solution."""

    #: Proven optimal: the bound meets the objective (gap 0 within :data:`GAP_TOLERANCE`).
    OPTIMAL = "optimal"
    #: A valid solution, finished, with no proof that none is better (heuristics end here).
    FEASIBLE = "feasible"
    #: Stopped by the time limit with a valid solution, before the method finished.
    TIME_LIMIT = "time_limit"
    #: Proven that no solution exists; the result carries none.
    INFEASIBLE = "infeasible"


def relative_gap(objective: float, bound: float) -> float:
    """Return ``(objective - bound) / |objective|`` (0 when both are 0), as HiGHS reports it.

    Parameters
    ----------
    objective
        The value of the solution found (minimised), in the model's unit.
    bound
        A proven lower bound on every solution's objective, same unit.
    """
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return math.inf
    diff = objective - bound
    if abs(diff) <= ABS_TOLERANCE:
        return 0.0
    return diff / max(abs(objective), ABS_TOLERANCE)


class Deadline:
    """The time left of a ``time_limit`` (seconds of wall time; None: no limit).

    Methods call :meth:`expired` between steps; :attr:`hit` records whether the limit stopped
    anything, so that the result can say :attr:`Status.TIME_LIMIT` honestly.
    """

    def __init__(self, time_limit: float | None) -> None:
        if time_limit is not None and not (time_limit > 0 and math.isfinite(time_limit)):
            raise InputError(f"A time limit is a positive number of seconds, not {time_limit}.")
        self.start = time.perf_counter()
        self.limit = time_limit
        self.hit = False

    def elapsed(self) -> float:
        """Return the seconds since the solve started."""
        return time.perf_counter() - self.start

    def remaining(self) -> float | None:
        """Return the seconds left (never below 0), or None without a limit."""
        if self.limit is None:
            return None
        return max(0.0, self.limit - self.elapsed())

    def expired(self) -> bool:
        """Return whether the limit has passed; a True answer is recorded in :attr:`hit`."""
        if self.limit is not None and self.elapsed() >= self.limit:
            self.hit = True
        return self.hit


@dataclass(frozen=True, kw_only=True)
class Result:
    """What a solve found, and what it can prove about it.

    Attributes
    ----------
    solution
        The model's solution (None only when :attr:`status` is INFEASIBLE).
    objective
        Its objective value (minimised), in the unit the model's docstring names.
    bound
        A proven lower bound on the objective of every feasible solution, same unit.
    status
        What the solver can say: :class:`Status`.
    method
        The method that found the solution (for example ``"heuristic"``, ``"exact"``).
    seconds
        Wall-clock time of the solve.
    seed
        The seed the solve was given (same seed, same data: same result).
    """

    solution: Any
    objective: float
    bound: float
    status: Status
    method: str
    seconds: float
    seed: int = 0
    notes: tuple[str, ...] = field(default=())
    #: The notes in Chinese, one for each of ``notes`` (empty: English only).
    notes_zh: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        self.check()

    @property
    def gap(self) -> float:
        """Return the relative gap between :attr:`objective` and :attr:`bound` (0 = proven)."""
        return relative_gap(self.objective, self.bound)

    @property
    def is_optimal(self) -> bool:
        """Return whether the result is proven optimal."""
        return self.status is Status.OPTIMAL

    def check(self) -> None:
        """Raise :class:`SolveError` unless the result is what it claims to be.

        Checks the claims every model shares, then :meth:`verify`, the model's own checks of
        its solution (which also recomputes the objective from it).
        """
        if not isinstance(self.status, Status):
            raise SolveError(f"Unknown solve status {self.status!r}.")
        if self.status is Status.INFEASIBLE:
            if self.solution is not None:
                raise SolveError("A result said to be infeasible carries a solution.")
            return
        if self.solution is None:
            raise SolveError(f"A result said to be {self.status} carries no solution.")
        if not math.isfinite(self.objective):
            raise SolveError(f"A {self.status} result has objective {self.objective}.")
        if math.isnan(self.bound) or self.bound > self.objective + ABS_TOLERANCE:
            raise SolveError(
                f"The bound {self.bound:g} lies above the objective {self.objective:g}: "
                "it is no lower bound, or the objective is wrong."
            )
        if self.status is Status.OPTIMAL and self.gap > GAP_TOLERANCE:
            raise SolveError(
                f"A result said to be optimal has a gap of {self.gap:.2%} "
                f"(objective {self.objective:g}, bound {self.bound:g})."
            )
        found = self.verify()
        if found is not None and abs(found - self.objective) > ABS_TOLERANCE * max(1.0, abs(found)):
            raise SolveError(
                f"The solution's objective is {found:g}, the result says {self.objective:g}."
            )

    def verify(self) -> float | None:
        """Check the solution itself (raise :class:`SolveError`); return its objective.

        Models override this; the base checks nothing and returns None.
        """
        return None

    def figures(self) -> dict[str, Any]:
        """Return the result's headline figures as plain values (for the CLI and JSON)."""
        return {
            "status": str(self.status),
            "method": self.method,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "seconds": round(self.seconds, 3),
            "seed": self.seed,
        }

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """Return the solution as the frames of the layers it writes, by layer name."""
        raise NotImplementedError(f"{type(self).__name__} has no frames to write")


R = TypeVar("R", bound=Result)


class Problem(ABC, Generic[R]):
    """An optimisation model: built from plain data, solved into a checked :class:`Result`.

    Build one with the model's class method (``from_frames(...)`` from GeoDataFrames in the
    area's metric CRS, ``from_graph(...)`` from a street graph); then call :meth:`solve`.
    """

    @abstractmethod
    def solve(
        self,
        *,
        time_limit: float | None = None,
        seed: int = 0,
        progress: Progress | None = None,
    ) -> R:
        """Solve the problem and return its checked result.

        Parameters
        ----------
        time_limit
            Seconds of wall time the solve may take (None: until the method finishes). A
            method stopped by it returns its best solution with status TIME_LIMIT.
        seed
            Seed of every random choice; the same seed on the same data gives the same result.
        progress
            Called with a short line at each step.
        """
