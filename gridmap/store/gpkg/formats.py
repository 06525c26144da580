"""In-place steps from one storage format to the next, for :func:`gridmap.store.upgrade`.

Formats 2 and later are upgraded in place, one step per format, all in one SQLite
transaction: every feature keeps its id, version, edit time and editor, and the audit log and
change history stay as they are. A copy of the old file is kept beside it.

- 2 → 3: the account tables (users, API tokens, the log of unmasked reads).
- 3 → 4: buildings say where their numbers come from: ``households_source`` is new, and
  ``levels_source`` may say ``height`` (storeys from the OSM height). The table is rebuilt
  with the new constraints, values copied as they are; ``households_source`` is derived
  (:func:`building_sources_sql`). Format 4 builds estimate storeys from heights too, but the
  upgrade changes no stored number: a demo made by an older gridmap is best built anew.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from gridmap.schema import get_layer
from gridmap.store.gpkg import ddl, encoding
from gridmap.store.gpkg.failures import sql_errors
from gridmap.store.gpkg.values import ident

#: The oldest format upgraded in place (format 1 files are rebuilt: see files.upgrade).
IN_PLACE_FROM = 2


def _edited(column: str, history: str | None) -> str:
    """SQL: whether feature ``b.fid`` of buildings had ``column`` changed by an edit."""
    if history is None:
        return "0"
    return (
        f"EXISTS (SELECT 1 FROM {history} h WHERE h.layer = 'buildings' AND h.op = 'update' "
        f"AND h.fid = b.fid AND json_type(h.after, '$.{column}') IS NOT NULL)"
    )


def building_sources_sql(have: set[str], *, meta: str, history: str | None) -> dict[str, str]:
    """Return SQL expressions over an old buildings row ``b`` for the provenance columns.

    Parameters
    ----------
    have
        The columns the old buildings table has.
    meta
        The (qualified) name of the old workspace's settings table.
    history
        The (qualified) name of its change history, or None when it has none.

    Returns
    -------
    dict
        ``{column: expression}``. ``households_source`` (when the table lacks it): empty where
        ``households`` is; ``user`` where an edit recorded in the history changed
        ``households``; the row's ``source`` where that is ``import`` or ``user``;
        ``synthetic`` in a demo workspace (setting ``synthetic`` true); else ``import``.
        ``levels_source`` (when the table has it): ``user`` where it said ``osm`` or
        ``default`` but an edit changed ``levels`` since; else as it was.
    """
    out: dict[str, str] = {}
    source = "b.source" if "source" in have else "NULL"
    if "households_source" not in have and "households" in have:
        synthetic = f"(SELECT value FROM {meta} WHERE key = 'synthetic') = 'true'"
        out["households_source"] = (
            "CASE WHEN b.households IS NULL THEN NULL "
            f"WHEN {_edited('households', history)} THEN 'user' "
            f"WHEN {source} IN ('import', 'user') THEN {source} "
            f"WHEN {synthetic} THEN 'synthetic' ELSE 'import' END"
        )
    if "levels_source" in have and "levels" in have:
        out["levels_source"] = (
            f"CASE WHEN b.levels_source IN ('osm', 'default') AND {_edited('levels', history)} "
            "THEN 'user' ELSE b.levels_source END"
        )
    return out


def _add_accounts(conn: sqlite3.Connection) -> None:
    """2 → 3: the account tables."""
    for stmt in ddl.ACCOUNT_TABLES_SQL:
        conn.execute(stmt)
    for table, desc in ddl.ACCOUNT_TABLE_DESCRIPTIONS.items():
        conn.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description) "
            "VALUES (?, 'attributes', ?, ?)",
            (table, table, desc),
        )


def rebuild_table(conn: sqlite3.Connection, name: str, derived: dict[str, str]) -> None:
    """Re-create layer ``name`` with the current schema's table, keeping every row as it was.

    Rows keep their fid, geometry, values, version, edit time and editor; columns the old
    table lacks take ``derived`` SQL expressions (over the old row ``b``) or stay empty;
    ``derived`` expressions replace the values of columns it has. The R-tree index stays (the
    fids do not change), its triggers and the version trigger are made anew, and the table's
    AUTOINCREMENT counter is kept, so that an id once used is never given again.
    """
    layer = get_layer(name)
    t = ident(name)
    have = {r[1] for r in conn.execute(f"PRAGMA table_info({t})")}
    seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (name,)).fetchone()
    conn.execute("DROP TABLE IF EXISTS temp.gridmap_upgrade")
    conn.execute(f"CREATE TEMP TABLE gridmap_upgrade AS SELECT * FROM main.{t}")
    conn.execute(f"DROP TABLE main.{t}")  # and its triggers; the R-tree table stays
    conn.execute(ddl.table_sql(layer))
    columns = ["fid", *(["geom"] if layer.geometry else []), *layer.column_names]
    columns += ["version", "updated_at", "updated_by"]
    values = [derived.get(c) or (f"b.{ident(c)}" if c in have else "NULL") for c in columns]
    conn.execute(
        f"INSERT INTO main.{t} ({', '.join(map(ident, columns))}) "
        f"SELECT {', '.join(values)} FROM temp.gridmap_upgrade AS b ORDER BY b.fid"
    )
    conn.execute("DROP TABLE temp.gridmap_upgrade")
    conn.execute(ddl.version_trigger_sql(name))
    if layer.geometry:
        for stmt in encoding.rtree_ddl(name, "geom")[1:]:  # [0] creates the R-tree table
            conn.execute(stmt)
    if seq is not None:
        conn.execute(
            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (int(seq[0]), name)
        )


def _building_sources(conn: sqlite3.Connection) -> None:
    """3 → 4: the provenance of a building's numbers."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(buildings)")}
    derived = building_sources_sql(
        have, meta=ident(ddl.META_TABLE), history=ident(ddl.HISTORY_TABLE)
    )
    rebuild_table(conn, "buildings", derived)


#: The step from each format to the next.
STEPS: dict[int, Callable[[sqlite3.Connection], None]] = {2: _add_accounts, 3: _building_sources}


def upgrade_in_place(source: Path, kept: Path, fmt: int, temporary: str) -> Path:
    """Bring ``source`` (storage format ``fmt`` ≥ 2) to the current format in place.

    A copy of the old file is written to ``temporary`` and moved to ``kept`` first; then
    every step from ``fmt`` on runs in one transaction (a failure changes nothing). Returns
    ``kept``.
    """
    assert IN_PLACE_FROM <= fmt < ddl.FORMAT_VERSION
    with sql_errors(source):
        conn = sqlite3.connect(source, isolation_level=None)
        try:
            encoding.register_functions(conn)
            out = sqlite3.connect(temporary, isolation_level=None)
            try:
                conn.backup(out)
            finally:
                out.close()
            os.replace(temporary, kept)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for step in range(fmt, ddl.FORMAT_VERSION):
                    STEPS[step](conn)
                conn.execute(
                    f"UPDATE {ident(ddl.META_TABLE)} SET value = ? WHERE key = 'schema_version'",
                    (str(ddl.FORMAT_VERSION),),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()
    return kept
