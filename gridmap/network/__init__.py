"""The street graph from plain frames: an osmnx-style MultiDiGraph keyed by OSM node ids."""
