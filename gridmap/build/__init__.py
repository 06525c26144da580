"""Building workspaces: ``gridmap init`` from an OSM extract, the demo and its synthetic register."""
