"""The ``gridmap`` command: a thin shell over the library.

Each subcommand parses its arguments, calls gridmap and prints the answer; a
:class:`gridmap.errors.GridmapError` becomes a one-line message and exit status 2. Serving the
map needs the web app, which plugs in through the ``gridmap.servers`` entry point, so that the
library never imports Flask.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from gridmap import __version__
from gridmap.errors import GridmapError, InputError

DEFAULT_DEMO_WORKSPACE = Path("workspaces") / "demo.gpkg"


class Progress:
    """Print each step of a long job with the time it started, on stderr."""

    def __init__(self, quiet: bool = False) -> None:
        self.start = time.perf_counter()
        self.quiet = quiet

    def __call__(self, message: str) -> None:
        """Report that the job has reached ``message``."""
        if not self.quiet:
            print(
                f"[{time.perf_counter() - self.start:6.1f} s] {message}",
                file=sys.stderr,
                flush=True,
            )


def _server() -> Callable[..., None]:
    found = entry_points(group="gridmap.servers")
    for ep in found:
        if ep.name == "web":
            return ep.load()
    raise GridmapError("The web app is not installed: run scripts/setup (pip install -e .).")


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        minx, miny, maxx, maxy = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise InputError("--bbox is minlon,minlat,maxlon,maxlat") from exc
    return minx, miny, maxx, maxy


def cmd_init(args: argparse.Namespace) -> None:
    """Build a workspace from an OSM extract."""
    from gridmap.build.init import init_workspace

    path = init_workspace(
        args.workspace,
        args.osm,
        bbox=_bbox(args.bbox),
        title=args.title,
        overwrite=args.overwrite,
        progress=Progress(args.quiet),
    )
    print(f"Workspace ready: {path}")


def cmd_demo(args: argparse.Namespace) -> None:
    """Build the demo workspace if missing, then serve it."""
    from gridmap.build.demo import build_demo

    path = Path(args.workspace)
    if args.rebuild or not path.exists():
        options = {"osm_path": args.osm} if args.osm else {}
        if args.district:
            code, _, name = args.district.partition(":")
            options["district"] = (code, name or code)
        build_demo(path, overwrite=args.rebuild, progress=Progress(args.quiet), **options)
        print(f"Demo workspace built: {path}")
    else:
        print(f"Using existing demo workspace: {path} (--rebuild to build it anew)")
    if not args.no_serve:
        _server()(path, host=args.host, port=args.port, tiles=args.tiles)


def cmd_serve(args: argparse.Namespace) -> None:
    """Serve a workspace's map, API and OGC API."""
    from gridmap.store import open_workspace

    open_workspace(args.workspace)  # fail early with a clear message
    _server()(Path(args.workspace), host=args.host, port=args.port, tiles=args.tiles)


def cmd_import(args: argparse.Namespace) -> None:
    """Import a file into one layer, in one transaction."""
    from gridmap.io.importer import erased_personal_columns, load_file
    from gridmap.store import open_workspace

    ws = open_workspace(args.workspace)
    reference = None
    if args.detect:
        streets = ws.read("streets")
        reference = streets.geometry if len(streets) else ws.read("buildings").geometry
    area = ws.area() if ws.count("buildings") or ws.count("community") else None
    result = load_file(
        args.file,
        args.layer,
        crs=args.crs,
        encoding=args.encoding,
        area=area,
        reference=reference,
        file_layer=args.file_layer,
    )
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.replace and not args.force:
        erased = erased_personal_columns(ws.read(args.layer), result.frame, args.layer)
        if erased:
            raise InputError(
                f"--replace would erase the personal data in {', '.join(erased)}: the file has none "
                "there. Import a file that has them, or add --force if erasing is intended."
            )
    action = f"import {Path(args.file).name} ({'replace' if args.replace else 'append'})"
    with ws.transaction(user=args.user, action=action) as tx:
        if args.replace:
            n = tx.replace(args.layer, result.frame)
        else:
            n = len(tx.append(args.layer, result.frame))
    print(
        f"{'Replaced' if args.replace else 'Appended'} {n} row(s) in '{args.layer}' "
        f"(format {result.format}, encoding {result.encoding_used or '-'}, coordinates {result.crs_used or '-'})."
    )


def cmd_export(args: argparse.Namespace) -> None:
    """Export one layer to a file."""
    from gridmap.io.export import export_layer
    from gridmap.schema import get_layer
    from gridmap.store import open_workspace

    ws = open_workspace(args.workspace)
    role = "admin" if args.personal else "viewer"
    path = export_layer(
        ws,
        args.layer,
        args.output,
        fmt=args.format,
        role=role,
        lang=args.lang,
        bbox=_bbox(args.bbox),
    )
    masked = get_layer(args.layer).has_personal_data and not args.personal
    note = ", personal data masked" if masked else ""
    print(f"Exported '{args.layer}' to {path} ({path.stat().st_size:,} bytes{note}).")


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


def _serve_options(p: argparse.ArgumentParser, port: int = 8000) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=port, help=f"port (default {port})")
    p.add_argument(
        "--tiles",
        default="",
        help="optional online tile layers: osm,tianditu:KEY,amap (default none: offline)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``gridmap`` command."""
    parser = argparse.ArgumentParser(
        prog="gridmap", description="Community grid management (网格化管理)."
    )
    parser.add_argument("--version", action="version", version=f"gridmap {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # -q is also understood after the command; SUPPRESS keeps `gridmap -q COMMAND` working
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress messages"
    )

    p = sub.add_parser(
        "demo",
        parents=[quiet],
        help="build the demo workspace (real OSM data of central Nanjing) and serve it",
    )
    p.add_argument(
        "--workspace",
        default=str(DEFAULT_DEMO_WORKSPACE),
        help=f"where the demo workspace lives (default {DEFAULT_DEMO_WORKSPACE})",
    )
    p.add_argument("--no-serve", action="store_true", help="only build the workspace")
    p.add_argument("--rebuild", action="store_true", help="build it anew even if it exists")
    p.add_argument("--osm", help="build the demo on another OSM extract (default: central Nanjing)")
    p.add_argument("--district", help="district code and name for grid codes, e.g. 110108:海淀区")
    _serve_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "serve", parents=[quiet], help="serve a workspace: map, JSON API, OGC API - Features"
    )
    p.add_argument("workspace")
    _serve_options(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "init",
        parents=[quiet],
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

    p = sub.add_parser(
        "import",
        parents=[quiet],
        help="import a file into a layer (GeoJSON, GPKG, SHP/zip, KML, CSV, XLSX)",
    )
    p.add_argument("workspace")
    p.add_argument("layer")
    p.add_argument("file")
    p.add_argument(
        "--crs",
        help="coordinates of the file: EPSG:n, wgs84, cgcs2000, gcj02 or bd09 (default: detect)",
    )
    p.add_argument("--encoding", help="text encoding: utf-8 or gbk (default: detect)")
    p.add_argument("--replace", action="store_true", help="replace the layer instead of appending")
    p.add_argument(
        "--force", action="store_true", help="replace even if personal data would be erased"
    )
    p.add_argument("--file-layer", help="layer inside a multi-layer file (GeoPackage)")
    p.add_argument(
        "--no-detect",
        dest="detect",
        action="store_false",
        help="do not test for GCJ-02/BD-09 shifted coordinates",
    )
    p.add_argument("--user", default="cli", help="name recorded in the audit log")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "export", parents=[quiet], help="export a layer (GeoJSON, GeoPackage, CSV, XLSX, Shapefile)"
    )
    p.add_argument("workspace")
    p.add_argument("layer")
    p.add_argument(
        "-f",
        "--format",
        choices=["geojson", "gpkg", "csv", "xlsx", "shp"],
        help="default: from the file extension",
    )
    p.add_argument("-o", "--output", required=True)
    p.add_argument(
        "--lang", choices=["en", "zh-CN"], default="en", help="column titles of CSV/XLSX"
    )
    p.add_argument("--bbox", help="only features meeting minlon,minlat,maxlon,maxlat")
    p.add_argument(
        "--personal", action="store_true", help="include personal data unmasked (needs authority)"
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("info", parents=[quiet], help="list the layers of a workspace")
    p.add_argument("workspace")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``gridmap`` command; return its exit status."""
    parser = build_parser()
    args: Any = parser.parse_args(argv)
    try:
        args.func(args)
    except GridmapError as exc:
        print(f"gridmap: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("gridmap: interrupted; nothing was changed.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
