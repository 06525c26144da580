"""Printing grid sheets as background jobs (:mod:`gridmap.service.jobs`): checked at once,
drawn and written in the background with progress and cancel.

:func:`print_work` checks a print for an :class:`~gridmap.access.roles.Access` — the paper,
the format, the grids (a grid that does not exist, or is not one of a grid worker's own, is a
404 now, not a failed job later) — and returns the work that draws the sheet and writes the
file into the job's folder. :func:`start_print` queues it (``kind`` ``print``); the job is then
followed, downloaded and cancelled through ``/api/jobs`` like an export. :func:`run_print`
runs it in the calling thread within the same limits (a plain download). A grid sheet holds
no personal data (the register is never drawn), so nothing is written to the access log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from gridmap.access.roles import Access
from gridmap.errors import InputError
from gridmap.print.grids import (
    choose_grids,
    grid_sheet,
    parse_grids,
    sheet_filename,
    workspace_today,
)
from gridmap.print.paper import paper as make_paper
from gridmap.print.render import Progress, render_html, render_pdf
from gridmap.service.jobs import Job, JobContext, JobOutput, JobRunner, Work
from gridmap.store import Workspace

#: The formats a sheet is printed in, and their media types.
PRINT_TYPES: dict[str, str] = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}
#: The share of a print's progress that reading the layers takes (drawing and writing: the rest).
READ_SHARE = 0.08


def print_params(
    grids: str | Sequence[str] | None,
    *,
    paper: str = "A4",
    orientation: str = "landscape",
    lang: str = "zh-CN",
    fmt: str = "pdf",
) -> dict[str, Any]:
    """Check and return the parameters of a print (as a job document shows them).

    ``grids``: codes (a list, or text with commas) or ``all``; ``paper`` A4 or A3;
    ``orientation`` landscape or portrait; ``lang`` zh-CN (else en); ``fmt`` pdf or html.
    """
    sheet_paper = make_paper(paper, orientation)
    if fmt not in PRINT_TYPES:
        raise InputError(f"format must be pdf or html, not '{fmt}'. (格式须为 pdf 或 html。)")
    codes = parse_grids(grids)
    return {
        "grids": "all" if codes is None else codes,
        "paper": sheet_paper.name,
        "orientation": sheet_paper.orientation,
        "lang": "zh-CN" if lang == "zh-CN" else "en",
        "format": fmt,
    }


@dataclass(frozen=True)
class PrintJob:
    """A print, checked: the work that writes it, its parameters, its file's name and type."""

    work: Work
    params: dict[str, Any]
    filename: str
    media_type: str


def _part(progress: Progress, start: float, end: float) -> Progress:
    """Return a progress callback that maps 0 → 1 onto ``start`` → ``end``."""

    def report(fraction: float, en: str, zh: str) -> None:
        progress(start + (end - start) * fraction, en, zh)

    return report


def print_work(
    ws: Workspace,
    access: Access,
    grids: str | Sequence[str] | None,
    *,
    paper: str = "A4",
    orientation: str = "landscape",
    lang: str = "zh-CN",
    fmt: str = "pdf",
    today: date | None = None,
) -> PrintJob:
    """Check a print of ``grids`` for ``access``; return the work that draws and writes it.

    Raises InputError (400) for bad parameters, PermissionDeniedError (403) when the reader
    may not read grids, FeatureNotFoundError (404) for a grid they cannot print.
    """
    params = print_params(grids, paper=paper, orientation=orientation, lang=lang, fmt=fmt)
    choice = choose_grids(ws, access, grids)
    printed = today or workspace_today(ws)
    filename = sheet_filename(choice.codes, choice.all, printed, fmt)
    media_type = PRINT_TYPES[fmt]
    asked: str | list[str] = "all" if choice.all else list(choice.codes)

    def work(ctx: JobContext) -> JobOutput:
        sheet = grid_sheet(
            ws,
            access,
            asked,
            lang=params["lang"],
            today=printed,
            progress=_part(ctx.progress, 0.0, READ_SHARE),
            cancelled=ctx.cancelled,
        )
        drawing = _part(ctx.progress, READ_SHARE, 1.0)
        sheet_paper, side = params["paper"], params["orientation"]
        if fmt == "pdf":
            data = render_pdf(sheet, sheet_paper, side, progress=drawing, cancelled=ctx.cancelled)
        else:
            text = render_html(sheet, sheet_paper, side, progress=drawing, cancelled=ctx.cancelled)
            data = text.encode("utf-8")
        path = ctx.folder / filename
        path.write_bytes(data)
        ctx.progress(1.0, "Ready to download", "可以下载")
        return JobOutput(path, filename, media_type)

    return PrintJob(work, params, filename, media_type)


def start_print(
    runner: JobRunner,
    ws: Workspace,
    access: Access,
    grids: str | Sequence[str] | None,
    **options: Any,
) -> Job:
    """Queue a print as a job of ``access``'s user (``kind`` print); see :func:`print_work`.

    Raises :class:`~gridmap.errors.TooManyRequestsError` when the queue is full.
    """
    job = print_work(ws, access, grids, **options)
    return runner.submit(access.owner, "print", job.work, params=job.params, personal=False)


def run_print(
    runner: JobRunner,
    ws: Workspace,
    access: Access,
    grids: str | Sequence[str] | None,
    **options: Any,
) -> Job:
    """Print in the calling thread within the runner's limits; return the finished job.

    When no slot is free at once: TooManyRequestsError, no waiting. The caller sends the
    file and then :meth:`JobRunner.discard` s the job.
    """
    job = print_work(ws, access, grids, **options)
    return runner.run_now(access.owner, "print", job.work, params=job.params, personal=False)
