"""The tables of a GeoPackage workspace, with the schema's rules as SQL constraints.

Each layer is a GeoPackage feature (or attribute) table whose columns carry the rules of
:mod:`gridmap.schema` as constraints — NOT NULL for required columns, UNIQUE for the key,
CHECK for choices, yes/no values, dates and number types — so that edits made by QGIS or GDAL
obey them as gridmap's own writes do. References are FOREIGN KEYs, deferred to COMMIT; only
programs that switch SQLite's foreign keys on (gridmap does, QGIS and GDAL do not) enforce them. A trigger raises a feature's
``version`` on any update that does not set it (another program's edit), so that a stale
edit from gridmap is still caught.
"""

from __future__ import annotations

from gridmap.schema import STORAGE_EPSG, Column, Layer
from gridmap.store.gpkg import encoding
from gridmap.store.gpkg.values import ident

META_TABLE = "gridmap_meta"
AUDIT_TABLE = "gridmap_audit"
HISTORY_TABLE = "gridmap_history"
USERS_TABLE = "gridmap_users"
TOKENS_TABLE = "gridmap_tokens"
READS_TABLE = "gridmap_reads"
#: The storage format this module writes; older workspaces must be upgraded. 3: accounts;
#: 4: where a building's numbers come from (households_source, levels_source ``height``).
FORMAT_VERSION = 4
#: ``updated_by`` of a change made by another program (QGIS, GDAL, sqlite3).
EXTERNAL_USER = "(other program)"
NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

_SQL_TYPES = {
    "int": "INTEGER",
    "float": "REAL",
    "str": "TEXT",
    "bool": "BOOLEAN",
    "date": "DATE",
    "datetime": "DATETIME",
}
_TYPEOF = {
    "int": "'integer'",
    "float": "'real', 'integer'",
    "str": "'text'",
    "bool": "'integer'",
    "date": "'text'",
    "datetime": "'text'",
}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def column_sql(column: Column, *, key: bool) -> str:
    """Return the column's definition with its constraints."""
    name = ident(column.name)
    parts = [name, _SQL_TYPES[column.type]]
    if column.required:
        parts.append("NOT NULL")
    if key:
        parts.append("UNIQUE")
    checks = [f"typeof({name}) IN ({_TYPEOF[column.type]}, 'null')"]
    if column.type == "bool":
        checks.append(f"{name} IN (0, 1)")
    if column.type == "date":  # YYYY-MM-DD, as GDAL writes it
        checks.append(f"({name} IS NULL OR date({name}) IS {name})")
    if column.type == "datetime":  # ISO 8601, as GDAL writes it
        checks.append(f"({name} IS NULL OR julianday({name}) IS NOT NULL)")
    if column.type == "str" and column.required:
        checks.append(f"{name} <> ''")
    if column.choices is not None:
        checks.append(f"{name} IN ({', '.join(_literal(c) for c in column.choices)})")
    parts.append(f"CHECK ({' AND '.join(checks)})")
    return " ".join(parts)


def table_sql(layer: Layer) -> str:
    """Return the CREATE TABLE statement of a layer."""
    cols = ["fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"]
    if layer.geometry:
        cols.append(f"geom {layer.geometry}")
    cols += [column_sql(c, key=c.name == layer.key) for c in layer.columns]
    cols += [
        "version INTEGER NOT NULL DEFAULT 1 CHECK (typeof(version) = 'integer')",
        f"updated_at DATETIME DEFAULT ({NOW_SQL})",
        "updated_by TEXT",
    ]
    for c in layer.references:
        assert c.references is not None
        other, key = c.references
        cols.append(
            f"FOREIGN KEY ({ident(c.name)}) REFERENCES {ident(other)} ({ident(key)}) "
            f"ON DELETE {c.on_delete.upper()} ON UPDATE NO ACTION DEFERRABLE INITIALLY DEFERRED"
        )
    return f"CREATE TABLE {ident(layer.name)} ({', '.join(cols)})"


def version_trigger_sql(layer: str) -> str:
    """Return the trigger that counts another program's edit as a new version."""
    t = ident(layer)
    return (
        f"CREATE TRIGGER {ident('gridmap_version_' + layer)} AFTER UPDATE ON {t} "
        "WHEN NEW.version IS OLD.version "
        f"BEGIN UPDATE {t} SET version = OLD.version + 1, updated_at = {NOW_SQL}, "
        f"updated_by = {_literal(EXTERNAL_USER)} WHERE fid = NEW.fid; END"
    )


def layer_statements(layer: Layer) -> list[tuple[str, tuple[object, ...]]]:
    """Return the statements (with parameters) that create a layer and register it."""
    data_type = "features" if layer.geometry else "attributes"
    srs = STORAGE_EPSG if layer.geometry else None
    out: list[tuple[str, tuple[object, ...]]] = [
        (table_sql(layer), ()),
        (version_trigger_sql(layer.name), ()),
        (
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
            "VALUES (?, ?, ?, ?, ?)",
            (layer.name, data_type, layer.name, layer.description, srs),
        ),
    ]
    if layer.geometry:
        out.append(
            (
                "INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)",
                (layer.name, layer.geometry, STORAGE_EPSG),
            )
        )
        out += [(stmt, ()) for stmt in encoding.rtree_ddl(layer.name, "geom")]
        out.append(
            (
                "INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index', "
                "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
                (layer.name,),
            )
        )
    return out


SYSTEM_TABLES_SQL = [
    f"CREATE TABLE {ident(META_TABLE)} (key TEXT PRIMARY KEY NOT NULL, value TEXT)",
    f"CREATE TABLE {ident(AUDIT_TABLE)} (fid INTEGER PRIMARY KEY AUTOINCREMENT, "
    "at DATETIME NOT NULL, user TEXT NOT NULL, action TEXT NOT NULL, "
    "layers TEXT, rows INTEGER, detail TEXT)",
    f"CREATE TABLE {ident(HISTORY_TABLE)} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    f"tx INTEGER NOT NULL REFERENCES {ident(AUDIT_TABLE)} (fid), layer TEXT NOT NULL, "
    "fid INTEGER NOT NULL, fid_last INTEGER, "
    "op TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')), "
    "version INTEGER, before TEXT, after TEXT)",
    f"CREATE INDEX gridmap_history_feature ON {ident(HISTORY_TABLE)} (layer, fid)",
    f"CREATE INDEX gridmap_history_tx ON {ident(HISTORY_TABLE)} (tx)",
]
#: The account tables (storage format 3): users, API tokens, the log of unmasked reads.
ACCOUNT_TABLES_SQL = [
    f"CREATE TABLE {ident(USERS_TABLE)} (name TEXT PRIMARY KEY NOT NULL, "
    "role TEXT NOT NULL, password_hash TEXT, grids TEXT NOT NULL DEFAULT '[]', "
    "display_name TEXT, disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)), "
    "demo INTEGER NOT NULL DEFAULT 0 CHECK (demo IN (0, 1)), "
    "epoch INTEGER NOT NULL DEFAULT 1, created_at DATETIME, last_login DATETIME)",
    f"CREATE TABLE {ident(TOKENS_TABLE)} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    f"user TEXT NOT NULL REFERENCES {ident(USERS_TABLE)} (name) ON DELETE CASCADE, "
    "label TEXT NOT NULL, digest TEXT NOT NULL UNIQUE, created_at DATETIME, "
    "last_used DATETIME, revoked_at DATETIME)",
    f"CREATE TABLE {ident(READS_TABLE)} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "at DATETIME NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL, "
    "layer TEXT NOT NULL, rows INTEGER NOT NULL, filter TEXT)",
    f"CREATE INDEX gridmap_reads_user ON {ident(READS_TABLE)} (user, at)",
]
SYSTEM_TABLES_SQL += ACCOUNT_TABLES_SQL
ACCOUNT_TABLE_DESCRIPTIONS = {
    USERS_TABLE: "gridmap accounts: name, role, grids, password hash (never the password)",
    TOKENS_TABLE: "gridmap personal API tokens (SHA-256 digests), revocable",
    READS_TABLE: "gridmap access log: who read or exported personal data unmasked",
}
SYSTEM_TABLE_DESCRIPTIONS = {
    META_TABLE: "gridmap workspace settings (JSON values)",
    AUDIT_TABLE: "gridmap audit log: one row per transaction, who changed what, when",
    HISTORY_TABLE: "gridmap change history: each feature's values before and after each change",
    **ACCOUNT_TABLE_DESCRIPTIONS,
}
