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
import urllib.parse
import uuid
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import (
    InputError,
    WorkspaceError,
    WorkspaceExistsError,
)
from gridmap.schema import LAYER_ORDER, LAYERS, get_layer
from gridmap.store.base import Transaction, Workspace
from gridmap.store.gpkg import ddl, encoding
from gridmap.store.gpkg.accounts import AccountsMixin
from gridmap.store.gpkg.failures import sql_errors
from gridmap.store.gpkg.history import HistoryMixin
from gridmap.store.gpkg.reading import ReadingMixin
from gridmap.store.gpkg.transaction import GpkgTransaction
from gridmap.store.gpkg.values import ident

DEFAULT_TIMEZONE = "Asia/Shanghai"
#: How long a write waits for another program's write lock before it gives up (BusyError).
BUSY_TIMEOUT_S = 5.0


class GeoPackageWorkspace(AccountsMixin, ReadingMixin, HistoryMixin, Workspace):
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
        self._all: weakref.WeakSet[_Holder] = weakref.WeakSet()
        self._lock = threading.RLock()
        self._id: str | None = None
        self._area_cache: tuple[Any, BaseGeometry | None] | None = None
        if _create:
            self._create_tables()
        else:
            self._check()

    # -- connections ---------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        holder: _Holder | None = getattr(self._local, "holder", None)
        if holder is None or holder.conn is None:
            try:
                if self.read_only:
                    uri = f"file:{urllib.parse.quote(str(self.path.resolve()))}?mode=ro"
                    conn = sqlite3.connect(
                        uri,
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
                raise WorkspaceError(f"Cannot open the workspace {self.path.name}.") from exc
            holder = _Holder(conn, self)
            self._local.holder = holder  # closed when the thread ends (the holder is dropped)
            self._local.tx = None
            with self._lock:
                self._all.add(holder)
        assert holder.conn is not None
        return holder.conn

    def _drop(self, conn: sqlite3.Connection) -> None:
        """Close a connection whose state cannot be trusted any more (a failed rollback)."""
        with self._lock:
            holders = [h for h in self._all if h.conn is conn]
        for h in holders:
            h.close()
        self._local.tx = None

    def _release(self, conn: sqlite3.Connection) -> None:
        """After a transaction: close the connection if :meth:`close` asked for it meanwhile."""
        with self._lock:
            holders = [h for h in self._all if h.conn is conn and h.closing]
        for h in holders:
            h.close()

    def close(self) -> None:
        """Close every connection of this workspace (they reopen on next use).

        A connection in the middle of another thread's transaction is closed when that
        transaction ends, so the transaction finishes (or rolls back) as it would have.
        """
        with self._lock:
            holders = list(self._all)
        for h in holders:
            if h.conn is not None and h.conn.in_transaction:
                h.closing = True
            else:
                h.close()

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

    def backup(self, dest: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write a consistent single-file copy of the workspace (no ``-wal``) to ``dest``.

        Safe while others read and write: SQLite's online backup copies one snapshot. An
        existing ``dest`` is replaced only with ``overwrite``; the workspace itself never.
        """
        target = Path(dest)
        if target.resolve() == self.path.resolve():
            raise InputError("A backup cannot be written over the workspace itself.")
        if target.exists() and not overwrite:
            raise WorkspaceExistsError(f"{target} exists already (use --overwrite to replace it).")
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
                raise WorkspaceError(f"{self.path.name} is not a GeoPackage workspace.") from exc
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
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except sqlite3.Error:
                self._drop(conn)
            raise
        finally:
            self._release(conn)

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

    def content_stamp(self, layers: Iterable[str] | None = None) -> str:
        """Return the workspace id with each layer's count, largest id and sum of versions.

        An insert or delete moves the count or the largest id (ids are never reused), and an
        update moves the sum of versions: gridmap adds 1, and the version trigger does for
        edits by QGIS or GDAL. The access log and the account tables are not layers.
        ``layers``: only these (an unknown name raises LayerNotFoundError). Read on the
        thread's connection: inside a transaction, as the transaction sees them.
        """
        names = LAYER_ORDER if layers is None else [get_layer(n).name for n in layers]
        if self._id is None:
            self._id = str(self.meta().get("workspace_id") or self.path.resolve())
        parts: list[object] = [self._id]
        names = list(LAYER_ORDER)
        if layers is not None:
            wanted = {get_layer(n).name for n in layers}
            names = [n for n in LAYER_ORDER if n in wanted]
            parts.append(",".join(names))
        with sql_errors(self.path):
            conn = self._conn()
            present = {
                r[0] for r in conn.execute("SELECT table_name FROM gpkg_contents").fetchall()
            }
            for name in names:
                if name in present:
                    parts.append(
                        conn.execute(
                            f"SELECT count(*), max(fid), total(version) FROM {ident(name)}"
                        ).fetchone()
                    )
        return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:16]

    def audit_log(
        self, *, limit: int | None = 100, user: str | None = None, layer: str | None = None
    ) -> pd.DataFrame:
        """Return the newest audit-log rows, newest first (of ``user``, changing ``layer``)."""
        where, args = [], []
        if user is not None:
            where.append("user = ?")
            args.append(user)
        if layer is not None:
            where.append("(',' || coalesce(layers, '') || ',') LIKE ?")
            args.append(f"%,{layer},%")
        sql_where = f"WHERE {' AND '.join(where)} " if where else ""
        with sql_errors(self.path):
            rows = self._conn().execute(
                f"SELECT fid, at, user, action, layers, rows, detail FROM {ident(ddl.AUDIT_TABLE)} "
                f"{sql_where}ORDER BY fid DESC LIMIT ?",
                (*args, -1 if limit is None else int(limit)),
            )
            names = [d[0] for d in rows.description]
            return pd.DataFrame(rows.fetchall(), columns=names)

    # -- writing --------------------------------------------------------------------------------

    def _area(self) -> BaseGeometry | None:
        """Return the union of the communities (None without one), cached while unchanged."""
        with sql_errors(self.path):
            mark = (
                self._conn()
                .execute(
                    "SELECT last_change, min_x, min_y, max_x, max_y, (SELECT count(*) FROM community), "
                    "(SELECT max(version) FROM community) FROM gpkg_contents "
                    "WHERE table_name = 'community'"
                )
                .fetchone()
            )
        cached = self._area_cache
        if cached is not None and cached[0] == mark:
            return cached[1]
        community = self.read("community", columns=())
        area = None if len(community) == 0 else shapely.union_all(community.geometry.values)
        self._area_cache = (mark, area)
        return area

    @contextlib.contextmanager
    def transaction(self, *, user: str = "system", action: str = "edit") -> Iterator[Transaction]:
        """Open a transaction; see :meth:`gridmap.store.base.Workspace.transaction`."""
        if self.read_only:
            raise WorkspaceError(f"The workspace {self.path.name} is open read-only.")
        conn = self._conn()
        outer: GpkgTransaction | None = self._local.tx
        if outer is not None:  # nested: join the open transaction through a savepoint
            name = f"gridmap_{uuid.uuid4().hex[:8]}"
            touched, tx_id, asked = dict(outer.touched), outer.tx_id, outer.asked
            with sql_errors(self.path):
                conn.execute(f"SAVEPOINT {name}")
            try:
                yield outer
            except BaseException:
                with sql_errors(self.path):
                    conn.execute(f"ROLLBACK TO {name}")
                    conn.execute(f"RELEASE {name}")
                outer.touched, outer.tx_id, outer.asked = touched, tx_id, asked
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


class _Holder:
    """One thread's connection; closing it when the thread ends (the holder is collected)."""

    def __init__(self, conn: sqlite3.Connection, ws: GeoPackageWorkspace) -> None:
        self.conn: sqlite3.Connection | None = conn
        self.closing = False
        self._ws = weakref.ref(ws)

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        ws = self._ws()
        if ws is not None:
            with ws._lock:
                ws._all.discard(self)

    def __del__(self) -> None:
        self.close()
