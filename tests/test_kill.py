"""SIGKILL in the middle of a stream of writes: the workspace opens, passes SQLite's integrity
check, and holds exactly the acknowledged writes (at most one more: committed, not yet told).

A writer process commits one camera per transaction through ``Workspace.transaction()`` on a
copy of the demo in WAL mode (as ``gridmap serve`` runs it) and writes the camera's code to
its stdout after each commit: that line is the acknowledgement. The test kills it with
SIGKILL at a random moment, 30 times, each time checking the file before the next writer.

Writers are forked from one helper process that imported gridmap once (a fork costs
milliseconds, an import seconds), so each kill lands in a fresh, single-threaded writer.

``gridmap serve`` itself (waitress, WAL) is killed too: 10 times while a client adds cameras
through the write API (each ``201`` is an acknowledgement; the test skips where the write API
is not in the tree), and 3 times during HTTP sign-ins, which record the account's
``last_login``: the last acknowledged one must be there.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from gridmap import store

from .conftest import DEMO_PASSWORD, ROLE_USERS

ROUNDS = 30
PREFIX = "KILL-"

# The helper: on "go <first>" it forks a writer, which says "start <pid>", then commits cameras
# <first>, <first>+1, … one transaction each and says "ack <code>" after each commit; the helper
# says "dead <pid>" once that writer is gone, then waits for the next "go".
HELPER = r"""
import os, sys
import geopandas as gpd
import shapely
from gridmap import store

path = sys.argv[1]
ws = store.GeoPackageWorkspace(path)
ws.journal_mode("wal")
spot = ws.read("cameras", limit=1).geometry.iloc[0]
ws.close()
del ws
sys.stdout.write("ready\n"); sys.stdout.flush()
for line in sys.stdin:
    first = int(line.split()[1])
    pid = os.fork()
    if pid == 0:
        def say(text):
            os.write(1, (text + "\n").encode())
        say(f"start {os.getpid()}")
        ws = store.GeoPackageWorkspace(path)
        i = first
        while True:
            code = f"KILL-{i:05d}"
            row = gpd.GeoDataFrame(
                {"code": [code], "kind": ["fixed"], "bearing_deg": [90.0], "fov_deg": [60.0],
                 "range_m": [40.0], "source": ["user"]},
                geometry=[shapely.Point(spot.x + i * 1e-7, spot.y)], crs=4326,
            )
            with ws.transaction(user="kill-test", action="kill test") as tx:
                tx.append("cameras", row)
            say(f"ack {code}")
            i += 1
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(f"dead {pid} {status}\n"); sys.stdout.flush()
"""


class Lines:
    """Read whole lines from a pipe with a timeout (a killed writer may leave half a line)."""

    def __init__(self, stream) -> None:
        self.fd = stream.fileno()
        self.buffer = b""

    def next(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            assert left > 0, f"no line from the writer; so far {self.buffer!r}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 65536)
                assert chunk, f"the helper ended; so far {self.buffer!r}"
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()


def committed(path: Path, user: str = "kill-test") -> tuple[str, set[str], int]:
    """Return the integrity check's verdict, the kill-test cameras and the history rows of
    ``user``'s inserts."""
    conn = sqlite3.connect(path)
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    with store.GeoPackageWorkspace(path) as ws:  # opens: WAL recovered, the schema checked
        cams = ws.read("cameras", columns=("code",))
        codes = {c for c in cams["code"] if str(c).startswith(PREFIX)}
        history = ws.history(layer="cameras", limit=None)
        inserts = history[(history["user"] == user) & (history["op"] == "insert")]
    return verdict, codes, len(inserts)


def test_sigkill_during_a_stream_of_writes(demo_path: Path, tmp_path: Path) -> None:
    path = store.GeoPackageWorkspace(demo_path, read_only=True).backup(tmp_path / "demo.gpkg")
    helper = subprocess.Popen(
        [sys.executable, "-c", HELPER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=False,
    )
    assert helper.stdin is not None and helper.stdout is not None
    lines = Lines(helper.stdout)
    rng = random.Random(6)
    acked: set[str] = set()
    before: set[str] = set()
    extra_total = 0
    try:
        assert lines.next(60) == "ready"
        for round_ in range(ROUNDS):
            first = round_ * 10_000
            helper.stdin.write(f"go {first}\n".encode())
            helper.stdin.flush()
            started = lines.next()
            assert started.startswith("start "), started
            pid = int(started.split()[1])
            # kill at a random moment: sometimes before the first commit, mostly mid-stream
            time.sleep(rng.uniform(0.0, 0.8))
            os.kill(pid, signal.SIGKILL)
            while True:
                line = lines.next()
                if line.startswith("dead "):
                    assert line.split()[1] == str(pid)
                    break
                kind, code = line.split()
                assert kind == "ack"
                acked.add(code)
            verdict, present, history_rows = committed(path)
            assert verdict == "ok", (round_, verdict)
            new = present - before
            assert acked <= present, (round_, sorted(acked - present))  # no acknowledged loss
            extra = new - acked
            assert len(extra) <= 1, (round_, sorted(extra))  # committed, not yet acknowledged
            extra_total += len(extra)
            assert history_rows == len(present), round_  # each write whole, with its history
            before = present
    finally:
        helper.stdin.close()
        helper.wait(30)
        helper.stdout.close()
    # the kills really landed mid-stream: many writes acknowledged over the 30 rounds
    assert len(acked) > ROUNDS, len(acked)
    print(f"{ROUNDS} kills: {len(acked)} acknowledged writes kept, {extra_total} unacknowledged")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sign_in(base: str, name: str) -> int:
    """Sign in as a browser script does (the session's CSRF token first); return the status."""
    import http.cookiejar

    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    try:
        with opener.open(f"{base}/api/session", timeout=10) as r:
            token = json.load(r)["csrf_token"]
        body = json.dumps({"name": name, "password": DEMO_PASSWORD}).encode()
        headers = {"Content-Type": "application/json", "X-CSRFToken": token}
        req = urllib.request.Request(f"{base}/api/session", data=body, headers=headers)
        with opener.open(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        e.close()
        return e.code


def _serve(path: Path) -> tuple[subprocess.Popen, str]:
    """Start ``gridmap serve`` on ``path``; return the process and its URL once it answers."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridmap.cli", "serve", str(path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=2):
                return proc, base
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)


def _kill_while(proc: subprocess.Popen, acks: list, work, rng: random.Random) -> None:
    """Run ``work(stop)`` in a thread; once it has one acknowledgement, SIGKILL ``proc`` at a
    random moment, then wait for the thread (its request in flight fails: not acknowledged)."""
    stop = threading.Event()
    client = threading.Thread(target=work, args=(stop,), daemon=True)
    client.start()
    deadline = time.monotonic() + 60
    while not acks:  # once writes go through (argon2 is slow on a loaded machine) …
        assert client.is_alive() and time.monotonic() < deadline, "no write went through"
        time.sleep(0.05)
    time.sleep(rng.uniform(0.1, 1.5))  # … the kill lands wherever the client is
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    stop.set()
    client.join(15)
    assert not client.is_alive()


def _integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def test_sigkill_gridmap_serve_during_sign_ins(demo_path: Path, tmp_path: Path) -> None:
    """``gridmap serve`` SIGKILLed while it records sign-ins (each writes the account's
    ``last_login``): the file opens, checks ok, and the last acknowledged sign-in is there."""
    path = store.GeoPackageWorkspace(demo_path, read_only=True).backup(tmp_path / "demo.gpkg")
    rng = random.Random(9)
    name = ROLE_USERS["planner"]
    for round_ in range(3):
        proc, base = _serve(path)
        acks: list[float] = []  # when each acknowledged sign-in was asked for

        def sign_ins(stop: threading.Event, acks: list[float] = acks, base: str = base) -> None:
            while not stop.is_set():
                asked = time.time()
                try:
                    if _sign_in(base, name) == 200:
                        acks.append(asked)
                except OSError:  # the server died mid-request: not acknowledged
                    return

        _kill_while(proc, acks, sign_ins, rng)
        assert _integrity(path) == "ok", round_
        with store.GeoPackageWorkspace(path) as ws:
            record = ws.get_user(name)
        assert record is not None and record.last_login is not None
        seen = datetime.fromisoformat(str(record.last_login).replace("Z", "+00:00"))
        # the last acknowledged sign-in was recorded (a later one may be, not yet told)
        assert seen.timestamp() >= acks[-1] - 0.002, (round_, record.last_login, acks[-1])


def _post_camera(base: str, token: str, code: str, lon: float, lat: float) -> int:
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "code": code,
            "kind": "fixed",
            "bearing_deg": 90.0,
            "fov_deg": 60.0,
            "range_m": 40.0,
            "source": "user",
        },
    }
    req = urllib.request.Request(
        f"{base}/api/layers/cameras/features",
        data=json.dumps(feature).encode(),
        headers={"Content-Type": "application/geo+json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        e.close()
        return e.code


def test_sigkill_gridmap_serve_during_http_writes(demo_path: Path, tmp_path: Path) -> None:
    """``gridmap serve`` SIGKILLed 10 times while a client adds cameras through the write API
    (``POST /api/layers/cameras/features``, one transaction each): integrity ok, every write
    answered 201 is there with its history row, at most one more per kill."""
    from .conftest import ROLE_TOKENS

    path = store.GeoPackageWorkspace(demo_path, read_only=True).backup(tmp_path / "demo.gpkg")
    with store.GeoPackageWorkspace(path, read_only=True) as ws:
        spot = ws.read("cameras", limit=1).geometry.iloc[0]
    token = ROLE_TOKENS["planner"]
    rng = random.Random(10)
    acked: set[str] = set()
    before: set[str] = set()
    extra_total = 0
    for round_ in range(10):
        proc, base = _serve(path)
        if round_ == 0:
            probe = _post_camera(base, token, f"{PREFIX}PROBE", spot.x, spot.y)
            if probe in (404, 405):
                proc.kill()
                proc.wait(10)
                pytest.skip("the write API is not in this tree")
            assert probe == 201, probe
            acked.add(f"{PREFIX}PROBE")
        acks: list[str] = []

        def writes(
            stop: threading.Event, acks: list[str] = acks, base: str = base, n: int = round_
        ) -> None:
            i = 0
            while not stop.is_set():
                code = f"{PREFIX}H{n:02d}-{i:05d}"
                try:
                    status = _post_camera(base, token, code, spot.x + i * 1e-7, spot.y)
                except OSError:  # the server died mid-request: not acknowledged
                    return
                assert status == 201, status
                acks.append(code)
                i += 1

        _kill_while(proc, acks, writes, rng)
        acked |= set(acks)
        assert _integrity(path) == "ok", round_
        verdict, present, history_rows = committed(path, ROLE_USERS["planner"])
        assert verdict == "ok"
        assert acked <= present, (round_, sorted(acked - present))  # no acknowledged loss
        extra = (present - before) - acked
        assert len(extra) <= 1, (round_, sorted(extra))  # committed, not yet answered
        extra_total += len(extra)
        assert history_rows == len(present), round_  # each write whole, with its history
        before = present
    print(f"10 kills of gridmap serve: {len(acked)} answered writes kept, {extra_total} unanswered")
