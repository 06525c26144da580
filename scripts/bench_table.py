#!/usr/bin/env python3
"""Measure the attribute table's pages of people (57,280 rows) against a naive read.

For a page of 100 people at offset 0, 28,000 and the last, unsorted and sorted by name
(descending), as the admin (every column, the access-log record included):

- ``rows_page``: :func:`gridmap.service.rows.rows_page` in process (the store sorts and pages
  in SQL: ORDER BY … LIMIT … OFFSET);
- ``HTTP``: ``GET /api/layers/people/rows`` through the Flask app (test client: parsing, JSON,
  headers; no network);
- ``naive``: read the whole layer, sort it in pandas, slice the page, mask and encode it.

Medians (p50) and p95 of ``--runs`` runs, in milliseconds, printed as a Markdown table. Run by
hand (not in CI): ``.venv/bin/python scripts/bench_table.py [--runs 15] [--workspace demo.gpkg]``
(without ``--workspace`` the demo is built in a temporary folder first, about 20 s).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridmap import store  # noqa: E402
from gridmap.access import privacy  # noqa: E402
from gridmap.access.roles import Access  # noqa: E402
from gridmap.build.demo import build_demo  # noqa: E402
from gridmap.io import geojson  # noqa: E402
from gridmap.service import rows as rows_service  # noqa: E402
from gridmap.service import scope  # noqa: E402

TODAY = date(2026, 11, 27)
ADMIN = Access(user="admin", role="admin")
PAGE = 100


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Return the median and p95 of ``runs`` calls of ``fn``, in milliseconds (one warm-up)."""
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), float(np.percentile(times, 95))


def naive(ws: store.Workspace, offset: int, sort: str | None) -> list[dict[str, object]]:
    """The page the way a first version would make it: read everything, sort, slice."""
    frame = ws.read("people", system=False)
    if sort:
        name = sort.lstrip("-")
        frame = frame.reset_index().sort_values(
            [name, "fid"], ascending=[not sort.startswith("-"), True], kind="stable"
        )
        frame = frame.set_index("fid")
    page = frame.iloc[offset : offset + PAGE]
    shown = privacy.present(page, "people", ADMIN)
    served = privacy.served_layer("people", ADMIN).column_names
    out = geojson.records(shown, served)
    scope.record(ws, ADMIN, "people", len(out), action="read", filter={"offset": offset})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--workspace", type=Path, help="a demo workspace to use (written to)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.workspace
        if path is None:
            path = Path(tmp) / "demo.gpkg"
            build_demo(path, today=TODAY)
        ws = store.GeoPackageWorkspace(path)
        from gridmap.service import accounts
        from web.app import create_app

        if ws.get_user("admin") is None:
            accounts.create_demo_accounts(ws, password="bench-2026", admin_password="bench-2026")
        token = accounts.issue_token(ws, "admin", "bench_table")
        client = create_app({"WORKSPACE": ws, "TESTING": True}).test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        total = ws.count("people")
        offsets = [("0", 0), ("28,000", 28_000), ("last", total - PAGE)]
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        print(
            f"people: {total:,} rows; page of {PAGE}; {args.runs} runs; "
            f"{platform.machine()}, {os.cpu_count()} cores, load average {load}"
        )
        print()
        print(
            "| page | sort | rows_page p50 (p95) | HTTP p50 (p95) | naive p50 (p95) | naive / ours |"
        )
        print("|---|---|---|---|---|---|")
        for label, offset in offsets:
            for sort in (None, "-name"):
                page = rows_service.rows_page(ws, "people", access=ADMIN, offset=offset, sort=sort)
                assert len(page.rows) == PAGE and page.matched == total
                want = _naive_ids(ws, offset, sort)
                assert [r["id"] for r in page.rows] == want, "the naive page differs"
                ours = timed(
                    lambda o=offset, s=sort: rows_service.rows_page(
                        ws, "people", access=ADMIN, offset=o, sort=s
                    ),
                    args.runs,
                )
                query = f"offset={offset}&limit={PAGE}" + (f"&sort={sort}" if sort else "")

                def http(q: str = query) -> None:
                    resp = client.get(f"/api/layers/people/rows?{q}")
                    assert resp.status_code == 200
                    resp.get_data()

                web = timed(http, args.runs)
                slow = timed(lambda o=offset, s=sort: naive(ws, o, s), args.runs)
                print(
                    f"| {label} | {sort or '—'} | {ours[0]:.1f} ({ours[1]:.1f}) ms "
                    f"| {web[0]:.1f} ({web[1]:.1f}) ms | {slow[0]:.0f} ({slow[1]:.0f}) ms "
                    f"| {slow[0] / ours[0]:.0f}× |"
                )
        ws.close()


def _naive_ids(ws: store.Workspace, offset: int, sort: str | None) -> list[int]:
    frame = ws.read("people", columns=("name",), system=False).reset_index()
    if sort:
        frame = frame.sort_values(["name", "fid"], ascending=[False, True], kind="stable")
    return [int(i) for i in frame["fid"].iloc[offset : offset + PAGE]]


if __name__ == "__main__":
    main()
