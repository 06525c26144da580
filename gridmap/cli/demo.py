"""``gridmap demo``: build the demo workspace (real OSM data of central Nanjing) and serve it."""

from __future__ import annotations

import argparse
import os
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
        _accounts(path)
    else:
        print(f"Using existing demo workspace: {path} (--rebuild to build it anew)")
        keep = accounts_file(path)
        if keep.exists():
            print(f"Its accounts and passwords are in {keep} (readable only by you).")
    if not args.no_serve:
        server()(path, host=args.host, port=args.port, tiles=args.tiles, proxy=args.proxy)


def accounts_file(path: Path) -> Path:
    """Return where the demo's account passwords are kept, beside the workspace."""
    return path.with_name(f"{path.stem}.accounts.txt")


def _accounts(path: Path) -> None:
    """Give the new demo its accounts; print them once and keep them in a file only you read."""
    from gridmap.access.roles import ROLE_TITLES
    from gridmap.service.accounts import create_demo_accounts
    from gridmap.store import open_workspace

    with open_workspace(path) as ws:
        made = create_demo_accounts(ws)
        roles = {u.name: u.role for u in ws.users()}
    lines = [
        f"{name:<14} {password:<18} {roles[name]:<12} {ROLE_TITLES[roles[name]][1]}"
        for name, password in made.items()
    ]
    keep = accounts_file(path)
    keep.unlink(missing_ok=True)
    fd = os.open(keep, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("# gridmap demo accounts (name, password, role). Change a password with\n")
        f.write(f"# gridmap users passwd {path} NAME\n")
        f.write("\n".join(lines) + "\n")
    print(f"Accounts (sign in at the map; shown once, also kept in {keep}):")
    for line in lines:
        print(f"  {line}")


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
