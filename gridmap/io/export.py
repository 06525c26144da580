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
from typing import Any, Literal

import geopandas as gpd
import pandas as pd
import shapely

from gridmap.access import privacy
from gridmap.access.roles import Access, Level, read_level
from gridmap.errors import InputError
from gridmap.io import geojson
from gridmap.io.xlsx import neutralise_formulas, write_xlsx
from gridmap.schema import STORAGE_CRS, choice_titles, get_layer, shapefile_names
from gridmap.store import Workspace

Format = Literal["geojson", "gpkg", "csv", "xlsx", "shp"]
FORMATS: tuple[str, ...] = ("geojson", "gpkg", "csv", "xlsx", "shp")
OSM_NOTICE = "Contains OpenStreetMap data © OpenStreetMap contributors, ODbL 1.0 (https://www.openstreetmap.org/copyright)"
SYNTHETIC_NOTICE = "Rows with source=synthetic are made-up demo data, not real people or events."

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


def notices(frame: pd.DataFrame, masked: bool) -> list[str]:
    """Return the attribution and data notices an export of ``frame`` must carry."""
    sources = set(frame["source"].dropna().unique()) if "source" in frame else set()
    out = []
    if "osm" in sources:
        out.append(OSM_NOTICE)
    if "synthetic" in sources:
        out.append(SYNTHETIC_NOTICE)
    if masked:
        out.append("Personal data is masked in this export.")
    return out


def _local_times(frame: pd.DataFrame, tz: str) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_convert(tz).dt.tz_localize(None)
    return out


def _tabular(frame: pd.DataFrame, geometry: str | None, tz: str) -> pd.DataFrame:
    """Return a plain table: lon/lat for points, centroid lon/lat plus WKT for other shapes."""
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


def _headers(table: pd.DataFrame, layer: str, lang: str) -> pd.DataFrame:
    """Return a table for people: coded values as their titles, Chinese column titles for zh-CN.

    Spreadsheets read back in: imports take titles as well as codes.
    """
    table = table.copy()
    for name in table.columns:
        labels = choice_titles(layer, name)
        if labels:
            pick = 1 if lang == "zh-CN" else 0
            table[name] = [labels[v][pick] if v in labels else v for v in table[name].tolist()]
    if lang == "en":
        return table
    schema = get_layer(layer)
    titles = {c.name: c.zh for c in schema.columns} | {
        "lon": "经度",
        "lat": "纬度",
        "wkt": "几何(WKT)",
    }
    return table.rename(columns=titles)


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
        Who asks: personal data as their role may see it.
    lang
        "en" or "zh-CN": names the columns of CSV and Excel files.
    bbox
        minlon, minlat, maxlon, maxlat in degrees (EPSG:4326); None for the whole layer.
    where
        Keep rows whose columns equal these values (see :meth:`Workspace.read`).
    progress
        Called with (fraction 0-1, English message, Chinese message) as the export goes on.
    cancelled
        Asked between the steps (read, mask, write, rename): when it returns True the export
        raises :class:`ExportCancelled` and leaves no file.

    Returns
    -------
    Path
        ``out``; the files are in EPSG:4326 (lon/lat degrees), times in the workspace's zone.
    """
    step = _Steps(progress, cancelled)
    schema = get_layer(layer)
    path = Path(out)
    zipped = path.suffix.lower() == ".zip"  # a Shapefile is several files: zip them together
    if zipped and fmt in (None, "shp"):
        fmt = "shp"
    elif zipped:
        raise InputError(f"Only a Shapefile is written as a .zip: name the {fmt} file otherwise.")
    fmt = fmt or {
        ".json": "geojson",
        ".geojson": "geojson",
        ".gpkg": "gpkg",
        ".csv": "csv",
        ".xlsx": "xlsx",
        ".shp": "shp",
    }.get(path.suffix.lower())  # type: ignore[assignment]
    if fmt not in FORMATS:
        raise InputError(f"Cannot export to '{path.name}': formats are {', '.join(FORMATS)}.")
    if not schema.geometry and fmt in ("geojson", "shp"):
        raise InputError(f"Layer '{layer}' has no geometry: export it as csv, xlsx or gpkg.")
    tz = ws.get_meta("timezone", geojson.DEFAULT_TZ)
    step(0.0, f"Reading the {schema.en} layer", f"正在读取{schema.zh}")
    # version etc. stay in the workspace
    frame = ws.read(layer, bbox=bbox, where=where, system=False)
    frame = frame.reset_index(drop=True)  # feature ids stay in the workspace
    rows = len(frame)
    step(0.1, f"Preparing {rows:,} rows", f"正在整理 {rows:,} 行")
    masked = schema.has_personal_data and read_level(access, layer) is Level.MASKED
    frame = privacy.present(frame, schema, access)
    schema = privacy.served_layer(schema, access)
    notes = notices(frame, masked)
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
            table = neutralise_formulas(_headers(_tabular(frame, schema.geometry, tz), layer, lang))
            table.to_csv(tmp, index=False, encoding="utf-8-sig")
        elif fmt == "xlsx":
            table = _headers(_tabular(frame, schema.geometry, tz), layer, lang)
            table = table.drop(columns=[c for c in ("wkt", "几何(WKT)") if c in table])
            about = [schema.zh if lang != "en" else schema.en, schema.description, *notes]
            write_xlsx(tmp, table, layer, about)
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
            notes += [f"{short} = {long}" for long, short in names.items() if short != long]
            data = data.rename(columns=names)
            for col in data.columns:
                if pd.api.types.is_datetime64_any_dtype(data[col]):
                    data[col] = data[col].dt.strftime("%Y-%m-%d %H:%M:%S")
            shapes = gpd.GeoDataFrame(data, geometry="geometry", crs=STORAGE_CRS)
            if zipped:
                _zipped_shapefile(shapes, tmp, path.stem, notes)
            else:
                shapes.to_file(tmp, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
        if fmt in ("csv", "shp") and notes and not zipped:
            # beside the data, named so that it never overwrites a file of the user's
            notice = tmp.with_name(f"{tmp.stem}.notice.txt")
            notice.write_text("\n".join(notes) + "\n", encoding="utf-8")
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
