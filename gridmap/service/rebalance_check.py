"""Check a rebalance's moves on the geometry that will be painted: no grid left in pieces.

The unit graph of :mod:`gridmap.service.rebalance` says which units touch; what is written is
the paint of street blocks and building cells (:func:`gridmap.grids.topology.paint`), which can
leave a remainder or join a grid along a corner only. :class:`PaintCheck` runs those paints on
the plan in memory (EPSG:4326, as :func:`gridmap.service.planning.edit_grids` does, grouped one
paint per receiving grid as :func:`gridmap.service.rebalance.apply` sends them) and counts each
touched grid's pieces as ``gridmap grids validate`` does (:func:`gridmap.grids.findings.
pieces_of`, in the workspace's metric CRS). Nothing is written.

Trying each move of a search on top of those kept before it, from the plan as it is, paints
1 + 2 + … + n times for n moves. :class:`Trial` paints each move once instead, on the plan as
the moves kept before it left it, and counts the pieces of the grids that move changed only
(the others are as they were after their own check): n paints. Its plan differs from what
``apply`` writes only where a move joins the paint of a grid that received an earlier one;
:meth:`PaintCheck.keeps_whole` of the kept moves, once, checks what is written.
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

    def trial(self) -> Trial:
        """Return a :class:`Trial` that starts from the plan as it is."""
        return Trial(self)

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


class Trial:
    """Moves tried one by one, each on the plan the moves kept before it left (see the
    module); ``kept``: the ``(to, ground)`` moves it kept, in order."""

    def __init__(self, check: PaintCheck) -> None:
        self.check = check
        self.plan = check.plan
        self.kept: list[tuple[str, BaseGeometry]] = []

    def add(self, to: str, ground: BaseGeometry) -> bool:
        """Paint ``ground`` into grid ``to`` and keep it when no grid it changes ends in more
        pieces than it is in now (before any move), the paint is not refused and removes no
        grid; return whether it was kept."""
        try:
            edit = topology.paint(self.plan, [ground], to, snap=PAINT_SNAP_DEG)
        except InputError:
            return False
        if edit.removed:
            return False
        plan = edit.apply(self.plan)
        whole = all(
            len(pieces_of(plan.metric(plan.grids[c]))) <= self.check.pieces(c)
            for c in edit.changed
            if c in self.check.plan.grids
        )
        if whole:
            self.plan = plan
            self.kept.append((to, ground))
        return whole


__all__ = ["Paint", "PaintCheck", "Trial", "grouped"]
