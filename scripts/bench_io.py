#!/usr/bin/env python3
"""Measure what the archive caps cost, and what a zip bomb costs now (issue 5, defect 11).

1. A normal zipped shapefile of about 10 MB (synthetic building outlines around Xinjiekou,
   Nanjing, GBK text without .cpg, so the encoding is detected over the whole .dbf): the median
   wall time of ``read_table`` over several runs, and the peak memory of one read.
2. The zip bomb of the issue: a 1.5 MB zip whose ``.cpg`` unpacks to 1.5 GB, once with honest
   sizes in its headers and once with headers that claim 5 bytes; and an .xlsx whose styles.xml
   unpacks to 1.5 GB but claims its original size: peak memory and time of ``read_table``
   refusing them.

Each case runs in a fresh child process, so its peak memory (ru_maxrss) is its own. To compare
with older code, put that code first on the path: ``PYTHONPATH=/path/to/old/checkout``.
The files are built once into a temporary folder (``--keep DIR`` to reuse them).

Run by hand (not in CI): .venv/bin/python scripts/bench_io.py [--runs 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from gridmap.io.readers import read_table
import gridmap
t0 = time.perf_counter()
c0 = time.process_time()
try:
    frame, info = read_table(sys.argv[1])
    outcome = f"read {len(frame)} rows ({info.encoding})"
except Exception as exc:
    outcome = f"{type(exc).__name__}: {str(exc)[:110]}"
seconds = time.perf_counter() - t0
cpu = time.process_time() - c0
print(json.dumps({"seconds": seconds, "cpu": cpu, "outcome": outcome, "code": gridmap.__file__,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def build_shapefile_zip(folder: Path, target_mb: float = 10.0) -> Path:
    """Write synthetic building outlines as a GBK shapefile without .cpg and zip it (~10 MB)."""
    import geopandas as gpd
    import numpy as np
    import shapely

    out = folder / "buildings_10mb.zip"
    if out.exists():
        return out
    rng = np.random.default_rng(5)
    n = 200_000
    x = 118.76 + rng.uniform(0, 0.06, n)
    y = 32.02 + rng.uniform(0, 0.05, n)
    w, h = rng.uniform(0.0001, 0.0004, n), rng.uniform(0.0001, 0.0004, n)
    polys = shapely.box(x, y, x + w, y + h)
    names = [f"{'鼓楼玄武秦淮建邺'[i % 8]}区{i % 97}号楼" for i in range(n)]
    frame = gpd.GeoDataFrame(
        {
            "name": names,
            "building": rng.choice(["residential", "yes", "apartments", "school"], n),
            "levels": rng.integers(1, 30, n),
            "address": [f"南京市某某路{i}号" for i in range(n)],
        },
        geometry=polys,
        crs=4326,
    )
    shp = folder / "shp"
    shp.mkdir(exist_ok=True)
    frame.to_file(shp / "buildings.shp", encoding="GBK")
    (shp / "buildings.cpg").unlink()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in sorted(shp.iterdir()):
            zf.write(part, f"buildings/{part.name}")
    print(
        f"built {out.name}: {out.stat().st_size / 2**20:.1f} MB zipped, "
        f"{sum(i.file_size for i in zipfile.ZipFile(out).infolist()) / 2**20:.1f} MB unpacked"
    )
    return out


def build_bomb(folder: Path, size: int = 1536 * 2**20) -> tuple[Path, Path]:
    """Write the 1.5 GB-.cpg zip bomb next to a tiny real shapefile; and a copy that lies."""
    import geopandas as gpd
    import shapely

    honest = folder / "bomb.zip"
    lying = folder / "bomb_lying.zip"
    if honest.exists() and lying.exists():
        return honest, lying
    shp = folder / "tiny"
    shp.mkdir(exist_ok=True)
    gpd.GeoDataFrame(
        {"name": ["新街口"]}, geometry=[shapely.Point(118.78, 32.04)], crs=4326
    ).to_file(shp / "sites.shp", encoding="UTF-8")
    with zipfile.ZipFile(honest, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for ext in ("shp", "shx", "dbf", "prj"):
            zf.write(shp / f"sites.{ext}", f"sites.{ext}")
        with zf.open("sites.cpg", "w") as fh:
            fh.write(b"UTF-8")
            block = b" " * (16 * 2**20)
            for _ in range(size // len(block)):
                fh.write(block)
    data = bytearray(honest.read_bytes())
    # the lying copy: both headers of sites.cpg claim it unpacks to 5 bytes
    for sig, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        at = data.find(sig)
        while at >= 0:
            if data[at + name_at : at + name_at + 9] == b"sites.cpg":
                data[at + size_at : at + size_at + 4] = struct.pack("<I", 5)
            at = data.find(sig, at + 1)
    lying.write_bytes(bytes(data))
    print(
        f"built {honest.name}: {honest.stat().st_size / 2**20:.1f} MB zipped, .cpg {size / 2**30:.1f} GB"
    )
    return honest, lying


def build_xlsx_bomb(folder: Path, size: int = 1536 * 2**20) -> Path:
    """Write a workbook whose styles.xml unpacks to 1.5 GB while its headers claim 2,631 bytes."""
    import openpyxl

    out = folder / "bomb_lying.xlsx"
    if out.exists():
        return out
    plain = folder / "plain.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["kind", "name", "lon", "lat"])
    book.active.append(["school", "甲", 118.78, 32.04])
    book.save(plain)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for item in src.infolist():
            body = src.read(item)
            if item.filename != "xl/styles.xml":
                zf.writestr(item.filename, body)
                continue
            declared = len(body)
            with zf.open("xl/styles.xml", "w") as fh:
                fh.write(body)
                block = b" " * (16 * 2**20)
                for _ in range(size // len(block)):
                    fh.write(block)
    data = bytearray(out.read_bytes())
    for sig, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        at = data.find(sig)
        while at >= 0:
            if data[at + name_at : at + name_at + 13] == b"xl/styles.xml":
                data[at + size_at : at + size_at + 4] = struct.pack("<I", declared)
            at = data.find(sig, at + 1)
    out.write_bytes(bytes(data))
    print(
        f"built {out.name}: {out.stat().st_size / 2**20:.1f} MB, styles.xml 1.5 GB (claims {declared} bytes)"
    )
    return out


def child(path: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--no-bomb", action="store_true")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="gridmap-bench-io-"))
    folder.mkdir(parents=True, exist_ok=True)
    shp = build_shapefile_zip(folder)
    runs = [child(shp) for _ in range(args.runs)]
    print(f"code: {runs[0]['code']}")
    print(
        f"10 MB shapefile zip: median {statistics.median(r['seconds'] for r in runs):.3f} s wall, "
        f"{statistics.median(r['cpu'] for r in runs):.3f} s CPU over {args.runs} runs "
        f"(min {min(r['seconds'] for r in runs):.3f} s wall), peak "
        f"{max(r['maxrss_kb'] for r in runs) / 1024:.0f} MB; {runs[0]['outcome']}"
    )
    if args.no_bomb:
        return
    for bomb in (*build_bomb(folder), build_xlsx_bomb(folder)):
        t0 = time.perf_counter()
        r = child(bomb)
        print(
            f"{bomb.name}: peak {r['maxrss_kb'] / 1024:.0f} MB, {r['seconds']:.2f} s "
            f"(child {time.perf_counter() - t0:.1f} s); {r['outcome']}"
        )
    print(f"(child baseline: python + gridmap imported, peak {baseline() / 1024:.0f} MB)")


def baseline() -> int:
    code = "import resource, gridmap.io.readers; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


if __name__ == "__main__":
    main()
