"""A fixture builder: put a workspace of today's gridmap back to storage format 3 (or 2).

Format 3 (gridmap 0.1, issue 6) had no ``buildings.households_source`` and no ``height`` among
the ``levels_source`` choices; format 2 had no account tables either. Used by
tests/test_upgrade.py and scripts/bench_data.py.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

from gridmap.schema import Layer, get_layer
from gridmap.store.gpkg import ddl, encoding

#: Format 3's buildings: no households_source, and levels_source without "height".
_FORMAT3_LEVELS_SOURCES = ("osm", "default", "import", "user")


def format3_buildings() -> Layer:
    """Return the buildings layer as format 3 had it."""
    layer = get_layer("buildings")
    columns = tuple(
        dataclasses.replace(c, choices=_FORMAT3_LEVELS_SOURCES) if c.name == "levels_source" else c
        for c in layer.columns
        if c.name != "households_source"
    )
    return dataclasses.replace(layer, columns=columns)


def to_format3(path: Path, fmt: int = 3) -> None:
    """Put the buildings table of ``path`` back to format 3's DDL (format 2: no accounts)."""
    old = format3_buildings()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        encoding.register_functions(conn)
        conn.execute("BEGIN")
        seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'buildings'").fetchone()
        conn.execute("CREATE TEMP TABLE keep AS SELECT * FROM buildings")
        conn.execute("DROP TABLE buildings")
        conn.execute(ddl.table_sql(old))
        names = ["fid", "geom", *old.column_names, "version", "updated_at", "updated_by"]
        cols = ", ".join(f'"{c}"' for c in names)
        # format 3 had no storeys from heights: what came from one was a default then
        values = cols.replace(
            '"levels_source"',
            "CASE WHEN levels_source = 'height' THEN 'default' ELSE levels_source END",
        )
        conn.execute(f"INSERT INTO buildings ({cols}) SELECT {values} FROM temp.keep")
        conn.execute(ddl.version_trigger_sql("buildings"))
        for stmt in encoding.rtree_ddl("buildings", "geom")[1:]:
            conn.execute(stmt)
        conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'buildings'", seq)
        if fmt == 2:
            for table in (ddl.READS_TABLE, ddl.TOKENS_TABLE, ddl.USERS_TABLE):
                conn.execute(f"DROP TABLE {table}")
                conn.execute("DELETE FROM gpkg_contents WHERE table_name = ?", (table,))
        conn.execute("UPDATE gridmap_meta SET value = ? WHERE key = 'schema_version'", (str(fmt),))
        conn.execute("COMMIT")
    finally:
        conn.close()
