"""gridmap: community grid management (网格化管理) — grids, routes, coverage, on one workspace."""

__version__ = "0.1.0"
