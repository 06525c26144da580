"""The street network of a workspace."""

from __future__ import annotations

import networkx as nx

from gridmap.errors import InputError
from gridmap.network import NETWORKS, graph_from_frames
from gridmap.store import Workspace


def street_graph(ws: Workspace, network: str = "walk") -> nx.MultiDiGraph:
    """Return the workspace's street graph (EPSG:4326, lengths in metres).

    ``network`` is ``"walk"`` or ``"drive"``; see :func:`gridmap.network.graph_from_frames`.
    """
    if network not in NETWORKS:
        raise InputError(f"Unknown street network '{network}': use walk or drive.")
    edges = ws.read("streets", where={network: True})
    return graph_from_frames(ws.read("street_nodes"), edges, network=network)
