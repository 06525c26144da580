"""The street graph built from the ``streets`` and ``street_nodes`` frames."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from gridmap.errors import InputError
from gridmap.schema import STORAGE_CRS

NETWORKS = ("walk", "drive")


def graph_from_frames(
    nodes: pd.DataFrame, edges: pd.DataFrame, *, network: str = "walk"
) -> nx.MultiDiGraph:
    """Return the street graph as an osmnx-style MultiDiGraph in EPSG:4326.

    Parameters
    ----------
    nodes
        The ``street_nodes`` layer (``osmid``, ``street_count``, point geometry in degrees).
    edges
        The rows of the ``streets`` layer that belong to ``network`` (``u``, ``v``, ``key``,
        ``length_m`` in metres, line geometry in degrees), indexed by feature id.
    network
        ``"walk"`` (every one-way street also walkable against its direction) or ``"drive"``
        (one-way streets one way only).

    Returns
    -------
    Nodes are OSM node ids with ``x`` (lon) and ``y`` (lat); edges carry the ``streets``
    columns, ``length`` in metres and ``fid``, the stored feature id; an edge added for walking
    against a one-way street has ``reversed=True``.
    """
    if network not in NETWORKS:
        raise InputError(f"Unknown street network '{network}': use walk or drive.")
    G = nx.MultiDiGraph(crs=STORAGE_CRS, network=network)
    used = set(edges["u"].astype(int)) | set(edges["v"].astype(int))
    for row in nodes.itertuples():
        if int(row.osmid) in used:
            G.add_node(
                int(row.osmid), x=row.geometry.x, y=row.geometry.y, street_count=row.street_count
            )
    present = set(zip(edges["u"].astype(int), edges["v"].astype(int), strict=True))
    for row in edges.itertuples():
        u, v = int(row.u), int(row.v)
        attrs = {
            "osmid": row.osmid,
            "name": row.name,
            "highway": row.highway,
            "oneway": bool(row.oneway),
            "length": float(row.length_m),
            "geometry": row.geometry,
            "fid": int(row.Index),
            "reversed": False,
        }
        G.add_edge(u, v, key=int(row.key), **attrs)
        if network == "walk" and (v, u) not in present:
            back = dict(attrs, geometry=row.geometry.reverse(), reversed=True)
            G.add_edge(v, u, **back)
    return G


def unique_edges(streets: pd.DataFrame) -> pd.DataFrame:
    """Return the street edges with each two-way street once (u→v and v→u are one line).

    ``streets`` holds rows of the ``streets`` layer with ``u``, ``v`` (and ``key``) columns;
    the first of each pair is kept, in the frame's order. Without those columns the frame is
    returned as it is.
    """
    if streets.empty or not {"u", "v"} <= set(streets.columns):
        return streets
    u = streets["u"].astype("int64").to_numpy()
    v = streets["v"].astype("int64").to_numpy()
    ends = {"low": np.minimum(u, v), "high": np.maximum(u, v)}
    if "key" in streets.columns:
        ends["key"] = streets["key"].fillna(0).astype("int64").to_numpy()
    return streets[~pd.DataFrame(ends).duplicated().to_numpy()]
