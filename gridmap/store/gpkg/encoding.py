"""GeoPackage encoding: geometry blobs, the core tables, the R-tree index.

Only :mod:`gridmap.workspace` uses this module. It writes OGC GeoPackage 1.3 as the standard
(https://www.geopackage.org/spec130/) describes it, so GDAL, QGIS and ArcGIS open a workspace as
it is. Geometry blobs carry a 2-D envelope; the R-tree index is kept by the standard triggers,
whose ``ST_*`` functions :func:`register_functions` provides on our own connections.
"""

from __future__ import annotations

import sqlite3
import struct

import numpy as np
import shapely

APPLICATION_ID = 0x47504B47  # "GPKG"
USER_VERSION = 10300  # GeoPackage 1.3.0

_HEADER = struct.Struct("<2sBBi4d")  # magic, version, flags, srs_id, minx, maxx, miny, maxy
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}

WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)

CORE_DDL = """
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
"""

SRS_ROWS = [
    (
        "Undefined cartesian SRS",
        -1,
        "NONE",
        -1,
        "undefined",
        "undefined cartesian coordinate reference system",
    ),
    (
        "Undefined geographic SRS",
        0,
        "NONE",
        0,
        "undefined",
        "undefined geographic coordinate reference system",
    ),
    (
        "WGS 84 geodetic",
        4326,
        "EPSG",
        4326,
        WGS84_WKT,
        "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid",
    ),
]


def _envelope(blob: bytes) -> tuple[float, float, float, float] | None:
    """Return (minx, maxx, miny, maxy) of a GeoPackage blob, None when empty."""
    if blob is None or len(blob) < 8:
        return None
    flags = blob[3]
    if flags & 0b10000:  # empty geometry
        return None
    if (flags >> 1) & 0b111:
        byte_order = "<" if flags & 1 else ">"
        return struct.unpack_from(byte_order + "4d", blob, 8)
    geom = shapely.from_wkb(blob[8:])
    if geom is None or geom.is_empty:
        return None
    minx, miny, maxx, maxy = geom.bounds
    return (minx, maxx, miny, maxy)


def register_functions(conn: sqlite3.Connection) -> None:
    """Register the ``ST_*`` SQL functions the standard R-tree triggers call."""

    def st_is_empty(blob: bytes | None) -> int | None:
        if blob is None:
            return None
        return 1 if _envelope(blob) is None else 0

    def make(index: int):
        def f(blob: bytes | None) -> float | None:
            env = _envelope(blob) if blob is not None else None
            return None if env is None else env[index]

        return f

    conn.create_function("ST_IsEmpty", 1, st_is_empty, deterministic=True)
    conn.create_function("ST_MinX", 1, make(0), deterministic=True)
    conn.create_function("ST_MaxX", 1, make(1), deterministic=True)
    conn.create_function("ST_MinY", 1, make(2), deterministic=True)
    conn.create_function("ST_MaxY", 1, make(3), deterministic=True)


def encode(geoms: np.ndarray, srs_id: int) -> list[bytes | None]:
    """Encode shapely geometries as GeoPackage blobs (little-endian, 2-D envelope)."""
    geoms = np.asarray(geoms, dtype=object)
    wkb = shapely.to_wkb(geoms, output_dimension=2, byte_order=1, flavor="iso")
    bounds = shapely.bounds(geoms)
    out: list[bytes | None] = []
    empty = shapely.is_empty(geoms)
    for i, body in enumerate(wkb):
        if body is None:
            out.append(None)
        elif empty[i]:
            out.append(struct.pack("<2sBBi", b"GP", 0, 0b10001, srs_id) + body)
        else:
            minx, miny, maxx, maxy = bounds[i]
            out.append(_HEADER.pack(b"GP", 0, 0b00011, srs_id, minx, maxx, miny, maxy) + body)
    return out


def decode(blobs: list[bytes | None]) -> np.ndarray:
    """Decode GeoPackage blobs into shapely geometries; None (and anything unreadable) gives None."""
    bodies: list[bytes | None] = []
    for blob in blobs:
        if blob is None:
            bodies.append(None)
            continue
        if not isinstance(blob, bytes) or blob[:2] != b"GP" or len(blob) < 8:
            bodies.append(None)  # not a GeoPackage geometry (another program wrote it): no shape
            continue
        bodies.append(blob[8 + _ENVELOPE_BYTES.get((blob[3] >> 1) & 0b111, 0) :])
    return shapely.from_wkb(np.array(bodies, dtype=object), on_invalid="ignore")


def rtree_ddl(table: str, column: str) -> list[str]:
    """Return the statements that create a layer's R-tree index and its standard triggers."""
    rt = f"rtree_{table}_{column}"
    t, c = f'"{table}"', f'"{column}"'
    return [
        f'CREATE VIRTUAL TABLE "{rt}" USING rtree(id, minx, maxx, miny, maxy)',
        f"""CREATE TRIGGER "{rt}_insert" AFTER INSERT ON {t}
WHEN (new.{c} NOT NULL AND NOT ST_IsEmpty(NEW.{c}))
BEGIN
  INSERT OR REPLACE INTO "{rt}" VALUES (NEW.fid, ST_MinX(NEW.{c}), ST_MaxX(NEW.{c}),
    ST_MinY(NEW.{c}), ST_MaxY(NEW.{c}));
END""",
        f"""CREATE TRIGGER "{rt}_update1" AFTER UPDATE OF {c} ON {t}
WHEN OLD.fid = NEW.fid AND (NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c}))
BEGIN
  INSERT OR REPLACE INTO "{rt}" VALUES (NEW.fid, ST_MinX(NEW.{c}), ST_MaxX(NEW.{c}),
    ST_MinY(NEW.{c}), ST_MaxY(NEW.{c}));
END""",
        f"""CREATE TRIGGER "{rt}_update2" AFTER UPDATE OF {c} ON {t}
WHEN OLD.fid = NEW.fid AND (NEW.{c} ISNULL OR ST_IsEmpty(NEW.{c}))
BEGIN
  DELETE FROM "{rt}" WHERE id = OLD.fid;
END""",
        f"""CREATE TRIGGER "{rt}_update3" AFTER UPDATE ON {t}
WHEN OLD.fid != NEW.fid AND (NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c}))
BEGIN
  DELETE FROM "{rt}" WHERE id = OLD.fid;
  INSERT OR REPLACE INTO "{rt}" VALUES (NEW.fid, ST_MinX(NEW.{c}), ST_MaxX(NEW.{c}),
    ST_MinY(NEW.{c}), ST_MaxY(NEW.{c}));
END""",
        f"""CREATE TRIGGER "{rt}_update4" AFTER UPDATE ON {t}
WHEN OLD.fid != NEW.fid AND (NEW.{c} ISNULL OR ST_IsEmpty(NEW.{c}))
BEGIN
  DELETE FROM "{rt}" WHERE id IN (OLD.fid, NEW.fid);
END""",
        f"""CREATE TRIGGER "{rt}_delete" AFTER DELETE ON {t}
WHEN old.{c} NOT NULL
BEGIN
  DELETE FROM "{rt}" WHERE id = OLD.fid;
END""",
    ]
