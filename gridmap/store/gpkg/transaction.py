"""The writes of one GeoPackage transaction: checked rows, stable ids, versions, history.

Only :class:`gridmap.store.gpkg.workspace.GeoPackageWorkspace` creates these. Every write is
checked by :func:`gridmap.schema.rules.check_rows` first, then against the stored rows (keys
already taken, references to rows that do not exist, rows others still refer to), and recorded
in the history table with the values it replaced. Feature ids come from SQLite's AUTOINCREMENT,
so they are never reused.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import ConstraintError, InputError
from gridmap.schema import (
    LAYERS,
    STORAGE_CRS,
    STORAGE_EPSG,
    Layer,
    get_layer,
    provenance,
    referring,
    rules,
)
from gridmap.store.base import Bbox, Transaction
from gridmap.store.gpkg import encoding
from gridmap.store.gpkg import rows as stored_rows
from gridmap.store.gpkg.ddl import AUDIT_TABLE, HISTORY_TABLE, META_TABLE
from gridmap.store.gpkg.values import column_to_sql, ident, now_text

if TYPE_CHECKING:
    from gridmap.store.gpkg.workspace import GeoPackageWorkspace

#: From this many rows on, an insert fills the R-tree itself instead of through the trigger.
BULK_ROWS = 64


class GpkgTransaction(Transaction):
    """One transaction on the thread's connection; see :class:`gridmap.store.base.Transaction`."""

    def __init__(
        self,
        ws: GeoPackageWorkspace,
        conn: sqlite3.Connection,
        *,
        user: str,
        action: str,
        tz: str,
        area: Callable[[], BaseGeometry | None],
    ) -> None:
        self.ws = ws
        self.conn = conn
        self.user = user
        self.action = action
        self.tz = tz
        self._area_of = area
        self._area: BaseGeometry | bool | None = False  # False: not looked up yet
        self.touched: dict[str, int] = {}
        #: Whether a write was asked for (an audit row is kept even when it changed nothing).
        self.asked = False
        self.tx_id: int | None = None
        self.now = now_text()

    # -- reading ----------------------------------------------------------------------------

    def read(
        self,
        layer: str,
        *,
        bbox: Bbox | None = None,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
        after: int | None = None,
    ) -> pd.DataFrame:
        """Read as :meth:`GeoPackageWorkspace.read`, on this transaction's connection."""
        return self.ws.read(layer, bbox=bbox, where=where, limit=limit, offset=offset, after=after)

    # -- bookkeeping --------------------------------------------------------------------------

    def _tx(self) -> int:
        """Return this transaction's audit-row id, writing the row on first use."""
        if self.tx_id is None:
            cur = self.conn.execute(
                f"INSERT INTO {ident(AUDIT_TABLE)} (at, user, action, layers, rows, detail) "
                "VALUES (?, ?, ?, '', 0, '{}')",
                (self.now, self.user, self.action),
            )
            self.tx_id = int(cur.lastrowid or 0)
        return self.tx_id

    def _touch(self, layer: str, n: int) -> None:
        if n:
            self.touched[layer] = self.touched.get(layer, 0) + n

    def _history(self, rows: list[tuple[Any, ...]]) -> None:
        """Record (layer, fid, fid_last, op, version, before, after) rows."""
        if rows:
            tx = self._tx()
            self.conn.executemany(
                f"INSERT INTO {ident(HISTORY_TABLE)} "
                "(tx, layer, fid, fid_last, op, version, before, after) VALUES (?,?,?,?,?,?,?,?)",
                [(tx, *r) for r in rows],
            )

    def area(self) -> BaseGeometry | None:
        """Return the workspace area that new geometries must lie near (None: no community)."""
        if self._area is False:
            self._area = self._area_of()
        return self._area if isinstance(self._area, BaseGeometry) else None

    # -- checks -------------------------------------------------------------------------------

    def _check(
        self,
        schema: Layer,
        frame: pd.DataFrame,
        *,
        partial: bool = False,
        source: str | None = None,
    ) -> pd.DataFrame:
        if not isinstance(frame, pd.DataFrame):
            raise InputError(f"Rows for layer '{schema.name}' must be a DataFrame.")
        if not partial:
            frame = frame.copy(deep=False)
            frame.index = pd.RangeIndex(1, len(frame) + 1)
        area = self.area() if schema.geometry else None
        return rules.check_rows(frame, schema, partial=partial, source=source, area=area)

    def _sql_values(
        self, schema: Layer, checked: pd.DataFrame
    ) -> tuple[list[str], list[list[Any]], np.ndarray | None]:
        """Return the column names, their values in storage form, and the geometries."""
        names = [c.name for c in schema.columns if c.name in checked.columns]
        values = [column_to_sql(checked[n], schema.column(n).type, self.tz) for n in names]
        geoms = None
        if schema.geometry and isinstance(checked, gpd.GeoDataFrame):
            geoms = np.asarray(checked.geometry.values, dtype=object)  # on the grid: rules.py
            if schema.geometry == "MULTIPOLYGON":
                single = shapely.get_type_id(geoms) == 3
                geoms[single] = [shapely.MultiPolygon([g]) for g in geoms[single]]
            values.insert(0, encoding.encode(geoms, STORAGE_EPSG))
            names.insert(0, "geom")
        return names, values, geoms

    # -- inserting ------------------------------------------------------------------------------

    def _insert(self, schema: Layer, checked: pd.DataFrame) -> list[int]:
        """Insert checked rows; the database gives the ids (consecutive within this statement)."""
        if len(checked) == 0:
            return []
        names, values, geoms = self._sql_values(schema, checked)
        if schema.key:
            # the key names the row; row numbers here would not be the spreadsheet's own
            stored_rows.refuse_taken(self.conn, schema, values[names.index(schema.key)])
        stored_rows.refuse_dangling(self.conn, schema, names, values)
        table = ident(schema.name)
        cols = [ident(n) for n in names] + ["version", "updated_at", "updated_by"]
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({stored_rows.marks(len(cols))})"
        rows = [(*r, 1, self.now, self.user) for r in zip(*values, strict=True)]
        bulk = geoms is not None and len(rows) >= BULK_ROWS
        rtree = f"rtree_{schema.name}_geom"
        if bulk:  # the insert trigger calls Python per row; index the batch in one go instead
            self.conn.execute(f"DROP TRIGGER {ident(rtree + '_insert')}")
        self.conn.executemany(sql, rows)
        last = self.conn.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = ?", (schema.name,)
        ).fetchone()[0]
        fids = list(range(last - len(rows) + 1, last + 1))
        if bulk:
            assert geoms is not None
            bounds = shapely.bounds(geoms)
            keep = ~np.isnan(bounds).any(axis=1)
            entries = zip(
                np.asarray(fids)[keep].tolist(),
                *bounds[keep][:, [0, 2, 1, 3]].T.tolist(),
                strict=True,
            )
            self.conn.executemany(f"INSERT INTO {ident(rtree)} VALUES (?, ?, ?, ?, ?)", entries)
            self.conn.execute(encoding.rtree_ddl(schema.name, "geom")[1])
        self._history([(schema.name, fids[0], fids[-1], "insert", 1, None, None)])
        self._touch(schema.name, len(fids))
        return fids

    def append(self, layer: str, frame: pd.DataFrame) -> list[int]:
        """Add rows; see :meth:`gridmap.store.base.Transaction.append`."""
        self.asked = True
        schema = get_layer(layer)
        return self._insert(schema, self._check(schema, frame))

    # -- deleting -------------------------------------------------------------------------------

    def _delete(self, schema: Layer, fids: list[int]) -> int:
        """Delete features (and, first, the rows that belong to them), recording their values."""
        stored = stored_rows.stored(self.conn, schema, fids)
        if not stored:
            return 0
        if schema.key:
            keys = [row[schema.key] for row in stored.values() if row[schema.key] is not None]
            for other, column in referring(schema.name):
                self._delete_referring(schema, other, column.name, column.on_delete, keys)
        ids = list(stored)
        for chunk in stored_rows.chunks(ids):
            self.conn.execute(
                f"DELETE FROM {ident(schema.name)} WHERE fid IN ({stored_rows.marks(len(chunk))})",
                chunk,
            )
        self._history(
            [
                (schema.name, f, None, "delete", row.pop("version"), stored_rows.to_json(row), None)
                for f, row in stored.items()
            ]
        )
        self._touch(schema.name, len(ids))
        return len(ids)

    def _delete_referring(
        self, schema: Layer, other: Layer, column: str, on_delete: str, keys: list[Any]
    ) -> None:
        hits: list[tuple[int, Any]] = []
        for chunk in stored_rows.chunks(keys):
            hits += self.conn.execute(
                f"SELECT fid, {ident(column)} FROM {ident(other.name)} "
                f"WHERE {ident(column)} IN ({stored_rows.marks(len(chunk))})",
                chunk,
            ).fetchall()
        if not hits:
            return
        if on_delete == "cascade":
            self._delete(other, [int(f) for f, _ in hits])
            return
        first = hits[0][1]
        n = sum(1 for _, k in hits if k == first)
        raise ConstraintError(
            f"{schema.key} '{first}' of layer '{schema.name}' ({schema.zh}) is named by {n} "
            f"row(s) of layer '{other.name}' ({other.zh}), which is kept as a record: it cannot "
            f"be deleted ({len(hits)} such rows in all).",
            column=schema.key,
        )

    def delete(
        self,
        layer: str,
        fids: Iterable[int],
        *,
        expected_versions: Mapping[int, int] | None = None,
    ) -> int:
        """Delete features; see :meth:`gridmap.store.base.Transaction.delete`."""
        self.asked = True
        schema = get_layer(layer)
        ids = sorted({int(f) for f in fids})
        if expected_versions:
            stored = stored_rows.stored(self.conn, schema, [int(f) for f in expected_versions])
            for fid, version in expected_versions.items():
                stored_rows.expect_version(schema, int(fid), stored.get(int(fid)), version)
        return self._delete(schema, ids)

    # -- updating -------------------------------------------------------------------------------

    def update(
        self,
        layer: str,
        fid: int,
        values: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> int:
        """Change columns of one feature; see :meth:`gridmap.store.base.Transaction.update`."""
        fid = int(fid)
        versions = None if expected_version is None else {fid: expected_version}
        return self.update_many(layer, {fid: values}, expected_versions=versions)[fid]

    def update_many(
        self,
        layer: str,
        changes: Mapping[int, Mapping[str, Any]],
        *,
        expected_versions: Mapping[int, int] | None = None,
    ) -> dict[int, int]:
        """Change columns of many features at once; return each feature's new version.

        ``changes`` maps feature ids to the values to set (``geometry`` in EPSG:4326 among
        them); the features' other columns stay. Checked as :meth:`update` checks one; much
        faster for thousands (one statement per set of columns changed).
        """
        self.asked = True
        schema = get_layer(layer)
        wanted: dict[int, dict[str, Any]] = {}
        for fid, values in changes.items():
            given = {k: x for k, x in values.items() if k not in rules.SYSTEM_COLUMNS}
            if not given:
                raise InputError(f"Nothing to change in feature {fid} of layer '{layer}'.")
            if "geometry" in given:
                if not schema.geometry:
                    raise InputError(f"Layer '{layer}' has no geometry.")
                if not isinstance(given["geometry"], BaseGeometry):
                    raise InputError(
                        f"Feature {fid} of layer '{layer}' needs a shapely geometry in EPSG:4326 "
                        "(degrees): it cannot lose its geometry."
                    )
            wanted[int(fid)] = given
        stored = stored_rows.stored(self.conn, schema, list(wanted))
        for fid in wanted:
            version = None if expected_versions is None else expected_versions.get(fid)
            stored_rows.expect_version(schema, fid, stored.get(fid), version)
        if layer in provenance.SOURCES:  # a value the user changes is the user's
            wanted = {
                f: provenance.sources_after_edit(layer, stored[f], g) for f, g in wanted.items()
            }
        groups: dict[tuple[str, ...], list[int]] = {}
        for fid, given in wanted.items():
            groups.setdefault(tuple(sorted(given)), []).append(fid)
        new_rows: dict[int, dict[str, Any]] = {}
        for names, fids in groups.items():
            attrs = [n for n in names if n != "geometry"]
            frame: pd.DataFrame = pd.DataFrame(
                {n: [wanted[f][n] for f in fids] for n in attrs}, index=fids
            )
            if "geometry" in names:
                geoms = [wanted[f]["geometry"] for f in fids]
                frame = gpd.GeoDataFrame(frame, geometry=geoms, crs=STORAGE_CRS, index=fids)
            source = f"layer '{layer}', feature {fids[0]}" if len(fids) == 1 else None
            checked = self._check(schema, frame, partial=True, source=source)
            cols, sql_values, _ = self._sql_values(schema, checked)
            for i, fid in enumerate(fids):
                new_rows[fid] = {c: sql_values[j][i] for j, c in enumerate(cols)}
        return self._write_changes(schema, stored, new_rows)

    def _write_changes(
        self,
        schema: Layer,
        stored: Mapping[int, Mapping[str, Any]],
        new_rows: Mapping[int, Mapping[str, Any]],
    ) -> dict[int, int]:
        """Write checked storage values over stored rows; record each change; return versions."""
        out: dict[int, int] = {}
        todo: dict[tuple[str, ...], list[int]] = {}
        for fid, new in new_rows.items():
            old = stored[fid]
            changed = tuple(
                n for n in new if new[n] != old[n] and not stored_rows.same_shape(n, old, new)
            )
            out[fid] = int(old["version"]) + (1 if changed else 0)
            if changed:
                todo.setdefault(changed, []).append(fid)
        key = schema.key
        for changed, fids in todo.items():
            if key in changed:
                keys = [new_rows[f][key] for f in fids]
                moved = set(fids)
                taken = [
                    k
                    for k in stored_rows.taken_keys(self.conn, schema, keys)
                    if k not in {stored[f][key] for f in moved}
                ]
                if taken:
                    stored_rows.refuse_taken(self.conn, schema, taken)
            stored_rows.refuse_dangling(
                self.conn, schema, list(changed), [[new_rows[f][n] for f in fids] for n in changed]
            )
            sets = [f"{ident(n)} = ?" for n in changed]
            sets += ["version = ?", "updated_at = ?", "updated_by = ?"]
            self.conn.executemany(
                f"UPDATE {ident(schema.name)} SET {', '.join(sets)} WHERE fid = ?",
                [
                    (*(new_rows[f][n] for n in changed), out[f], self.now, self.user, f)
                    for f in fids
                ],
            )
            self._history(
                [
                    (
                        schema.name,
                        f,
                        None,
                        "update",
                        out[f],
                        stored_rows.to_json({n: stored[f][n] for n in changed}),
                        stored_rows.to_json({n: new_rows[f][n] for n in changed}),
                    )
                    for f in fids
                ]
            )
            self._touch(schema.name, len(fids))
            if key in changed:
                self._rekey_referring(schema, {stored[f][key]: new_rows[f][key] for f in fids})
        return out

    def _rekey_referring(self, schema: Layer, renamed: Mapping[Any, Any]) -> None:
        """Make the rows that name a renamed key name the new one, recorded like any change.

        (The foreign keys are checked at COMMIT, so parent and children may change in turn.)
        """
        olds = [k for k in renamed if k is not None]
        for other, column in referring(schema.name):
            hits: list[tuple[int, Any]] = []
            for chunk in stored_rows.chunks(olds):
                hits += self.conn.execute(
                    f"SELECT fid, {ident(column.name)} FROM {ident(other.name)} "
                    f"WHERE {ident(column.name)} IN ({stored_rows.marks(len(chunk))})",
                    chunk,
                ).fetchall()
            if hits:
                self.update_many(other.name, {int(f): {column.name: renamed[k]} for f, k in hits})

    # -- replacing ------------------------------------------------------------------------------

    def replace(self, layer: str, frame: pd.DataFrame, *, cascade: bool = False) -> int:
        """Make the layer hold exactly ``frame``; see :meth:`gridmap.store.base.Transaction.replace`."""
        self.asked = True
        schema = get_layer(layer)
        checked = self._check(schema, frame)
        existing = [int(r[0]) for r in self.conn.execute(f"SELECT fid FROM {ident(layer)}")]
        if not schema.key or not existing:
            self._delete(schema, existing)
            self._insert(schema, checked)
            return len(checked)
        names, values, _ = self._sql_values(schema, checked)
        keys = values[names.index(schema.key)]
        stored = stored_rows.stored(self.conn, schema, existing)
        by_key = {row[schema.key]: f for f, row in stored.items()}
        keep = set(keys)
        gone = [f for f, row in stored.items() if row[schema.key] not in keep]
        if not cascade:
            stored_rows.refuse_cascade(self.conn, schema, [stored[f][schema.key] for f in gone])
        self._delete(schema, gone)
        fresh = [i for i, k in enumerate(keys) if k not in by_key]
        kept = {
            by_key[k]: {n: values[j][i] for j, n in enumerate(names)}
            for i, k in enumerate(keys)
            if k in by_key
        }
        self._write_changes(schema, stored, kept)
        self._insert(schema, checked.iloc[fresh])
        return len(checked)

    def _rewrite(self, schema: Layer, fid: int, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Overwrite one stored row with checked storage values (undo uses it)."""
        self._write_changes(schema, {fid: old}, {fid: new})

    # -- settings and the end -------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        """Return every workspace setting as this transaction sees it (its own writes too)."""
        rows = self.conn.execute(f"SELECT key, value FROM {ident(META_TABLE)}").fetchall()
        return {k: json.loads(v) for k, v in rows}

    def content_stamp(self, layers: Iterable[str] | None = None) -> str:
        """Return the stamp of ``layers`` as this transaction sees them (the thread's conn)."""
        return self.ws.content_stamp(layers)

    def set_meta(self, key: str, value: Any) -> None:
        """Set a workspace setting (any JSON value)."""
        self.asked = True
        self.conn.execute(
            f"INSERT OR REPLACE INTO {ident(META_TABLE)} VALUES (?, ?)",
            (key, json.dumps(value, ensure_ascii=False)),
        )

    def finish(self) -> None:
        """Refresh extents and versions of the touched layers and complete the audit row."""
        if not self.touched and not self.asked:
            return
        for layer in self.touched:
            if LAYERS[layer].geometry:
                ext = self.conn.execute(
                    f"SELECT min(minx), min(miny), max(maxx), max(maxy) FROM "
                    f"{ident('rtree_' + layer + '_geom')}"
                ).fetchone()
                self.conn.execute(
                    "UPDATE gpkg_contents SET min_x=?, min_y=?, max_x=?, max_y=?, last_change=? "
                    "WHERE table_name=?",
                    (*ext, self.now, layer),
                )
            else:
                self.conn.execute(
                    "UPDATE gpkg_contents SET last_change=? WHERE table_name=?", (self.now, layer)
                )
            row = self.conn.execute(
                f"SELECT value FROM {ident(META_TABLE)} WHERE key = ?", (f"version:{layer}",)
            ).fetchone()
            self.set_meta(f"version:{layer}", (json.loads(row[0]) if row else 0) + 1)
        self.conn.execute(
            f"UPDATE {ident(AUDIT_TABLE)} SET layers = ?, rows = ?, detail = ? WHERE fid = ?",
            (
                ",".join(self.touched),
                sum(self.touched.values()),
                json.dumps(self.touched),
                self._tx(),
            ),
        )
