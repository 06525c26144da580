"""The id-order part of ``gridmap privacy``: do the ids a masked reader is served, or the order
of the rows in a reply, give away an order the masked view hides?

A stored feature id counts rows in the order they were written, and a register is written in
an order of its own: households building by building and room by room, visits household by
household. Served as they are, the ids of masked visits name their household within a few
ranks of its grid, and the ids of masked households their room — what the views leave out on
purpose (``visit_id``, ``household_id``). :func:`order_checks` attacks each such order with
:func:`gridmap.access.disclosure.id_order`, sorting the rows both by the ids served and by
their place in the reply, within what the reader sees anyway (the grid, the building). Plain
ids fail it; the opaque ids of :mod:`gridmap.access.ids`, served in token order, pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridmap.access import disclosure, ids
from gridmap.access.roles import Access
from gridmap.io.address import parse_room
from gridmap.service import feature_ids
from gridmap.store import Workspace

PASS = "pass"
FAIL = "fail"
#: Fewer rows in groups of two or more than this, and an order is not judged.
MIN_ROWS = 20
NOT_JUDGED = "not enough rows to judge"


def served_ids(ws: Workspace, layer: str, access: Access, shown: pd.DataFrame) -> pd.Series:
    """Return the ids ``access`` is served for the rows of ``shown``, in the reply's order.

    ``shown`` holds the rows as served (indexed by stored id); the result is indexed by the
    stored ids too, in the order a reply lists the rows: token order for a reader of opaque
    ids, the stored order for everyone else.
    """
    served = feature_ids.served_ids(ws, layer, access, shown.index)
    opaque = feature_ids.opaque(layer, access)
    order = ids.order(served) if opaque else np.arange(len(served))
    values = np.empty(len(served), dtype=object)
    values[:] = served
    return pd.Series(values[order], index=shown.index[order], name="id", dtype=object)


def _natural(value: object) -> tuple[int, str]:
    text = "" if value is None else str(value)
    digits = "".join(c for c in text if c.isdigit())
    return (int(digits), text) if digits else (10**12, text)


def room_order(addresses: pd.Series) -> pd.Series:
    """Return the rank of each address by unit, floor and room (what the masked view cuts)."""
    parts = [parse_room(a) for a in addresses.tolist()]
    keys = [
        (_natural(p.unit), -(10**6) if p.floor is None else p.floor, _natural(p.room))
        for p in parts
    ]
    ranked = {k: i for i, k in enumerate(sorted(set(keys)))}
    return pd.Series([ranked[k] for k in keys], index=addresses.index, dtype=float)


@dataclass(frozen=True)
class Link:
    """One order a view must not give away: ``hidden`` rows of ``view``, grouped by ``within``.

    ``values`` takes the stored register (``households``, ``visits``, ``buildings`` frames)
    and returns the hidden value of each row of ``view`` (indexed by stored id), or None when
    the register lacks what it needs.
    """

    view: str
    hidden: str
    within: str
    values: Callable[[Mapping[str, pd.DataFrame]], pd.Series | None]


def _column(layer: str, name: str) -> Callable[[Mapping[str, pd.DataFrame]], pd.Series | None]:
    def values(stored: Mapping[str, pd.DataFrame]) -> pd.Series | None:
        frame = stored[layer]
        return frame[name] if name in frame.columns else None

    return values


def _rooms(stored: Mapping[str, pd.DataFrame]) -> pd.Series | None:
    h = stored["households"]
    return room_order(h["address"]) if "address" in h.columns else None


def _visit_household(stored: Mapping[str, pd.DataFrame]) -> pd.Series | None:
    """The place of each visit's household in the register's own order (its stored id)."""
    h, v = stored["households"], stored["visits"]
    if "household_id" not in h.columns or "household_id" not in v.columns:
        return None
    place = pd.Series(h.index.to_numpy(dtype=float), index=h["household_id"].to_numpy())
    place = place[~place.index.duplicated()]
    return v["household_id"].map(place)


#: Every order attacked, with the column the reader groups by.
LINKS: tuple[Link, ...] = (
    Link("visits", "household", "grid_code", _visit_household),
    Link("households", "household_id", "building_osm_id", _column("households", "household_id")),
    Link("households", "room", "building_osm_id", _rooms),
    Link("buildings", "residents", "grid_code", _column("buildings", "residents")),
)
#: How the reader may sort the rows: by the ids served, or by their place in the reply.
CHANNELS = ("ids", "reply order")


@dataclass(frozen=True)
class OrderCheck:
    """The verdict on one order: can the served ids or the reply's order give it away?

    ``by`` says which of :data:`CHANNELS` told most; ``rho`` and ``closeness`` (with their
    bounds) are :class:`gridmap.access.disclosure.OrderResult`'s, ``gap`` how many ranks of the
    hidden order lie between rows next to each other in the served one (median), and
    ``chance_gap`` the same in a random order. The numbers are None when not judged.
    """

    view: str
    hidden: str
    within: str
    rows: int
    verdict: str
    by: str | None = None
    rho: float | None = None
    rho_bound: float | None = None
    closeness: float | None = None
    closeness_bound: float | None = None
    gap: float | None = None
    chance_gap: float | None = None


def _strength(r: disclosure.OrderResult) -> float:
    return max(abs(r.rho) / r.rho_bound, r.closeness / r.closeness_bound)


def order_checks(
    stored: Mapping[str, pd.DataFrame],
    served: Mapping[str, pd.DataFrame],
    served_ids: Mapping[str, pd.Series],
) -> list[OrderCheck]:
    """Attack every order of :data:`LINKS` that a reader is served rows of.

    Parameters
    ----------
    stored
        The register as stored (``households``, ``visits``, ``buildings``), indexed by id.
    served
        The same layers as the reader is served them (indexed by stored id, for the checker).
    served_ids
        Per layer, the ids the reader is served, in the reply's order (:func:`served_ids`).
    """
    out = []
    for link in LINKS:
        shown = served.get(link.view)
        given = served_ids.get(link.view)
        hidden = link.values(stored)
        if shown is None or given is None or hidden is None or not len(given):
            continue
        rows = given.index  # in the reply's order
        grouped = link.within in shown.columns
        truth = hidden.reindex(rows)
        known = truth.notna().to_numpy()
        groups = shown[link.within].reindex(rows)[known] if grouped else None
        channels = {"ids": given.to_numpy(dtype=object), "reply order": np.arange(len(rows))}
        results = {
            name: disclosure.id_order(
                values[known],
                truth[known],
                groups,
                link=f"{link.view} → {link.hidden}",
            )
            for name, values in channels.items()
        }
        by, worst = max(results.items(), key=lambda r: _strength(r[1]))
        within = link.within if grouped else "nothing"
        if worst.rows < MIN_ROWS:
            out.append(OrderCheck(link.view, link.hidden, within, worst.rows, NOT_JUDGED))
            continue
        out.append(
            OrderCheck(
                link.view,
                link.hidden,
                within,
                worst.rows,
                FAIL if any(r.read_back for r in results.values()) else PASS,
                by=by,
                rho=worst.rho,
                rho_bound=worst.rho_bound,
                closeness=worst.closeness,
                closeness_bound=worst.closeness_bound,
                gap=worst.gap,
                chance_gap=worst.chance_gap,
            )
        )
    return out
