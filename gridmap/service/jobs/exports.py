"""Layer exports as jobs: checked and recorded when created, written in the background.

The access check and the audit row of an unmasked export happen when the job is created, with
the caller's :class:`~gridmap.access.roles.Access`, as
the layer pages do; the job only writes the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from gridmap.access.roles import Access
from gridmap.errors import InputError
from gridmap.io.export import FORMATS, Format, export_layer
from gridmap.schema import get_layer
from gridmap.service import scope
from gridmap.service.jobs.runner import Job, JobContext, JobOutput, JobRunner, Work
from gridmap.service.layers import EXPORT_TYPES
from gridmap.store import Bbox, Workspace


def export_params(
    layer: str, *, fmt: str = "xlsx", lang: str = "en", bbox: Bbox | None = None
) -> dict[str, Any]:
    """Check and return the parameters of a layer export (an unknown layer: 404).

    Parameters
    ----------
    layer
        The layer's name.
    fmt
        One of :data:`EXPORT_TYPES`; GeoJSON and Shapefile only for layers with geometry.
    lang
        "zh-CN" titles the columns of Excel and CSV files in Chinese; anything else English.
    bbox
        minlon, minlat, maxlon, maxlat in degrees (EPSG:4326); None for the whole layer.
    """
    schema = get_layer(layer)
    if fmt not in EXPORT_TYPES or fmt not in FORMATS:
        raise InputError(f"format must be one of {', '.join(EXPORT_TYPES)}.")
    if not schema.geometry and fmt in ("geojson", "shp"):
        raise InputError(f"Layer '{layer}' has no geometry: export it as csv, xlsx or gpkg.")
    return {
        "layer": layer,
        "format": fmt,
        "lang": "zh-CN" if lang == "zh-CN" else "en",
        "bbox": list(bbox) if bbox else None,
    }


def export_filename(layer: str, fmt: str) -> str:
    """Return the name an export of ``layer`` in ``fmt`` is saved as (a Shapefile: ``.zip``)."""
    return f"{layer}.{'zip' if fmt == 'shp' else fmt}"


def export_work(
    ws: Workspace,
    layer: str,
    *,
    fmt: str = "xlsx",
    lang: str = "en",
    bbox: Bbox | None = None,
    access: Access,
) -> ExportJob:
    """Check an export of ``layer`` for ``access``; return what to record and what to write.

    The checks (may ``access`` read the layer at all: 401/403; a grid worker's rows narrowed
    to their grids) happen here; :attr:`ExportJob.record` writes the access-log row of an
    export of unmasked personal data, when the job has its place (before any row is read:
    fail closed); :attr:`ExportJob.work` writes the file in the job's folder.
    """
    params = export_params(layer, fmt=fmt, lang=lang, bbox=bbox)
    where = scope.scoped_where(ws, access, layer)
    scope.check_bbox(access, layer, bbox)  # masked visits: never picked by the place they hide
    shown = {"format": fmt, **({"bbox": list(bbox)} if bbox else {})}
    filename = export_filename(layer, fmt)

    def record() -> None:
        rows = ws.count(layer, bbox=bbox, where=where)
        scope.record(ws, access, layer, rows, action="export", filter=shown)

    def work(ctx: JobContext) -> JobOutput:
        out = export_layer(  # a Shapefile named .zip is written zipped
            ws,
            layer,
            ctx.folder / filename,
            fmt=cast(Format, fmt),
            access=access,
            lang=params["lang"],
            bbox=bbox,
            where=where,
            progress=ctx.progress,
            cancelled=ctx.cancelled,
        )
        ctx.progress(1.0, "Ready to download", "可以下载")
        return JobOutput(out, filename, EXPORT_TYPES[fmt])

    return ExportJob(work, record, params, get_layer(layer).has_personal_data)


@dataclass(frozen=True)
class ExportHead:
    """What an export would be, without building it: its file name and media type."""

    filename: str
    media_type: str
    personal: bool


def describe_export(
    layer: str,
    *,
    fmt: str = "xlsx",
    lang: str = "en",
    bbox: Bbox | None = None,
    access: Access,
) -> ExportHead:
    """Check an export as :func:`export_work` does and describe it, reading no row.

    For HEAD requests: a refused layer is refused (401/403/404) as for GET; nothing is
    recorded, since nothing is shown.
    """
    params = export_params(layer, fmt=fmt, lang=lang, bbox=bbox)
    scope.require(access, layer)
    return ExportHead(
        export_filename(layer, params["format"]),
        EXPORT_TYPES[params["format"]],
        get_layer(layer).has_personal_data,
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
    access: Access,
) -> Job:
    """Queue an export of ``layer`` as a job of ``access``'s user; see :func:`export_work`.

    Raises :class:`~gridmap.errors.TooManyRequestsError` when the queue is full, and the
    errors of :func:`gridmap.service.scope.require` when the layer may not be read.
    """
    job = export_work(ws, layer, fmt=fmt, lang=lang, bbox=bbox, access=access)
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
    access: Access,
) -> Job:
    """Export ``layer`` in the calling thread within the runner's limits; return the job.

    When no slot is free at once: :class:`~gridmap.errors.TooManyRequestsError`, no waiting.
    The caller sends the file and then :meth:`JobRunner.discard` s the job.
    """
    job = export_work(ws, layer, fmt=fmt, lang=lang, bbox=bbox, access=access)
    return runner.run_now(
        access.owner,
        "export",
        job.work,
        params=job.params,
        personal=job.personal,
        prepare=job.record,
    )
