"""Storeys and households of the OSM extracts, and what the data part costs (issue 7), by hand.

    .venv/bin/python scripts/bench_data.py [--repeat 3] [--out FILE.md]

For each extract (the demo's, and the two others of ../shared/geodata when they are there):
the buildings in the whole file carrying ``building:levels``, a height only, or neither; in
the area gridmap reads, where the storeys came from (``levels_source``) and the households
the demo estimates. Then, on the demo: the storey rule over its buildings, the whole demo
build, and ``gridmap upgrade`` of the demo from storage format 3 to 4 (in place). Times are
medians of ``--repeat`` runs, on whatever else the machine is doing.
"""

from __future__ import annotations

import argparse
import bz2
import statistics
import sys
import tempfile
import time
import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import osmnx as ox  # noqa: E402

from gridmap import store  # noqa: E402
from gridmap.build.demo import DEMO_OSM, build_demo, demo_buildings  # noqa: E402
from gridmap.build.init import metric_crs  # noqa: E402
from gridmap.io.osm import read_osm  # noqa: E402
from gridmap.io.osm_buildings import HEIGHT_KEYS, storeys  # noqa: E402
from tests.format3 import to_format3  # noqa: E402

SHARED = next(
    (p / "shared" / "geodata" for p in ROOT.parents if (p / "shared" / "geodata").is_dir()),
    ROOT.parent / "shared" / "geodata",
)
EXTRACTS = {
    "Changjiang Rd (demo)": DEMO_OSM,
    "Xinjiekou": SHARED / "nanjing_xuanwu_xinjiekou_2021.osm.bz2",
    "Haidian CAU east": SHARED / "beijing_haidian_cau_east_2026.osm.bz2",
}


def file_tags(path: Path) -> Counter[str]:
    """Count the buildings (ways and relations, no building:part) of a whole file by tags."""
    seen: Counter[str] = Counter()
    with bz2.open(path) as fh:
        for _event, elem in ET.iterparse(fh, events=("end",)):
            if elem.tag in ("way", "relation"):
                tags = {t.get("k"): t.get("v") for t in elem.findall("tag")}
                if "building" in tags and "building:part" not in tags:
                    levels = "building:levels" in tags
                    height = any(k in tags for k in HEIGHT_KEYS)
                    seen["levels" if levels else "height only" if height else "neither"] += 1
                elem.clear()
            elif elem.tag == "node":
                elem.clear()
    return seen


def median_s(run: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines = [
        "| extract | file: levels / height only / neither | area: osm / height / default "
        "| households | largest building | residential > 60 m with < 100 households |",
        "|---|---|---|---|---|---|",
    ]
    for label, path in EXTRACTS.items():
        if not path.exists():
            print(f"(skipped {label}: {path} is not there)")
            continue
        whole = file_tags(path)
        ext = read_osm(path)
        b, _area = demo_buildings(ext, metric_crs(ext))
        src = b["levels_source"].value_counts()
        homes = b[b["residential"].astype(bool)]
        tall = homes[(homes["levels"] * 3 > 60) | (homes["height_m"] > 60)]
        lines.append(
            f"| {label} | {whole['levels']} / {whole['height only']} / {whole['neither']} "
            f"| {src.get('osm', 0)} / {src.get('height', 0)} / {src.get('default', 0)} "
            f"| {int(b['households'].sum()):,} | {int(b['households'].max())} "
            f"| {int((tall['households'] < 100).sum())} of {len(tall)} |"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tags = ox.features_from_xml(DEMO_OSM, tags={"building": True})
    rule = median_s(lambda: storeys(tags), args.repeat)
    timings = [
        f"| storey rule over the demo file's {len(tags)} building features | {rule * 1000:.0f} ms |"
    ]
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo.gpkg"
        build = median_s(lambda: build_demo(demo, overwrite=True), args.repeat)
        timings.append(f"| demo build (all layers, rules and history) | {build:.1f} s |")
        times = []
        for n in range(args.repeat):
            copy = Path(tmp) / f"old{n}.gpkg"
            copy.write_bytes(demo.read_bytes())
            to_format3(copy)
            t = time.perf_counter()
            store.upgrade(copy)
            times.append(time.perf_counter() - t)
            assert store.GeoPackageWorkspace(copy).count("buildings") == 851
        timings.append(
            f"| `gridmap upgrade` of the demo, format 3 → 4 in place (copy kept) "
            f"| {statistics.median(times) * 1000:.0f} ms |"
        )
    text = "\n".join([*lines, "", "| step | median |", "|---|---|", *timings]) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
