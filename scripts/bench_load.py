#!/usr/bin/env python3
"""Load on a served workspace: 20 users reading the map while 2 write; figures, errors, losses.

``gridmap serve`` (waitress, WAL, as deployed) runs on a copy of the demo on loopback. For
``--seconds`` (default 60):

- ``--readers`` (20) threads each act as one map user: ``GET /api/workspace``, then one
  viewport after another — a random 500 m box inside the area, and for it the map's default
  layers with ``?bbox=`` (grids, buildings, streets, facilities, cameras), one request each,
  in turn, as the browser asks for them; signed in with an analyst's token.
- ``--writers`` (2) each add one new camera, then pause ``--write-pause`` seconds: through the
  write API (``POST /api/layers/cameras/features`` as a planner; acknowledged by its 201) when
  the server has it, else (``--writes transaction``, or a server without it) as processes
  committing through ``Workspace.transaction()`` on the served file, the path the write API
  takes; acknowledged when the transaction has committed.

Reported: p50/p95/max of one layer request of a viewport and of a whole viewport (its five
requests), of ``/api/workspace`` and of one write; requests and writes per second; errors
(any reply that is not 200, or no reply); lost writes (acknowledged but missing afterwards,
counted from the workspace once the server has stopped).

Run by hand (not in CI): ``.venv/bin/python scripts/bench_load.py [--workspace demo.gpkg]``;
without ``--workspace`` a demo is built first (about 20 s). No new dependency: threads,
``urllib`` and ``multiprocessing`` of the standard library.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridmap import store  # noqa: E402
from gridmap.build.demo import build_demo  # noqa: E402

#: ``gridmap serve``, which dumps its threads' stacks to stderr on SIGUSR1 (to see a stall).
SERVE = (
    "import faulthandler, signal, sys; faulthandler.register(signal.SIGUSR1, all_threads=True); "
    "from gridmap.cli.main import main; sys.exit(main())"
)
MAP_LAYERS = ("grids", "buildings", "streets", "facilities", "cameras")
VIEW_M = 500.0
CODE_PREFIX = "LOAD-"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    """p50, p95 and max in milliseconds, and the count."""
    return {
        "n": len(values),
        "p50_ms": percentile(values, 50) * 1000,
        "p95_ms": percentile(values, 95) * 1000,
        "max_ms": (max(values) if values else float("nan")) * 1000,
    }


def prepare(source: Path | None, folder: Path) -> tuple[Path, str, str]:
    """Copy (or build) the demo into ``folder``; return its path and an analyst's and a
    planner's API tokens."""
    from gridmap.service import accounts

    target = folder / "demo.gpkg"
    if source is None:
        print("building the demo…", flush=True)
        build_demo(target, today=date(2026, 11, 27))
    else:
        store.GeoPackageWorkspace(source, read_only=True).backup(target)
    with store.GeoPackageWorkspace(target) as ws:
        if ws.get_user("demo-analyst") is None:
            accounts.create_demo_accounts(
                ws, password="bench-load-2026", admin_password="bench-load-admin-2026"
            )
        token = accounts.issue_token(ws, "demo-analyst", "bench_load")
        planner = accounts.issue_token(ws, "demo-planner", "bench_load")
    return target, token, planner


def get(url: str, token: str) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        body = e.read()
        e.close()
        return e.code, body


class Reader(threading.Thread):
    """One map user: the workspace, then viewports of the default layers, until told to stop."""

    def __init__(self, base: str, token: str, stop: threading.Event, seed: int) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.stop = base, token, stop
        self.rng = random.Random(seed)
        self.workspace: list[float] = []
        self.layer: list[float] = []
        self.viewport: list[float] = []
        self.errors: list[str] = []

    def call(self, path: str) -> tuple[float, bytes | None]:
        started = time.perf_counter()
        try:
            status, body = get(self.base + path, self.token)
        except OSError as exc:
            self.errors.append(f"{path}: {exc}")
            return time.perf_counter() - started, None
        took = time.perf_counter() - started
        if status != 200:
            self.errors.append(f"{path}: HTTP {status}")
            return took, None
        return took, body

    def run(self) -> None:
        took, body = self.call("/api/workspace")
        self.workspace.append(took)
        if body is None:
            return
        doc = json.loads(body)
        lon, lat = doc["center"]
        # the area is about 2 km across: viewports within 800 m of its centre
        dlat = VIEW_M / 111_320 / 2
        dlon = dlat / max(0.2, abs(math.cos(math.radians(lat))))
        while not self.stop.is_set():
            cx = lon + self.rng.uniform(-8, 8) * dlon
            cy = lat + self.rng.uniform(-8, 8) * dlat
            bbox = f"{cx - dlon:.6f},{cy - dlat:.6f},{cx + dlon:.6f},{cy + dlat:.6f}"
            view = 0.0
            for layer in MAP_LAYERS:
                took, _ = self.call(f"/api/layers/{layer}?bbox={bbox}")
                self.layer.append(took)
                view += took
            self.viewport.append(view)


class HttpWriter(threading.Thread):
    """One editor adding cameras through the write API until told to stop."""

    def __init__(
        self, base: str, token: str, index: int, spot: tuple[float, float], pause: float
    ) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.index, self.spot, self.pause = base, token, index, spot, pause
        self.latencies: list[float] = []
        self.acked: list[str] = []
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            code = f"{CODE_PREFIX}{self.index}-{i:06d}"
            started = time.perf_counter()
            try:
                status = post_camera(
                    self.base,
                    self.token,
                    code,
                    self.spot[0] + (self.index * 1000 + i) * 1e-8,
                    self.spot[1],
                )
            except OSError as exc:
                self.errors.append(f"{code}: {exc}")
            else:
                if status == 201:
                    self.latencies.append(time.perf_counter() - started)
                    self.acked.append(code)
                else:
                    self.errors.append(f"{code}: HTTP {status}")
            i += 1
            time.sleep(self.pause)


def post_camera(base: str, token: str, code: str, lon: float, lat: float) -> int:
    """Add one camera through the write API; return the HTTP status."""
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
        with urllib.request.urlopen(req, timeout=60) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        e.close()
        return int(e.code)


def writer(path: str, index: int, seconds: float, pause: float, out: Any) -> None:
    """Commit one camera per transaction for ``seconds``; send (latencies, acked codes)."""
    import geopandas as gpd
    import shapely

    ws = store.GeoPackageWorkspace(path)
    spot = ws.read("cameras", limit=1).geometry.iloc[0]
    latencies: list[float] = []
    acked: list[str] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        code = f"{CODE_PREFIX}{index}-{i:06d}"
        row = gpd.GeoDataFrame(
            {
                "code": [code],
                "kind": ["fixed"],
                "bearing_deg": [float(i % 360)],
                "fov_deg": [60.0],
                "range_m": [40.0],
                "source": ["user"],
            },
            geometry=[shapely.Point(spot.x + (index * 1000 + i) * 1e-8, spot.y)],
            crs=4326,
        )
        started = time.perf_counter()
        try:
            with ws.transaction(user=f"bench-writer-{index}", action="bench load") as tx:
                tx.append("cameras", row)
        except Exception as exc:  # a refused or failed write is an error of the run
            errors.append(f"{code}: {type(exc).__name__}: {exc}")
        else:
            latencies.append(time.perf_counter() - started)
            acked.append(code)
        i += 1
        time.sleep(pause)
    ws.close()
    out.put((latencies, acked, errors))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, help="a demo workspace to copy (else built)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--write-pause", type=float, default=0.2, help="seconds between writes")
    parser.add_argument(
        "--writes",
        choices=("auto", "http", "transaction"),
        default="auto",
        help="through the write API (auto: when the server has it) or transactions",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--server-log", type=Path, help="the server's stderr (SIGUSR1 dumps its stacks there)"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="gridmap-bench-load-") as tmp:
        path, token, planner = prepare(args.workspace, Path(tmp))
        with store.GeoPackageWorkspace(path, read_only=True) as ws:
            first = ws.read("cameras", limit=1).geometry.iloc[0]
            spot = (float(first.x), float(first.y))
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE, "serve", str(path), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=log.open("w") if (log := args.server_log) else subprocess.DEVNULL,
        )
        print(f"server pid {server.pid}", flush=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if get(f"{base}/api/health", token)[0] == 200:
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            mode = args.writes
            if mode != "transaction":
                probe = post_camera(base, planner, f"{CODE_PREFIX}probe", *spot)
                if probe == 201:
                    mode = "http"
                elif mode == "http" or probe not in (404, 405):
                    raise SystemExit(f"the write API answered {probe} to a new camera")
                else:
                    mode = "transaction"
            print(f"writes through {'the write API' if mode == 'http' else 'transactions'}")
            ctx = mp.get_context("spawn")
            results = ctx.Queue()
            writers = [
                ctx.Process(
                    target=writer, args=(str(path), i, args.seconds, args.write_pause, results)
                )
                for i in range(args.writers if mode == "transaction" else 0)
            ]
            http_writers = [
                HttpWriter(base, planner, i, spot, args.write_pause)
                for i in range(args.writers if mode == "http" else 0)
            ]
            stop = threading.Event()
            readers = [Reader(base, token, stop, seed=i) for i in range(args.readers)]
            for w in writers:
                w.start()
            if writers:
                time.sleep(2.0)  # the writers' imports: start reading once they write
            for h in http_writers:
                h.start()
            started = time.monotonic()
            for r in readers:
                r.start()
            time.sleep(args.seconds)
            stop.set()
            for h in http_writers:
                h.stop.set()
            for r in readers:
                r.join(60)
            for h in http_writers:
                h.join(60)
            elapsed = time.monotonic() - started
            done = [results.get(timeout=120) for _ in writers]
            done += [(h.latencies, h.acked, h.errors) for h in http_writers]
            for w in writers:
                w.join(30)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.communicate()

        with store.GeoPackageWorkspace(path, read_only=True) as ws:
            codes = set(ws.read("cameras", columns=("code",))["code"])
        acked = [c for _, a, _ in done for c in a]
        lost = [c for c in acked if c not in codes]
        write_latencies = [x for lat, _, _ in done for x in lat]
        errors = [e for r in readers for e in r.errors] + [e for _, _, es in done for e in es]
        requests = sum(len(r.layer) + len(r.workspace) for r in readers)
        figures = {
            "writes_through": mode,
            "readers": args.readers,
            "writers": args.writers,
            "seconds": round(elapsed, 1),
            "cpus": os.cpu_count(),
            "viewport_layer": summary([x for r in readers for x in r.layer]),
            "viewport_all_layers": summary([x for r in readers for x in r.viewport]),
            "workspace": summary([x for r in readers for x in r.workspace]),
            "write": summary(write_latencies),
            "requests_per_s": round(requests / elapsed, 1),
            "writes_per_s": round(len(acked) / elapsed, 1),
            "errors": len(errors),
            "error_examples": errors[:5],
            "writes_acknowledged": len(acked),
            "writes_lost": len(lost),
        }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(
        f"{args.readers} readers, {args.writers} writers ({mode}), {figures['seconds']} s, "
        f"{figures['cpus']} CPUs"
    )
    print("| what | n | p50 | p95 | max |")
    print("|---|---|---|---|---|")
    for key, title in (
        ("viewport_layer", "one layer of a viewport (`/api/layers/<name>?bbox=`)"),
        ("viewport_all_layers", "a whole viewport (5 layers, one after another)"),
        ("workspace", "`/api/workspace`"),
        ("write", "one write (one transaction with its history row)"),
    ):
        f = figures[key]
        print(
            f"| {title} | {f['n']:,} | {f['p50_ms']:.1f} ms | {f['p95_ms']:.1f} ms "
            f"| {f['max_ms']:.1f} ms |"
        )
    print(
        f"requests/s {figures['requests_per_s']}, writes/s {figures['writes_per_s']}, "
        f"errors {figures['errors']}, writes acknowledged {figures['writes_acknowledged']}, "
        f"lost {figures['writes_lost']}"
    )
    for e in figures["error_examples"]:
        print("  error:", e)
    return 0 if not errors and not lost else 1


if __name__ == "__main__":
    sys.exit(main())
