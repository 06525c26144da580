"""Small counts of the register: shown exactly only to readers who may count the register.

A count of households from 1 to :data:`SMALL_COUNT` − 1 in a place (a street block, a grid, a
finding) can point at one household. The role table (:mod:`gridmap.access.roles`) says who
may count them anyway: whoever reads the ``households`` layer in full (the admin), in the
masked view (planners, patrol leads, analysts: one row per household at its building, so
every count can be read off it), or as their own grids' register (a grid worker, in their
grids). Everyone else — a grid worker looking at another grid, a reader of no register —
gets such a count as :data:`SMALL_TEXT`. Zero stays zero ("none here" is about nobody).

The same threshold suppresses the register figures (:mod:`gridmap.service.figures`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gridmap.access.roles import Access, Level, read_level

#: Counts below this (and above zero) are shown only to readers who may count the register.
SMALL_COUNT = 5
#: How a small count is shown to everyone else.
SMALL_TEXT = f"<{SMALL_COUNT}"


def exact_counts(access: Access | None, grid: str | None) -> bool:
    """Return whether ``access`` may see exact household counts of ``grid`` (None: no grid).

    None (the CLI, a trusted caller) sees them.
    """
    if access is None:
        return True
    level = read_level(access, "households")
    if level in (Level.FULL, Level.MASKED):
        return True
    return level is Level.OWN and grid is not None and grid in access.grids


def reads_register(access: Access | None, grid: str | None) -> bool:
    """Return whether ``access`` may read the register of ``grid`` row by row, unmasked: the
    admin, a grid worker in their own grids (None: the CLI, a trusted caller).

    Such a reader may see figures that count who is in which visit category there
    (:mod:`gridmap.service.visit_figures`); the masked view's readers may count households
    (:func:`exact_counts`) but not who is in a category.
    """
    if access is None:
        return True
    level = read_level(access, "households")
    if level is Level.FULL:
        return True
    return level is Level.OWN and grid is not None and grid in access.grids


def is_small(count: Any) -> bool:
    """Return whether ``count`` (a number) is a small count, 1 to :data:`SMALL_COUNT` − 1."""
    try:
        return 0 < float(count) < SMALL_COUNT
    except (TypeError, ValueError):
        return False


def shown_count(count: Any, access: Access | None, grids: Iterable[str | None]) -> Any:
    """Return ``count`` as ``access`` is shown it, for a place in ``grids``.

    Exact where the reader may count the register of every one of ``grids`` (see
    :func:`exact_counts`); a small count is :data:`SMALL_TEXT` otherwise.
    """
    places = list(grids) or [None]
    if not is_small(count) or all(exact_counts(access, g) for g in places):
        return count
    return SMALL_TEXT
