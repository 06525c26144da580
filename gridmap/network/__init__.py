"""The street graph from plain frames: an osmnx-style MultiDiGraph keyed by OSM node ids."""

from gridmap.network.graph import NETWORKS, graph_from_frames

__all__ = ["NETWORKS", "graph_from_frames"]
