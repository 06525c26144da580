"""Rows of a GeoPackage workspace as stored, and the checks that need them.

The checks a frame cannot make by itself: a key that the layer already holds, a reference to a
row that does not exist. Values are in storage form (:mod:`gridmap.store.gpkg.values`), the
geometry under ``geom`` as the GeoPackage blob.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

import shapely

from gridmap.errors import ConflictError, ConstraintError, FeatureNotFoundError
from gridmap.schema import LAYERS, Layer, referring
from gridmap.store.gpkg import encoding
from gridmap.store.gpkg.values import ident

#: Parameters per SQL statement stay below SQLite's limit.
CHUNK = 500


def chunks(values: list[Any]) -> Iterable[list[Any]]:
    """Yield ``values`` in slices of at most :data:`CHUNK`."""
    for i in range(0, len(values), CHUNK):
        yield values[i : i + CHUNK]


def marks(n: int) -> str:
    """Return ``n`` SQL parameter marks."""
    return ",".join("?" * n)


def to_json(values: Mapping[str, Any]) -> str:
    """Return stored values as JSON text (blobs as hex)."""
    out = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in values.items()}
    return json.dumps(out, ensure_ascii=False)


def stored(conn: sqlite3.Connection, schema: Layer, fids: list[int]) -> dict[int, dict[str, Any]]:
    """Return the stored values (storage form, ``geom`` as a blob) of features by id."""
    names = (["geom"] if schema.geometry else []) + schema.column_names + ["version"]
    out: dict[int, dict[str, Any]] = {}
    for chunk in chunks(fids):
        for row in conn.execute(
            f"SELECT fid, {', '.join(map(ident, names))} FROM {ident(schema.name)} "
            f"WHERE fid IN ({marks(len(chunk))})",
            chunk,
        ):
            out[int(row[0])] = dict(zip(names, row[1:], strict=True))
    return out


def taken_keys(
    conn: sqlite3.Connection, schema: Layer, keys: list[Any], *, besides: int | None = None
) -> list[Any]:
    """Return which of ``keys`` the layer already holds (in a feature other than ``besides``)."""
    assert schema.key is not None
    taken: list[Any] = []
    for chunk in chunks([k for k in keys if k is not None]):
        sql = (
            f"SELECT {ident(schema.key)} FROM {ident(schema.name)} "
            f"WHERE {ident(schema.key)} IN ({marks(len(chunk))})"
        )
        params: list[Any] = list(chunk)
        if besides is not None:
            sql += " AND fid <> ?"
            params.append(besides)
        taken += [r[0] for r in conn.execute(sql, params)]
    return taken


def refuse_taken(
    conn: sqlite3.Connection,
    schema: Layer,
    keys: list[Any],
    besides: int | None = None,
) -> None:
    """Raise :class:`ConstraintError` when the layer already holds one of ``keys``."""
    if not schema.key:
        return
    taken = sorted(set(taken_keys(conn, schema, keys, besides=besides)), key=str)
    if taken:
        more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
        key_zh = schema.column(schema.key).zh_name
        also = f"（另有 {len(taken) - 1} 个）" if len(taken) > 1 else ""
        raise ConstraintError(
            f"layer '{schema.name}' ({schema.zh}) already has {schema.key} '{taken[0]}'{more}: "
            "each feature needs its own. Add only new rows, or change the existing one. "
            f"({schema.zh}图层中已有{key_zh}为 “{taken[0]}” 的要素{also}，{key_zh}不能重复："
            "请只添加新的要素，或修改已有的要素。)",
            column=schema.key,
        )


def refuse_dangling(
    conn: sqlite3.Connection, schema: Layer, names: list[str], values: list[list[Any]]
) -> None:
    """Refuse rows that refer to a key the referred layer does not hold."""
    for column in schema.references:
        if column.name not in names:
            continue
        assert column.references is not None
        other, key = column.references
        wanted = sorted({x for x in values[names.index(column.name)] if x is not None}, key=str)
        found: set[Any] = set()
        for chunk in chunks(wanted):
            found |= {
                r[0]
                for r in conn.execute(
                    f"SELECT {ident(key)} FROM {ident(other)} "
                    f"WHERE {ident(key)} IN ({marks(len(chunk))})",
                    chunk,
                )
            }
        missing = [w for w in wanted if w not in found]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise ConstraintError(
                f"{column.name} '{missing[0]}'{more} is not in layer '{other}' "
                f"({LAYERS[other].zh}): add the {other} first.",
                column=column.name,
                source=f"layer '{schema.name}'",
            )


def expect_version(
    schema: Layer, fid: int, row: Mapping[str, Any] | None, version: int | None
) -> None:
    """Raise unless the stored ``row`` of feature ``fid`` is at ``version`` (None: any version).

    A missing row is :class:`FeatureNotFoundError`, or :class:`ConflictError` when the caller
    read a version of it (someone deleted it since).
    """
    if row is None:
        if version is not None:
            raise ConflictError(
                f"Feature {fid} of layer '{schema.name}' was deleted after you read it. "
                f"(图层“{schema.name}”的要素 {fid} 在您读取后已被删除。)",
                layer=schema.name,
                fid=fid,
                expected=version,
            )
        raise FeatureNotFoundError(f"Layer '{schema.name}' has no feature {fid}.")
    if version is not None and int(row["version"]) != int(version):
        raise ConflictError(
            f"Feature {fid} of layer '{schema.name}' was changed by someone else after you "
            f"read it (version {row['version']}, you read version {version}): reload it and "
            "make your change again. "
            f"(图层“{schema.name}”的要素 {fid} 在您读取后已被他人修改（现为版本 {row['version']}，"
            f"您读取的是版本 {version}），请重新加载后再修改。)",
            layer=schema.name,
            fid=fid,
            expected=int(version),
            actual=int(row["version"]),
        )


def same_shape(name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Return whether two different geometry blobs hold the same shape, vertex for vertex.

    Snapping to the storage grid may start a ring at another vertex, or run it the other
    way: that is no change. A vertex added on a straight edge is one, though the shape is
    topologically equal: a grid's neighbour gets one where an edited border meets it, so that
    the grids stay a coverage whose shared borders are the same chain of vertices.
    """
    if name != "geom" or old[name] is None or new[name] is None:
        return False
    a, b = shapely.normalize(encoding.decode([old[name], new[name]]))
    return bool(shapely.equals_exact(a, b, tolerance=0))


def refuse_cascade(conn: sqlite3.Connection, schema: Layer, keys: list[Any]) -> None:
    """Refuse a replace that would take other layers' rows along (people of households)."""
    for other, column in referring(schema.name):
        if column.on_delete != "cascade":
            continue  # a restricting reference refuses by itself, with its own message
        n = 0
        for chunk in chunks([k for k in keys if k is not None]):
            n += conn.execute(
                f"SELECT count(*) FROM {ident(other.name)} "
                f"WHERE {ident(column.name)} IN ({marks(len(chunk))})",
                chunk,
            ).fetchone()[0]
        if n:
            raise ConstraintError(
                f"Replacing layer '{schema.name}' ({schema.zh}) would delete {len(keys)} "
                f"of its rows that the new rows lack, and with them {n} row(s) of "
                f"'{other.name}' ({other.zh}) that belong to them. Include those rows in the "
                f"file, or replace '{other.name}' first so that none belong to them.",
            )
