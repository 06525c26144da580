"""Background jobs: limits per server and per user, progress, cancel, expiry, ownership; the
jobs API; the plain export within the same limits; a live server that stays responsive while
8 ``people`` Excel exports are asked for at once; the download menu in chromium.

Runner tests use small work functions that wait on events, so every state can be held and
checked by hand; export tests run the real export on the tiny workspace and the real demo.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest

from gridmap import store
from gridmap.access.roles import Access
from gridmap.errors import GridmapError, InputError, TooManyRequestsError, WorkspaceError
from gridmap.io.export import FORMATS, ExportCancelled, export_layer
from gridmap.service import jobs
from gridmap.service.jobs import JobContext, JobOutput, JobRunner
from web.app import create_app
from web.jobs import runner_of

from .conftest import ADMIN_PASSWORD, ROLE_TOKENS, ROLE_USERS

ANALYST = Access.of("demo-analyst", "analyst")


def access_of_worker(ws: store.GeoPackageWorkspace) -> Access:
    from gridmap.service import accounts

    return accounts.access_of(ws, accounts.user(ws, ROLE_USERS["grid_worker"]))


# -- the runner, with work one can hold ---------------------------------------------------------


class Gate:
    """Work that writes a file, then waits until released (checking for cancel meanwhile)."""

    def __init__(self, *, obey_cancel: bool = True) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.obey_cancel = obey_cancel

    def __call__(self, ctx: JobContext) -> JobOutput:
        out = ctx.folder / "out.txt"
        out.write_text("made", encoding="utf-8")
        ctx.progress(0.5, "Half way", "一半")
        self.started.set()
        while not self.release.wait(0.01):
            if self.obey_cancel and ctx.cancelled():
                raise ExportCancelled("stop")
        return JobOutput(out, "out.txt", "text/plain")


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[JobRunner]:
    r = JobRunner(
        max_running=2,
        max_running_per_user=1,
        max_waiting_per_user=2,
        max_waiting=3,
        folder=tmp_path / "jobs",
    )
    yield r
    r.close(timeout=5)


def test_limits_per_server_and_per_user(runner: JobRunner) -> None:
    gates = {key: Gate() for key in ("a1", "a2", "a3", "b1", "c1")}
    a1 = runner.submit("a", "test", gates["a1"])
    a2 = runner.submit("a", "test", gates["a2"])
    b1 = runner.submit("b", "test", gates["b1"])
    gates["a1"].started.wait(5)
    gates["b1"].started.wait(5)
    # two at a time on the server, one at a time per user: a's second job waits
    assert (a1.state, a2.state, b1.state) == ("running", "queued", "running")
    a3 = runner.submit("a", "test", gates["a3"])
    with pytest.raises(TooManyRequestsError) as per_user:  # a has 2 waiting: a's limit
        runner.submit("a", "test", Gate())
    assert per_user.value.status == 429 and per_user.value.retry_after > 0
    c1 = runner.submit("c", "test", gates["c1"])  # the server's 3rd waiting job
    with pytest.raises(TooManyRequestsError, match="server is busy"):
        runner.submit("d", "test", Gate())
    gates["a1"].release.set()
    runner.wait(a1, 5)
    gates["a2"].started.wait(5)  # a's next job, not c's older-than-a3 one: a has a slot again
    assert (a1.state, a2.state, a3.state, c1.state) == ("done", "running", "queued", "queued")
    gates["b1"].release.set()
    gates["c1"].started.wait(5)  # b's slot goes to the oldest job that may start
    assert c1.state == "running" and a3.state == "queued"
    for gate in gates.values():
        gate.release.set()
    for job in (a2, a3, b1, c1):
        assert runner.wait(job, 5) and job.state == "done"


def test_progress_and_the_document(runner: JobRunner) -> None:
    gate = Gate()
    job = runner.submit("a", "export", gate, params={"layer": "grids", "format": "csv"})
    gate.started.wait(5)
    doc = runner.document(job)
    assert doc["state"] == "running" and doc["progress"] == 0.5
    assert doc["message"] == {"en": "Half way", "zh-CN": "一半"}
    assert doc["layer"] == "grids" and doc["format"] == "csv" and doc["expires_at"] is None
    gate.release.set()
    runner.wait(job, 5)
    doc = runner.document(job)
    assert doc["state"] == "done" and doc["progress"] == 1.0 and doc["filename"] == "out.txt"
    assert doc["expires_at"] > doc["finished_at"]
    assert runner.result("a", job.id).path.read_text(encoding="utf-8") == "made"


def test_cancel_waiting_at_once_and_running_when_it_checks(runner: JobRunner) -> None:
    first, second = Gate(), Gate()
    running = runner.submit("a", "test", first)
    waiting = runner.submit("a", "test", second)
    first.started.wait(5)
    runner.cancel("a", waiting.id)
    assert waiting.state == "cancelled" and not waiting.folder.exists()
    assert not second.started.is_set()
    runner.cancel("a", running.id)
    assert runner.document(running)["cancel_requested"] is True
    assert runner.wait(running, 5) and running.state == "cancelled"
    assert not running.folder.exists()  # the file it wrote went with it
    with pytest.raises(GridmapError) as refused:
        runner.result("a", running.id)
    assert refused.value.status == 409


def test_a_cancelled_job_leaves_no_file_even_when_its_work_finishes(runner: JobRunner) -> None:
    stubborn = Gate(obey_cancel=False)
    job = runner.submit("a", "test", stubborn)
    stubborn.started.wait(5)
    runner.cancel("a", job.id)
    stubborn.release.set()  # the work ends normally, with its file
    assert runner.wait(job, 5) and job.state == "cancelled" and job.output is None
    assert not job.folder.exists()


def test_another_users_job_is_not_found(runner: JobRunner) -> None:
    gate = Gate()
    job = runner.submit("a", "test", gate)
    gate.release.set()
    runner.wait(job, 5)
    for ask in (runner.get, runner.result, runner.cancel):
        with pytest.raises(GridmapError) as missing:
            ask("b", job.id)
        assert missing.value.status == 404
    assert runner.jobs("b") == [] and runner.jobs("a") == [job]
    with pytest.raises(GridmapError, match="no job"):
        runner.get("a", "no-such-job")


def test_finished_files_expire_and_close_removes_everything(tmp_path: Path) -> None:
    r = JobRunner(keep_s=0.3, folder=tmp_path / "jobs")
    gate = Gate()
    gate.release.set()
    job = r.submit("a", "test", gate)
    r.wait(job, 5)
    assert job.output is not None and job.output.path.exists()
    wait_for(lambda: not job.folder.exists(), 5)  # the sweeper, without anyone asking
    with pytest.raises(GridmapError) as gone:
        r.get("a", job.id)
    assert gone.value.status == 404
    held = Gate()
    running = r.submit("a", "test", held)
    held.started.wait(5)
    r.close(timeout=5)
    assert running.state == "cancelled" and not (tmp_path / "jobs").exists()
    with pytest.raises(TooManyRequestsError, match="shutting down"):
        r.submit("a", "test", Gate())


def test_folders_of_killed_servers_are_removed_by_the_next(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f"gridmap-jobs-{dead.pid}-abc"
    (orphan / "job").mkdir(parents=True)
    (orphan / "job" / "people.xlsx").write_bytes(b"personal data")
    alive = tmp_path / f"gridmap-jobs-{os.getpid()}-def"
    alive.mkdir()
    other = tmp_path / "gridmap-jobs-notapid"
    other.mkdir()
    r = JobRunner()
    try:
        assert r.folder.parent == tmp_path and r.folder.name.startswith(
            f"gridmap-jobs-{os.getpid()}-"
        )
        assert not orphan.exists() and alive.exists() and other.exists()
    finally:
        r.close()
    assert not r.folder.exists()


def test_failures_say_what_and_show_no_internals(runner: JobRunner) -> None:
    def bad_input(ctx: JobContext) -> JobOutput:
        raise InputError("bbox must be four numbers")

    def bug(ctx: JobContext) -> JobOutput:
        raise RuntimeError("/srv/secret/module.py line 3")

    def broken_file(ctx: JobContext) -> JobOutput:
        raise WorkspaceError("Cannot open /srv/secret/demo.gpkg")

    for work, code, shown in (
        (bad_input, "invalid_input", "bbox must be four numbers"),
        (bug, "internal_error", "unexpected error"),
        (broken_file, "workspace_error", "unexpected error"),
    ):
        job = runner.submit("a", "test", work)
        runner.wait(job, 5)
        doc = runner.document(job)
        assert doc["state"] == "failed" and doc["error"]["code"] == code
        assert shown in doc["error"]["message"] and "/srv" not in json.dumps(doc)
        assert not job.folder.exists()


def test_run_now_takes_a_slot_or_refuses_at_once(runner: JobRunner) -> None:
    held = Gate()
    runner.submit("a", "test", held)
    held.started.wait(5)
    with pytest.raises(TooManyRequestsError):  # a's one slot is taken
        runner.run_now("a", "test", Gate())
    other = Gate()
    other.release.set()
    job = runner.run_now("b", "test", other)  # in this thread, within the server's two
    assert job.state == "done" and job.output is not None
    runner.discard(job)
    assert not job.folder.exists() and runner.jobs("b") == []
    fill = Gate()
    runner.submit("c", "test", fill)
    fill.started.wait(5)
    with pytest.raises(TooManyRequestsError, match="server is busy"):
        runner.run_now("b", "test", Gate())
    held.release.set()
    fill.release.set()


def test_a_failed_prepare_drops_the_job(runner: JobRunner) -> None:
    def refuse() -> None:
        raise WorkspaceError("audit log is read-only")

    gate = Gate()
    with pytest.raises(WorkspaceError):
        runner.submit("a", "test", gate, prepare=refuse)
    time.sleep(0.05)
    assert runner.jobs("a") == [] and not gate.started.is_set()
    assert list(runner.folder.iterdir()) == []


# -- export plumbing -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_reports_progress_and_a_cancel_at_any_step_leaves_no_file(
    tiny_workspace: store.GeoPackageWorkspace, tmp_path: Path, fmt: str
) -> None:
    layer = "cameras"
    seen: list[tuple[float, str, str]] = []
    out = tmp_path / "full" / f"{layer}.{'zip' if fmt == 'shp' else fmt}"
    export_layer(
        tiny_workspace, layer, out, fmt=fmt, access=ANALYST, progress=lambda *a: seen.append(a)
    )
    assert out.exists()
    fractions = [f for f, _, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] >= 0.95
    assert all(en and zh for _, en, zh in seen)
    for stop_at in range(len(seen)):
        asked = iter(range(100))
        folder = tmp_path / f"cancel-{stop_at}"
        with pytest.raises(ExportCancelled):
            export_layer(
                tiny_workspace,
                layer,
                folder / out.name,
                fmt=fmt,
                access=ANALYST,
                cancelled=lambda stop=stop_at, asked=asked: next(asked) >= stop,
            )
        assert not folder.exists() or list(folder.iterdir()) == [], stop_at


# -- the jobs API ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(demo_path: Path, tmp_path_factory: pytest.TempPathFactory) -> store.GeoPackageWorkspace:
    """A copy of the demo (with its accounts and tokens) for this module's apps to write to."""
    copy = tmp_path_factory.mktemp("jobs") / "demo.gpkg"
    store.GeoPackageWorkspace(demo_path, read_only=True).backup(copy)
    return store.GeoPackageWorkspace(copy)


def make_app(ws: store.GeoPackageWorkspace, tmp_path: Path, **config: object):
    app = create_app(
        {"WORKSPACE": ws, "TESTING": True, "JOBS_FOLDER": str(tmp_path / "jobs"), **config}
    )
    return app


def client(app, role: str | None):
    c = app.test_client()
    if role:
        c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {ROLE_TOKENS[role]}"
    return c


def follow(c, doc: dict, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while doc["state"] not in jobs.FINISHED:
        assert time.monotonic() < deadline, doc
        time.sleep(0.05)
        doc = c.get(doc["url"]).get_json()
    return doc


def owner(ws: store.Workspace, name: str) -> str:
    """The key the runner keeps an account's jobs under (its name and creation time)."""
    return Access.of(name, "analyst", account=ws.get_user(name).created_at).owner


def test_export_job_round_trip(served, tmp_path: Path) -> None:
    app = make_app(served, tmp_path)
    analyst = client(app, "analyst")
    resp = analyst.post("/api/jobs", json={"layer": "visits", "format": "csv", "lang": "en"})
    assert resp.status_code == 202, resp.get_json()
    doc = resp.get_json()
    assert resp.headers["Location"] == doc["url"] == f"/api/jobs/{doc['id']}"
    assert doc["kind"] == "export" and doc["layer"] == "visits" and doc["result"] is None
    doc = follow(analyst, doc)
    assert doc["state"] == "done" and doc["result"] == f"/api/jobs/{doc['id']}/result"
    listed = analyst.get("/api/jobs").get_json()
    assert [j["id"] for j in listed["jobs"]] == [doc["id"]]
    assert listed["limits"]["running"] == 2 and listed["limits"]["running_per_user"] == 1
    got = analyst.get(doc["result"])
    try:
        assert got.status_code == 200
        named = r'attachment; filename="visits_all_\d{4}-\d{2}-\d{2}_en\.csv"'
        assert re.fullmatch(named, got.headers["Content-Disposition"])
        assert got.headers["Cache-Control"] == "private, no-store"  # personal data, if masked
        header, first = got.get_data().decode("utf-8-sig").splitlines()[:2]
    finally:
        got.close()
    assert "household_id" not in header and "note" not in header  # the analyst's masked view
    assert first.split(",")[header.split(",").index("category")] in ("hidden", "Routine")
    assert analyst.delete(doc["url"]).status_code == 204  # discarded with its file
    assert analyst.get(doc["url"]).status_code == 404
    assert list((tmp_path / "jobs").iterdir()) == []

    # grids hold no personal data: their file may be cached privately like any reply
    grids = follow(analyst, analyst.post("/api/jobs", json={"layer": "grids"}).get_json())
    got = analyst.get(grids["result"])
    try:
        rows = list(openpyxl.load_workbook(io.BytesIO(got.get_data())).worksheets[0].values)
        assert "no-store" not in got.headers.get("Cache-Control", "")
    finally:
        got.close()
    assert len(rows) - 1 == served.count("grids")
    runner_of(app).close()


def test_a_job_is_checked_and_audited_when_created(served, tmp_path: Path) -> None:
    app = make_app(served, tmp_path)
    runner = runner_of(app)
    before = len(served.read_log(user="demo-worker", limit=None))
    worker = client(app, "grid_worker")
    doc = worker.post(
        "/api/jobs", json={"layer": "households", "format": "csv", "lang": "en"}
    ).get_json()
    log = served.read_log(user="demo-worker", limit=None)
    assert len(log) == before + 1  # written when the job was made, not when it ran
    assert log.iloc[0]["action"] == "export" and log.iloc[0]["layer"] == "households"
    doc = follow(worker, doc)
    got = worker.get(doc["result"])
    try:
        text = got.get_data().decode("utf-8-sig")
    finally:
        got.close()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and {r["grid_code"] for r in rows} <= access_of_worker(served).grids
    # refused before anything is queued: anonymous, and a layer nobody has
    assert client(app, None).get("/api/jobs").status_code == 401  # (a POST lacks its CSRF: 400)
    missing = worker.post("/api/jobs", json={"layer": "roads"})
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "layer_not_found"
    assert len(runner.jobs(owner(served, "demo-worker"))) == 1
    runner.close()


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"kind": "plan", "layer": "grids"}, 400, "kind must be one of"),
        ({"format": "xlsx"}, 400, "Name the layer"),
        ({"layer": "grids", "format": "doc"}, 400, "format must be one of"),
        ({"layer": "people", "format": "geojson"}, 400, "has no geometry"),
        ({"layer": "grids", "bbox": [1, 2, 3]}, 400, "bbox must be"),
        ({"layer": "grids", "bbox": "a,b,c,d"}, 400, "bbox must be four numbers"),
        ("not json", 400, "Send the job as JSON"),
    ],
)
def test_bad_jobs_are_refused_clearly(served, tmp_path: Path, body, status, says) -> None:
    app = make_app(served, tmp_path)
    c = client(app, "analyst")
    resp = (
        c.post("/api/jobs", data=body, content_type="text/plain")
        if isinstance(body, str)
        else c.post("/api/jobs", json=body)
    )
    assert resp.status_code == status
    assert says in resp.get_json()["error"]["message"]
    assert runner_of(app).jobs(owner(served, "demo-analyst")) == []
    runner_of(app).close()


def test_another_users_job_is_404_over_http(served, tmp_path: Path) -> None:
    app = make_app(served, tmp_path)
    mine = client(app, "analyst")
    doc = follow(
        mine, mine.post("/api/jobs", json={"layer": "cameras", "format": "csv"}).get_json()
    )
    other = client(app, "planner")
    for resp in (
        other.get(doc["url"]),
        other.get(doc["result"]),
        other.delete(doc["url"]),
    ):
        assert resp.status_code == 404 and resp.get_json()["error"]["status"] == 404
    assert other.get("/api/jobs").get_json()["jobs"] == []
    assert mine.get(doc["url"]).get_json()["state"] == "done"  # still there for its owner
    runner_of(app).close()


def test_cancel_over_http_leaves_no_file(served, tmp_path: Path) -> None:
    app = make_app(served, tmp_path)
    c = client(app, "admin")
    doc = c.post("/api/jobs", json={"layer": "people", "format": "xlsx"}).get_json()
    queued = c.post("/api/jobs", json={"layer": "people", "format": "csv"}).get_json()
    assert queued["state"] == "queued"  # one running job per user
    resp = c.delete(queued["url"])
    assert resp.status_code == 200 and resp.get_json()["state"] == "cancelled"
    wait_for(lambda: c.get(doc["url"]).get_json()["state"] == "running")
    resp = c.delete(doc["url"])
    assert resp.status_code in (200, 202)
    doc = follow(c, resp.get_json())
    assert doc["state"] == "cancelled" and doc["result"] is None
    refused = c.get(f"{doc['url']}/result")
    assert refused.status_code == 409 and refused.get_json()["error"]["status"] == 409
    assert list((tmp_path / "jobs").iterdir()) == []
    runner_of(app).close()


def test_limits_per_user_over_http(served, tmp_path: Path) -> None:
    app = make_app(served, tmp_path, JOBS_MAX_WAITING_PER_USER=1)
    c = client(app, "admin")
    first = c.post("/api/jobs", json={"layer": "people", "format": "xlsx"})
    second = c.post("/api/jobs", json={"layer": "people", "format": "xlsx"})
    third = c.post("/api/jobs", json={"layer": "people", "format": "xlsx"})
    assert (first.status_code, second.status_code, third.status_code) == (202, 202, 429)
    assert third.get_json()["error"]["code"] == TooManyRequestsError.code
    assert int(third.headers["Retry-After"]) > 0
    # another user is not held up by the admin's queue
    assert client(app, "planner").post("/api/jobs", json={"layer": "grids"}).status_code == 202
    runner_of(app).close()


def test_head_builds_no_export(served, tmp_path: Path) -> None:
    app = make_app(served, tmp_path)
    admin = client(app, "admin")
    before = len(served.read_log(user="admin", limit=None))
    started = time.perf_counter()
    resp = admin.head("/api/layers/people/export?format=xlsx")
    took = time.perf_counter() - started
    assert resp.status_code == 200 and resp.get_data() == b""
    assert len(served.read_log(user="admin", limit=None)) == before  # nothing read, nothing shown
    named = r'attachment; filename="people_all_\d{4}-\d{2}-\d{2}_zh-CN\.xlsx"; filename\*=.+'

    assert re.fullmatch(named, resp.headers["Content-Disposition"])
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    assert resp.headers["Cache-Control"] == "private, no-store"
    assert runner_of(app).jobs(owner(served, "admin")) == [] and took < 2.0, took
    # HEAD is refused as GET is
    assert client(app, None).head("/api/layers/people/export").status_code == 401
    assert admin.head("/api/layers/people/export?format=shp").status_code == 400
    # GET builds it, and records it
    got = admin.get("/api/layers/people/export?format=csv")
    assert got.status_code == 200 and got.headers["Cache-Control"] == "private, no-store"
    assert len(served.read_log(user="admin", limit=None)) == before + 1
    assert runner_of(app).jobs(owner(served, "admin")) == []  # sent and forgotten
    runner_of(app).close()


def test_the_plain_export_is_refused_when_the_server_is_busy(served, tmp_path: Path) -> None:
    app = make_app(served, tmp_path, JOBS_MAX_RUNNING=1)
    runner = runner_of(app)
    held = Gate()
    runner.submit("demo-planner", "test", held)
    held.started.wait(5)
    c = client(app, "analyst")
    resp = c.get("/api/layers/grids/export?format=csv&lang=en")
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert resp.get_json()["error"]["code"] == TooManyRequestsError.code
    held.release.set()
    wait_for(lambda: not any(j.state == "running" for j in runner.jobs("demo-planner")))
    resp = c.get("/api/layers/grids/export?format=csv&lang=en")
    assert resp.status_code == 200 and resp.get_data().decode("utf-8-sig").startswith("code,")
    runner.close()


# -- a live server under 8 exports at once -----------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, *, method: str = "GET", token: str | None = None, body: dict | None = None):
    """Return (status, headers, parsed JSON or bytes) of one request; errors too."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            raw, status, headers = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        raw, status, headers = e.read(), e.code, e.headers
    kind = headers.get("Content-Type", "")
    return status, headers, json.loads(raw) if "json" in kind and raw else raw


@pytest.fixture
def gridmap_serve(served, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``gridmap serve`` (waitress, WAL) on a copy of the demo; yields its URL and its TMPDIR."""
    copy = served.backup(tmp_path / "demo.gpkg")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridmap.cli", "serve", str(copy), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if call(f"{base}/api/health")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout
            time.sleep(0.2)
        yield base, tmp
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def test_health_answers_while_8_people_exports_are_asked_for(gridmap_serve) -> None:
    base, tmp = gridmap_serve
    users = ["analyst", "planner", "grid_worker", "admin"]
    tokens = [ROLE_TOKENS[users[i % 4]] for i in range(8)]
    # people for the roles that get its rows, the (masked) households for the others
    layers = [
        "people" if users[i % 4] in ("admin", "grid_worker") else "households" for i in range(8)
    ]
    results: dict[str, list] = {"jobs": [None] * 8, "plain": [None] * 8}

    def start(i: int) -> None:
        body = {"kind": "export", "layer": layers[i], "format": "xlsx"}
        results["jobs"][i] = call(f"{base}/api/jobs", method="POST", token=tokens[i], body=body)

    def plain(i: int) -> None:
        url = f"{base}/api/layers/{layers[i]}/export?format=xlsx"
        results["plain"][i] = call(url, token=tokens[i])

    threads = [threading.Thread(target=start, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    statuses = [r[0] for r in results["jobs"]]
    assert statuses == [202] * 8, statuses
    docs = [r[2] for r in results["jobs"]]
    # 2 at a time on the server, one per user: the other 6 wait their turn
    wait_for(
        lambda: (
            sum(
                call(base + d["url"], token=t)[2]["state"] == "running"
                for d, t in zip(docs, tokens, strict=True)
            )
            == 2
        ),
        30,
    )
    # 8 plain downloads meanwhile: no slot is free, so each is refused at once, none waits
    threads = [threading.Thread(target=plain, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    latencies = []
    until = time.monotonic() + 6
    while time.monotonic() < until:
        started = time.perf_counter()
        status, _, doc = call(f"{base}/api/health")
        latencies.append(time.perf_counter() - started)
        assert status == 200 and doc["status"] == "ok"
        time.sleep(0.1)
    for t in threads:
        t.join(30)
    plain_statuses = [r[0] for r in results["plain"]]
    assert plain_statuses == [429] * 8, plain_statuses
    print(f"health during exports: n={len(latencies)} max={max(latencies):.3f} s")
    assert max(latencies) < 2.0, sorted(latencies)[-5:]
    states = [call(base + d["url"], token=t)[2] for d, t in zip(docs, tokens, strict=True)]
    assert sum(s["state"] == "running" for s in states) <= 2
    for d, t in zip(docs, tokens, strict=True):
        assert call(base + d["url"], method="DELETE", token=t)[0] in (200, 202, 204)
    wait_for(
        lambda: all(
            # a finished job is discarded by its DELETE (404), a running one cancelled
            (r := call(base + d["url"], token=t))[0] == 404
            or r[2].get("state") in ("cancelled", "done")
            for d, t in zip(docs, tokens, strict=True)
        ),
        60,
    )
    leftovers = [p for p in tmp.glob("gridmap-jobs-*/**/*") if p.is_file()]
    done = [
        d
        for d, t in zip(docs, tokens, strict=True)
        if call(base + d["url"], token=t)[2].get("state") == "done"
    ]
    assert len(leftovers) == len(done), leftovers  # a cancelled export left nothing behind


# -- the download menu in chromium -------------------------------------------------------------


@pytest.mark.browser
def test_download_menu_shows_progress_cancels_and_downloads(served, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    app = make_app(served, tmp_path)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    problems: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            context = browser.new_context(locale="en-US", accept_downloads=True)
            context.route(
                "**/*",
                lambda r: r.continue_() if r.request.url.startswith(base) else r.abort(),
            )
            page = context.new_page()
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.goto(f"{base}/login")
            page.fill("#name", ROLE_USERS["admin"])  # the whole register: long enough to cancel
            page.fill("#password", ADMIN_PASSWORD)
            page.click("#sign-in")
            page.wait_for_selector("body[data-map-ready='1']", timeout=30_000)

            # people as Excel: progress on the row, then cancelled from the row
            page.click('[data-export="people"]')
            page.click('[data-export-format="xlsx"]')
            page.wait_for_selector('[data-export-msg="people"][data-export-job]')
            bar = page.locator('[data-export-progress="people"]')
            bar.wait_for()
            page.wait_for_function(
                "() => document.querySelector('[data-export-progress=\"people\"]').value > 0"
            )
            message = page.inner_text('[data-export-msg="people"]')
            assert "Preparing the file (Excel workbook)" in message, message
            page.click('[data-export-cancel="people"]')
            page.locator('[data-export-msg="people"]').filter(
                has_text="Download cancelled."
            ).wait_for(timeout=60_000)
            assert page.get_attribute('[data-export="people"]', "aria-busy") is None
            runner = runner_of(app)
            assert [j.state for j in runner.jobs(owner(served, "admin"))] == ["cancelled"]

            # grids as CSV: prepared by a job, then saved by the browser
            page.click('[data-export="grids"]')
            with page.expect_download() as info:
                page.click('[data-export-format="csv"]')
            download = info.value
            assert re.fullmatch(r"grids_all_\d{4}-\d{2}-\d{2}_en\.csv", download.suggested_filename)
            saved = tmp_path / "grids.csv"
            download.save_as(saved)
            lines = saved.read_text(encoding="utf-8-sig").splitlines()
            assert lines[0].startswith("code,") and len(lines) - 1 == served.count("grids")
            wait_for(
                lambda: all(j.state == "cancelled" for j in runner.jobs(owner(served, "admin")))
            )
            assert page.inner_text('[data-export-msg="grids"]') == ""
            browser.close()
    finally:
        server.shutdown()
        thread.join(5)
        runner_of(app).close()
    assert problems == []
