"""Background jobs: heavy work (exports now, plans later) off the request threads.

A :class:`JobRunner` runs at most ``max_running`` jobs at a time for the whole server (default
2, this machine's cores) and at most ``max_running_per_user`` for one user (default 1). A job
that cannot start at once waits in the queue, oldest first; a user may have at most
``max_waiting_per_user`` jobs waiting (default 3) and the server ``max_waiting`` (default 20):
beyond that a new job is refused with :class:`~gridmap.errors.TooManyRequestsError` (429,
``retry_after`` seconds) rather than queued without end.

Each job reports progress (a fraction and a message in English and Chinese) and can be
cancelled: cooperatively, through the ``cancelled()`` check the work asks between its steps.
A cancelled job leaves no file, whatever its work did: the runner removes the job's folder.
An export asks between its steps (read, mask, write, finish), and an Excel file between its
blocks of rows (:func:`gridmap.io.xlsx.write_xlsx`).
A finished job's file is kept for ``keep_s`` seconds (default 1 h) in the runner's own
temporary folder, then removed; :meth:`JobRunner.close` (at shutdown, or when the process
exits) removes the folder with every file in it.

A job belongs to the user who started it: another user asking for it gets a 404
(:func:`job_not_found`), as if it did not exist; asking for the file of a job that has none
is a 409 (:func:`job_not_ready`).

:func:`start_export` makes a layer export a job — of the whole layer, or of a
:class:`Selection` (conditions, grids, feature ids) and a bounding box: the access and filter
checks and the audit row of an unmasked export happen when it is created, with the caller's
:class:`~gridmap.access.roles.Access`, as the layer pages do. Its file is named by
:mod:`gridmap.service.jobs.filenames` (layer, area, date, language).
Flask-free; :mod:`web.jobs` is the HTTP adapter.
"""

from gridmap.service.jobs.exports import (
    EXPORT_TYPES,
    ExportHead,
    ExportJob,
    Selection,
    describe_export,
    export_file,
    export_filename,
    export_params,
    export_work,
    run_export,
    start_export,
)
from gridmap.service.jobs.filenames import content_disposition
from gridmap.service.jobs.runner import (
    CANCELLED,
    DONE,
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    Job,
    JobContext,
    JobOutput,
    JobRunner,
    Work,
    job_not_found,
    job_not_ready,
)

__all__ = [
    "CANCELLED",
    "DONE",
    "EXPORT_TYPES",
    "FAILED",
    "FINISHED",
    "QUEUED",
    "RUNNING",
    "ExportHead",
    "ExportJob",
    "Job",
    "JobContext",
    "JobOutput",
    "JobRunner",
    "Selection",
    "Work",
    "content_disposition",
    "describe_export",
    "export_file",
    "export_filename",
    "export_params",
    "export_work",
    "job_not_found",
    "job_not_ready",
    "run_export",
    "start_export",
]
