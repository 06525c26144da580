"""A workspace in one GeoPackage file: what QGIS and GDAL open as it is.

One SQLite connection per thread, opened on first use. Writes happen in
:meth:`GeoPackageWorkspace.transaction` (``BEGIN IMMEDIATE``: the write lock is held from the
start, so reads in the transaction and the writes that depend on them see one snapshot).
While served, the file is in WAL mode so that readers (server threads, QGIS) never block a
commit; :meth:`GeoPackageWorkspace.backup` gives a single-file copy where a portable file is
wanted. Every SQLite failure leaves as a :mod:`gridmap.errors` class (:func:`sql_errors`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import (
    BusyError,
    ConstraintError,
    GridmapError,
    InputError,
    WorkspaceError,
)
from gridmap.schema import LAYER_ORDER, LAYERS, STORAGE_CRS, Layer, get_layer
from gridmap.store.base import Bbox, LayerInfo, Transaction, Workspace
from gridmap.store.gpkg import ddl, encoding
from gridmap.store.gpkg.history import HistoryMixin
from gridmap.store.gpkg.transaction import GpkgTransaction
from gridmap.store.gpkg.values import column_from_sql, ident

DEFAULT_TIMEZONE = "Asia/Shanghai"
#: How long a write waits for another program's write lock before it gives up (BusyError).
BUSY_TIMEOUT_S = 5.0


@contextlib.contextmanager
def sql_errors(path: Path) -> Iterator[None]:
    """Turn SQLite's exceptions into gridmap errors a planner can act on."""
    try:
        yield
    except GridmapError:
        raise
    except sqlite3.IntegrityError as exc:
        raise ConstraintError(_integrity_message(str(exc))) from exc
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            raise BusyError(
                f"The workspace {path.name} is busy: another program (or another editor) is "
                "writing to it. Try again in a moment."
            ) from exc
        if "readonly" in text or "read-only" in text:
            raise WorkspaceError(
                f"The workspace {path.name} is open read-only: it cannot be changed here."
            ) from exc
        raise WorkspaceError(
            f"The workspace {path.name} could not be read or written ({exc})."
        ) from exc
    except sqlite3.DatabaseError as exc:
        raise WorkspaceError(
            f"The workspace {path.name} is damaged or not a GeoPackage ({exc})."
        ) from exc


def _integrity_message(text: str) -> str:
    """Say which rule a write broke, from SQLite's constraint message."""
    if text.startswith("UNIQUE constraint failed: "):
        where = text.split(": ", 1)[1]
        return f"The value of {where} is already used by another feature: each needs its own."
    if text.startswith("NOT NULL constraint failed: "):
        return f"{text.split(': ', 1)[1]} is required and cannot be empty."
    if text.startswith("FOREIGN KEY"):
        return (
            "The change refers to a row that does not exist, or removes one that others refer to."
        )
    if text.startswith("CHECK constraint failed"):
        return f"A value does not fit its column's rule ({text.split(': ', 1)[-1]})."
    return f"The change breaks a rule of the workspace ({text})."


def _check_bbox(bbox: Bbox) -> Bbox:
    try:
        minx, miny, maxx, maxy = (float(v) for v in bbox)
    except (TypeError, ValueError) as exc:
        raise InputError("A bbox is four numbers: minlon,minlat,maxlon,maxlat.") from exc
    if not all(np.isfinite((minx, miny, maxx, maxy))) or not (minx <= maxx and miny <= maxy):
        raise InputError("A bbox is minlon,minlat,maxlon,maxlat: finite numbers, min <= max.")
    return minx, miny, maxx, maxy


class GeoPackageWorkspace(HistoryMixin, Workspace):
    """A workspace stored in one GeoPackage file (SQLite).

    Parameters
    ----------
    path
        The ``.gpkg`` file.
    read_only
        Open the file read-only: any write raises :class:`gridmap.errors.WorkspaceError`.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, read_only: bool = False, _create: bool = False
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if not _create and not self.path.exists():
            raise WorkspaceError(
                f"No workspace at {self.path}. Create one with `gridmap init {self.path} --osm FILE`."
            )
        self._local = threading.local()
        self._all: set[sqlite3.Connection] = set()
        self._lock = threading.Lock()
        self._id: str | None = None
        if _create:
            self._create_tables()
        else:
            self._check()

    # -- connections ---------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                if self.read_only:
                    conn = sqlite3.connect(
                        f"file:{self.path.resolve()}?mode=ro",
                        uri=True,
                        timeout=BUSY_TIMEOUT_S,
                        isolation_level=None,
                        check_same_thread=False,
                    )
                else:
                    conn = sqlite3.connect(
                        self.path,
                        timeout=BUSY_TIMEOUT_S,
                        isolation_level=None,
                        check_same_thread=False,
                    )
                encoding.register_functions(conn)
                conn.execute("PRAGMA foreign_keys = ON")
            except sqlite3.Error as exc:
                raise WorkspaceError(f"Cannot open workspace {self.path}: {exc}") from exc
            self._local.conn = conn
            self._local.tx = None
            with self._lock:
                self._all.add(conn)
        return conn

    def _drop(self, conn: sqlite3.Connection) -> None:
        """Close a connection whose state cannot be trusted any more (a failed rollback)."""
        with contextlib.suppress(sqlite3.Error):
            conn.close()
        with self._lock:
            self._all.discard(conn)
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
            self._local.tx = None

    def close(self) -> None:
        """Close every connection of this workspace (they reopen on next use)."""
        with self._lock:
            conns, self._all = list(self._all), set()
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    @property
    def name(self) -> str:
        """Return the file name without its extension."""
        return self.path.stem

    def journal_mode(self, mode: str | None = None) -> str:
        """Return (and with ``mode``, first set) the file's journal mode: ``wal`` or ``delete``.

        WAL lets readers and one writer work at once (the file then has ``-wal`` and ``-shm``
        companions while open); ``delete`` keeps it one portable file.
        """
        with sql_errors(self.path):
            conn = self._conn()
            if mode is not None:
                if mode not in ("wal", "delete"):
                    raise InputError(f"Unknown journal mode '{mode}': use wal or delete.")
                if mode == "delete":
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                conn.execute(f"PRAGMA journal_mode = {mode.upper()}")
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()

    def backup(self, dest: str | os.PathLike[str]) -> Path:
        """Write a consistent single-file copy of the workspace (no ``-wal``) to ``dest``.

        Safe while others read and write: SQLite's online backup copies one snapshot.
        """
        target = Path(dest)
        tmp = target.with_name(f".{target.name}.part")
        with sql_errors(self.path):
            out = sqlite3.connect(tmp, isolation_level=None)
            try:
                self._conn().backup(out)
                out.execute("PRAGMA journal_mode = DELETE")
            finally:
                out.close()
        os.replace(tmp, target)
        return target

    def _check(self) -> None:
        with sql_errors(self.path):
            try:
                conn = self._conn()
                app_id = conn.execute("PRAGMA application_id").fetchone()[0]
                tables = {r[0] for r in conn.execute("SELECT table_name FROM gpkg_contents")}
            except sqlite3.DatabaseError as exc:
                raise WorkspaceError(f"{self.path} is not a GeoPackage workspace: {exc}") from exc
            if app_id != encoding.APPLICATION_ID or ddl.META_TABLE not in tables:
                raise WorkspaceError(f"{self.path} is a GeoPackage but not a gridmap workspace.")
            fmt = self.meta().get("schema_version", 1)
            if fmt < ddl.FORMAT_VERSION:
                raise WorkspaceError(
                    f"{self.path} was made by an older gridmap (storage format {fmt}; this one "
                    f"writes {ddl.FORMAT_VERSION}, with versions and change history). Upgrade it "
                    f"with `gridmap upgrade {self.path}` (it keeps a copy of the old file)."
                )
            if fmt > ddl.FORMAT_VERSION:
                raise WorkspaceError(
                    f"{self.path} was made by a newer gridmap (storage format {fmt}): update "
                    "gridmap to open it."
                )

    def _create_tables(self) -> None:
        conn = self._conn()
        conn.execute(f"PRAGMA application_id = {encoding.APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {encoding.USER_VERSION}")
        conn.execute("PRAGMA journal_mode = WAL")
        with self._begin(conn):
            for stmt in encoding.CORE_DDL.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            conn.executemany(
                "INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)",
                encoding.SRS_ROWS,
            )
            for name in LAYER_ORDER:
                for sql, params in ddl.layer_statements(LAYERS[name]):
                    conn.execute(sql, params)
            for stmt in ddl.SYSTEM_TABLES_SQL:
                conn.execute(stmt)
            for table, desc in ddl.SYSTEM_TABLE_DESCRIPTIONS.items():
                conn.execute(
                    "INSERT INTO gpkg_contents (table_name, data_type, identifier, description) "
                    "VALUES (?, 'attributes', ?, ?)",
                    (table, table, desc),
                )
            for key, value in (
                ("schema_version", ddl.FORMAT_VERSION),
                ("workspace_id", str(uuid.uuid4())),
                ("timezone", DEFAULT_TIMEZONE),
            ):
                conn.execute(
                    f"INSERT INTO {ident(ddl.META_TABLE)} VALUES (?, ?)", (key, json.dumps(value))
                )

    @contextlib.contextmanager
    def _begin(self, conn: sqlite3.Connection) -> Iterator[None]:
        """Run the block in one SQLite transaction; roll back on any failure, even of COMMIT."""
        with sql_errors(self.path):
            conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            with sql_errors(self.path):
                conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    self._drop(conn)
            raise

    # -- reading --------------------------------------------------------------------------------

    def layers(self) -> list[LayerInfo]:
        """Return count, extent and version of every layer, in drawing order."""
        with sql_errors(self.path):
            conn = self._conn()
            versions = {
                k[len("version:") :]: int(json.loads(v))
                for k, v in conn.execute(
                    f"SELECT key, value FROM {ident(ddl.META_TABLE)} WHERE key LIKE 'version:%'"
                )
            }
            extents = {
                r[0]: (None if r[1] is None else (r[1], r[2], r[3], r[4]))
                for r in conn.execute(
                    "SELECT table_name, min_x, min_y, max_x, max_y FROM gpkg_contents"
                )
            }
            counts = conn.execute(
                "SELECT " + ", ".join(f"(SELECT count(*) FROM {ident(n)})" for n in LAYER_ORDER)
            ).fetchone()
        return [
            LayerInfo(name, int(n), extents.get(name), versions.get(name, 0))
            for name, n in zip(LAYER_ORDER, counts, strict=True)
        ]

    def _bbox_fids(
        self, layer: Layer, bbox: Bbox, conds: list[str], params: list[Any]
    ) -> list[int]:
        """Return the ids of features whose geometry intersects ``bbox``, in id order.

        The R-tree narrows (its boxes are rounded outward, so it never misses); a feature whose
        index box lies inside the query box intersects it for sure; the others are tested on
        their geometry.
        """
        minx, miny, maxx, maxy = _check_bbox(bbox)
        box = shapely.box(minx, miny, maxx, maxy)
        placed = layer if layer.geometry else LAYERS[layer.located_by[0]]  # type: ignore[index]
        rtree = ident(f"rtree_{placed.name}_geom")
        overlap = "r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ?"
        inside = "(r.minx >= ? AND r.maxx <= ? AND r.miny >= ? AND r.maxy <= ?)"
        sql_params = [minx, maxx, miny, maxy, maxx, minx, maxy, miny]
        if layer.geometry:
            sql = (
                f"SELECT t.fid, {inside}, CASE WHEN {inside} THEN NULL ELSE t.geom END "
                f"FROM {ident(layer.name)} t JOIN {rtree} r ON t.fid = r.id WHERE {overlap}"
            )
            sql_params = sql_params[:4] + sql_params
        else:  # people: placed by their household
            other, key = layer.located_by  # type: ignore[misc]
            sql = (
                f"SELECT t.fid, {inside}, CASE WHEN {inside} THEN NULL ELSE o.geom END "
                f"FROM {ident(layer.name)} t JOIN {ident(other)} o ON t.{ident(key)} = o.{ident(key)} "
                f"JOIN {rtree} r ON o.fid = r.id WHERE {overlap}"
            )
            sql_params = sql_params[:4] + sql_params
        if conds:
            sql += " AND " + " AND ".join(conds)
        rows = self._conn().execute(sql + " ORDER BY t.fid", sql_params + params).fetchall()
        if not rows:
            return []
        fids = np.fromiter((r[0] for r in rows), dtype="int64", count=len(rows))
        sure = np.fromiter((bool(r[1]) for r in rows), dtype=bool, count=len(rows))
        test = ~sure
        if test.any():
            geoms = encoding.decode([r[2] for r in rows if not r[1]])
            sure[test] = shapely.intersects(geoms, box)
        return fids[sure].tolist()

    def _where(
        self, layer: Layer, where: Mapping[str, Any] | None, after: int | None
    ) -> tuple[list[str], list[Any]]:
        conds: list[str] = []
        params: list[Any] = []
        for key, value in (where or {}).items():
            if key != "fid" and key not in layer.column_names:
                raise InputError(f"Layer '{layer.name}' has no column '{key}'.")
            if isinstance(value, list | tuple | set | frozenset):
                conds.append(f"t.{ident(key)} IN (SELECT value FROM json_each(?))")
                params.append(json.dumps([_sql_param(x) for x in value], ensure_ascii=False))
            else:
                conds.append(f"t.{ident(key)} = ?")
                params.append(_sql_param(value))
        if after is not None:
            conds.append("t.fid > ?")
            params.append(int(after))
        return conds, params

    def _select(
        self,
        layer: Layer,
        select: str,
        bbox: Bbox | None,
        where: Mapping[str, Any] | None,
        after: int | None,
    ) -> tuple[str, list[Any]]:
        if bbox is not None and not layer.geometry and not layer.located_by:
            raise InputError(
                f"Layer '{layer.name}' has no geometry: it cannot be filtered by bbox."
            )
        conds, params = self._where(layer, where, after)
        if bbox is not None:
            fids = self._bbox_fids(layer, bbox, conds, params)
            conds = ["t.fid IN (SELECT value FROM json_each(?))"]
            params = [json.dumps(fids)]
        sql = f"SELECT {select} FROM {ident(layer.name)} t"
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        return sql, params

    def read(
        self,
        layer: str,
        *,
        bbox: Bbox | None = None,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
        after: int | None = None,
        columns: Iterable[str] | None = None,
    ) -> pd.DataFrame:
        """Read features of ``layer``; see :meth:`gridmap.store.base.Workspace.read`."""
        schema = get_layer(layer)
        wanted = schema.columns
        if columns is not None:
            names = set(columns)
            unknown = names - set(schema.column_names)
            if unknown:
                raise InputError(f"Layer '{layer}' has no column(s) {', '.join(sorted(unknown))}.")
            wanted = tuple(c for c in schema.columns if c.name in names)
        cols = ["t.fid"] + (["t.geom"] if schema.geometry else [])
        cols += [f"t.{ident(c.name)}" for c in wanted]
        cols += ["t.version", "t.updated_at", "t.updated_by"]
        with sql_errors(self.path):
            sql, params = self._select(schema, ", ".join(cols), bbox, where, after)
            sql += " ORDER BY t.fid"
            if limit is not None or offset:
                sql += " LIMIT ? OFFSET ?"
                params += [-1 if limit is None else int(limit), int(offset)]
            rows = self._conn().execute(sql, params).fetchall()
        columns_ = list(zip(*rows, strict=True)) if rows else [() for _ in cols]
        fids = pd.Index(np.asarray(columns_[0], dtype="int64"), name="fid")
        start = 2 if schema.geometry else 1
        data: dict[str, Any] = {
            c.name: column_from_sql(list(columns_[start + i]), c.type) for i, c in enumerate(wanted)
        }
        tail = start + len(wanted)
        data["version"] = pd.array(list(columns_[tail]), dtype="Int64")
        data["updated_at"] = column_from_sql(list(columns_[tail + 1]), "datetime")
        data["updated_by"] = pd.array(list(columns_[tail + 2]), dtype=object)
        if not schema.geometry:
            return pd.DataFrame(data, index=fids)
        geoms = encoding.decode(list(columns_[1]))
        return gpd.GeoDataFrame(
            data, geometry=gpd.GeoSeries(geoms, index=fids), crs=STORAGE_CRS, index=fids
        )

    def count(
        self, layer: str, *, bbox: Bbox | None = None, where: Mapping[str, Any] | None = None
    ) -> int:
        """Return how many features of ``layer`` meet ``bbox`` and ``where``."""
        with sql_errors(self.path):
            sql, params = self._select(get_layer(layer), "count(*)", bbox, where, None)
            return int(self._conn().execute(sql, params).fetchone()[0])

    def meta(self) -> dict[str, Any]:
        """Return every workspace setting."""
        with sql_errors(self.path):
            rows = (
                self._conn().execute(f"SELECT key, value FROM {ident(ddl.META_TABLE)}").fetchall()
            )
        return {k: json.loads(v) for k, v in rows}

    def stamp(self) -> str:
        """Return the workspace id with the size and time of the file and its write-ahead log.

        Edits made by QGIS or GDAL change it too, as does serving another file at the same path.
        """
        if self._id is None:
            self._id = str(self.meta().get("workspace_id") or self.path.resolve())
        parts: list[object] = [self._id]
        for f in (self.path, self.path.with_name(self.path.name + "-wal")):
            with contextlib.suppress(FileNotFoundError):
                st = f.stat()
                parts += [st.st_mtime_ns, st.st_size]
        return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:16]

    def audit_log(self, *, limit: int = 100) -> pd.DataFrame:
        """Return the newest audit-log rows, newest first."""
        with sql_errors(self.path):
            rows = self._conn().execute(
                f"SELECT fid, at, user, action, layers, rows, detail FROM {ident(ddl.AUDIT_TABLE)} "
                "ORDER BY fid DESC LIMIT ?",
                (int(limit),),
            )
            names = [d[0] for d in rows.description]
            return pd.DataFrame(rows.fetchall(), columns=names)

    # -- writing --------------------------------------------------------------------------------

    def _area(self) -> BaseGeometry | None:
        community = self.read("community", columns=())
        if len(community) == 0:
            return None
        return shapely.union_all(community.geometry.values)

    @contextlib.contextmanager
    def transaction(self, *, user: str = "system", action: str = "edit") -> Iterator[Transaction]:
        """Open a transaction; see :meth:`gridmap.store.base.Workspace.transaction`."""
        if self.read_only:
            raise WorkspaceError(f"The workspace {self.path.name} is open read-only.")
        conn = self._conn()
        outer: GpkgTransaction | None = self._local.tx
        if outer is not None:  # nested: join the open transaction through a savepoint
            name = f"gridmap_{uuid.uuid4().hex[:8]}"
            touched = dict(outer.touched)
            with sql_errors(self.path):
                conn.execute(f"SAVEPOINT {name}")
            try:
                yield outer
            except BaseException:
                with sql_errors(self.path):
                    conn.execute(f"ROLLBACK TO {name}")
                    conn.execute(f"RELEASE {name}")
                outer.touched = touched
                raise
            with sql_errors(self.path):
                conn.execute(f"RELEASE {name}")
            return
        tz = str(self.meta().get("timezone", DEFAULT_TIMEZONE))
        tx = GpkgTransaction(self, conn, user=user, action=action, tz=tz, area=self._area)
        self._local.tx = tx
        try:
            with self._begin(conn), sql_errors(self.path):
                yield tx
                tx.finish()
        finally:
            self._local.tx = None


def _sql_param(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value
