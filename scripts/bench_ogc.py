#!/usr/bin/env python3
"""Measure OGC API - Features as clients use it: viewports, concurrency, GDAL full reads.

1. Buildings and streets in random 500 m viewports over HTTP (waitress, 8 threads, as
   `gridmap serve` runs it): p50/p95 of ``/ogc/collections/{id}/items?bbox=…&limit=1000``.
2. 8 concurrent clients doing the same viewport queries: errors and requests per second.
3. ``/ogc/collections``: p50 over 20 calls.
4. GDAL full reads of households and buildings through the OAPIF driver, both with the
   Debian ``ogrinfo`` and with the GDAL that pyogrio bundles: requests the server saw, seconds,
   and whether the 64-bit ids (streets u/v, facilities osm_id) arrived whole.

Run by hand (not in CI): .venv/bin/python scripts/bench_ogc.py [--workspace demo.gpkg] [--n 60]
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridmap import store  # noqa: E402
from gridmap.build.demo import build_demo  # noqa: E402

TODAY = date(2026, 11, 27)
INT32_MAX = 2**31 - 1


class Counter:
    """WSGI middleware counting the requests per path."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.paths: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self.lock:
            self.paths[environ.get("PATH_INFO", "")] += 1
        return self.app(environ, start_response)

    def reset(self) -> None:
        with self.lock:
            self.paths.clear()

    def total(self) -> int:
        with self.lock:
            return sum(self.paths.values())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(path: Path) -> tuple[str, Counter]:
    import logging

    import waitress

    from web.app import create_app

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    counter = Counter(create_app({"WORKSPACE": path}))
    port = free_port()
    server = waitress.create_server(counter, host="127.0.0.1", port=port, threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/ogc/conformance", timeout=1).read()
            return base, counter
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def fetch(url: str) -> tuple[float, int]:
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as resp:
        body = resp.read()
        status = resp.status
    if status != 200:
        raise RuntimeError(f"{url}: {status}")
    return time.perf_counter() - t, len(body)


def viewports(ws: store.Workspace, n: int, size_m: float = 500.0) -> list[tuple[float, ...]]:
    minx, miny, maxx, maxy = ws.bounds()
    dlat = size_m / 111_320
    dlon = size_m / (111_320 * np.cos(np.radians((miny + maxy) / 2)))
    rng = np.random.default_rng(1)
    xs = rng.uniform(minx, maxx - dlon, n)
    ys = rng.uniform(miny, maxy - dlat, n)
    return [(x, y, x + dlon, y + dlat) for x, y in zip(xs, ys, strict=True)]


def ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) * 1000


def gdal_cli(url: str, layer: str) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-q", url, layer],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    return time.perf_counter() - t, out


_PYOGRIO = """
import json, sys, time
import pyogrio
t = time.perf_counter()
frame = pyogrio.read_dataframe(sys.argv[1], layer=sys.argv[2])
dt = time.perf_counter() - t
cols = {c: frame[c].astype("Int64").tolist() for c in sys.argv[3:]}
print(json.dumps({"seconds": dt, "rows": len(frame), "columns": cols}, default=str))
"""


def gdal_pyogrio(url: str, layer: str, *columns: str) -> tuple[float, dict[str, Any]]:
    """Read a layer with pyogrio's GDAL in a child process (pyogrio holds the GIL while GDAL
    fetches, which would starve a server in this process)."""
    import json

    out = subprocess.run(
        [sys.executable, "-c", _PYOGRIO, url, layer, *columns],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    doc = json.loads(out.strip().splitlines()[-1])
    return doc["seconds"], doc


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", type=Path, default=Path("/tmp/gridmap-bench/demo.gpkg"))
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--skip-gdal-cli", action="store_true")
    parser.add_argument("--viewports-only", action="store_true")
    args = parser.parse_args()
    path: Path = args.workspace
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        build_demo(path, today=TODAY)
    base, counter = serve(path)
    ws = store.GeoPackageWorkspace(path)
    boxes = viewports(ws, args.n)

    def vp_url(layer: str, box: tuple[float, ...]) -> str:
        return f"{base}/ogc/collections/{layer}/items?limit=1000&bbox={','.join(map(str, box))}"

    for layer in ("buildings", "streets"):
        fetch(vp_url(layer, boxes[0]))  # warm
        times = [fetch(vp_url(layer, box))[0] for box in boxes]
        print(f"viewport {layer}: p50 {ms(times, 50):.1f} ms, p95 {ms(times, 95):.1f} ms")

    errors = 0
    urls = [vp_url(layer, box) for box in boxes for layer in ("buildings", "streets")] * 2

    def one(url: str) -> float:
        try:
            return fetch(url)[0]
        except (OSError, urllib.error.HTTPError, RuntimeError):
            return -1.0

    t = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, urls))
    wall = time.perf_counter() - t
    errors = sum(1 for r in results if r < 0)
    ok = [r for r in results if r >= 0]
    print(
        f"8 clients: {len(urls)} requests, {errors} errors, {len(urls) / wall:.0f} req/s, "
        f"p95 {ms(ok, 95):.1f} ms"
    )

    times = [fetch(f"{base}/ogc/collections")[0] for _ in range(20)]
    print(f"/ogc/collections: p50 {statistics.median(times) * 1000:.1f} ms")
    if args.viewports_only:
        return

    url = f"OAPIF:{base}/ogc"
    for layer in ("households", "buildings"):
        if not args.skip_gdal_cli and shutil.which("ogrinfo"):
            counter.reset()
            dt, out = gdal_cli(url, layer)
            n = out.count(f"OGRFeature({layer})")
            print(
                f"ogrinfo (GDAL CLI) {layer}: {n} features, {counter.total()} requests, {dt:.1f} s"
            )
        counter.reset()
        dt, doc = gdal_pyogrio(url, layer)
        print(
            f"pyogrio (bundled GDAL) {layer}: {doc['rows']} features, {counter.total()} requests, "
            f"{dt:.1f} s"
        )

    truth = ws.read("streets")
    big = int((truth["u"] > INT32_MAX).sum() + (truth["v"] > INT32_MAX).sum())
    _, doc = gdal_pyogrio(url, "streets", "u")
    whole = sorted(doc["columns"]["u"]) == sorted(truth["u"].astype("int64").tolist())
    print(
        f"pyogrio streets: {big} u/v values above 2^31 in the workspace; u arrived whole: {whole}"
    )
    if shutil.which("ogrinfo"):
        out = subprocess.run(
            ["ogrinfo", "-ro", "-al", "-q", url, "streets"],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        ).stdout
        print(f"ogrinfo streets: {out.count(str(INT32_MAX))} values clamped to 2147483647")


if __name__ == "__main__":
    main()
