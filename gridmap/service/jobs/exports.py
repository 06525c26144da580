"""Layer exports as jobs: checked and recorded when created, written in the background.

An export takes what the layer pages take to narrow a layer (:mod:`gridmap.service.filters`):
conditions (``where``), grids, feature ids (a selection), and a bounding box. The checks — may
the caller read the layer at all, may they filter by those columns (a masked reader may not
filter by what their view hides), a grid worker's rows narrowed to their grids — and the
audit row of an unmasked export happen when the job is created, with the caller's
:class:`~gridmap.access.roles.Access`, as the layer pages do; the job only writes the file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pandas as pd

from gridmap.access.roles import Access
from gridmap.errors import InputError
from gridmap.io.export import FORMATS, Format, Progress, export_format, export_layer
from gridmap.io.geojson import DEFAULT_TZ
from gridmap.schema import get_layer
from gridmap.service import feature_ids, filters, scope
from gridmap.service.jobs.filenames import ascii_name, choice_of, export_name
from gridmap.service.jobs.runner import Job, JobContext, JobOutput, JobRunner, Work
from gridmap.service.layers import EXPORT_TYPES
from gridmap.store import Bbox, Workspace


@dataclass(frozen=True)
class Selection:
    """What part of a layer to export: conditions, grids, feature ids (all optional).

    ``where`` in the syntax of :mod:`gridmap.service.filters` (all must hold); ``grids`` grid
    codes (``A,B`` or a list); ``ids`` feature ids as the reader is served them (``1,2`` or a
    list; a masked reader's opaque ids: :mod:`gridmap.service.feature_ids`).
    """

    where: tuple[str, ...] = ()
    grids: str | Sequence[str] | None = None
    ids: str | Sequence[int | str] | None = None

    @classmethod
    def of(
        cls,
        where: Sequence[str] | str | None = None,
        grids: str | Sequence[str] | None = None,
        ids: str | Sequence[int | str] | None = None,
    ) -> Selection:
        """Return a selection of request values (a single ``where`` text counts as one)."""
        conds = (where,) if isinstance(where, str) else tuple(where or ())
        for c in conds:
            if not isinstance(c, str):
                raise InputError("where must be text: COLUMN=VALUE. (筛选条件应为文本。)")
        return cls(tuple(c for c in conds if c), grids or None, ids or None)


def export_params(
    layer: str,
    *,
    fmt: str = "xlsx",
    lang: str = "en",
    bbox: Bbox | None = None,
    flt: filters.LayerFilter | None = None,
) -> dict[str, Any]:
    """Check and return the parameters of a layer export (an unknown layer: 404).

    Parameters
    ----------
    layer
        The layer's name.
    fmt
        One of :data:`EXPORT_TYPES`; GeoJSON and Shapefile only for layers with geometry.
    lang
        "zh-CN" words the file in Chinese (titles, values, notes, name); anything else English.
    bbox
        minlon, minlat, maxlon, maxlat in degrees (EPSG:4326); None for the whole layer.
    flt
        The checked filter, if any: its conditions, grids and number of ids are shown.
    """
    schema = get_layer(layer)
    if fmt not in EXPORT_TYPES or fmt not in FORMATS:
        raise InputError(
            f"format must be one of {', '.join(EXPORT_TYPES)}. "
            f"(格式须为 {', '.join(EXPORT_TYPES)} 之一。)"
        )
    if not schema.geometry and fmt in ("geojson", "shp"):
        raise InputError(
            f"Layer '{layer}' has no geometry: export it as csv, xlsx or gpkg. "
            f"(图层“{layer}”没有几何，请导出为 csv、xlsx 或 gpkg。)"
        )
    asked = flt.describe() if flt is not None else {}
    return {
        "layer": layer,
        "format": fmt,
        "lang": "zh-CN" if lang == "zh-CN" else "en",
        "bbox": list(bbox) if bbox else None,
        "where": asked.get("where", []),
        "grids": asked.get("grids", []),
        "ids": asked.get("ids", 0),
    }


def export_filename(
    ws: Workspace,
    layer: str,
    fmt: str,
    *,
    lang: str = "en",
    bbox: Bbox | None = None,
    flt: filters.LayerFilter | None = None,
    ascii_only: bool = False,
) -> str:
    """Return the name an export is saved as (:mod:`gridmap.service.jobs.filenames`).

    The date is today in the workspace's time zone.
    """
    tz = ws.get_meta("timezone", DEFAULT_TZ)
    day = pd.Timestamp.now(tz=tz).date()
    choice = choice_of(
        flt.grids if flt else (), flt.ids if flt else (), bbox, flt.conditions if flt else ()
    )
    return export_name(layer, fmt, lang=lang, day=day, choice=choice, ascii_only=ascii_only)


def _checked(
    ws: Workspace, layer: str, access: Access, bbox: Bbox | None, selection: Selection | None
) -> tuple[filters.LayerFilter, dict[str, Any] | None]:
    """Return the checked filter and the store ``where`` the caller's rows meet."""
    get_layer(layer)  # an unknown layer is 404 first
    scope.require(access, layer)  # then a refused one 401/403, then a bad filter 400
    sel = selection or Selection()
    asked = feature_ids.stored_ids(ws, layer, access, sel.ids)  # a masked reader's tokens
    flt = filters.layer_filter(ws, layer, access, where=sel.where, grids=sel.grids, ids=asked)
    where = scope.scoped_where(ws, access, layer, flt.where)
    scope.check_bbox(access, layer, bbox)  # masked visits: never picked by the place they hide
    return flt, where


def export_work(
    ws: Workspace,
    layer: str,
    *,
    fmt: str = "xlsx",
    lang: str = "en",
    bbox: Bbox | None = None,
    selection: Selection | None = None,
    access: Access,
) -> ExportJob:
    """Check an export of ``layer`` for ``access``; return what to record and what to write.

    The checks (may ``access`` read the layer at all: 401/403; filter by those columns: 400;
    a grid worker's rows narrowed to their grids) happen here; :attr:`ExportJob.record`
    writes the access-log row of an export of unmasked personal data, when the job has its
    place (before any row is read: fail closed), saying what was asked; :attr:`ExportJob.work`
    writes the file in the job's folder.
    """
    export_params(layer, fmt=fmt, lang=lang, bbox=bbox)  # a bad format is 400 first
    flt, where = _checked(ws, layer, access, bbox, selection)
    params = export_params(layer, fmt=fmt, lang=lang, bbox=bbox, flt=flt)
    lang = params["lang"]
    asked = {**({"bbox": list(bbox)} if bbox else {}), **flt.describe()}
    shown = {"format": fmt, **asked}
    filename = export_filename(ws, layer, fmt, lang=lang, bbox=bbox, flt=flt)
    on_disk = ascii_name(
        export_filename(ws, layer, fmt, lang=lang, bbox=bbox, flt=flt, ascii_only=True)
    )
    keep = flt.keep()
    box = bbox if bbox is not None or keep is None else tuple(flt.area.bounds)

    def record() -> None:
        rows = ws.count(layer, bbox=bbox, where=where)
        scope.record(ws, access, layer, rows, action="export", filter=shown)

    def work(ctx: JobContext) -> JobOutput:
        out = export_layer(  # a Shapefile named .zip is written zipped
            ws,
            layer,
            ctx.folder / on_disk,
            fmt=cast(Format, fmt),
            access=access,
            lang=lang,
            bbox=cast(Bbox | None, box),
            where=where,
            keep=keep,
            asked=asked,
            progress=ctx.progress,
            cancelled=ctx.cancelled,
        )
        ctx.progress(1.0, "Ready to download", "可以下载")
        return JobOutput(out, filename, EXPORT_TYPES[fmt])

    return ExportJob(work, record, params, get_layer(layer).has_personal_data)


def export_file(
    ws: Workspace,
    layer: str,
    out: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    lang: str = "en",
    bbox: Bbox | None = None,
    selection: Selection | None = None,
    access: Access,
    action: str = "cli export",
    progress: Progress | None = None,
) -> Path:
    """Check, record and write an export to ``out`` at once (the CLI's way; no job, no limits).

    The same checks as :func:`export_work`; the access-log row (``action``, the file, what
    was asked) is written before any row is read. ``fmt`` defaults to the file's extension.
    """
    path = Path(out)
    fmt = export_format(layer, path, fmt)
    flt, where = _checked(ws, layer, access, bbox, selection)
    asked = {**({"bbox": list(bbox)} if bbox else {}), **flt.describe()}
    keep = flt.keep()
    box = bbox if bbox is not None or keep is None else tuple(flt.area.bounds)
    rows = ws.count(layer, bbox=bbox, where=where)
    scope.record(ws, access, layer, rows, action=action, filter={"file": str(path), **asked})
    return export_layer(
        ws,
        layer,
        path,
        fmt=fmt,
        access=access,
        lang=lang,
        bbox=cast(Bbox | None, box),
        where=where,
        keep=keep,
        asked=asked,
        progress=progress,
    )


@dataclass(frozen=True)
class ExportHead:
    """What an export would be, without building it: its file names and media type."""

    filename: str
    media_type: str
    personal: bool
    #: The name in English words and ASCII characters (the plain ``filename=``).
    ascii_filename: str = ""


def describe_export(
    ws: Workspace,
    layer: str,
    *,
    fmt: str = "xlsx",
    lang: str = "en",
    bbox: Bbox | None = None,
    selection: Selection | None = None,
    access: Access,
) -> ExportHead:
    """Check an export as :func:`export_work` does and describe it, reading no row.

    For HEAD requests: a refused layer or filter is refused (401/403/404/400) as for GET;
    nothing is recorded, since nothing is shown.
    """
    export_params(layer, fmt=fmt, lang=lang, bbox=bbox)
    flt, _ = _checked(ws, layer, access, bbox, selection)
    params = export_params(layer, fmt=fmt, lang=lang, bbox=bbox, flt=flt)
    fmt, lang = params["format"], params["lang"]
    return ExportHead(
        export_filename(ws, layer, fmt, lang=lang, bbox=bbox, flt=flt),
        EXPORT_TYPES[fmt],
        get_layer(layer).has_personal_data,
        export_filename(ws, layer, fmt, lang=lang, bbox=bbox, flt=flt, ascii_only=True),
    )


@dataclass(frozen=True)
class ExportJob:
    """An export, checked: the work that writes it, its audit step, parameters, personal."""

    work: Work
    record: Callable[[], None]
    params: dict[str, Any]
    #: Whether the file holds personal data (its layer has any, masked or not): never cached.
    personal: bool


def start_export(
    runner: JobRunner,
    ws: Workspace,
    layer: str,
    *,
    fmt: str = "xlsx",
    lang: str = "en",
    bbox: Bbox | None = None,
    selection: Selection | None = None,
    access: Access,
) -> Job:
    """Queue an export of ``layer`` as a job of ``access``'s user; see :func:`export_work`.

    Raises :class:`~gridmap.errors.TooManyRequestsError` when the queue is full, and the
    errors of :func:`gridmap.service.scope.require` and
    :func:`gridmap.service.filters.layer_filter` when the layer or filter is refused.
    """
    job = export_work(ws, layer, fmt=fmt, lang=lang, bbox=bbox, selection=selection, access=access)
    return runner.submit(
        access.owner,
        "export",
        job.work,
        params=job.params,
        personal=job.personal,
        prepare=job.record,
    )


def run_export(
    runner: JobRunner,
    ws: Workspace,
    layer: str,
    *,
    fmt: str = "xlsx",
    lang: str = "en",
    bbox: Bbox | None = None,
    selection: Selection | None = None,
    access: Access,
) -> Job:
    """Export ``layer`` in the calling thread within the runner's limits; return the job.

    When no slot is free at once: :class:`~gridmap.errors.TooManyRequestsError`, no waiting.
    The caller sends the file and then :meth:`JobRunner.discard` s the job.
    """
    job = export_work(ws, layer, fmt=fmt, lang=lang, bbox=bbox, selection=selection, access=access)
    return runner.run_now(
        access.owner,
        "export",
        job.work,
        params=job.params,
        personal=job.personal,
        prepare=job.record,
    )
