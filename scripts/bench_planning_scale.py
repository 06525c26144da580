"""Benchmark grid planning at district scale (issue 8), run by hand.

    .venv/bin/python scripts/bench_planning_scale.py [--size demo|300|2000 ...] [--rounds 10]
        [--label after] [--out FILE] [--keep DIR]

For each size it builds a workspace in a temporary folder (``demo``: the OSM demo, 52 grids;
``300``: :func:`gridmap.build.synthetic.district.build_district` with 300 grids and 20,000
buildings; ``2000``: 2,000 grids and 133,000 buildings), or takes it from ``--keep DIR``
when built there before, then times

- ``gridmap grids validate`` (:func:`gridmap.service.grid_checks.validate`: checks + figures)
  three times on a newly opened workspace (nothing of it in memory yet), three times again on
  the same one unchanged, and after every edit below (the whole check the page asks for);
- a rebalance proposal (:func:`gridmap.service.rebalance.propose`) for a range the plan
  misses (``--rebalance 380,0.1``: 380 households ± 10 %), and of it the street-block units,
  the search and the paint check of the moves (what is left of ``_whole_moves``);
- per round, a reshape (a shared vertex moved about 3 m), a split through a grid's middle, a
  merge of two neighbours and a paint of one street block into the neighbouring grid, each
  end to end through :func:`gridmap.service.planning.edit_grids`, then its undo
  (:func:`gridmap.service.plan_history.undo`) and the reply the page gets for it (the grids
  as GeoJSON: every grid before this issue's change, only those the undo changed after);
- the re-check of the edit alone: the checks of the grids it changed (``validate(grids=…)``
  when the code has it, else the whole ``validate`` the page asked for before);
- the naive peer: every grid rewritten and everything relocated in one transaction.

The code measured is whichever ``gridmap`` (and ``web``) comes first on the path: run it with
``PYTHONPATH=<old checkout>`` for the "before" figures (this file only appends its own
checkout, and imports them before ``bench_planning``, which puts its own first); it prints
which one it measures. Each measure is timed by the clock (wall) and by the CPU time of this process
(``time.process_time``): other jobs on the machine stretch the first, much less the second.
The load average (1 minute) is sampled at every round. Prints one Markdown row per size and
measure (p50 / p95 of each); ``--out`` appends them to FILE.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))
sys.path.append(str(ROOT / "scripts"))

import numpy as np  # noqa: E402
import shapely  # noqa: E402
from shapely.geometry import mapping  # noqa: E402

from gridmap import store  # noqa: E402
from gridmap.access.roles import Access  # noqa: E402
from gridmap.service import accounts, blocks, grid_checks, plan_history, planning  # noqa: E402
from gridmap.service import rebalance as rebalance_service  # noqa: E402
from web.app import create_app  # noqa: E402

# the same peer as the demo's bench; imported after gridmap and web, as bench_planning puts its
# own checkout first on the path
naive = importlib.import_module("bench_planning").naive

WHO = Access.of("bench", "planner")
SIZES = {"demo": None, "300": (300, 20_000), "2000": (2_000, 133_000)}


def build(size: str, folder: Path, say: Callable[[str], None]) -> Path:
    """Return the workspace of ``size`` in ``folder``, built there when not yet."""
    path = folder / f"{size}.gpkg"
    if path.exists():
        return path
    t = time.perf_counter()
    if size == "demo":
        from gridmap.build.demo import build_demo

        build_demo(path)
    else:
        from gridmap.build.synthetic.district import build_district

        grids, buildings = SIZES[size]  # type: ignore[misc]
        build_district(path, grids=grids, buildings=buildings)
    say(f"built {size} in {time.perf_counter() - t:.1f} s")
    return path


def _json(geom: Any) -> Any:
    return json.loads(json.dumps(mapping(geom)))


def operations(ws: store.Workspace, round_no: int) -> list[tuple[str, dict[str, Any]]]:
    """Return this round's edits, chosen from the plan as it is (seeded by the round)."""
    g = ws.read("grids").set_index("code")
    codes = np.asarray(sorted(g.index), dtype=object)
    geoms = np.asarray([g.geometry[c] for c in codes], dtype=object)
    tree = shapely.STRtree(geoms)
    rng = np.random.default_rng(round_no)
    left, right = tree.query(geoms, predicate="intersects")
    same = np.asarray(
        [str(codes[i])[:12] == str(codes[j])[:12] for i, j in zip(left, right, strict=True)]
    )
    keep = (left < right) & same
    left, right = left[keep], right[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(geoms[left]), geoms[right]))
    left, right = left[shared > 1e-4], right[shared > 1e-4]
    out: list[tuple[str, dict[str, Any]]] = []
    for _ in range(50):  # reshape: a vertex shared with a neighbour, moved about 3 m
        k = int(rng.integers(len(left)))
        a, b = int(left[k]), int(right[k])
        mine = shapely.get_coordinates(geoms[a])
        theirs = {tuple(xy) for xy in shapely.get_coordinates(geoms[b]).tolist()}
        shared_xy = [xy for xy in map(tuple, mine.tolist()) if xy in theirs]
        if shared_xy:
            x, y = shared_xy[int(rng.integers(len(shared_xy)))]
            moved = mine.copy()
            moved[np.all(moved == np.asarray((x, y)), axis=1)] = (x + 2e-5, y + 2e-5)
            shape = shapely.set_coordinates(geoms[a], moved)
            if shape.is_valid:
                body = {"op": "reshape", "code": str(codes[a]), "geometry": _json(shape)}
                out.append(("reshape", body))
                break
    for _ in range(50):  # split: a grid cut in two through its middle, north to south
        a = str(codes[int(rng.integers(len(codes)))])
        minx, miny, maxx, maxy = g.geometry[a].bounds
        mid = (minx + maxx) / 2
        line = shapely.LineString([(mid, miny - 1e-3), (mid, maxy + 1e-3)])
        if len(shapely.get_parts(shapely.difference(g.geometry[a], line.buffer(1e-9)))) == 2:
            out.append(("split", {"op": "split", "code": a, "line": _json(line)}))
            break
    k = int(rng.integers(len(left)))
    out.append(("merge", {"op": "merge", "codes": [str(codes[left[k]]), str(codes[right[k]])]}))
    stamp, frame = blocks.served_blocks(ws)
    inner = frame[frame["households"] > 0]
    for _ in range(50):
        pick = inner.iloc[int(rng.integers(len(inner)))]
        owner = str(pick["grid_code"])
        if owner not in g.index or g.geometry[owner].area < 1.5 * pick.geometry.area:
            continue  # (a grid of this block alone: painting it away removes the grid)
        near = tree.query(pick.geometry, predicate="intersects")
        nbrs = [
            str(codes[i])
            for i in near.tolist()
            if str(codes[i]) != owner
            and str(codes[i])[:12] == owner[:12]
            and shapely.length(shapely.intersection(pick.geometry.boundary, geoms[i].boundary))
            > 1e-4
        ]
        if nbrs:
            paint = {"op": "paint", "blocks": [int(pick.name)], "to": nbrs[0], "stamp": stamp}
            out.append(("paint block", paint))
            break
    return out


def with_versions(ws: store.Workspace, body: dict[str, Any]) -> dict[str, Any]:
    """Return ``body`` with the current versions of the grids it names (as the page sends)."""
    named = planning.parse_operation(body).named
    found = ws.read("grids", where={"code": named})
    version = dict(zip(found["code"].tolist(), found["version"].tolist(), strict=True))
    return {**body, "versions": {c: int(version[c]) for c in named if c in version}}


def _app(path: Path) -> tuple[Any, store.Workspace]:
    """Return a test client of the web app over ``path`` that sends a planner's API token,
    and the workspace it serves (the same file: the bench writes through it too)."""
    ws = store.GeoPackageWorkspace(path)
    accounts.add_user(ws, "bench", "planner", password="bench-password-2026")
    token = accounts.issue_token(ws, "bench", "bench")
    client = create_app({"WORKSPACE": ws, "TESTING": True}).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client, ws


RECHECK = "grids" in inspect.signature(grid_checks.validate).parameters


def recheck(ws: store.Workspace, codes: list[str]) -> None:
    """The checks the page needs after an edit of ``codes`` (all of them before this issue)."""
    if RECHECK:
        grid_checks.validate(ws, grids=codes)  # type: ignore[call-arg]
    else:
        grid_checks.validate(ws)


#: A measure's times: (wall, CPU) seconds per run.
Times = dict[str, list[tuple[float, float]]]


class Clock:
    """Wall and CPU time of a block: ``with Clock(times, name): ...``."""

    def __init__(self, times: Times, name: str) -> None:
        self.times, self.name = times, name

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        took = (time.perf_counter() - self.wall, time.process_time() - self.cpu)
        self.times.setdefault(self.name, []).append(took)


def _pct(values: list[float]) -> str:
    arr = np.array(values) * 1000
    return f"{np.percentile(arr, 50):,.0f} / {np.percentile(arr, 95):,.0f}"


def rebalance(ws: store.Workspace, goal: tuple[float, float], times: Times) -> None:
    """Time one rebalance proposal to ``goal`` (households, tolerance), and its parts: the
    units, the search (every call of ``fewest_moves``) and the paint check (the rest of
    ``_whole_moves``: trying the moves on the plan)."""
    from gridmap.grids import rebalance as search

    spent: Times = {}
    patched = {
        (rebalance_service, "plan_units"): "units",
        (rebalance_service, "_whole_moves"): "whole",
        (search, "fewest_moves"): "search",
    }
    saved = {key: getattr(*key) for key in patched}

    def timed(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        def run(*a: Any, **kw: Any) -> Any:
            with Clock(spent, name):
                return fn(*a, **kw)

        return run

    for (module, attr), name in patched.items():
        setattr(module, attr, timed(saved[(module, attr)], name))
    try:
        with Clock(times, f"rebalance to {goal[0]:g} ± {goal[1]:.0%}: proposal"):
            plan = rebalance_service.propose(ws, target=goal[0], tolerance=goal[1])
    finally:
        for key, fn in saved.items():
            setattr(*key, fn)

    def total(name: str) -> tuple[float, float]:
        got = spent.get(name, [])
        return (sum(w for w, _ in got), sum(c for _, c in got))

    label = f"rebalance to {goal[0]:g} ± {goal[1]:.0%}"
    whole, found = total("whole"), total("search")
    times.setdefault(f"{label}: of which the units", []).append(total("units"))
    times.setdefault(f"{label}: of which the search", []).append(found)
    times.setdefault(
        f"{label}: of which the paint check ({len(plan.moves)} moves kept)", []
    ).append((whole[0] - found[0], whole[1] - found[1]))


def run(
    path: Path,
    size: str,
    rounds: int,
    label: str,
    say: Callable[[str], None],
    goal: tuple[float, float] | None,
) -> list[str]:
    """Time one workspace; return its Markdown rows."""
    times: Times = {}
    load = [os.getloadavg()[0]]
    for _ in range(3):  # a newly opened workspace: nothing of it in memory
        fresh = store.GeoPackageWorkspace(path)
        with Clock(times, "validate (checks + figures), newly opened workspace"):
            grid_checks.validate(fresh)
        fresh.close()
    client, ws = _app(path)
    grid_checks.validate(ws)
    for _ in range(3):
        with Clock(times, "validate again, workspace unchanged"):
            grid_checks.validate(ws)
    if goal is not None:
        rebalance(ws, goal, times)
        say(f"{size}: rebalance done")
    for r in range(rounds):
        for name, body in operations(ws, r):
            body = with_versions(ws, body)
            with Clock(times, name):
                done = planning.edit_grids(ws, body, access=WHO)
            codes = [*done.changed, *done.added]
            with Clock(times, "re-check of the edit"):
                recheck(ws, codes)
            with Clock(times, "validate after the edit (the page's whole check)"):
                grid_checks.validate(ws)
            with Clock(times, "undo"):
                plan_history.undo(ws, access=WHO)
        # the page's undo: POST /api/grids/undo (edit through the API, then take it back)
        body = with_versions(ws, operations(ws, r)[-1][1])
        resp = client.post("/api/grids/edit", json=body)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        with Clock(times, "undo, the page's request (reply included)"):
            resp = client.post("/api/grids/undo", json={})
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        with Clock(times, "naive peer: rewrite all, relocate all"):
            naive(ws)
        load.append(os.getloadavg()[0])
        say(f"{size}: round {r + 1} of {rounds}")
    desc = (
        f"{ws.count('grids')} grids, {ws.count('buildings'):,} buildings, "
        f"{ws.count('households'):,} households"
    )
    ws.close()
    rows = [
        f"| {size} ({desc}) | {label} | {name} | {_pct([w for w, _ in ts])} "
        f"| {_pct([c for _, c in ts])} |"
        for name, ts in sorted(times.items())
    ]
    rows.append(
        f"| {size} ({desc}) | {label} | load average (1 min) over the run: "
        f"{min(load):.1f}–{max(load):.1f} | | |"
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", action="append", choices=list(SIZES))
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--label", default="after")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--keep", type=Path, help="build the workspaces here and reuse them")
    parser.add_argument(
        "--rebalance",
        default="380,0.1",
        help="households,tolerance of the rebalance timed (none: no rebalance)",
    )
    args = parser.parse_args()
    say = lambda m: print(m, file=sys.stderr)  # noqa: E731
    import gridmap

    say(f"measuring gridmap from {Path(gridmap.__file__).parent}")
    goal = None
    if args.rebalance != "none":
        households, tolerance = (float(v) for v in args.rebalance.split(","))
        goal = (households, tolerance)
    rows = [
        "| workspace | code | measure | wall p50 / p95 ms | CPU p50 / p95 ms |",
        "|---|---|---|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for size in args.size or list(SIZES):
            src = build(size, folder, say)
            work = Path(tmp) / f"work-{size}.gpkg"
            store.GeoPackageWorkspace(src, read_only=True).backup(work)
            rows += run(work, size, args.rounds, args.label, say, goal)
    print("\n".join(rows))
    if args.out:
        with args.out.open("a", encoding="utf-8") as f:
            f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
