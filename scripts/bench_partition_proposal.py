"""Benchmark the partition proposal of the planning page, run by hand.

    .venv/bin/python scripts/bench_partition_proposal.py [--workspace demo.gpkg]

Copies ``--workspace`` (default: builds the demo in a temporary folder), then for each
community times :func:`gridmap.service.partition_proposal.propose_partition` (the solve of
``gridmap grids auto``, 10 restarts, a dry run: what the job does), the acceptance
(:func:`~gridmap.service.partition_proposal.accept_partition`: one transaction, the coverage
fitted and cleaned, grid codes and figures recomputed) and the undo that takes it back, and
checks after each acceptance that the grids are one valid coverage (GEOS's
``coverage_is_valid``). Prints a Markdown table (seconds).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import shapely  # noqa: E402

from gridmap import store  # noqa: E402
from gridmap.access.roles import PLANNER, Access  # noqa: E402
from gridmap.service import partition_proposal, plan_history  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", help="a workspace to copy (default: build the demo)")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-proposal-"))
    if args.workspace:
        src = store.GeoPackageWorkspace(args.workspace, read_only=True)
        path = src.backup(folder / "ws.gpkg")
        src.close()
    else:
        from datetime import date

        from gridmap.build.demo import build_demo

        path = folder / "ws.gpkg"
        build_demo(path, today=date(2026, 11, 27))
    ws = store.GeoPackageWorkspace(path)
    who = Access.of("bench", PLANNER)
    print(
        "| community | grids now → proposed | in range now → proposed | propose s | accept s "
        "| undo s | coverage valid |"
    )
    print("|---|---|---|---:|---:|---:|---|")
    for code in ws.read("community")["code"]:
        t0 = time.perf_counter()
        found = partition_proposal.propose_partition(ws, community=code)
        t1 = time.perf_counter()
        partition_proposal.accept_partition(ws, found, access=who)
        t2 = time.perf_counter()
        g = ws.read("grids")
        valid = bool(shapely.coverage_is_valid(np.asarray(g.geometry.values, dtype=object)))
        t3 = time.perf_counter()
        plan_history.undo(ws, access=who)
        t4 = time.perf_counter()
        f, now = found.figures, found.figures["current"]
        print(
            f"| {code} | {now['grids']} → {f['grids']} | {now['in_range']} → {f['in_range']} "
            f"| {t1 - t0:.2f} | {t2 - t1:.2f} | {t4 - t3:.2f} | {valid} |"
        )
    ws.close()


if __name__ == "__main__":
    main()
