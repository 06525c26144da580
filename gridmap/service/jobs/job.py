"""A job and what it gives its work: states, progress, the result file, stale folders.

The runner (:mod:`gridmap.service.jobs.runner`) starts and limits jobs; this module is the
job itself.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridmap.errors import (
    ConflictError,
    FeatureNotFoundError,
    GridmapError,
)

if TYPE_CHECKING:
    from gridmap.service.jobs.runner import JobRunner

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
#: States of a job that will not change any more.
FINISHED = frozenset({DONE, FAILED, CANCELLED})
#: What a job that failed of a bug says (the cause is in the server's log).
UNEXPECTED = (
    "The job met an unexpected error; it has been logged. Try again, or tell the administrator. "
    "(任务遇到意外错误，已记录。)"
)

#: How the runners' own temporary folders are named: ``gridmap-jobs-<pid>-<random>``.
FOLDER_PREFIX = "gridmap-jobs-"

logger = logging.getLogger(__name__)


def remove_stale_folders(parent: str | Path | None = None) -> list[Path]:
    """Remove the job folders (with their files) of processes that are gone; return them.

    A server stopped by Ctrl+C removes its folder; one killed (SIGKILL, or SIGTERM without a
    handler) cannot, and the next runner in the same temporary directory does it. Only
    folders of this user, named with the id of a process that no longer runs, are removed.
    """
    removed = []
    for path in Path(parent or tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*-*"):
        pid_text = path.name[len(FOLDER_PREFIX) :].split("-", 1)[0]
        try:
            if not pid_text.isdigit() or not path.is_dir() or path.stat().st_uid != os.getuid():
                continue
            os.kill(int(pid_text), 0)
        except ProcessLookupError:  # that process is gone: its files are orphans
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        except OSError:  # alive, or not ours to ask about
            continue
    return removed


def job_not_found(job_id: str, keep_s: float) -> FeatureNotFoundError:
    """Return the 404 of a job that is not the caller's (never was, expired, or another's)."""
    return FeatureNotFoundError(
        f"There is no job {job_id!r} of yours (finished jobs are kept {keep_s / 60:g} min). "
        "(没有此任务，或已过期。)"
    )


def job_not_ready(state: str) -> ConflictError:
    """Return the 409 of a job that has no file to download (yet, or at all)."""
    if state in (QUEUED, RUNNING):
        return ConflictError(
            "The file is not ready yet: ask for the job until its state is 'done'. "
            "(文件尚未准备好。)"
        )
    return ConflictError(f"This job is {state} and has no file. (此任务没有可下载的文件。)")


@dataclass(frozen=True)
class JobOutput:
    """The file a job made: where it is, the name to save it as, its media type."""

    path: Path
    filename: str
    media_type: str


class JobContext:
    """What a job's work gets: its folder, progress reports and the cancel check."""

    def __init__(self, job: Job, runner: JobRunner) -> None:
        self._job = job
        self._runner = runner
        #: The folder the work writes its file to (removed with the job).
        self.folder = job.folder

    def progress(self, fraction: float, en: str, zh: str) -> None:
        """Report how far the work is (0 to 1) and what it does, in English and Chinese."""
        with self._runner._lock:
            self._job.progress = min(1.0, max(self._job.progress, float(fraction)))
            self._job.message = {"en": en, "zh-CN": zh}

    def cancelled(self) -> bool:
        """Return whether the job was cancelled (the work should stop at once)."""
        return self._job.cancel.is_set()


Work = Callable[[JobContext], JobOutput]


@dataclass(eq=False)
class Job:
    """One job: who started it, what it does, its state and progress, its file when done.

    Times are seconds since the epoch (UTC); ``progress`` goes from 0 to 1.
    """

    id: str
    owner: str
    kind: str
    params: dict[str, Any]
    personal: bool
    work: Work | None
    folder: Path
    state: str = QUEUED
    progress: float = 0.0
    message: dict[str, str] = field(
        default_factory=lambda: {"en": "Waiting to start", "zh-CN": "等待开始"}
    )
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    output: JobOutput | None = None
    error: dict[str, Any] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    #: Waiting for its ``prepare`` step: not started yet, whatever the limits.
    held: bool = False
    #: The error a failed job raised (for callers that waited for it; not shown in documents).
    exception: GridmapError | None = None

    def document(self, keep_s: float) -> dict[str, Any]:
        """Return the job as plain JSON-ready data (times as ISO 8601 UTC)."""

        def iso(t: float | None) -> str | None:
            return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()

        expires = None if self.finished is None or self.state != DONE else self.finished + keep_s
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "progress": round(self.progress, 3),
            "message": dict(self.message),
            "cancel_requested": self.cancel.is_set() and self.state not in FINISHED,
            **self.params,
            "created_at": iso(self.created),
            "started_at": iso(self.started),
            "finished_at": iso(self.finished),
            "expires_at": iso(expires),
            "filename": self.output.filename if self.output else None,
            "error": self.error,
        }
