"""Export a layer to GeoJSON, GeoPackage, CSV, Excel or Shapefile.

Personal data is served as the reader's :class:`~gridmap.access.roles.Access` may see it (:mod:`gridmap.access.privacy`). Every export
carries the OpenStreetMap attribution and licence where the layer holds OSM data, and says when
rows are synthetic: in the file's metadata where the format has a place for it (GeoJSON member,
GeoPackage layer metadata, an "about" sheet in Excel), else in ``<name>.notice.txt`` beside the file.
Files are written to a temporary name and renamed when complete.

A long export (the register as Excel takes seconds) reports its progress to an optional
``progress(fraction, en, zh)`` callback and asks an optional ``cancelled()`` check between its
steps; a cancelled export raises :class:`ExportCancelled` and leaves no file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, cast

import geopandas as gpd
import pandas as pd
import shapely

from gridmap.access import ids, privacy
from gridmap.access.roles import Access, Level, read_level
from gridmap.errors import InputError
from gridmap.io import geojson
from gridmap.io.export_notes import (
    OSM_NOTICE,
    OSM_NOTICE_ZH,
    SYNTHETIC_NOTICE,
    SYNTHETIC_NOTICE_ZH,
    Notes,
    column_title,
    readable_titles,
    readable_values,
)
from gridmap.io.xlsx import neutralise_formulas, write_xlsx
from gridmap.schema import STORAGE_CRS, Layer, get_layer, shapefile_names
from gridmap.store import Workspace

Format = Literal["geojson", "gpkg", "csv", "xlsx", "shp"]
FORMATS: tuple[str, ...] = ("geojson", "gpkg", "csv", "xlsx", "shp")

#: ``progress(fraction, en, zh)``: how far an export is (0 to 1) and what it does, in English
#: and Chinese.
Progress = Callable[[float, str, str], None]
#: ``cancelled()``: whether the export should stop (asked between its steps).
Cancelled = Callable[[], bool]

#: Names of the formats for progress messages (the same in English and Chinese).
FORMAT_TITLES: dict[str, str] = {
    "geojson": "GeoJSON",
    "gpkg": "GeoPackage",
    "csv": "CSV",
    "xlsx": "Excel",
    "shp": "Shapefile",
}


class ExportCancelled(Exception):
    """An export was cancelled before it finished; it left no file.

    Raised only when a caller's ``cancelled()`` said so: that caller (a job) expects it.
    """


class _Steps:
    """The progress reports and cancel checks of one export (both optional)."""

    def __init__(self, progress: Progress | None, cancelled: Cancelled | None) -> None:
        self._progress = progress
        self._cancelled = cancelled

    def __call__(self, fraction: float, en: str, zh: str) -> None:
        """Stop here if the export was cancelled, else report how far it is."""
        if self._cancelled is not None and self._cancelled():
            raise ExportCancelled("The export was cancelled. (导出已取消。)")
        if self._progress is not None:
            self._progress(fraction, en, zh)


def notices(frame: pd.DataFrame, masked: bool, lang: str = "en") -> list[str]:
    """Return the attribution and data notices an export of ``frame`` must carry, in ``lang``."""
    sources = set(frame["source"].dropna().unique()) if "source" in frame else set()
    zh = lang == "zh-CN"
    out = []
    if "osm" in sources:
        out.append(OSM_NOTICE_ZH if zh else OSM_NOTICE)
    if "synthetic" in sources:
        out.append(SYNTHETIC_NOTICE_ZH if zh else SYNTHETIC_NOTICE)
    if masked:
        out.append("个人信息已脱敏。" if zh else "Personal data is masked in this export.")
    return out


def _local_times(frame: pd.DataFrame, tz: str) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_convert(tz).dt.tz_localize(None)
    return out


def _tabular(frame: pd.DataFrame, geometry: str | None, tz: str) -> pd.DataFrame:
    """Return a plain table: lon/lat for points, representative lon/lat plus WKT for others."""
    table = _local_times(pd.DataFrame(frame.drop(columns="geometry", errors="ignore")), tz)
    if geometry == "POINT":
        table["lon"] = frame.geometry.x.round(7)
        table["lat"] = frame.geometry.y.round(7)
    elif geometry:
        centre = frame.geometry.representative_point()
        table["lon"] = centre.x.round(7)
        table["lat"] = centre.y.round(7)
        table["wkt"] = shapely.to_wkt(frame.geometry.values, rounding_precision=7)
    return table


def _readable(table: pd.DataFrame, schema: Layer, lang: str, masked: bool) -> pd.DataFrame:
    """Return a table for people: values and column titles as :mod:`.export_notes` words them.

    Spreadsheets read back in: imports take titles, 是/否 and coded titles as well as codes.
    """
    values = readable_values(table, schema, lang, masked=masked)
    return readable_titles(values, schema, lang)


def _headers(table: pd.DataFrame, layer: str, lang: str) -> pd.DataFrame:
    """Return a stored table of ``layer`` as :func:`_readable` words it (nothing masked)."""
    return _readable(table, get_layer(layer), lang, False)


@contextlib.contextmanager
def _atomic(out: Path, step: _Steps | None = None) -> Iterator[Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=".gridmap-export-", dir=out.parent))
    try:
        tmp = tmpdir / out.name
        yield tmp
        if step is not None:  # the last chance to stop: nothing is in place yet
            step(0.95, "Finishing the file", "正在完成文件")
        for f in tmpdir.iterdir():
            os.replace(f, out.parent / f.name)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def export_format(layer: str, out: str | os.PathLike[str], fmt: str | None = None) -> Format:
    """Return the format an export of ``layer`` to ``out`` is written in, or raise InputError.

    ``fmt``, else the file's extension; a ``.zip`` is a zipped Shapefile; GeoJSON and
    Shapefile only for layers with geometry.
    """
    schema = get_layer(layer)
    path = Path(out)
    zipped = path.suffix.lower() == ".zip"
    if zipped and fmt in (None, "shp"):
        fmt = "shp"
    elif zipped:
        raise InputError(
            f"Only a Shapefile is written as a .zip: name the {fmt} file otherwise. "
            f"(只有 Shapefile 写成 .zip，请为 {fmt} 文件换个扩展名。)"
        )
    fmt = fmt or {
        ".json": "geojson",
        ".geojson": "geojson",
        ".gpkg": "gpkg",
        ".csv": "csv",
        ".xlsx": "xlsx",
        ".shp": "shp",
    }.get(path.suffix.lower())
    if fmt not in FORMATS:
        raise InputError(f"Cannot export to '{path.name}': formats are {', '.join(FORMATS)}.")
    if not schema.geometry and fmt in ("geojson", "shp"):
        raise InputError(
            f"Layer '{layer}' has no geometry: export it as csv, xlsx or gpkg. "
            f"(图层“{layer}”没有几何，请导出为 csv、xlsx 或 gpkg。)"
        )
    return cast(Format, fmt)


def export_layer(
    ws: Workspace,
    layer: str,
    out: str | os.PathLike[str],
    *,
    fmt: Format | None = None,
    access: Access,
    lang: str = "en",
    bbox: tuple[float, float, float, float] | None = None,
    where: Mapping[str, Any] | None = None,
    keep: Callable[[pd.DataFrame], pd.Series] | None = None,
    asked: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> Path:
    """Write ``layer`` of ``ws`` to ``out`` in ``fmt`` (default: from the file extension).

    Parameters
    ----------
    ws
        The workspace.
    layer
        The layer's name.
    out
        The file to write; a Shapefile named ``.zip`` is written zipped.
    fmt
        One of :data:`FORMATS`; default: from the extension of ``out``.
    access
        Who asks: personal data as their role may see it. The caller has checked the read
        and narrowed ``where`` to the reader's rows (:func:`gridmap.service.scope.scoped_where`).
        Files hold no feature ids; a reader of a view with opaque ids gets the rows in token
        order (:mod:`gridmap.access.ids`), not in the stored order that would place them.
    lang
        "en" or "zh-CN": the column titles, values (是/否, 已隐藏, coded titles) and notes of
        CSV and Excel files, and the notes of every format.
    bbox
        minlon, minlat, maxlon, maxlat in degrees (EPSG:4326); None for the whole layer.
    where
        Store conditions the rows must meet (see :meth:`Workspace.read`).
    keep
        A row test the store cannot run (grids chosen for streets:
        :meth:`gridmap.service.filters.LayerFilter.keep`); the layer's geometry in EPSG:4326.
    asked
        What the user asked for, as the notes say it: ``where`` (conditions), ``grids``,
        ``ids`` (how many), ``bbox``.
    progress
        Called with (fraction 0-1, English message, Chinese message) as the export goes on.
    cancelled
        Asked between the steps (read, mask, write — between blocks of rows of an Excel
        file —, rename): when it returns True the export raises :class:`ExportCancelled` and
        leaves no file.

    Returns
    -------
    Path
        ``out``; the files are in EPSG:4326 (lon/lat degrees), times in the workspace's zone.
    """
    step = _Steps(progress, cancelled)
    schema = get_layer(layer)
    path = Path(out)
    fmt = export_format(layer, path, fmt)
    zipped = path.suffix.lower() == ".zip"  # a Shapefile is several files: zip them together
    lang = "zh-CN" if lang == "zh-CN" else "en"
    tz = ws.get_meta("timezone", geojson.DEFAULT_TZ)
    step(0.0, f"Reading the {schema.en} layer", f"正在读取{schema.zh}")
    frame = ws.read(layer, bbox=bbox, where=where, system=False)  # version etc. stay there
    if keep is not None:
        frame = frame[keep(frame).to_numpy(dtype=bool)]
    if privacy.opaque_ids(schema, access) and len(frame):  # the stored order would place rows
        frame = frame.iloc[ids.order(ids.tokens(ws.secret(ids.SECRET), layer, frame.index))]
    frame = frame.reset_index(drop=True)  # feature ids stay in the workspace
    rows = len(frame)
    step(0.1, f"Preparing {rows:,} rows", f"正在整理 {rows:,} 行")
    masked = schema.has_personal_data and read_level(access, layer) is Level.MASKED
    frame = privacy.present(frame, schema, access)
    schema = privacy.served_layer(schema, access)
    notes = notices(frame, masked, lang)
    about = Notes(
        layer=layer,
        rows=rows,
        lang=lang,
        access=access,
        asked=dict(asked) if asked is not None else ({"bbox": list(bbox)} if bbox else {}),
        exported_at=pd.Timestamp.now(tz=tz).strftime("%Y-%m-%d %H:%M"),
        timezone=tz,
        workspace=str(ws.get_meta("title", "") or ""),
        sources=frozenset(frame["source"].dropna().unique()) if "source" in frame else frozenset(),
        columns=[c for c in schema.columns if c.name in frame.columns],
        placed=schema.geometry is not None,
    )
    lines = about.lines()  # the notes of a CSV file or Shapefile
    kind = FORMAT_TITLES[fmt]
    step(
        0.2,
        f"Writing the {kind} file ({rows:,} rows)",
        f"正在写入 {kind} 文件（{rows:,} 行）",
    )
    with _atomic(path, step) as tmp:
        if fmt == "geojson":
            text = geojson.feature_collection(
                frame,
                schema.column_names,
                extra={"name": layer, "attribution": " ".join(notes)},
                tz=tz,
            )
            tmp.write_text(text, encoding="utf-8")
        elif fmt == "csv":
            table = _readable(_tabular(frame, schema.geometry, tz), schema, lang, masked)
            neutralise_formulas(table).to_csv(tmp, index=False, encoding="utf-8-sig")
        elif fmt == "xlsx":
            table = _tabular(frame, schema.geometry, tz).drop(columns="wkt", errors="ignore")
            kinds = {
                column_title(c, lang): c.type
                for c in schema.columns
                if c.type in ("date", "datetime")
            }
            write_xlsx(
                tmp,
                _readable(table, schema, lang, masked),
                schema.zh if lang == "zh-CN" else layer,
                about.pairs(),
                about_sheet="说明" if lang == "zh-CN" else "about",
                kinds=kinds,
                progress=lambda done: step(
                    0.2 + 0.7 * done,
                    f"Writing the {kind} file ({rows:,} rows)",
                    f"正在写入 {kind} 文件（{rows:,} 行）",
                ),
            )
        elif fmt == "gpkg":
            data = _local_times(frame, "UTC") if schema.geometry else frame
            if schema.geometry:
                gpd.GeoDataFrame(data, geometry="geometry", crs=STORAGE_CRS).to_file(
                    tmp,
                    layer=layer,
                    driver="GPKG",
                    engine="pyogrio",
                    layer_metadata={
                        "DESCRIPTION": schema.description,
                        "ATTRIBUTION": " ".join(notes),
                    },
                )
            else:
                import pyogrio

                pyogrio.write_dataframe(
                    pd.DataFrame(data),
                    tmp,
                    layer=layer,
                    driver="GPKG",
                    layer_metadata={
                        "DESCRIPTION": schema.description,
                        "ATTRIBUTION": " ".join(notes),
                    },
                )
        elif fmt == "shp":
            data = _local_times(frame, tz)
            names = shapefile_names([c for c in data.columns if c != "geometry"])
            lines += [f"{short} = {long}" for long, short in names.items() if short != long]
            data = data.rename(columns=names)
            for col in data.columns:
                if pd.api.types.is_datetime64_any_dtype(data[col]):
                    data[col] = data[col].dt.strftime("%Y-%m-%d %H:%M:%S")
            shapes = gpd.GeoDataFrame(data, geometry="geometry", crs=STORAGE_CRS)
            if zipped:
                _zipped_shapefile(shapes, tmp, path.stem, lines)
            else:
                shapes.to_file(tmp, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
        if fmt in ("csv", "shp") and not zipped:
            # beside the data, named so that it never overwrites a file of the user's
            notice = tmp.with_name(f"{tmp.stem}.notice.txt")
            notice.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _zipped_shapefile(shapes: gpd.GeoDataFrame, target: Path, stem: str, notes: list[str]) -> None:
    """Write ``shapes`` as ``stem.shp`` (and its .shx, .dbf, .prj, .cpg) zipped into ``target``."""
    import tempfile
    import zipfile

    with tempfile.TemporaryDirectory(prefix=".gridmap-shp-") as folder:
        shp = Path(folder) / f"{stem}.shp"
        shapes.to_file(shp, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
        if notes:
            shp.with_name(f"{stem}.notice.txt").write_text(
                "\n".join(notes) + "\n", encoding="utf-8"
            )
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for part in sorted(Path(folder).iterdir()):
                zf.write(part, part.name)
