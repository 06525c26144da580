"""Workspace files: build a new one out of sight, upgrade an old one, both all or nothing."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from gridmap.errors import InputError, WorkspaceError, WorkspaceExistsError
from gridmap.schema import LAYER_ORDER, LAYERS
from gridmap.store.gpkg import ddl, formats
from gridmap.store.gpkg.values import ident
from gridmap.store.gpkg.workspace import GeoPackageWorkspace, sql_errors


def _temporary(target: Path) -> str:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".gpkg.part", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)
    return tmp


def _remove(tmp: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp + suffix)


def _seal(ws: GeoPackageWorkspace) -> None:
    """Leave the file as one portable file (no ``-wal``), connections closed."""
    ws.journal_mode("delete")
    ws.close()


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
    tmp = _temporary(target)
    ws = GeoPackageWorkspace(tmp, _create=True)
    try:
        yield ws
        _seal(ws)
        os.replace(tmp, target)
    finally:
        ws.close()
        _remove(tmp)


def upgrade(path: str | os.PathLike[str]) -> Path:
    """Bring a workspace made by an older gridmap to the current storage format.

    Every feature keeps its id. A format-1 file is rebuilt: each feature starts at version 1
    with an empty history. Later formats are upgraded in place, keeping versions and history
    (:mod:`gridmap.store.gpkg.formats`). The old file is kept beside the new one as
    ``NAME.formatN.gpkg``; returns that path. Nothing changes when the upgrade fails.
    """
    source = Path(path)
    if not source.exists():
        raise WorkspaceError(f"No workspace at {source}.")
    with sql_errors(source):
        old = sqlite3.connect(source)
        try:
            fmt = dict(old.execute(f"SELECT key, value FROM {ident(ddl.META_TABLE)}")).get(
                "schema_version", "1"
            )
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(f"{source.name} is not a gridmap workspace.") from exc
        finally:
            old.close()
    if int(fmt) >= ddl.FORMAT_VERSION:
        raise InputError(f"{source} is already in the current storage format ({fmt}).")
    kept = source.with_name(f"{source.stem}.format{fmt}.gpkg")
    if int(fmt) >= formats.IN_PLACE_FROM:  # the steps since add tables and columns in place
        tmp = _temporary(kept)
        try:
            return formats.upgrade_in_place(source, kept, int(fmt), tmp)
        finally:
            _remove(tmp)
    _refuse_violations(source)
    tmp = _temporary(source)
    ws = GeoPackageWorkspace(tmp, _create=True)
    try:
        conn = ws._conn()
        with sql_errors(source):
            conn.execute("ATTACH DATABASE ? AS old", (str(source),))
            with ws._begin(conn):
                for name in LAYER_ORDER:
                    layer = LAYERS[name]
                    have = {r[1] for r in conn.execute(f"PRAGMA old.table_info({ident(name)})")}
                    derived = (
                        formats.building_sources_sql(
                            have, meta=f"old.{ident(ddl.META_TABLE)}", history=None
                        )
                        if name == "buildings"
                        else {}
                    )
                    cols = ["fid"] + (["geom"] if layer.geometry else [])
                    cols += [c for c in layer.column_names if c in have or c in derived]
                    values = [derived.get(c) or f"b.{ident(c)}" for c in cols]
                    conn.execute(
                        f"INSERT INTO main.{ident(name)} ({', '.join(map(ident, cols))}) "
                        f"SELECT {', '.join(values)} FROM old.{ident(name)} AS b ORDER BY b.fid"
                    )
                    conn.execute(
                        "UPDATE main.gpkg_contents SET (min_x, min_y, max_x, max_y, last_change) = "
                        "(SELECT min_x, min_y, max_x, max_y, last_change FROM old.gpkg_contents o "
                        "WHERE o.table_name = ?) WHERE table_name = ?",
                        (name, name),
                    )
                conn.execute(
                    f"INSERT OR REPLACE INTO main.{ident(ddl.META_TABLE)} SELECT key, value "
                    f"FROM old.{ident(ddl.META_TABLE)} WHERE key <> 'schema_version'"
                )
                conn.execute(
                    f"INSERT INTO main.{ident(ddl.AUDIT_TABLE)} SELECT * FROM old.{ident(ddl.AUDIT_TABLE)}"
                )
            conn.execute("DETACH DATABASE old")
        _seal(ws)
        os.replace(source, kept)
        os.replace(tmp, source)
    finally:
        ws.close()
        _remove(tmp)
    return kept


def _refuse_violations(source: Path) -> None:
    """Refuse an old file whose rows break rules the new tables enforce, naming them all."""
    found: list[str] = []
    conn = sqlite3.connect(f"file:{urllib.parse.quote(str(source.resolve()))}?mode=ro", uri=True)
    try:
        for name in LAYER_ORDER:
            layer = LAYERS[name]
            have = {r[1] for r in conn.execute(f"PRAGMA table_info({ident(name)})")}
            t = ident(name)
            if layer.key and layer.key in have:
                k = ident(layer.key)
                for key, fids in conn.execute(
                    f"SELECT {k}, group_concat(fid, ', ') FROM {t} WHERE {k} IS NOT NULL "
                    f"GROUP BY {k} HAVING count(*) > 1 LIMIT 5"
                ):
                    found.append(f"{name}: {layer.key} '{key}' is used by features {fids}")
            for column in layer.columns:
                if column.name not in have:
                    continue
                c = ident(column.name)
                bad = f"{c} IS NULL OR {c} = ''" if column.required else None
                if column.choices:
                    listed = ", ".join("'" + x.replace("'", "''") + "'" for x in column.choices)
                    choice = f"({c} IS NOT NULL AND {c} NOT IN ({listed}))"
                    bad = f"{bad} OR {choice}" if bad else choice
                if bad is None:
                    continue
                fids = [r[0] for r in conn.execute(f"SELECT fid FROM {t} WHERE {bad} LIMIT 5")]
                if fids:
                    what = "is empty or not one of its choices" if column.choices else "is empty"
                    found.append(
                        f"{name}: {column.name} {what} in feature(s) {', '.join(map(str, fids))}"
                    )
    finally:
        conn.close()
    if found:
        raise InputError(
            f"{source.name} holds rows that break rules this gridmap keeps, so it cannot be "
            "upgraded as it is: " + "; ".join(found[:10]) + ". Fix them in the old file "
            "(QGIS opens it) and run gridmap upgrade again; nothing was changed."
        )
