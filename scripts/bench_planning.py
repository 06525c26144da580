"""Benchmark grid planning edits (issue 8): one save of the planning page, run by hand.

    .venv/bin/python scripts/bench_planning.py [--workspace demo.gpkg] [--rounds 10] [--out FILE]

Builds the demo workspace in a temporary folder (or copies ``--workspace``), then times, per
round, each planning operation through :func:`gridmap.service.planning.edit_grids` (parse,
read the grids under the write lock, the topology operation, the coverage cleaning of the
community, write the grids, recompute every grid_code there and the figures, lineage) and
the undo that takes it back:

- reshape: a vertex two grids share moved 3 m;
- split: a grid cut in two through its middle;
- merge: two neighbouring grids;
- paint: one street block into the neighbouring grid, and one building's cell.

The peer is the naive way of keeping codes and figures right after an edit, the one an
import takes: every grid rewritten and every building, household, facility and camera
relocated (``relocate.refigure`` over the whole workspace) in one transaction.

After every edit the plan is checked: GEOS's ``coverage_is_valid`` over all grids and the
overlap and gap area (m²); the table reports the worst. Prints a Markdown table (p50 and p95,
milliseconds); ``--out`` also writes it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import shapely  # noqa: E402
from shapely.geometry import mapping  # noqa: E402

from gridmap import store  # noqa: E402
from gridmap.access.roles import Access  # noqa: E402
from gridmap.build.demo import build_demo  # noqa: E402
from gridmap.service import blocks, plan_history, planning  # noqa: E402
from gridmap.service.metric import metric_crs  # noqa: E402
from gridmap.service.relocate import refigure  # noqa: E402

WHO = Access.of("bench", "planner")


def _json(geom: Any) -> Any:
    import json

    return json.loads(json.dumps(mapping(geom)))


def _pct(times: list[float]) -> tuple[float, float]:
    arr = np.array(times) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def check(ws: store.Workspace) -> tuple[bool, float, float]:
    """Return whether the grids are a valid coverage, and their overlap and gap (m²)."""
    g = ws.read("grids")
    valid = bool(shapely.coverage_is_valid(np.asarray(g.geometry.values, dtype=object)))
    crs = metric_crs(ws)
    geoms = np.asarray(g.to_crs(crs).geometry.values, dtype=object)
    area = shapely.union_all(ws.read("community").to_crs(crs).geometry.values)
    union = shapely.union_all(geoms)
    overlap = float(shapely.area(geoms).sum() - union.area)
    gap = float(shapely.difference(area, union).area)
    return valid, max(overlap, 0.0), gap


def operations(ws: store.Workspace, round_no: int) -> list[tuple[str, dict[str, Any]]]:
    """Return this round's edits, chosen from the plan as it is (seeded by the round)."""
    g = ws.read("grids").set_index("code")
    codes = sorted(g.index)
    rng = np.random.default_rng(round_no)
    out: list[tuple[str, dict[str, Any]]] = []
    # reshape: a vertex shared with a neighbour, moved about 3 m
    for _ in range(50):
        a = codes[int(rng.integers(len(codes)))]
        coords = shapely.get_coordinates(g.geometry[a])
        others = [c for c in codes if c != a and g.geometry[c].touches(g.geometry[a])]
        shared = [
            xy
            for xy in map(tuple, coords.tolist())
            if any(
                xy in set(map(tuple, shapely.get_coordinates(g.geometry[o]).tolist()))
                for o in others
            )
        ]
        if shared:
            x, y = shared[int(rng.integers(len(shared)))]
            moved = coords.copy()
            hit = np.all(moved == np.asarray((x, y)), axis=1)
            moved[hit] = (x + 2e-5, y + 2e-5)
            shape = shapely.set_coordinates(g.geometry[a], moved)
            if shape.is_valid:
                out.append(("reshape", {"op": "reshape", "code": a, "geometry": _json(shape)}))
                break
    a = codes[int(rng.integers(len(codes)))]
    minx, miny, maxx, maxy = g.geometry[a].bounds
    mid = (minx + maxx) / 2
    line = {"type": "LineString", "coordinates": [[mid, miny - 1e-3], [mid, maxy + 1e-3]]}
    out.append(("split", {"op": "split", "code": a, "line": line}))
    pairs = [
        (x, y)
        for x in codes
        for y in codes
        if x < y and x[:12] == y[:12] and g.geometry[x].intersection(g.geometry[y]).length > 1e-4
    ]
    x, y = pairs[int(rng.integers(len(pairs)))]
    out.append(("merge", {"op": "merge", "codes": [x, y]}))
    stamp, frame = blocks.served_blocks(ws)
    inner = frame[frame["households"] > 0]
    pick = inner.iloc[int(rng.integers(len(inner)))]
    owner = pick["grid_code"]
    nbrs = [
        c
        for c in codes
        if c != owner
        and c[:12] == str(owner)[:12]
        and shapely.intersection(pick.geometry.boundary, g.geometry[c].boundary).length > 1e-4
    ]
    if nbrs:
        paint = {"op": "paint", "blocks": [int(pick.name)], "to": nbrs[0], "stamp": stamp}
        out.append(("paint block", paint))
        b = ws.read("buildings")
        mine = b[b["grid_code"] == owner]
        fid = int(mine.index[int(rng.integers(len(mine)))])
        out.append(("paint building", {"op": "paint", "buildings": [fid], "to": nbrs[0]}))
    return out


def naive(ws: store.Workspace) -> float:
    """Time the naive peer: every grid rewritten, everything relocated, one transaction."""
    t = time.perf_counter()
    with ws.transaction(user="bench", action="bench naive relocate") as tx:
        grids = tx.read("grids")
        tx.replace("grids", grids.drop(columns=["version", "updated_at", "updated_by"]))
        refigure(tx, metric_crs=metric_crs(ws), region=None)
    return time.perf_counter() - t


def with_versions(ws: store.Workspace, body: dict[str, Any]) -> dict[str, Any]:
    """Return ``body`` with the current versions of the grids it names (as the page sends)."""
    version = dict(zip(*(ws.read("grids")[c].tolist() for c in ("code", "version")), strict=True))
    named = planning.parse_operation(body).named
    return {**body, "versions": {c: int(version[c]) for c in named if c in version}}


def run(path: Path, rounds: int, say: Callable[[str], None]) -> str:
    ws = store.GeoPackageWorkspace(path)
    times: dict[str, list[float]] = {}
    worst = (True, 0.0, 0.0)
    for r in range(rounds):
        for name, body in operations(ws, r):
            body = with_versions(ws, body)
            t = time.perf_counter()
            planning.edit_grids(ws, body, access=WHO)
            times.setdefault(name, []).append(time.perf_counter() - t)
            valid, overlap, gap = check(ws)
            worst = (worst[0] and valid, max(worst[1], overlap), max(worst[2], gap))
            t = time.perf_counter()
            plan_history.undo(ws, access=WHO)
            times.setdefault("undo", []).append(time.perf_counter() - t)
        times.setdefault("naive: rewrite all, relocate all", []).append(naive(ws))
        say(f"round {r + 1} of {rounds}")
    peer = float(np.median(times["naive: rewrite all, relocate all"]))
    lines = [
        f"Demo: {ws.count('grids')} grids, {ws.count('buildings')} buildings, "
        f"{ws.count('households')} households; {rounds} rounds.",
        "",
        "| operation | p50 ms | p95 ms | naive p50 ÷ p50 |",
        "|---|---:|---:|---:|",
    ]
    for name, ts in times.items():
        p50, p95 = _pct(ts)
        ratio = "" if name.startswith("naive") else f"{peer * 1000 / p50:.1f}×"
        lines.append(f"| {name} | {p50:.0f} | {p95:.0f} | {ratio} |")
    lines += [
        "",
        f"After every edit: coverage valid {'always' if worst[0] else 'NOT always'}, "
        f"largest overlap {worst[1]:.2f} m², largest gap {worst[2]:.2f} m² "
        "(of the communities' 2.8 km²).",
    ]
    ws.close()
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.gpkg"
        if args.workspace:
            store.GeoPackageWorkspace(args.workspace, read_only=True).backup(path)
        else:
            print("building the demo …", file=sys.stderr)
            build_demo(path)
        table = run(path, args.rounds, lambda m: print(m, file=sys.stderr))
    print(table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
