"""Many at once: 4 writer threads and 8 HTTP readers on one served workspace (issue 5).

Bounded in time (a few seconds) and in requests; localhost only. What must hold: no write
that was acknowledged is lost, no update overwrites another unseen (versions), no connection
is left wedged, and readers are never held up by the writers (WAL).
"""

from __future__ import annotations

import threading
import time
import urllib.request

import geopandas as gpd
import pytest
import shapely
from werkzeug.serving import make_server

from gridmap import store
from gridmap.errors import BusyError, ConflictError
from tests.conftest import ROLE_TOKENS

RUN_SECONDS = 4.0
WRITERS = 4
READERS = 8


@pytest.fixture
def served(writable_demo):
    """The writable demo copy in WAL mode, served by the app on a free localhost port."""
    from web.app import create_app

    writable_demo.journal_mode("wal")
    app = create_app({"WORKSPACE": store.GeoPackageWorkspace(writable_demo.path), "TESTING": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield writable_demo, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def test_writers_and_readers_at_once(served):
    ws, base = served
    grid_fid = int(ws.read("grids", limit=1).index[0])
    start_version = int(ws.feature("grids", grid_fid)["version"].iloc[0])
    lon, lat = ws.read("cameras", limit=1).geometry.iloc[0].coords[0]
    b = ws.read("buildings", limit=1).geometry.iloc[0].bounds
    box = f"{b[0] - 0.002},{b[1] - 0.002},{b[2] + 0.002},{b[3] + 0.002}"
    urls = [
        f"{base}/api/layers/buildings?bbox={box}",
        f"{base}/api/layers/cameras",
        f"{base}/ogc/collections/grids/items?limit=20",
    ]
    TOKEN = {"Authorization": f"Bearer {ROLE_TOKENS['analyst']}"}
    deadline = time.monotonic() + RUN_SECONDS
    appended: list[str] = []
    updates: list[int] = []
    busy: list[int] = []
    write_times: list[float] = []
    read_times: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def writer(w: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            n += 1
            code = f"T{w}-{n}"
            cam = gpd.GeoDataFrame(
                {"code": [code], "kind": ["fixed"], "source": ["user"]},
                geometry=[shapely.Point(lon + 0.0001 * w, lat + 0.00001 * n)],
                crs=4326,
            )
            t0 = time.monotonic()
            try:
                with ws.transaction(user=f"writer{w}") as tx:
                    tx.append("cameras", cam)
                    version = int(tx.feature("grids", grid_fid)["version"].iloc[0])
                    tx.update("grids", grid_fid, {"worker": f"w{w}-{n}"}, expected_version=version)
            except BusyError:
                with lock:
                    busy.append(w)
                continue
            except ConflictError as exc:  # cannot happen: the check and the write share a lock
                with lock:
                    failures.append(f"conflict inside one transaction: {exc}")
                continue
            with lock:
                appended.append(code)
                updates.append(w)
                write_times.append(time.monotonic() - t0)
        # the thread's connection is not wedged: one more write goes through
        ws.append("cameras", cam.assign(code=f"T{w}-last"))
        with lock:
            appended.append(f"T{w}-last")

    def reader(r: int) -> None:
        i = 0
        while time.monotonic() < deadline and i < 400:
            url = urls[(r + i) % len(urls)]
            i += 1
            t0 = time.monotonic()
            try:
                request = urllib.request.Request(url, headers=TOKEN)
                with urllib.request.urlopen(request, timeout=10) as resp:
                    resp.read()
                    ok = resp.status == 200
            except OSError as exc:
                ok = False
                with lock:
                    failures.append(f"{url}: {exc}")
            with lock:
                read_times.append(time.monotonic() - t0)
                if not ok:
                    failures.append(f"{url}: not 200")

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    threads += [threading.Thread(target=reader, args=(r,)) for r in range(READERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=RUN_SECONDS + 60)
    assert not any(t.is_alive() for t in threads)
    assert not failures, failures[:5]
    assert len(appended) >= WRITERS * 2 and len(read_times) >= READERS * 5
    stored = set(store.GeoPackageWorkspace(ws.path).read("cameras")["code"])
    assert set(appended) <= stored  # no acknowledged write is lost
    final = int(ws.feature("grids", grid_fid)["version"].iloc[0])
    assert final - start_version == len(updates)  # every update counted, none overwritten
    # readers are not held up by the writers: WAL readers never wait for a commit
    slowest_write = max(write_times)
    assert max(read_times) < slowest_write + 2.0, (max(read_times), slowest_write)
