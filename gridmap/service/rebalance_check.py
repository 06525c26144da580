"""Check a rebalance's moves on the geometry that will be painted: no grid left in pieces.

The unit graph of :mod:`gridmap.service.rebalance` says which units touch; what is written is
the paint of street blocks and building cells (:func:`gridmap.grids.topology.paint`), which can
leave a remainder or join a grid along a corner only. :class:`PaintCheck` runs those paints on
the plan in memory (EPSG:4326, as :func:`gridmap.service.planning.edit_grids` does, grouped one
paint per receiving grid as :func:`gridmap.service.rebalance.apply` sends them) and counts each
touched grid's pieces as ``gridmap grids validate`` does (:func:`gridmap.grids.findings.
pieces_of`, in the workspace's metric CRS). Nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shapely.geometry.base import BaseGeometry

from gridmap.errors import InputError
from gridmap.grids import topology
from gridmap.grids.findings import pieces_of
from gridmap.grids.plan import Plan
from gridmap.service.planning import PAINT_SNAP_DEG, read_plan
from gridmap.store import Workspace

#: A paint: the grid that receives, and the ground it receives (EPSG:4326).
Paint = tuple[str, list[BaseGeometry]]


def grouped(moves: Sequence[tuple[str, BaseGeometry]]) -> list[Paint]:
    """Return ``(to, ground)`` moves as the paints that apply sends: one per receiving grid, in
    the order of its first move."""
    out: dict[str, list[BaseGeometry]] = {}
    for to, ground in moves:
        out.setdefault(to, []).append(ground)
    return list(out.items())


class PaintCheck:
    """The workspace's plan in memory, to try paints on (see the module).

    Parameters
    ----------
    ws
        The workspace (read only).
    crs
        Its metric CRS (metres), in which pieces are counted.
    """

    def __init__(self, ws: Workspace, crs: Any) -> None:
        self.plan, _ = read_plan(ws, crs)
        self._pieces: dict[str, int] = {}

    def pieces(self, code: str) -> int:
        """Return how many pieces grid ``code`` is in now (before any paint)."""
        if code not in self._pieces:
            self._pieces[code] = len(pieces_of(self.plan.metric(self.plan.grids[code])))
        return self._pieces[code]

    def after(self, paints: Sequence[Paint]) -> tuple[Plan, set[str]] | None:
        """Return the plan after ``paints`` and the grids they changed, or None when a paint
        is refused or removes a grid."""
        plan, touched = self.plan, set()
        for to, ground in paints:
            try:
                edit = topology.paint(plan, ground, to, snap=PAINT_SNAP_DEG)
            except InputError:
                return None
            if edit.removed:
                return None
            touched |= set(edit.changed)
            plan = edit.apply(plan)
        return plan, touched

    def keeps_whole(self, paints: Sequence[Paint]) -> bool:
        """Return whether ``paints`` leave every grid they change in no more pieces than now."""
        found = self.after(paints)
        if found is None:
            return False
        plan, touched = found
        return all(
            len(pieces_of(plan.metric(plan.grids[c]))) <= self.pieces(c)
            for c in touched
            if c in self.plan.grids
        )


__all__ = ["Paint", "PaintCheck", "grouped"]
