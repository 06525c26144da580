"""``gridmap serve``: the map, JSON API and OGC API of a workspace.

Serving needs the web app, which plugs in through the ``gridmap.servers`` entry point, so that
the library never imports Flask.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

from gridmap.cli.common import Subparsers
from gridmap.errors import GridmapError


def server() -> Callable[..., None]:
    """Return the web app's ``serve(path, host=, port=, tiles=)``, or raise if not installed."""
    found = entry_points(group="gridmap.servers")
    for ep in found:
        if ep.name == "web":
            return ep.load()
    raise GridmapError("The web app is not installed: run scripts/setup (pip install -e .).")


def serve_options(p: argparse.ArgumentParser, port: int = 8000) -> None:
    """Add ``--host``, ``--port``, ``--proxy`` and ``--tiles`` to a command that serves the map."""
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; other machines "
        "should reach gridmap through an HTTPS reverse proxy, see --proxy)",
    )
    p.add_argument(
        "--proxy",
        action="store_true",
        help="an HTTPS reverse proxy on this machine is in front: trust its X-Forwarded "
        "headers and send session cookies over HTTPS only",
    )
    p.add_argument("--port", type=int, default=port, help=f"port (default {port})")
    p.add_argument(
        "--tiles",
        default="",
        help="optional online tile layers: osm,tianditu:KEY,amap (default none: offline)",
    )


def cmd_serve(args: argparse.Namespace) -> None:
    """Serve a workspace's map, API and OGC API."""
    from gridmap.store import open_workspace

    open_workspace(args.workspace)  # fail early with a clear message
    server()(
        Path(args.workspace), host=args.host, port=args.port, tiles=args.tiles, proxy=args.proxy
    )


def add_commands(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``serve`` to the ``gridmap`` command."""
    p = sub.add_parser(
        "serve", parents=parents, help="serve a workspace: map, JSON API, OGC API - Features"
    )
    p.add_argument("workspace")
    serve_options(p)
    p.set_defaults(func=cmd_serve)
