"""``gridmap init`` and ``gridmap info``: make a workspace from an OSM extract, list its layers."""

from __future__ import annotations

import argparse

from gridmap.cli.common import Progress, Subparsers, parse_bbox


def cmd_init(args: argparse.Namespace) -> None:
    """Build a workspace from an OSM extract."""
    from gridmap.build.init import init_workspace

    path = init_workspace(
        args.workspace,
        args.osm,
        bbox=parse_bbox(args.bbox),
        title=args.title,
        overwrite=args.overwrite,
        progress=Progress(args.quiet),
    )
    print(f"Workspace ready: {path}")


def cmd_info(args: argparse.Namespace) -> None:
    """Print the layers of a workspace with counts and extents."""
    from gridmap.store import open_workspace

    ws = open_workspace(args.workspace)
    print(f"{ws.get_meta('title', ws.name)}  ({args.workspace})")
    for li in ws.layers():
        extent = "" if not li.bounds else "  [" + ", ".join(f"{v:.5f}" for v in li.bounds) + "]"
        print(f"  {li.name:<13} {li.count:>8,}{extent}")
    attribution = ws.get_meta("attribution")
    if attribution:
        print(f"  data: {attribution}")


def add_commands(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``init`` and ``info`` to the ``gridmap`` command."""
    p = sub.add_parser(
        "init",
        parents=parents,
        help="create a workspace from an OpenStreetMap extract (.osm, .osm.bz2)",
    )
    p.add_argument("workspace", help="new workspace file (.gpkg)")
    p.add_argument("--osm", required=True, help="OSM XML extract")
    p.add_argument(
        "--bbox", help="area to keep: minlon,minlat,maxlon,maxlat (default: the file's bounds)"
    )
    p.add_argument("--title", help="workspace title shown on the map")
    p.add_argument("--overwrite", action="store_true", help="replace an existing workspace")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("info", parents=parents, help="list the layers of a workspace")
    p.add_argument("workspace")
    p.set_defaults(func=cmd_info)
