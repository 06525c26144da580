"""The workspace: every layer of one area, its street graph, settings and audit log.

This is the only module that opens storage. :class:`Workspace` is the interface the rest of
gridmap uses; :class:`GeoPackageWorkspace` implements it on one GeoPackage file that QGIS and
GDAL open as it is. A PostGIS backend (many editors, a whole city) can implement the same
interface later; :func:`open_workspace` picks the backend.

Every change happens in one SQLite transaction (:meth:`Workspace.transaction`), together with
its audit-log row: a failed or interrupted change leaves the workspace as it was. A new
workspace is built in a temporary file and moved into place only when complete
(:func:`building`). Geometry is stored in EPSG:4326.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import sqlite3
import tempfile
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import FeatureNotFoundError, InputError, WorkspaceError, WorkspaceExistsError
from gridmap.schema import (
    LAYER_ORDER,
    LAYERS,
    STORAGE_CRS,
    STORAGE_EPSG,
    STORAGE_PRECISION_DEG,
    Layer,
    get_layer,
)
from gridmap.store.gpkg import encoding as geopackage

Bbox = tuple[float, float, float, float]

_SQL_TYPES = {
    "int": "INTEGER",
    "float": "REAL",
    "str": "TEXT",
    "bool": "BOOLEAN",
    "date": "DATE",
    "datetime": "DATETIME",
}
META_TABLE = "gridmap_meta"
AUDIT_TABLE = "gridmap_audit"
DEFAULT_TIMEZONE = "Asia/Shanghai"
#: From this many rows on, an insert fills the R-tree itself instead of through the trigger.
BULK_ROWS = 64


@dataclass(frozen=True)
class LayerInfo:
    """What a workspace holds in one layer: feature count and extent (lon/lat degrees)."""

    name: str
    count: int
    bounds: Bbox | None
    version: int


class Transaction(ABC):
    """The writes of one transaction; see :meth:`Workspace.transaction`."""

    @abstractmethod
    def replace(self, layer: str, frame: pd.DataFrame) -> int:
        """Replace every row of ``layer`` with ``frame``; return the number of rows written."""

    @abstractmethod
    def append(self, layer: str, frame: pd.DataFrame) -> list[int]:
        """Append ``frame`` to ``layer``; return the new feature ids."""

    @abstractmethod
    def update(self, layer: str, fid: int, values: dict[str, Any]) -> None:
        """Change some attributes (or ``geometry``) of one feature."""

    @abstractmethod
    def delete(self, layer: str, fids: Iterable[int]) -> int:
        """Delete features by id; return how many were deleted."""

    @abstractmethod
    def set_meta(self, key: str, value: Any) -> None:
        """Set a workspace setting (any JSON value)."""


class Workspace(ABC):
    """A gridmap workspace: the layers of :mod:`gridmap.schema`, settings and audit log."""

    @property
    @abstractmethod
    def name(self) -> str:
        """Return a short name for the workspace."""

    @abstractmethod
    def layers(self) -> list[LayerInfo]:
        """Return count, extent and version of every layer, in drawing order."""

    @abstractmethod
    def read(
        self,
        layer: str,
        *,
        bbox: Bbox | None = None,
        where: dict[str, Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """Read features of ``layer`` as a GeoDataFrame in EPSG:4326 indexed by feature id.

        ``bbox`` (minlon, minlat, maxlon, maxlat) keeps features whose extent meets the box;
        ``where`` keeps rows whose columns equal the given values. The attribute-only layer
        ``people`` comes back as a plain DataFrame.
        """

    @abstractmethod
    def count(self, layer: str, *, bbox: Bbox | None = None) -> int:
        """Return how many features of ``layer`` meet ``bbox`` (all when None)."""

    @abstractmethod
    def transaction(
        self, *, user: str = "system", action: str = "edit"
    ) -> contextlib.AbstractContextManager[Transaction]:
        """Open a transaction: all its writes land together with one audit row, or none do."""

    @abstractmethod
    def meta(self) -> dict[str, Any]:
        """Return every workspace setting."""

    @abstractmethod
    def audit_log(self, *, limit: int = 100) -> pd.DataFrame:
        """Return the newest audit-log rows, newest first."""

    @abstractmethod
    def stamp(self) -> str:
        """Return a short text that changes whenever the workspace changes, by any program."""

    # -- conveniences built on the primitives ---------------------------------------------

    def info(self, layer: str) -> LayerInfo:
        """Return count, extent and version of one layer."""
        get_layer(layer)
        for li in self.layers():
            if li.name == layer:
                return li
        raise WorkspaceError(f"Layer '{layer}' is missing from the workspace file.")

    def feature(self, layer: str, fid: int) -> pd.DataFrame:
        """Return the one feature with id ``fid`` as a one-row frame."""
        frame = self.read(layer, where={"fid": int(fid)})
        if frame.empty:
            raise FeatureNotFoundError(f"Layer '{layer}' has no feature {fid}.")
        return frame

    def get_meta(self, key: str, default: Any = None) -> Any:
        """Return one workspace setting."""
        return self.meta().get(key, default)

    def bounds(self) -> Bbox:
        """Return the extent of the workspace: the community layer, else every layer."""
        infos = {li.name: li for li in self.layers()}
        for name in ("community", "buildings", "streets"):
            if infos.get(name) and infos[name].bounds:
                return infos[name].bounds  # type: ignore[return-value]
        boxes = [li.bounds for li in infos.values() if li.bounds]
        if not boxes:
            raise WorkspaceError("The workspace is empty: import an OSM extract first.")
        arr = np.array(boxes)
        return (arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max())

    def area(self) -> BaseGeometry:
        """Return the area the workspace covers (union of communities, else its extent)."""
        community = self.read("community")
        if len(community):
            return shapely.union_all(community.geometry.values)
        return shapely.box(*self.bounds())

    def replace(
        self, layer: str, frame: pd.DataFrame, *, user: str = "system", action: str = "replace"
    ) -> int:
        """Replace a whole layer in its own transaction."""
        with self.transaction(user=user, action=action) as tx:
            return tx.replace(layer, frame)

    def append(
        self, layer: str, frame: pd.DataFrame, *, user: str = "system", action: str = "append"
    ) -> list[int]:
        """Append rows to a layer in its own transaction."""
        with self.transaction(user=user, action=action) as tx:
            return tx.append(layer, frame)

    def street_graph(self, network: str = "walk") -> nx.MultiDiGraph:
        """Return the street graph as an osmnx-style MultiDiGraph in EPSG:4326.

        Nodes are OSM node ids with ``x`` (lon) and ``y`` (lat); edges carry the ``streets``
        columns and ``length`` in metres. ``network`` is ``"walk"`` (every one-way street also
        walkable against its direction) or ``"drive"`` (one-way streets one way only).
        """
        if network not in ("walk", "drive"):
            raise InputError(f"Unknown street network '{network}': use walk or drive.")
        edges = self.read("streets", where={network: True})
        nodes = self.read("street_nodes")
        G = nx.MultiDiGraph(crs=STORAGE_CRS, network=network)
        used = set(edges["u"].astype(int)) | set(edges["v"].astype(int))
        for row in nodes.itertuples():
            if int(row.osmid) in used:
                G.add_node(
                    int(row.osmid),
                    x=row.geometry.x,
                    y=row.geometry.y,
                    street_count=row.street_count,
                )
        present = set(zip(edges["u"].astype(int), edges["v"].astype(int), strict=True))
        for row in edges.itertuples():
            u, v = int(row.u), int(row.v)
            attrs = {
                "osmid": row.osmid,
                "name": row.name,
                "highway": row.highway,
                "oneway": bool(row.oneway),
                "length": float(row.length_m),
                "geometry": row.geometry,
                "fid": int(row.Index),
                "reversed": False,
            }
            G.add_edge(u, v, key=int(row.key), **attrs)
            if network == "walk" and (v, u) not in present:
                back = dict(attrs, geometry=row.geometry.reverse(), reversed=True)
                G.add_edge(v, u, **back)
        return G


# -- value conversion between pandas and SQLite -------------------------------------------------


def _timestamps(series: pd.Series, tz: str) -> pd.Series:
    """Return ``series`` as UTC timestamps; naive values are taken as local time in ``tz``."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    try:
        parsed = pd.to_datetime(series, format="mixed")
    except (ValueError, TypeError):  # a column mixing offsets: parse value by value
        return pd.Series(
            [_one_utc(v, tz) for v in series], index=series.index, dtype="datetime64[ns, UTC]"
        )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_convert("UTC")
    return parsed.dt.tz_localize(tz).dt.tz_convert("UTC")


def _one_utc(value: Any, tz: str) -> pd.Timestamp:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return pd.NaT
    ts = pd.Timestamp(value)
    return (ts if ts.tzinfo else ts.tz_localize(tz)).tz_convert("UTC")


def _column_to_sql(series: pd.Series, kind: str, tz: str) -> list[Any]:
    if kind == "date":
        text = pd.to_datetime(series, format="mixed").dt.strftime("%Y-%m-%d")
        return text.astype(object).where(series.notna(), None).tolist()
    if kind == "datetime":
        text = _timestamps(series, tz).dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
        return text.astype(object).where(series.notna(), None).tolist()
    values = series.astype(object).where(series.notna(), None).tolist()
    if kind == "int":
        return [None if v is None else int(v) for v in values]
    if kind == "float":
        return [None if v is None else float(v) for v in values]
    if kind == "bool":
        return [None if v is None else int(bool(v)) for v in values]
    if kind == "str":
        return [None if v is None else str(v) for v in values]
    raise ValueError(kind)


def _column_from_sql(values: list[Any], kind: str) -> pd.Series:
    if kind == "int":
        return pd.array(values, dtype="Int64")
    if kind == "float":
        return pd.array([np.nan if v is None else v for v in values], dtype="float64")
    if kind == "bool":
        return pd.array([None if v is None else bool(v) for v in values], dtype="boolean")
    if kind == "date":
        return pd.to_datetime(pd.Series(values, dtype=object), format="%Y-%m-%d").array
    if kind == "datetime":
        return pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601").array
    return pd.array(values, dtype=object)


# -- the GeoPackage backend ------------------------------------------------------------------------


class GeoPackageWorkspace(Workspace):
    """A workspace stored in one GeoPackage file (SQLite)."""

    def __init__(self, path: str | os.PathLike[str], *, _create: bool = False) -> None:
        self.path = Path(path)
        if not _create and not self.path.exists():
            raise WorkspaceError(
                f"No workspace at {self.path}. Create one with `gridmap init {self.path} --osm FILE`."
            )
        self._local = threading.local()
        self._id: str | None = None
        if _create:
            self._create_tables()
        else:
            self._check()

    # connections: one per thread, opened on first use

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            except sqlite3.Error as exc:
                raise WorkspaceError(f"Cannot open workspace {self.path}: {exc}") from exc
            geopackage.register_functions(conn)
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection to the file."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @property
    def name(self) -> str:
        """Return the file name without its extension."""
        return self.path.stem

    def _check(self) -> None:
        try:
            conn = self._conn()
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT table_name FROM gpkg_contents")}
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(f"{self.path} is not a GeoPackage workspace: {exc}") from exc
        if app_id != geopackage.APPLICATION_ID or META_TABLE not in tables:
            raise WorkspaceError(f"{self.path} is a GeoPackage but not a gridmap workspace.")

    def _create_tables(self) -> None:
        conn = self._conn()
        conn.execute(f"PRAGMA application_id = {geopackage.APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {geopackage.USER_VERSION}")
        conn.execute("PRAGMA journal_mode = WAL")
        with self._begin(conn):
            for stmt in geopackage.CORE_DDL.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            conn.executemany(
                "INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)",
                geopackage.SRS_ROWS,
            )
            for name in LAYER_ORDER:
                self._create_layer(conn, LAYERS[name])
            conn.execute(f'CREATE TABLE "{META_TABLE}" (key TEXT PRIMARY KEY NOT NULL, value TEXT)')
            conn.execute(
                f'CREATE TABLE "{AUDIT_TABLE}" (fid INTEGER PRIMARY KEY AUTOINCREMENT, '
                "at DATETIME NOT NULL, user TEXT NOT NULL, action TEXT NOT NULL, "
                "layers TEXT, rows INTEGER, detail TEXT)"
            )
            for table, desc in (
                (META_TABLE, "gridmap workspace settings (JSON values)"),
                (AUDIT_TABLE, "gridmap audit log: who changed what, when"),
            ):
                conn.execute(
                    "INSERT INTO gpkg_contents (table_name, data_type, identifier, description) "
                    "VALUES (?, 'attributes', ?, ?)",
                    (table, table, desc),
                )
            conn.execute(
                f'INSERT INTO "{META_TABLE}" VALUES (?, ?)', ("schema_version", json.dumps(1))
            )
            conn.execute(
                f'INSERT INTO "{META_TABLE}" VALUES (?, ?)',
                ("workspace_id", json.dumps(str(uuid.uuid4()))),
            )
            conn.execute(
                f'INSERT INTO "{META_TABLE}" VALUES (?, ?)',
                ("timezone", json.dumps(DEFAULT_TIMEZONE)),
            )

    @staticmethod
    def _create_layer(conn: sqlite3.Connection, layer: Layer) -> None:
        cols = ["fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"]
        if layer.geometry:
            cols.append(f"geom {layer.geometry}")
        cols += [f'"{c.name}" {_SQL_TYPES[c.type]}' for c in layer.columns]
        conn.execute(f'CREATE TABLE "{layer.name}" ({", ".join(cols)})')
        data_type = "features" if layer.geometry else "attributes"
        srs = STORAGE_EPSG if layer.geometry else None
        conn.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
            "VALUES (?, ?, ?, ?, ?)",
            (layer.name, data_type, layer.name, layer.description, srs),
        )
        if layer.geometry:
            conn.execute(
                "INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)",
                (layer.name, layer.geometry, STORAGE_EPSG),
            )
            for stmt in geopackage.rtree_ddl(layer.name, "geom"):
                conn.execute(stmt)
            conn.execute(
                "INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index', "
                "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
                (layer.name,),
            )

    @staticmethod
    @contextlib.contextmanager
    def _begin(conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- reading ----------------------------------------------------------------------------

    def layers(self) -> list[LayerInfo]:
        """Return count, extent and version of every layer, in drawing order."""
        conn = self._conn()
        versions = {
            k[len("version:") :]: int(json.loads(v))
            for k, v in conn.execute(
                f"SELECT key, value FROM \"{META_TABLE}\" WHERE key LIKE 'version:%'"
            )
        }
        extents = {
            r[0]: (None if r[1] is None else (r[1], r[2], r[3], r[4]))
            for r in conn.execute(
                "SELECT table_name, min_x, min_y, max_x, max_y FROM gpkg_contents"
            )
        }
        out = []
        for name in LAYER_ORDER:
            n = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            out.append(LayerInfo(name, n, extents.get(name), versions.get(name, 0)))
        return out

    def _query(
        self,
        layer: Layer,
        select: str,
        bbox: Bbox | None,
        where: dict[str, Any] | None,
    ) -> tuple[str, list[Any]]:
        sql = f'SELECT {select} FROM "{layer.name}" t'
        params: list[Any] = []
        conds = []
        if bbox is not None and not layer.geometry and layer.located_by:
            # an attribute table located through another layer: people by their household
            other, key = layer.located_by
            minx, miny, maxx, maxy = _check_bbox(bbox)
            conds.append(
                f'"{key}" IN (SELECT o."{key}" FROM "{other}" o JOIN "rtree_{other}_geom" r '
                "ON o.fid = r.id WHERE r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ?)"
            )
            params += [maxx, minx, maxy, miny]
        elif bbox is not None:
            if not layer.geometry:
                raise InputError(
                    f"Layer '{layer.name}' has no geometry: it cannot be filtered by bbox."
                )
            minx, miny, maxx, maxy = _check_bbox(bbox)
            sql += f' JOIN "rtree_{layer.name}_geom" r ON t.fid = r.id'
            conds.append("r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ?")
            params += [maxx, minx, maxy, miny]
        for key, value in (where or {}).items():
            if key != "fid" and key not in layer.column_names:
                raise InputError(f"Layer '{layer.name}' has no column '{key}'.")
            if isinstance(value, (list, tuple, set)):
                conds.append(f't."{key}" IN ({",".join("?" * len(value))})')
                params += list(value)
            else:
                conds.append(f't."{key}" = ?')
                params.append(int(value) if isinstance(value, (bool, np.bool_)) else value)
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        return sql, params

    def read(
        self,
        layer: str,
        *,
        bbox: Bbox | None = None,
        where: dict[str, Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """Read features of ``layer``; see :meth:`Workspace.read`."""
        schema = get_layer(layer)
        cols = ["t.fid"] + ([] if not schema.geometry else ["t.geom"])
        cols += [f't."{c}"' for c in schema.column_names]
        sql, params = self._query(schema, ", ".join(cols), bbox, where)
        sql += " ORDER BY t.fid"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            params += [-1 if limit is None else int(limit), int(offset)]
        rows = self._conn().execute(sql, params).fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [[] for _ in cols]
        fids = pd.Index(np.asarray(columns[0], dtype="int64"), name="fid")
        start = 2 if schema.geometry else 1
        data = {
            c.name: _column_from_sql(list(columns[start + i]), c.type)
            for i, c in enumerate(schema.columns)
        }
        if not schema.geometry:
            return pd.DataFrame(data, index=fids)
        geoms = geopackage.decode(list(columns[1]))
        return gpd.GeoDataFrame(
            data, geometry=gpd.GeoSeries(geoms, index=fids), crs=STORAGE_CRS, index=fids
        )

    def count(self, layer: str, *, bbox: Bbox | None = None) -> int:
        """Return how many features of ``layer`` meet ``bbox``."""
        sql, params = self._query(get_layer(layer), "count(*)", bbox, None)
        return int(self._conn().execute(sql, params).fetchone()[0])

    def meta(self) -> dict[str, Any]:
        """Return every workspace setting."""
        rows = self._conn().execute(f'SELECT key, value FROM "{META_TABLE}"').fetchall()
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
        return pd.read_sql_query(
            f'SELECT fid, at, user, action, layers, rows, detail FROM "{AUDIT_TABLE}" '
            "ORDER BY fid DESC LIMIT ?",
            self._conn(),
            params=(limit,),
        )

    # -- writing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, *, user: str = "system", action: str = "edit") -> Iterator[Transaction]:
        """Open a transaction; see :meth:`Workspace.transaction`."""
        conn = self._conn()
        tx = _GpkgTransaction(conn, self.meta().get("timezone", DEFAULT_TIMEZONE))
        with self._begin(conn):
            yield tx
            tx.finish(user, action)


def _check_bbox(bbox: Bbox) -> Bbox:
    try:
        minx, miny, maxx, maxy = (float(v) for v in bbox)
    except (TypeError, ValueError) as exc:
        raise InputError("A bbox is four numbers: minlon,minlat,maxlon,maxlat.") from exc
    if not (minx <= maxx and miny <= maxy) or any(map(np.isnan, (minx, miny, maxx, maxy))):
        raise InputError("A bbox is minlon,minlat,maxlon,maxlat with min <= max.")
    return minx, miny, maxx, maxy


class _GpkgTransaction(Transaction):
    def __init__(self, conn: sqlite3.Connection, tz: str) -> None:
        self.conn = conn
        self.tz = tz
        self.touched: dict[str, int] = {}

    def _rows(
        self, layer: Layer, frame: pd.DataFrame
    ) -> tuple[list[str], list[tuple[Any, ...]], np.ndarray | None]:
        missing = [c for c in layer.required_columns if c not in frame.columns]
        if missing:
            raise InputError(f"Layer '{layer.name}' needs the column(s) {', '.join(missing)}.")
        names = [c.name for c in layer.columns if c.name in frame.columns]
        values = [_column_to_sql(frame[n], layer.column(n).type, self.tz) for n in names]
        cols = [f'"{n}"' for n in names]
        arr = None
        if layer.geometry:
            if not isinstance(frame, gpd.GeoDataFrame):
                raise InputError(f"Layer '{layer.name}' needs geometry.")
            geoms = frame.geometry
            if frame.crs is not None and not frame.crs.equals(STORAGE_CRS):
                geoms = geoms.to_crs(STORAGE_CRS)
            arr = shapely.set_precision(
                np.asarray(geoms.values, dtype=object), STORAGE_PRECISION_DEG
            )
            if layer.geometry == "MULTIPOLYGON":
                single = shapely.get_type_id(arr) == 3
                arr[single] = [shapely.MultiPolygon([g]) for g in arr[single]]
            values.insert(0, geopackage.encode(arr, STORAGE_EPSG))
            cols.insert(0, "geom")
        rows = list(zip(*values, strict=True)) if values else [() for _ in range(len(frame))]
        return cols, rows, arr

    def _touch(self, layer: str, n: int) -> None:
        self.touched[layer] = self.touched.get(layer, 0) + n

    def _check_new_keys(self, layer: Layer, frame: pd.DataFrame) -> None:
        """Refuse rows whose key the layer already holds (or that repeat a key among them)."""
        if not layer.key or layer.key not in frame.columns:
            return
        keys = [
            k
            for k in _column_to_sql(frame[layer.key], layer.column(layer.key).type, self.tz)
            if k is not None
        ]
        repeated = sorted(k for k, n in collections.Counter(keys).items() if n > 1)
        taken: list[Any] = []
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            taken += [
                r[0]
                for r in self.conn.execute(
                    f'SELECT "{layer.key}" FROM "{layer.name}" WHERE "{layer.key}" IN ({",".join("?" * len(chunk))})',
                    chunk,
                )
            ]
        clash = repeated or sorted(set(taken))
        if clash:
            more = f" (and {len(clash) - 1} more)" if len(clash) > 1 else ""
            where = "twice among the new rows" if repeated else "in the layer already"
            raise InputError(
                f"Layer '{layer.name}' would hold {layer.key} '{clash[0]}'{more} {where}: add only "
                "new rows, or replace the layer."
            )

    def _insert(self, layer: Layer, frame: pd.DataFrame) -> list[int]:
        """Insert rows with explicit feature ids; bulk inserts fill the R-tree in one go."""
        self._check_new_keys(layer, frame)
        cols, rows, geoms = self._rows(layer, frame)
        seq = self.conn.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = ?", (layer.name,)
        ).fetchone()
        top = self.conn.execute(f'SELECT max(fid) FROM "{layer.name}"').fetchone()[0]
        start = max(seq[0] if seq else 0, top or 0) + 1
        fids = list(range(start, start + len(rows)))
        sql = f'INSERT INTO "{layer.name}" (fid, {", ".join(cols)}) VALUES (?{", ?" * len(cols)})'
        bulk = geoms is not None and len(rows) >= BULK_ROWS
        if bulk:  # the insert trigger calls Python per row; index the batch ourselves instead
            rtree = f"rtree_{layer.name}_geom"
            self.conn.execute(f'DROP TRIGGER "{rtree}_insert"')
        self.conn.executemany(sql, [(f, *row) for f, row in zip(fids, rows, strict=True)])
        if bulk:
            bounds = shapely.bounds(geoms)
            keep = ~np.isnan(bounds).any(axis=1)
            entries = zip(
                np.asarray(fids)[keep].tolist(),
                *bounds[keep][:, [0, 2, 1, 3]].T.tolist(),
                strict=True,
            )
            self.conn.executemany(f'INSERT INTO "{rtree}" VALUES (?, ?, ?, ?, ?)', entries)
            self.conn.execute(geopackage.rtree_ddl(layer.name, "geom")[1])
        self._touch(layer.name, len(rows))
        return fids

    def replace(self, layer: str, frame: pd.DataFrame) -> int:
        schema = get_layer(layer)
        self.conn.execute(f'DELETE FROM "{layer}"')
        return len(self._insert(schema, frame))

    def append(self, layer: str, frame: pd.DataFrame) -> list[int]:
        return self._insert(get_layer(layer), frame)

    def update(self, layer: str, fid: int, values: dict[str, Any]) -> None:
        schema = get_layer(layer)
        geometry = values.pop("geometry", None)
        frame = pd.DataFrame({k: [v] for k, v in values.items()})
        if geometry is not None:
            frame = gpd.GeoDataFrame(frame, geometry=[geometry], crs=STORAGE_CRS)
        unknown = [k for k in values if k not in schema.column_names]
        if unknown:
            raise InputError(f"Layer '{layer}' has no column(s) {', '.join(unknown)}.")
        names = [c for c in frame.columns if c in schema.column_names]
        sets = [f'"{n}" = ?' for n in names]
        params = [_column_to_sql(frame[n], schema.column(n).type, self.tz)[0] for n in names]
        if geometry is not None:
            if not schema.geometry:
                raise InputError(f"Layer '{layer}' has no geometry.")
            sets.insert(0, "geom = ?")
            params.insert(0, self._rows(schema, frame)[1][0][0])
        cur = self.conn.execute(
            f'UPDATE "{layer}" SET {", ".join(sets)} WHERE fid = ?', [*params, int(fid)]
        )
        if cur.rowcount == 0:
            raise FeatureNotFoundError(f"Layer '{layer}' has no feature {fid}.")
        self._touch(layer, 1)

    def delete(self, layer: str, fids: Iterable[int]) -> int:
        get_layer(layer)
        ids = [int(f) for f in fids]
        n = 0
        for f in ids:
            n += self.conn.execute(f'DELETE FROM "{layer}" WHERE fid = ?', (f,)).rowcount
        self._touch(layer, n)
        return n

    def set_meta(self, key: str, value: Any) -> None:
        self.conn.execute(
            f'INSERT OR REPLACE INTO "{META_TABLE}" VALUES (?, ?)',
            (key, json.dumps(value, ensure_ascii=False)),
        )

    def finish(self, user: str, action: str) -> None:
        """Refresh extents and versions of the touched layers and write the audit row."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        for layer in self.touched:
            if LAYERS[layer].geometry:
                ext = self.conn.execute(
                    f'SELECT min(minx), min(miny), max(maxx), max(maxy) FROM "rtree_{layer}_geom"'
                ).fetchone()
                self.conn.execute(
                    "UPDATE gpkg_contents SET min_x=?, min_y=?, max_x=?, max_y=?, last_change=? "
                    "WHERE table_name=?",
                    (*ext, now, layer),
                )
            else:
                self.conn.execute(
                    "UPDATE gpkg_contents SET last_change=? WHERE table_name=?", (now, layer)
                )
            row = self.conn.execute(
                f'SELECT value FROM "{META_TABLE}" WHERE key = ?', (f"version:{layer}",)
            ).fetchone()
            self.set_meta(f"version:{layer}", (json.loads(row[0]) if row else 0) + 1)
        self.conn.execute(
            f'INSERT INTO "{AUDIT_TABLE}" (at, user, action, layers, rows, detail) VALUES (?,?,?,?,?,?)',
            (
                now,
                user,
                action,
                ",".join(self.touched),
                sum(self.touched.values()),
                json.dumps(self.touched),
            ),
        )


def open_workspace(location: str | os.PathLike[str]) -> Workspace:
    """Open an existing workspace (a GeoPackage path; other backends by URL later)."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        raise WorkspaceError("PostGIS workspaces are not supported yet: use a .gpkg file.")
    return GeoPackageWorkspace(location)


@contextlib.contextmanager
def building(
    path: str | os.PathLike[str], *, overwrite: bool = False
) -> Iterator[GeoPackageWorkspace]:
    """Create a new, empty workspace and move it to ``path`` only if the block succeeds.

    The workspace is built in a temporary file beside ``path``; an error or interruption
    leaves ``path`` as it was (absent, or the old workspace when ``overwrite``).
    """
    target = Path(path)
    if target.suffix.lower() != ".gpkg":
        raise InputError(f"A workspace is a GeoPackage file: name it *.gpkg, not '{target.name}'.")
    if target.exists() and not overwrite:
        raise WorkspaceExistsError(f"{target} already exists (use --overwrite to rebuild it).")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".gpkg.part", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)
    ws = GeoPackageWorkspace(tmp, _create=True)
    try:
        yield ws
        conn = ws._conn()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode = DELETE")
        ws.close()
        os.replace(tmp, target)
    finally:
        ws.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp + suffix)
