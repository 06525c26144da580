"""Reading a GeoPackage workspace: layers, features by box, filter and page, counts.

A box query narrows with the layer's R-tree and then tests the geometry itself, so a feature is
returned only when its shape intersects the box (OGC API – Features asks for that), not when
only its bounding rectangle does.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import InputError, WorkspaceError
from gridmap.schema import LAYER_ORDER, LAYERS, STORAGE_CRS, Layer, get_layer
from gridmap.store.base import Bbox, LayerInfo
from gridmap.store.conditions import AllOf, Compare, Contains, Missing, NoneOf
from gridmap.store.gpkg import ddl, encoding
from gridmap.store.gpkg.failures import sql_errors
from gridmap.store.gpkg.values import column_from_sql, ident


def _check_bbox(bbox: Bbox) -> Bbox:
    try:
        minx, miny, maxx, maxy = (float(v) for v in bbox)
    except (TypeError, ValueError) as exc:
        raise InputError("A bbox is four numbers: minlon,minlat,maxlon,maxlat.") from exc
    if not all(np.isfinite((minx, miny, maxx, maxy))) or not (minx <= maxx and miny <= maxy):
        raise InputError("A bbox is minlon,minlat,maxlon,maxlat: finite numbers, min <= max.")
    return minx, miny, maxx, maxy


class ReadingMixin:
    """The reading half of :class:`gridmap.store.gpkg.workspace.GeoPackageWorkspace`."""

    path: Path

    def _conn(self) -> sqlite3.Connection:  # provided by the workspace
        raise NotImplementedError

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

    def versions(self, layer: str) -> pd.Series:
        """Return each feature's version by fid; see :meth:`gridmap.store.base.Workspace.versions`."""
        schema = get_layer(layer)
        with sql_errors(self.path):
            rows = (
                self._conn()
                .execute(f"SELECT fid, version FROM {ident(schema.name)} ORDER BY fid")
                .fetchall()
            )
        fids = np.fromiter((r[0] for r in rows), dtype="int64", count=len(rows))
        found = np.fromiter((r[1] for r in rows), dtype="int64", count=len(rows))
        return pd.Series(found, index=pd.Index(fids, name="fid"), name="version")

    def bounds(self) -> Bbox:
        """Return the extent of the workspace; see :meth:`gridmap.store.base.Workspace.bounds`
        (from the layers' extents alone, without counting their rows)."""
        with sql_errors(self.path):
            extents = {
                r[0]: (r[1], r[2], r[3], r[4])
                for r in self._conn().execute(
                    "SELECT table_name, min_x, min_y, max_x, max_y FROM gpkg_contents"
                )
                if r[1] is not None
            }
        for name in ("community", "buildings", "streets"):
            if extents.get(name):
                return extents[name]
        boxes = [extents[n] for n in LAYER_ORDER if n in extents]
        if not boxes:
            raise WorkspaceError("The workspace is empty: import an OSM extract first.")
        arr = np.array(boxes)
        return (arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max())

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
            _condition(f"t.{ident(key)}", value, conds, params)
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
        system: bool = True,
        order: Sequence[tuple[str, bool]] | None = None,
        geometry: bool = True,
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
        shaped = schema.geometry is not None and geometry
        cols = ["t.fid"] + (["t.geom"] if shaped else [])
        cols += [f"t.{ident(c.name)}" for c in wanted]
        if system:
            cols += ["t.version", "t.updated_at", "t.updated_by"]
        with sql_errors(self.path):
            sql, params = self._select(schema, ", ".join(cols), bbox, where, after)
            sql += " ORDER BY " + _order_by(schema, order)
            if limit is not None or offset:
                sql += " LIMIT ? OFFSET ?"
                params += [-1 if limit is None else int(limit), int(offset)]
            rows = self._conn().execute(sql, params).fetchall()
        columns_ = list(zip(*rows, strict=True)) if rows else [() for _ in cols]
        fids = pd.Index(np.asarray(columns_[0], dtype="int64"), name="fid")
        start = 2 if shaped else 1
        data: dict[str, Any] = {
            c.name: column_from_sql(list(columns_[start + i]), c.type) for i, c in enumerate(wanted)
        }
        if system:
            tail = start + len(wanted)
            data["version"] = pd.array(list(columns_[tail]), dtype="Int64")
            data["updated_at"] = column_from_sql(list(columns_[tail + 1]), "datetime")
            data["updated_by"] = pd.array(list(columns_[tail + 2]), dtype=object)
        if not shaped:
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


def _order_by(layer: Layer, order: Sequence[tuple[str, bool]] | None) -> str:
    """Return the ORDER BY terms: the given columns (missing values last), then the id."""
    terms = []
    for name, descending in order or ():
        if name != "fid" and name not in layer.column_names:
            raise InputError(f"Layer '{layer.name}' has no column '{name}' to sort by.")
        terms.append(f"t.{ident(name)} {'DESC' if descending else 'ASC'} NULLS LAST")
    return ", ".join([*terms, "t.fid"])


def _condition(column: str, value: Any, conds: list[str], params: list[Any]) -> None:
    """Add the SQL of one ``where`` entry (a value, a list or a condition) to ``conds``."""
    if isinstance(value, AllOf):
        for part in value.parts:
            _condition(column, part, conds, params)
    elif isinstance(value, Compare):
        conds.append(f"{column} {'<>' if value.op == '!=' else value.op} ?")
        params.append(_sql_param(value.value))
    elif isinstance(value, NoneOf):
        conds.append(f"({column} IS NULL OR {column} NOT IN (SELECT value FROM json_each(?)))")
        params.append(json.dumps([_sql_param(x) for x in value.values], ensure_ascii=False))
    elif isinstance(value, Contains):  # instr, not LIKE: % and _ in the text are plain
        conds.append(f"instr(lower({column}), lower(?)) > 0")
        params.append(value.text)
    elif isinstance(value, Missing):
        conds.append(f"{column} IS {'' if value.missing else 'NOT '}NULL")
    elif isinstance(value, list | tuple | set | frozenset):
        conds.append(f"{column} IN (SELECT value FROM json_each(?))")
        params.append(json.dumps([_sql_param(x) for x in value], ensure_ascii=False))
    else:
        conds.append(f"{column} = ?")
        params.append(_sql_param(value))


def _sql_param(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value
