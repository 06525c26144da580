"""Benchmark search (issue 7): the index against a naive pandas scan, run by hand.

    .venv/bin/python scripts/bench_search.py [--workspace demo.gpkg] [--queries 200] [--out FILE]

Builds the demo workspace in a temporary folder (or copies ``--workspace``), then times 200
queries drawn with a fixed seed from the demo itself — grid codes and their prefixes, grid,
community, building and street names, addresses and parts of them, household ids and room
addresses, camera codes, facility names and kinds (派出所, school) — as the admin (who finds
households), a planner (who does not) and a grid worker (own grids' households):

- ``gridmap.service.search.search`` with its index warm (the index kept per workspace
  version), and the index's cold build;
- a naive scan: ``Series.str.contains(q, case=False, regex=False)`` over the same columns of
  the same layers, already in memory (and once reading them from the workspace per query);
- ``GET /api/search`` through the Flask test client (parsing, access, JSON).

Prints a Markdown table (p50 and p95 over the queries); ``--out`` also writes it.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gridmap import store  # noqa: E402
from gridmap.access.roles import Access  # noqa: E402
from gridmap.build.demo import build_demo  # noqa: E402
from gridmap.service import accounts  # noqa: E402
from gridmap.service import search as search_service  # noqa: E402
from gridmap.service.search_index import SPECS, normalise  # noqa: E402


def _pct(times: list[float]) -> tuple[float, float]:
    arr = np.array(times) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def queries(ws: store.Workspace, n: int, seed: int = 7) -> list[str]:
    """Return ``n`` queries drawn from the workspace's own codes, names and addresses."""
    rng = random.Random(seed)
    grids = ws.read("grids", columns=["code", "name"], system=False)
    community = ws.read("community", columns=["name"], system=False)
    buildings = ws.read("buildings", columns=["name", "address"], system=False)
    streets = ws.read("streets", columns=["name"], system=False)["name"].dropna().unique()
    households = ws.read("households", columns=["household_id", "address"], system=False)
    cameras = ws.read("cameras", columns=["code", "name"], system=False)
    facilities = ws.read("facilities", columns=["name"], system=False)["name"].dropna()

    def part(text: str) -> str:
        a = rng.randrange(0, max(1, len(text) - 2))
        return text[a : a + rng.randint(2, 5)]

    makers = [
        lambda: rng.choice(list(grids["code"])),
        lambda: rng.choice(list(grids["code"]))[: rng.randint(6, 13)],
        lambda: rng.choice(list(grids["name"])),
        lambda: rng.choice(list(community["name"])),
        lambda: rng.choice(list(buildings["name"].dropna())),
        lambda: rng.choice(list(buildings["address"].dropna())),
        lambda: part(rng.choice(list(buildings["address"].dropna()))),
        lambda: rng.choice(list(streets)),
        lambda: rng.choice(list(households["household_id"])),
        lambda: part(rng.choice(list(households["address"]))),
        lambda: f"{rng.randint(1, 4)}单元{rng.randint(1, 9)}0{rng.randint(1, 3)}",
        lambda: rng.choice(list(cameras["code"])).lower(),
        lambda: rng.choice(list(cameras["name"].dropna())),
        lambda: rng.choice(list(facilities)),
        lambda: rng.choice(["派出所", "police post", "school", "停车", "球机", "医院"]),
        lambda: rng.choice("长江路中山东太平北洪武淮海常府街"),
    ]
    return [rng.choice(makers)() for _ in range(n)]


def naive(frames: dict[str, pd.DataFrame], query: str, layers: list[str]) -> int:
    """Return how many rows a plain substring scan finds (no normalising, no ranking)."""
    found = 0
    for name in layers:
        frame = frames[name]
        hit = np.zeros(len(frame), dtype=bool)
        for column in SPECS[name].fields:
            if column in frame.columns:
                text = frame[column].astype("string")
                hit |= text.str.contains(query, case=False, regex=False).fillna(False).to_numpy()
        found += int(hit.sum())
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workspace", type=Path, help="a demo workspace to copy (default: build one)"
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        if args.workspace:
            path = store.GeoPackageWorkspace(args.workspace, read_only=True).backup(d / "ws.gpkg")
        else:
            path = build_demo(d / "demo.gpkg")
        ws = store.GeoPackageWorkspace(path)
        ws.journal_mode("wal")  # as served (web/server.py): the access log's writes are WAL appends
        if ws.get_user("demo-worker") is None:
            accounts.create_demo_accounts(
                ws, password="bench-password-1", admin_password="bench-admin-1"
            )
        worker_record = ws.get_user("demo-worker")
        assert worker_record is not None
        who = {
            "admin": Access.of("admin", "admin"),
            "planner": Access.of("demo-planner", "planner"),
            "grid_worker": Access.of("demo-worker", "grid_worker", worker_record.grids),
        }
        qs = queries(ws, args.queries)

        search_service.clear_cache()
        t = time.perf_counter()
        for name in SPECS:
            search_service.layer_index(ws, name)
        cold = time.perf_counter() - t
        rows.append(
            (
                "index build, all 7 layers (cold, once per workspace version)",
                f"{cold * 1000:.0f} ms",
                "",
            )
        )

        frames = {name: ws.read(name, columns=SPECS[name].columns, system=False) for name in SPECS}
        for role, access in who.items():
            layers = search_service.searchable(access)
            ours, ranks, scan, hits, logged = [], [], [], 0, 0
            indexes = [search_service.layer_index(ws, name) for name in layers]
            for q in qs:
                t = time.perf_counter()
                result = search_service.search(ws, q, access=access)
                ours.append(time.perf_counter() - t)
                hits += sum(g.matched for g in result.groups)
                logged += result.personal
                text = normalise(q)
                t = time.perf_counter()
                for index in indexes:
                    index.rank(text, limit=search_service.DEFAULT_LIMIT, lang="zh-CN")
                ranks.append(time.perf_counter() - t)
                t = time.perf_counter()
                naive(frames, q, layers)
                scan.append(time.perf_counter() - t)
            o50, o95 = _pct(ours)
            m50, m95 = _pct(ranks)
            n50, n95 = _pct(scan)
            rows.append(
                (
                    f"search as {role} ({len(layers)} layers, {hits / len(qs):.0f} matches a "
                    f"query; {logged} of {len(qs)} written to the access log)",
                    f"p50 {o50:.2f} ms, p95 {o95:.2f} ms",
                    f"naive scan in memory p50 {n50:.2f} ms, p95 {n95:.2f} ms: "
                    f"{n50 / o50:.0f}× at p50, {n95 / o95:.1f}× at p95",
                )
            )
            rows.append(
                (
                    f"… of which matching and ranking in the index ({role})",
                    f"p50 {m50:.2f} ms, p95 {m95:.2f} ms",
                    f"naive scan: {n50 / m50:.0f}× at p50, {n95 / m95:.0f}× at p95",
                )
            )

        # the naive scan that reads the layers for each query (no index at all), 20 queries
        access = who["admin"]
        layers = search_service.searchable(access)
        reads = []
        for q in qs[:20]:
            t = time.perf_counter()
            fresh = {
                name: ws.read(name, columns=SPECS[name].columns, system=False) for name in layers
            }
            naive(fresh, q, layers)
            reads.append(time.perf_counter() - t)
        r50, r95 = _pct(reads)
        rows.append(
            (
                "naive scan reading the layers per query (admin, 20 queries)",
                f"p50 {r50:.0f} ms, p95 {r95:.0f} ms",
                "",
            )
        )

        from web.app import create_app

        app = create_app({"WORKSPACE": ws, "TESTING": True})
        for role in ("admin", "planner"):
            client = app.test_client()
            name = "admin" if role == "admin" else "demo-planner"
            client.environ_base["HTTP_AUTHORIZATION"] = (
                f"Bearer {accounts.issue_token(ws, name, 'bench')}"
            )
            times = []
            for q in qs:
                t = time.perf_counter()
                resp = client.get(f"/api/search?q={quote(q)}&lang=zh-CN")
                times.append(time.perf_counter() - t)
                assert resp.status_code == 200, resp.get_data(as_text=True)
            h50, h95 = _pct(times)
            rows.append(
                (
                    f"GET /api/search as {role} (test client)",
                    f"p50 {h50:.2f} ms, p95 {h95:.2f} ms",
                    "",
                )
            )
        ws.close()

    lines = ["| what | time | compared with |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
