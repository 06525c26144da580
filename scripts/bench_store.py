"""Benchmark the workspace's write path and exact box reads (issue 5), run by hand.

    .venv/bin/python scripts/bench_store.py [--out docs/benchmarks-store.md]

Builds the demo workspace in a temporary folder, then measures on copies of it:
- one checked, versioned, recorded edit (gridmap) against a bare SQL UPDATE (the floor);
- appending the whole register (20,913 households) through the rules, against a bare
  executemany (no checks, no history) and GDAL through pyogrio (append, not atomic);
- box reads: exact (R-tree, then geometry) against the R-tree's rectangles alone, with how many
  features the rectangles alone return wrongly;
- undo of a 100-feature transaction, and a layer as of an earlier transaction.
Prints a Markdown table; ``--out`` also writes it.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pyogrio  # noqa: E402
import shapely  # noqa: E402

from gridmap import store  # noqa: E402
from gridmap.build.demo import build_demo  # noqa: E402
from gridmap.store.gpkg import encoding  # noqa: E402


def _ms(times: list[float]) -> str:
    arr = np.array(times) * 1000
    return f"p50 {np.percentile(arr, 50):.2f} ms, p95 {np.percentile(arr, 95):.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--edits", type=int, default=200)
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t0 = time.perf_counter()
        demo = build_demo(d / "demo.gpkg")
        rows.append(
            (
                "demo build (all layers, rules and history)",
                f"{time.perf_counter() - t0:.1f} s",
                "foundation: 9.7 s",
            )
        )
        base = store.GeoPackageWorkspace(demo, read_only=True)

        # -- one edit ------------------------------------------------------------------------
        ws = store.GeoPackageWorkspace(base.backup(d / "edit.gpkg"))
        ws.journal_mode("wal")
        fids = list(ws.read("cameras").index)
        rng = random.Random(1)
        ours = []
        for i in range(args.edits):
            fid = int(rng.choice(fids))
            version = int(ws.feature("cameras", fid)["version"].iloc[0])
            t = time.perf_counter()
            with ws.transaction(user="bench") as tx:
                tx.update("cameras", fid, {"range_m": 30.0 + i % 50}, expected_version=version)
            ours.append(time.perf_counter() - t)
        raw = sqlite3.connect(ws.path, isolation_level=None)
        encoding.register_functions(raw)
        bare = []
        for i in range(args.edits):
            fid = int(rng.choice(fids))
            t = time.perf_counter()
            raw.execute("BEGIN IMMEDIATE")
            raw.execute("UPDATE cameras SET range_m = ? WHERE fid = ?", (30.0 + i % 50, fid))
            raw.execute("COMMIT")
            bare.append(time.perf_counter() - t)
        raw.close()
        ratio = statistics.median(ours) / statistics.median(bare)
        rows.append(
            (
                "one attribute edit (checked, versioned, in history)",
                _ms(ours),
                f"bare SQL UPDATE: {_ms(bare)} ({ratio:.0f}x)",
            )
        )
        grids = list(ws.read("grids").index)
        geo = []
        for i in range(50):
            fid = int(grids[i % len(grids)])
            g = ws.feature("grids", fid).geometry.iloc[0]
            t = time.perf_counter()
            with ws.transaction(user="bench") as tx:
                tx.update(
                    "grids",
                    fid,
                    {"geometry": shapely.affinity.translate(g, 1e-6 * (1 if i % 2 else -1))},
                )
            geo.append(time.perf_counter() - t)
        rows.append(("one grid geometry edit", _ms(geo), ""))
        ws.close()

        # -- bulk append ---------------------------------------------------------------------
        households = base.read("households").drop(columns=list(store.SYSTEM_COLUMNS))
        empty = d / "bulk.gpkg"
        with store.building(empty) as b, b.transaction() as tx:
            tx.replace("community", base.read("community").drop(columns=list(store.SYSTEM_COLUMNS)))
        ws = store.GeoPackageWorkspace(empty)
        t = time.perf_counter()
        ws.append("households", households)
        ours_bulk = time.perf_counter() - t
        raw = sqlite3.connect(empty, isolation_level=None)
        encoding.register_functions(raw)
        names = [c for c in households.columns if c != "geometry"]
        blobs = encoding.encode(np.asarray(households.geometry.values), 4326)
        values = (
            households[names].astype(object).where(households[names].notna(), None).values.tolist()
        )
        raw.execute(
            f"CREATE TABLE households_bare (fid INTEGER PRIMARY KEY, geom BLOB, {', '.join(names)})"
        )
        params = [
            (blob, *[int(v) if isinstance(v, bool) else v for v in row])
            for blob, row in zip(blobs, values, strict=True)
        ]
        t = time.perf_counter()
        raw.execute("BEGIN")
        raw.executemany(
            f"INSERT INTO households_bare (geom, {', '.join(names)}) VALUES (?{', ?' * len(names)})",
            params,
        )
        raw.execute("COMMIT")
        bare_bulk = time.perf_counter() - t
        raw.close()
        t = time.perf_counter()
        pyogrio.write_dataframe(households, d / "gdal.gpkg", layer="households", driver="GPKG")
        gdal_bulk = time.perf_counter() - t
        rows.append(
            (
                f"append {len(households):,} households (rules, keys, R-tree, history)",
                f"{ours_bulk:.2f} s",
                f"bare executemany: {bare_bulk:.2f} s; GDAL (pyogrio): {gdal_bulk:.2f} s",
            )
        )
        ws.close()

        # -- box reads -----------------------------------------------------------------------
        minx, miny, maxx, maxy = base.bounds()
        rng = random.Random(7)
        exact_t, rect_t, wrong = [], [], 0
        raw = sqlite3.connect(f"file:{demo}?mode=ro", uri=True)
        for _ in range(60):
            x = rng.uniform(minx, maxx - 0.005)
            y = rng.uniform(miny, maxy - 0.004)
            box = (x, y, x + 0.005, y + 0.004)  # about 470 m x 440 m
            for layer in ("buildings", "streets"):
                t = time.perf_counter()
                got = base.read(layer, bbox=box)
                exact_t.append(time.perf_counter() - t)
                t = time.perf_counter()
                rect = raw.execute(
                    f"SELECT t.fid, t.geom FROM {layer} t JOIN rtree_{layer}_geom r ON t.fid = r.id "
                    "WHERE r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ?",
                    (box[2], box[0], box[3], box[1]),
                ).fetchall()
                encoding.decode([r[1] for r in rect])
                rect_t.append(time.perf_counter() - t)
                wrong += len(rect) - len(got)
        raw.close()
        rows.append(
            (
                "500 m viewport, buildings and streets (exact)",
                _ms(exact_t),
                f"rectangles only, decode: {_ms(rect_t)}; {wrong} wrong features in 120 queries",
            )
        )

        # -- history -------------------------------------------------------------------------
        ws = store.GeoPackageWorkspace(base.backup(d / "hist.gpkg"))
        before = int(ws.audit_log(limit=1)["fid"].iloc[0])
        hh = ws.read("households", limit=100)
        with ws.transaction(user="bench", action="bulk edit") as tx:
            for fid in hh.index:
                tx.update("households", int(fid), {"members": 9})
        tx_id = int(ws.audit_log(limit=1)["fid"].iloc[0])
        t = time.perf_counter()
        ws.as_of("households", before)
        asof = time.perf_counter() - t
        t = time.perf_counter()
        ws.undo(tx_id)
        undo = time.perf_counter() - t
        rows.append(
            ("households as of an earlier transaction", f"{asof * 1000:.0f} ms", "20,913 rows")
        )
        rows.append(("undo a 100-feature transaction", f"{undo * 1000:.0f} ms", ""))
        ws.close()
    table = ["| measure | gridmap | peer / floor |", "|---|---|---|"] + [
        f"| {a} | {b} | {c} |" for a, b, c in rows
    ]
    text = "\n".join(table)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
