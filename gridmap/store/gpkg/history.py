"""The change history of a GeoPackage workspace: list it, show a layer as it was, undo.

Each history row records one change of one feature (a bulk insert: one row for a run of ids)
with the values it replaced (``before``) and the values it wrote (``after``), in storage form
(geometry as the GeoPackage blob in hex). Going back from the current rows through the newer
changes gives a layer as it was after any transaction.
"""

from __future__ import annotations

import bisect
import json
import sqlite3
from typing import TYPE_CHECKING, Any, NoReturn

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import ConflictError, ConstraintError, InputError
from gridmap.schema import STORAGE_CRS, Layer, get_layer, referring
from gridmap.store.gpkg import encoding, rows
from gridmap.store.gpkg.ddl import AUDIT_TABLE, HISTORY_TABLE
from gridmap.store.gpkg.failures import sql_errors
from gridmap.store.gpkg.values import column_from_sql, ident

if TYPE_CHECKING:
    from gridmap.store.gpkg.transaction import GpkgTransaction

_HISTORY_COLUMNS = ("id", "tx", "layer", "fid", "fid_last", "op", "version", "before", "after")


def _load(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    values: dict[str, Any] = json.loads(text)
    if isinstance(values.get("geom"), str):
        values["geom"] = bytes.fromhex(values["geom"])
    return values


def _readable(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return stored values for people: the geometry as WKT under ``geometry``."""
    if values is None:
        return None
    out = dict(values)
    if "geom" in out:
        blob = out.pop("geom")
        geom = None if blob is None else encoding.decode([blob])[0]
        out["geometry"] = None if geom is None else shapely.to_wkt(geom, rounding_precision=7)
    return out


class HistoryMixin:
    """History, as-of and undo for :class:`gridmap.store.gpkg.workspace.GeoPackageWorkspace`."""

    path: Any

    def _conn(self) -> sqlite3.Connection:  # provided by the workspace
        raise NotImplementedError

    def _history_rows(
        self, where: list[str], params: list[Any], *, limit: int | None, ascending: bool = False
    ) -> list[dict[str, Any]]:
        sql = (
            f"SELECT {', '.join('h.' + c for c in _HISTORY_COLUMNS)}, a.user, a.at "
            f"FROM {ident(HISTORY_TABLE)} h JOIN {ident(AUDIT_TABLE)} a ON h.tx = a.fid"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY h.id " + ("ASC" if ascending else "DESC")
        if limit is not None:
            sql += " LIMIT ?"
            params = [*params, int(limit)]
        names = [*_HISTORY_COLUMNS, "user", "at"]
        rows = self._conn().execute(sql, params).fetchall()
        out = []
        for row in rows:
            item = dict(zip(names, row, strict=True))
            item["before"] = _load(item["before"])
            item["after"] = _load(item["after"])
            out.append(item)
        return out

    def history(
        self,
        *,
        layer: str | None = None,
        fid: int | None = None,
        tx: int | None = None,
        limit: int | None = 1000,
    ) -> pd.DataFrame:
        """Return change-history rows, newest first; see the Workspace contract."""
        where: list[str] = []
        params: list[Any] = []
        if layer is not None:
            get_layer(layer)
            where.append("h.layer = ?")
            params.append(layer)
        if fid is not None:
            where.append(
                "(h.fid = ? OR (h.fid_last IS NOT NULL AND ? BETWEEN h.fid AND h.fid_last))"
            )
            params += [int(fid), int(fid)]
        if tx is not None:
            where.append("h.tx = ?")
            params.append(int(tx))
        with sql_errors(self.path):
            rows = self._history_rows(where, params, limit=limit)
        for row in rows:
            row["before"] = _readable(row["before"])
            row["after"] = _readable(row["after"])
        return pd.DataFrame(rows, columns=[*_HISTORY_COLUMNS, "user", "at"])

    def _raw(self, schema: Layer) -> dict[int, dict[str, Any]]:
        names = (["geom"] if schema.geometry else []) + schema.column_names + ["version"]
        rows = self._conn().execute(
            f"SELECT fid, {', '.join(map(ident, names))} FROM {ident(schema.name)}"
        )
        return {int(r[0]): dict(zip(names, r[1:], strict=True)) for r in rows}

    def as_of(self, layer: str, tx: int) -> pd.DataFrame:
        """Return ``layer`` as it was right after transaction ``tx``."""
        schema = get_layer(layer)
        with sql_errors(self.path):
            last = self._conn().execute(f"SELECT max(fid) FROM {ident(AUDIT_TABLE)}").fetchone()[0]
            if last is None or not 0 <= int(tx) <= int(last):
                raise InputError(f"There is no transaction {tx} in the audit log.")
            rows = self._raw(schema)
            newer = self._history_rows(["h.layer = ?", "h.tx > ?"], [layer, int(tx)], limit=None)
        for change in newer:  # newest first: step back one change at a time
            if change["op"] == "insert":
                for f in range(change["fid"], (change["fid_last"] or change["fid"]) + 1):
                    rows.pop(f, None)
            elif change["op"] == "update":
                row = rows.setdefault(change["fid"], {})
                row.update(change["before"] or {})
                row["version"] = int(change["version"]) - 1  # the version before this change
            else:
                row = dict(change["before"] or {})
                row["version"] = change["version"]  # a delete records the version it removed
                rows[change["fid"]] = row
        return _frame(schema, rows)

    def _undone(self, tx: int) -> tuple[set[int], int | None]:
        """Return the transactions after ``tx`` cancelled by an undo (both the undone ones and
        the undos), and the undo of ``tx`` itself if there is one."""
        cancelled: set[int] = set()
        undo_of_tx = None
        for fid, action in self._conn().execute(
            f"SELECT fid, action FROM {ident(AUDIT_TABLE)} WHERE fid > ? AND action LIKE 'undo %'",
            (int(tx),),
        ):
            target = str(action).removeprefix("undo ").strip()
            if target.isdigit():
                if int(target) == int(tx):
                    undo_of_tx = int(fid)
                elif int(target) > int(tx):
                    cancelled |= {int(fid), int(target)}
        return cancelled, undo_of_tx

    def undo(self, tx: int, *, user: str = "system") -> int:
        """Undo transaction ``tx`` in a new transaction; return the new transaction's id.

        Refused (ConflictError) when a feature it changed was changed again by a later
        transaction that is not itself undone, or by another program since.
        """
        with self.transaction(user=user, action=f"undo {tx}") as t:  # type: ignore[attr-defined]
            # every check runs inside the undo's transaction: nothing changes in between
            changes = self._history_rows(["h.tx = ?"], [int(tx)], limit=None)
            if not changes:
                known = t.conn.execute(
                    f"SELECT 1 FROM {ident(AUDIT_TABLE)} WHERE fid = ?", (int(tx),)
                ).fetchone()
                if not known:
                    raise InputError(f"There is no transaction {tx}: `gridmap history` lists them.")
                raise InputError(f"Transaction {tx} changed no feature: there is nothing to undo.")
            cancelled, undo_of_tx = self._undone(tx)
            if undo_of_tx is not None:
                raise ConflictError(f"Transaction {tx} was undone already, by {undo_of_tx}.")
            skip = ",".join(str(c) for c in sorted(cancelled)) or "0"
            later: dict[str, list[tuple[int, int, int]]] = {}
            for layer, first, last, by in t.conn.execute(
                f"SELECT layer, fid, coalesce(fid_last, fid), tx FROM {ident(HISTORY_TABLE)} "
                f"WHERE tx > ? AND tx NOT IN ({skip}) ORDER BY layer, fid",
                (int(tx),),
            ):
                later.setdefault(layer, []).append((int(first), int(last), int(by)))
            starts = {layer: [r[0] for r in runs] for layer, runs in later.items()}
            for change in changes:
                runs = later.get(change["layer"])
                if not runs:
                    continue
                first, last = int(change["fid"]), int(change["fid_last"] or change["fid"])
                # runs start in order; any that starts at or before ``last`` and ends at or after
                # ``first`` overlaps (later runs are few, single features mostly)
                k = bisect.bisect_right(starts[change["layer"]], last)
                hit = next((r for r in runs[:k] if r[1] >= first), None)
                if hit:
                    raise ConflictError(
                        f"Feature {max(first, hit[0])} of layer '{change['layer']}' was changed "
                        f"again by transaction {hit[2]}: undo that one first.",
                        layer=change["layer"],
                        fid=max(first, hit[0]),
                    )
            for group in _groups(changes):  # newest first, in runs of one layer and operation
                _revert_group(t, get_layer(group[0]["layer"]), group)
            return int(t._tx())


def _versions_since(t: GpkgTransaction, layer: str, change: dict[str, Any]) -> dict[int, int]:
    """Return, per feature of ``change``, the version its newest later history row records."""
    first, last = change["fid"], change["fid_last"] or change["fid"]
    out: dict[int, int] = {}
    for fid, version in t.conn.execute(
        f"SELECT fid, version FROM {ident(HISTORY_TABLE)} WHERE layer = ? AND id > ? "
        "AND fid_last IS NULL AND fid BETWEEN ? AND ? ORDER BY id",
        (layer, change["id"], first, last),
    ):
        out[int(fid)] = int(version)
    return out


def _groups(changes: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split changes (newest first) into runs of one layer and operation, each feature once."""
    out: list[list[dict[str, Any]]] = []
    seen: set[int] = set()
    for change in changes:
        last = out[-1][-1] if out else None
        same = last is not None and (last["layer"], last["op"]) == (change["layer"], change["op"])
        if not same or change["fid"] in seen or change["op"] == "insert":
            out.append([])
            seen = set()
        out[-1].append(change)
        seen.add(change["fid"])
    return out


def _newest_versions(t: GpkgTransaction, layer: str, fids: list[int]) -> dict[int, int]:
    """Return the version each feature's newest single-feature history row records."""
    out: dict[int, int] = {}
    for chunk in rows.chunks(fids):
        for fid, version in t.conn.execute(
            f"SELECT fid, version FROM {ident(HISTORY_TABLE)} WHERE layer = ? AND fid_last IS NULL "
            f"AND fid IN ({rows.marks(len(chunk))}) ORDER BY id",
            [layer, *chunk],
        ):
            out[int(fid)] = int(version)
    return out


def _revert_group(t: GpkgTransaction, schema: Layer, group: list[dict[str, Any]]) -> None:
    """Apply the inverse of recorded changes (one layer, one operation) inside transaction ``t``.

    Each gridmap change raises a feature's version by one and leaves a history row; another
    program's edit raises it without one. So a feature whose version is not the one its newest
    history row records was changed by another program since: that is a conflict, as is an
    inserted row that rows added later still refer to. A delete is undone only where the id
    is still free.
    """
    op = group[0]["op"]
    if op == "insert":
        for change in group:
            _revert_insert(t, schema, change)
        return
    fids = [int(c["fid"]) for c in group]
    stored = rows.stored(t.conn, schema, fids)
    if op == "update":
        newest = _newest_versions(t, schema.name, fids)
        new_rows = {}
        for change in group:
            fid = int(change["fid"])
            current = stored.get(fid)
            if current is None or int(current["version"]) != newest.get(fid):
                _changed_elsewhere(schema, fid)
            before = change["before"] or {}
            new_rows[fid] = {**{k: current[k] for k in before}, **before}
        t._write_changes(schema, stored, new_rows)
        return
    taken = [f for f in fids if f in stored]
    if taken:
        _changed_elsewhere(schema, taken[0])
    values = [dict(c["before"] or {}) for c in group]
    names = list(values[0])
    if schema.key and schema.key in names:
        try:
            rows.refuse_taken(t.conn, schema, [v.get(schema.key) for v in values])
        except ConstraintError as exc:
            raise ConstraintError(
                f"A deleted feature cannot come back: {exc.message}", column=schema.key
            ) from exc
    rows.refuse_dangling(t.conn, schema, names, [[v.get(n) for v in values] for n in names])
    cols = ["fid", *names, "version", "updated_at", "updated_by"]
    versions = [int(c["version"] or 0) + 1 for c in group]
    t.conn.executemany(
        f"INSERT INTO {ident(schema.name)} ({', '.join(map(ident, cols))}) "
        f"VALUES ({','.join('?' * len(cols))})",
        [
            [fid, *(v.get(n) for n in names), version, t.now, t.user]
            for fid, v, version in zip(fids, values, versions, strict=True)
        ],
    )
    t._history(
        [
            (schema.name, fid, None, "insert", version, None, None)
            for fid, version in zip(fids, versions, strict=True)
        ]
    )
    t._touch(schema.name, len(fids))


def _revert_insert(t: GpkgTransaction, schema: Layer, change: dict[str, Any]) -> None:
    """Delete what an insert added, unless it changed since or rows added since refer to it."""
    fids = list(range(change["fid"], (change["fid_last"] or change["fid"]) + 1))
    stored = rows.stored(t.conn, schema, fids)
    since = _versions_since(t, schema.name, change)
    for fid, row in stored.items():
        if int(row["version"]) != since.get(fid, int(change["version"] or 1)):
            _changed_elsewhere(schema, fid)
    if schema.key:
        keys = [row[schema.key] for row in stored.values() if row[schema.key] is not None]
        for other, column in referring(schema.name):
            for chunk in rows.chunks(keys):
                hit = t.conn.execute(
                    f"SELECT {ident(column.name)} FROM {ident(other.name)} "
                    f"WHERE {ident(column.name)} IN ({rows.marks(len(chunk))}) LIMIT 1",
                    chunk,
                ).fetchone()
                if hit:
                    raise ConflictError(
                        f"{schema.key} '{hit[0]}' of layer '{schema.name}' is named by rows of "
                        f"'{other.name}' added since: undo or delete those first.",
                        layer=schema.name,
                    )
    t._delete(schema, list(stored))


def _changed_elsewhere(schema: Layer, fid: int) -> NoReturn:
    raise ConflictError(
        f"Feature {fid} of layer '{schema.name}' was changed by another program since: it "
        "cannot be undone safely.",
        layer=schema.name,
        fid=fid,
    )


def _frame(schema: Layer, rows: dict[int, dict[str, Any]]) -> pd.DataFrame:
    fids = sorted(rows)
    index = pd.Index(np.asarray(fids, dtype="int64"), name="fid")
    data = {
        c.name: column_from_sql([rows[f].get(c.name) for f in fids], c.type) for c in schema.columns
    }
    data["version"] = pd.array([rows[f].get("version") for f in fids], dtype="Int64")
    if not schema.geometry:
        return pd.DataFrame(data, index=index)
    geoms = encoding.decode([rows[f].get("geom") for f in fids])
    return gpd.GeoDataFrame(
        data, geometry=gpd.GeoSeries(geoms, index=index), crs=STORAGE_CRS, index=index
    )
