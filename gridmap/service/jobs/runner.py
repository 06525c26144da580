"""The job runner: heavy work in background threads, within per-server and per-user limits.

See :mod:`gridmap.service.jobs` for the policy (limits, queue, cancel, keeping files).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from gridmap.errors import (
    BusyError,
    GridmapError,
    InputError,
    TooManyRequestsError,
)
from gridmap.service.jobs.job import (
    CANCELLED,
    DONE,
    FAILED,
    FINISHED,
    FOLDER_PREFIX,
    QUEUED,
    RUNNING,
    UNEXPECTED,
    Job,
    JobContext,
    JobOutput,
    Work,
    job_not_found,
    job_not_ready,
    remove_stale_folders,
)

logger = logging.getLogger(__name__)


class JobRunner:
    """Run jobs in background threads within per-server and per-user limits (see the module).

    Parameters
    ----------
    max_running
        Jobs running at once on this server.
    max_running_per_user
        Jobs running at once for one user.
    max_waiting_per_user, max_waiting
        Jobs waiting in the queue for one user, and in all; more are refused (429).
    keep_s
        Seconds a finished job (and its file) is kept.
    folder
        Where the jobs' files go; default: a new private temporary folder, removed by
        :meth:`close` or when the process exits.
    """

    def __init__(
        self,
        *,
        max_running: int = 2,
        max_running_per_user: int = 1,
        max_waiting_per_user: int = 3,
        max_waiting: int = 20,
        keep_s: float = 3600.0,
        folder: str | Path | None = None,
    ) -> None:
        if min(max_running, max_running_per_user) < 1 or min(max_waiting, max_waiting_per_user) < 0:
            raise InputError("Job limits must be at least 1 running and 0 waiting.")
        self.max_running = max_running
        self.max_running_per_user = max_running_per_user
        self.max_waiting_per_user = max_waiting_per_user
        self.max_waiting = max_waiting
        self.keep_s = float(keep_s)
        if folder is None:
            remove_stale_folders()  # of servers killed before they could remove theirs
            folder = tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._threads: set[threading.Thread] = set()
        # the folder goes when the runner is closed, collected, or the process exits
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.folder, True)
        self._sweeper = threading.Thread(
            target=_sweep_loop,
            args=(weakref.ref(self), self._closed, min(60.0, max(0.05, self.keep_s / 2))),
            name="gridmap-jobs-sweeper",
            daemon=True,
        )
        self._sweeper.start()

    # -- starting ------------------------------------------------------------------------------

    def submit(
        self,
        owner: str,
        kind: str,
        work: Work,
        *,
        params: Mapping[str, Any] | None = None,
        personal: bool = False,
        prepare: Callable[[], None] | None = None,
    ) -> Job:
        """Queue ``work`` as a job of ``owner``; it starts as soon as the limits allow.

        Raises :class:`~gridmap.errors.TooManyRequestsError` when the queue (the user's or the
        server's) is full. ``prepare`` (an audit row, say) runs once the job has its place,
        before it may start; when it raises, the job is dropped and the error passes on.
        """
        with self._lock:
            job = self._new(owner, kind, work, params, personal)
            waiting = [j for j in self._jobs.values() if j.state == QUEUED]
            mine = [j for j in waiting if j.owner == owner]
            if not self._may_start(owner) and (
                len(mine) >= self.max_waiting_per_user or len(waiting) >= self.max_waiting
            ):
                shutil.rmtree(job.folder, ignore_errors=True)
                raise self._busy(len(mine) >= self.max_waiting_per_user)
            job.held = prepare is not None
            self._jobs[job.id] = job
        if prepare is not None:
            try:
                prepare()
            except BaseException:
                with self._lock:
                    self._forget(job)
                    self._dispatch()
                raise
        with self._lock:
            job.held = False
            self._dispatch()
        return job

    def run_now(
        self,
        owner: str,
        kind: str,
        work: Work,
        *,
        params: Mapping[str, Any] | None = None,
        personal: bool = False,
        prepare: Callable[[], None] | None = None,
    ) -> Job:
        """Run ``work`` in the calling thread, within the limits; return the finished job.

        For callers that wait for the result anyway (a script's plain download): the job
        takes a running slot, or, when none is free at once, raises
        :class:`~gridmap.errors.TooManyRequestsError` without waiting. ``prepare`` runs once
        the slot is taken; when it raises, the job is dropped and the error passes on.
        """
        with self._lock:
            if not self._may_start(owner):
                raise self._busy(self._user_running(owner) >= self.max_running_per_user)
            job = self._new(owner, kind, work, params, personal)
            self._jobs[job.id] = job
            self._mark_running(job)
        if prepare is not None:
            try:
                prepare()
            except BaseException:
                with self._lock:
                    self._forget(job)
                    self._dispatch()
                raise
        self._run(job)
        return job

    def _new(
        self,
        owner: str,
        kind: str,
        work: Work,
        params: Mapping[str, Any] | None,
        personal: bool,
    ) -> Job:
        if self._closed.is_set():
            raise TooManyRequestsError(
                "The server is shutting down: start the job again in a moment. "
                "(服务器正在关闭，请稍后重新开始。)",
                retry_after=10,
            )
        self._sweep()
        job_id = secrets.token_urlsafe(12)
        folder = self.folder / job_id
        folder.mkdir(mode=0o700)
        return Job(job_id, owner, kind, dict(params or {}), personal, work, folder)

    def _busy(self, per_user: bool) -> TooManyRequestsError:
        if per_user:
            return TooManyRequestsError(
                "You have as many jobs running and waiting as one person may: wait for one to "
                "finish, or cancel one. (您正在运行和等待的任务已达上限：请等待完成或取消一个。)",
                retry_after=10,
            )
        return TooManyRequestsError(
            "The server is busy with other exports: try again in a moment. "
            "(服务器正忙于其他导出任务，请稍后再试。)",
            retry_after=10,
        )

    def _user_running(self, owner: str) -> int:
        return sum(1 for j in self._jobs.values() if j.state == RUNNING and j.owner == owner)

    def _may_start(self, owner: str) -> bool:
        running = sum(1 for j in self._jobs.values() if j.state == RUNNING)
        return running < self.max_running and self._user_running(owner) < self.max_running_per_user

    def _mark_running(self, job: Job) -> None:
        job.state = RUNNING
        job.started = time.time()
        job.message = {"en": "Starting", "zh-CN": "正在开始"}

    def _dispatch(self) -> None:
        """Start the oldest waiting jobs the limits allow (call with the lock held)."""
        if self._closed.is_set():
            return
        for job in sorted(self._jobs.values(), key=lambda j: j.created):
            if job.state == QUEUED and not job.held and self._may_start(job.owner):
                self._mark_running(job)
                thread = threading.Thread(
                    target=self._run, args=(job,), name=f"gridmap-job-{job.id}", daemon=True
                )
                self._threads.add(thread)
                thread.start()

    def _run(self, job: Job) -> None:
        output: JobOutput | None = None
        error: dict[str, Any] | None = None
        failure: GridmapError | None = None
        try:
            if job.work is None or job.cancel.is_set():
                raise _Stopped
            output = job.work(JobContext(job, self))
        except _Stopped:
            pass
        except GridmapError as exc:
            failure = exc
        except Exception:  # a bug, or the work's own stop signal once cancelled
            if not job.cancel.is_set():  # a bug: the job fails, the server goes on
                logger.exception("Job %s (%s) failed", job.id, job.kind)
            failure = GridmapError(UNEXPECTED)
        if failure is not None:
            if failure.status >= 500 and failure.message != UNEXPECTED:
                logger.error("Job %s (%s) failed: %s", job.id, job.kind, failure.message)
            error = _error_of(failure)
        with self._lock:
            job.work = None  # the closure holds the request's data: let it go
            job.finished = time.time()
            if job.cancel.is_set() or self._closed.is_set():
                job.state, output = CANCELLED, None
                job.message = {"en": "Cancelled", "zh-CN": "已取消"}
            elif error is not None or output is None:
                job.state = FAILED
                job.exception = failure or GridmapError(UNEXPECTED)
                job.error = error or _error_of(job.exception)
                job.message = {"en": "Failed", "zh-CN": "失败"}
            else:
                job.state, job.progress = DONE, 1.0
                job.message = {"en": "Ready to download", "zh-CN": "可以下载"}
            job.output = output
            if output is None:  # failed or cancelled: no file stays behind
                shutil.rmtree(job.folder, ignore_errors=True)
            self._threads.discard(threading.current_thread())
            job.done.set()
            self._dispatch()

    # -- asking --------------------------------------------------------------------------------

    def get(self, owner: str, job_id: str) -> Job:
        """Return the job ``job_id`` of ``owner`` (another's, or none: a 404)."""
        with self._lock:
            self._sweep()
            job = self._jobs.get(job_id)
            if job is None or job.owner != owner:
                raise job_not_found(job_id, self.keep_s)
            return job

    def jobs(self, owner: str) -> list[Job]:
        """Return the jobs of ``owner``, newest first."""
        with self._lock:
            self._sweep()
            mine = [j for j in self._jobs.values() if j.owner == owner]
        return sorted(mine, key=lambda j: j.created, reverse=True)

    def document(self, job: Job) -> dict[str, Any]:
        """Return ``job`` as plain data, read under the runner's lock."""
        with self._lock:
            return job.document(self.keep_s)

    def result(self, owner: str, job_id: str) -> JobOutput:
        """Return the file of a finished job of ``owner`` (409 if it has none)."""
        job = self.get(owner, job_id)
        with self._lock:
            if job.state == DONE and job.output is not None and job.output.path.exists():
                return job.output
            raise job_not_ready(job.state)

    def wait(self, job: Job, timeout: float | None = None) -> bool:
        """Wait until ``job`` has finished; return whether it has."""
        return job.done.wait(timeout)

    # -- stopping ------------------------------------------------------------------------------

    def cancel(self, owner: str, job_id: str) -> Job:
        """Cancel a job of ``owner``; a finished one is discarded with its file.

        A waiting job is cancelled at once; a running one when its work next asks (its state
        stays ``running``, with ``cancel_requested``, until then).
        """
        job = self.get(owner, job_id)
        with self._lock:
            if job.state in FINISHED:
                self._forget(job)
                return job
            job.cancel.set()
            if job.state == QUEUED:
                job.state, job.finished = CANCELLED, time.time()
                job.message = {"en": "Cancelled", "zh-CN": "已取消"}
                job.work = None
                shutil.rmtree(job.folder, ignore_errors=True)
                job.done.set()
            else:
                job.message = {"en": "Cancelling", "zh-CN": "正在取消"}
            return job

    def discard(self, job: Job) -> None:
        """Forget a finished ``job`` and remove its file (after a download that needs no keep)."""
        with self._lock:
            if job.state in FINISHED:
                self._forget(job)

    def _forget(self, job: Job) -> None:
        self._jobs.pop(job.id, None)
        shutil.rmtree(job.folder, ignore_errors=True)

    def _sweep(self) -> None:
        """Forget finished jobs older than ``keep_s`` and remove their files."""
        now = time.time()
        with self._lock:
            for job in list(self._jobs.values()):
                if job.state in FINISHED and job.finished and now - job.finished >= self.keep_s:
                    self._forget(job)

    def close(self, timeout: float = 10.0) -> None:
        """Cancel every job, wait up to ``timeout`` s for running ones, remove every file."""
        with self._lock:
            self._closed.set()
            for job in self._jobs.values():
                job.cancel.set()
                if job.state == QUEUED:
                    job.state, job.finished = CANCELLED, time.time()
                    job.done.set()
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._jobs.clear()
        self._finalizer()

    @property
    def closed(self) -> bool:
        """Return whether :meth:`close` was called."""
        return self._closed.is_set()


class _Stopped(Exception):
    """A job cancelled before its work began."""


def _error_of(exc: GridmapError) -> dict[str, Any]:
    """Return the error of a failed job as shown to its user: a server fault shows no detail."""
    doc = cast(dict[str, Any], exc.to_dict()["error"])
    if exc.status >= 500 and not isinstance(exc, BusyError):
        doc["message"] = UNEXPECTED  # the cause (maybe a path) is in the server's log
    return doc


def _sweep_loop(ref: weakref.ref[JobRunner], closed: threading.Event, every: float) -> None:
    """Remove expired jobs every ``every`` seconds until the runner is closed or collected."""
    while not closed.wait(every):
        runner = ref()
        if runner is None:
            return
        runner._sweep()
        del runner
