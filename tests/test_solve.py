"""The one solve shape: a result that claims more than it is raises."""

from __future__ import annotations

import dataclasses
import time

import pytest

from gridmap.errors import GridmapError, InputError
from gridmap.solve import Deadline, Result, SolveError, Status, relative_gap


@dataclasses.dataclass(frozen=True, kw_only=True)
class Tour(Result):
    """A toy model's result: the solution is a list of legs (metres) and the objective their sum."""

    def verify(self) -> float:
        return float(sum(self.solution))


def tour(**changes) -> Tour:
    fields = {
        "solution": [100.0, 250.0],
        "objective": 350.0,
        "bound": 300.0,
        "status": Status.FEASIBLE,
        "method": "toy",
        "seconds": 0.1,
    }
    return Tour(**{**fields, **changes})


def test_a_consistent_result_keeps_its_figures():
    r = tour()
    assert r.gap == pytest.approx(50 / 350)
    assert not r.is_optimal
    assert r.figures()["status"] == "feasible" and r.figures()["gap"] == pytest.approx(
        0.142857, 1e-4
    )
    assert tour(bound=350.0, status=Status.OPTIMAL).gap == 0.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": Status.OPTIMAL}, "optimal has a gap of 14.29%"),
        ({"bound": 400.0}, "bound 400 lies above the objective 350"),
        ({"objective": 340.0, "bound": 300.0}, "solution's objective is 350, the result says 340"),
        ({"solution": None}, "carries no solution"),
        ({"status": Status.INFEASIBLE}, "infeasible carries a solution"),
        ({"objective": float("inf")}, "has objective inf"),
        ({"bound": float("nan")}, "no lower bound"),
        ({"status": "optimal"}, "Unknown solve status"),
    ],
)
def test_a_result_that_claims_more_than_it_is_raises(changes, message):
    with pytest.raises(SolveError, match=message) as err:
        tour(**changes)
    assert err.value.code == "solve_inconsistent" and err.value.status == 500
    assert isinstance(err.value, GridmapError)


def test_an_infeasible_result_carries_nothing():
    r = tour(solution=None, status=Status.INFEASIBLE, objective=float("inf"), bound=float("inf"))
    assert r.status is Status.INFEASIBLE


def test_relative_gap():
    assert relative_gap(0.0, 0.0) == 0.0
    assert relative_gap(200.0, 150.0) == pytest.approx(0.25)
    assert relative_gap(100.0, 100.0 - 1e-9) == 0.0
    assert relative_gap(float("inf"), 0.0) == float("inf")


def test_the_base_result_has_no_frames():
    with pytest.raises(NotImplementedError):
        tour().to_frames()


def test_deadline():
    free = Deadline(None)
    assert free.remaining() is None and not free.expired() and not free.hit
    short = Deadline(0.001)
    time.sleep(0.01)
    assert short.expired() and short.hit and short.remaining() == 0.0
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(InputError, match="positive number of seconds"):
            Deadline(bad)
