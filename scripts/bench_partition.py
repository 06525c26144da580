#!/usr/bin/env python3
"""Measure the automatic grid partition: solve time and quality, against naive bisection.

For each extract (the demo's, and the larger Xinjiekou one from ../shared/geodata when it is
there) the buildings get the demo's household estimate, then in one run:

1. ``GridPartition`` drawing communities and grids (the demo's pipeline);
2. the same communities given, grids drawn anew as ``gridmap grids auto`` does: the heuristic
   alone, and with random restarts (several seeds);
3. the naive peer in ``gridmap.grids.partition``: per community, weighted recursive bisection
   of the buildings into round(households / target) groups and their Voronoi polygons
   (``bisect_buildings`` + ``grid_polygons``), scored by the same objective.

Quality: households per grid (min, max, number outside 300-500, largest deviation from 400),
the objective of ``gridmap.grids.objective`` (households off target + 10 x outside the range)
and its gap to the lower bound; grids in more than one piece. Times are wall-clock seconds
of the solve alone (street units included), best of ``--repeat``.

Run by hand (not in CI): .venv/bin/python scripts/bench_partition.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import functools
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridmap.build.demo import DEMO_OSM, demo_buildings  # noqa: E402
from gridmap.build.init import metric_crs  # noqa: E402
from gridmap.grids import GridPartition, checks, objective, partition  # noqa: E402
from gridmap.grids.blocks import locate  # noqa: E402
from gridmap.grids.codes import storage_polygons  # noqa: E402
from gridmap.io.osm import read_osm  # noqa: E402

TARGET, BOUNDS = 400, (300, 500)
SHARED = next(
    (p / "shared" / "geodata" for p in ROOT.parents if (p / "shared" / "geodata").is_dir()),
    ROOT.parent / "shared" / "geodata",
)
EXTRACTS = {
    "demo (长江路, 2.8 km²)": DEMO_OSM,
    "Xinjiekou (新街口, 6.9 km²)": SHARED / "nanjing_xuanwu_xinjiekou_2021.osm.bz2",
}


def best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """Return (fastest wall time, last result) of ``repeat`` runs."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t)
    return min(times), out


def row(
    name: str, seconds: float, loads: np.ndarray, value: float, bound: float, pieces: int
) -> dict[str, Any]:
    lo, hi = BOUNDS
    return {
        "method": name,
        "s": seconds,
        "grids": len(loads),
        "min": int(loads.min()),
        "max": int(loads.max()),
        "outside": int(((loads < lo) | (loads > hi)).sum()),
        "maxdev": int(np.abs(loads - TARGET).max()),
        "objective": value,
        "gap": (value - bound) / value if value else 0.0,
        "split": pieces,
    }


def bisection(comm, footprints, weights) -> tuple[np.ndarray, float, int]:
    """The naive peer, per community: loads, objective and grids in more than one piece."""
    where = locate(footprints, np.asarray(comm.geometry.values, dtype=object))
    loads, value, split = [], 0.0, 0
    for i, poly in enumerate(comm.geometry.values):
        mine = np.flatnonzero(where == i)
        k = partition.grid_count(int(weights[mine].sum()), TARGET)
        labels = partition.bisect_buildings(footprints[mine], weights[mine], k)
        polys = partition.grid_polygons(footprints[mine], labels, poly)
        load = np.bincount(labels, weights=weights[mine].astype(float), minlength=k)
        loads.extend(load.tolist())
        value += objective.objective(load, TARGET, BOUNDS)
        split += sum(checks.pieces(p) > 1 for p in polys)
    return np.asarray(loads), value, split


def bench(
    label: str, osm: Path, repeat: int, seeds: list[int], restarts: int
) -> list[dict[str, Any]]:
    ext = read_osm(osm)
    crs = metric_crs(ext)
    b, area = demo_buildings(ext, crs)
    streets = ext.streets.to_crs(crs)
    print(
        f"\n## {label}: {len(b)} buildings, {int(b['households'].sum()):,} households", flush=True
    )
    rows = []

    drawn = GridPartition.from_frames(area, streets, b, code_prefix="320102001")
    t, r = best_of(repeat, drawn.solve)
    g = r.solution.grids
    split = sum(checks.pieces(p) > 1 for p in g.geometry.values)
    rows.append(
        row(
            "GridPartition, communities drawn (demo)",
            t,
            g["households"].to_numpy(),
            r.objective,
            r.bound,
            split,
        )
    )
    # as grids auto reads them: stored in EPSG:4326 at 1e-7 degrees, projected back
    comm = storage_polygons(r.solution.communities).to_crs(crs)

    given = GridPartition.from_frames(None, streets, b, communities=comm)
    t, r = best_of(repeat, given.solve)
    g = r.solution.grids
    rows.append(
        row(
            "GridPartition, communities given (grids auto)",
            t,
            g["households"].to_numpy(),
            r.objective,
            r.bound,
            0,
        )
    )
    bound = r.bound
    for seed in seeds:
        t, r = best_of(1, functools.partial(given.solve, seed=seed, restarts=restarts))
        g = r.solution.grids
        rows.append(
            row(
                f"  + {restarts} restarts, seed {seed}",
                t,
                g["households"].to_numpy(),
                r.objective,
                r.bound,
                0,
            )
        )

    footprints = np.asarray(b.geometry.values, dtype=object)
    weights = b["households"].to_numpy()
    t, (loads, value, split) = best_of(repeat, lambda: bisection(comm, footprints, weights))
    rows.append(row("bisection (naive peer), same communities", t, loads, value, bound, split))
    print(
        f"lower bound (communities given): {bound:g} households; area {shapely.area(area) / 1e6:.2f} km²"
    )
    return rows


def show(rows: list[dict[str, Any]]) -> None:
    head = "| method | solve s | grids | min | max | outside 300-500 | max dev | objective | gap to bound | grids in pieces |"
    print(head)
    print("| --- |" + " ---: |" * 9)
    for r in rows:
        print(
            f"| {r['method']} | {r['s']:.2f} | {r['grids']} | {r['min']} | {r['max']} | {r['outside']} "
            f"| {r['maxdev']} | {r['objective']:,.0f} | {r['gap']:.0%} | {r['split']} |"
        )
    base = next(r for r in rows if r["method"].startswith("bisection"))
    auto = rows[1]
    print(
        f"\ngrids auto vs bisection: {auto['s'] / base['s']:.1f}x the time, "
        f"{auto['objective'] / base['objective']:.2f}x the objective"
    )
    best = min(rows, key=lambda r: r["objective"])
    print(
        f"best: {best['method'].strip()} ({best['objective'] / base['objective']:.2f}x bisection)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    print(
        f"# bench_partition on {platform.node()} ({platform.processor() or platform.machine()}), Python {platform.python_version()}"
    )
    seeds = [int(s) for s in args.seeds.split(",") if s]
    for label, osm in EXTRACTS.items():
        if not osm.exists():
            print(f"\n(skipped {label}: {osm} not found)")
            continue
        show(bench(label, osm, args.repeat, seeds, args.restarts))


if __name__ == "__main__":
    main()
