"""``gridmap search WORKSPACE QUERY``: the map's search box on the command line.

Finds as one reader finds: ``--as NAME`` searches as that account of the workspace (its role
and, for a grid worker, its grids); without it, as a masked reader (an analyst), so that no
household is found. A search that shows households unmasked is recorded in the access log,
as in the browser. One line per hit, grouped by layer; ``--json`` prints the hits as JSON.
"""

from __future__ import annotations

import argparse
import json

from gridmap.cli.common import Subparsers, cli_user
from gridmap.errors import InputError


def cmd_search(args: argparse.Namespace) -> None:
    """Print what ``args.query`` finds in the workspace for the reader of ``--as``."""
    from gridmap import store
    from gridmap.access.roles import ANALYST, Access
    from gridmap.schema import get_layer
    from gridmap.service import accounts
    from gridmap.service import search as search_service

    with store.open_workspace(args.workspace) as ws:
        if args.as_user:
            record = ws.get_user(args.as_user)
            if record is None:
                raise InputError(
                    f"There is no account '{args.as_user}'. (没有账户 '{args.as_user}'。)"
                )
            access = accounts.access_of(ws, record)
        else:
            access = Access.of(cli_user(), ANALYST)
        layers = [n.strip() for n in args.layers.split(",") if n.strip()] if args.layers else None
        result = search_service.search(
            ws, args.query, access=access, limit=args.limit, layers=layers, lang=args.lang
        )
    if args.json:
        print(json.dumps([h.to_dict() for h in result.hits], ensure_ascii=False, indent=1))
        return
    if not result.groups:
        print(f"Nothing found for '{args.query}'. (没有找到“{args.query}”。)")
        return
    for group in result.groups:
        layer = get_layer(group.layer)
        print(f"{layer.zh} {layer.en} ({group.matched}):")
        for hit in group.hits:
            place = f"  {hit.lon:.6f},{hit.lat:.6f}" if hit.lon is not None else ""
            detail = f"  {hit.detail}" if hit.detail else ""
            print(f"  #{hit.id}  {hit.label}{detail}{place}")
        if group.matched > len(group.hits):
            print(
                f"  … {group.matched - len(group.hits)} more (另有 {group.matched - len(group.hits)} 条)"
            )


def add_commands(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``search`` to the ``gridmap`` command."""
    p = sub.add_parser(
        "search",
        parents=parents,
        help="find grids, addresses, buildings, households, cameras, facilities, streets",
    )
    p.add_argument("workspace")
    p.add_argument("query")
    p.add_argument(
        "--as",
        dest="as_user",
        metavar="NAME",
        help="search as this account (default: as a masked reader, no households)",
    )
    p.add_argument("--layers", help="comma-separated layers to search (default: all)")
    p.add_argument("--limit", type=int, default=10, help="hits per layer (1 to 50)")
    p.add_argument("--lang", choices=["zh-CN", "en"], default="zh-CN")
    p.add_argument("--json", action="store_true", help="print the hits as JSON")
    p.set_defaults(func=cmd_search)
