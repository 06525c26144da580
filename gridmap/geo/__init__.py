"""Coordinate reference systems: the area's UTM zone, China's shifted datums (GCJ-02, BD-09)."""
