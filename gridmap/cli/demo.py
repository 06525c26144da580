"""``gridmap demo``: build the demo workspace (real OSM data of central Nanjing) and serve it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gridmap.cli.common import Progress, Subparsers
from gridmap.cli.serve import serve_options, server

DEFAULT_DEMO_WORKSPACE = Path("workspaces") / "demo.gpkg"


def cmd_demo(args: argparse.Namespace) -> None:
    """Build the demo workspace if missing, then serve it."""
    from gridmap.build.demo import build_demo

    path = Path(args.workspace)
    outdated = path.exists() and not args.rebuild and not _current(path)
    if outdated:
        print(f"The demo workspace {path} was made by an older gridmap: building it anew.")
    if args.rebuild or outdated or not path.exists():
        options: dict[str, Any] = {"osm_path": args.osm} if args.osm else {}
        if args.district:
            code, _, name = args.district.partition(":")
            options["district"] = (code, name or code)
        build_demo(
            path, overwrite=args.rebuild or outdated, progress=Progress(args.quiet), **options
        )
        print(f"Demo workspace built: {path}")
    else:
        print(f"Using existing demo workspace: {path} (--rebuild to build it anew)")
    if not args.no_serve:
        server()(path, host=args.host, port=args.port, tiles=args.tiles)


def _current(path: Path) -> bool:
    """Return whether the demo at ``path`` opens with this gridmap (its storage format)."""
    from gridmap.errors import WorkspaceError
    from gridmap.store import open_workspace

    try:
        open_workspace(path, read_only=True).close()
    except WorkspaceError as exc:
        return "older gridmap" not in exc.message
    return True


def add_commands(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``demo`` to the ``gridmap`` command."""
    p = sub.add_parser(
        "demo",
        parents=parents,
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
    serve_options(p)
    p.set_defaults(func=cmd_demo)
