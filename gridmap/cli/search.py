"""``gridmap search WORKSPACE QUERY``: the map's search box on the command line.

Finds as one reader finds (:func:`gridmap.cli.common.reader`): ``--as USER`` searches as that
account of the workspace (its role and, for a grid worker, its grids), ``--role ROLE`` as that
role; without either, as a masked reader (an analyst), so that no household is found. A search
that would show households unmasked needs ``--personal`` and is recorded in the access log
under the operating-system user who ran it, as in the browser. One line per hit, grouped by
layer; ``--json`` prints the hits as JSON.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from gridmap.cli.common import Subparsers, add_reader_options, reader

if TYPE_CHECKING:
    from gridmap.access.roles import Access


def cmd_search(args: argparse.Namespace) -> None:
    """Print what ``args.query`` finds in the workspace for the reader of ``--as``."""
    from gridmap import store
    from gridmap.schema import get_layer
    from gridmap.service import search as search_service
    from gridmap.service.filters import parse_grids

    with store.open_workspace(args.workspace) as ws:
        layers = [n.strip() for n in args.layers.split(",") if n.strip()] if args.layers else None
        for name in layers or ():
            get_layer(name)  # an unknown layer first

        def shows(who: Access) -> list[str]:
            return [n for n in search_service.searchable(who) if layers is None or n in layers]

        access = reader(ws, args, shows=shows, grids=parse_grids(args.grids), what="search")
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
    add_reader_options(p, "search", personal=True)
    p.add_argument("--grids", help="with --role grid_worker: the worker's grids, CODE[,CODE…]")
    p.add_argument("--layers", help="comma-separated layers to search (default: all)")
    p.add_argument("--limit", type=int, default=10, help="hits per layer (1 to 50)")
    p.add_argument("--lang", choices=["zh-CN", "en"], default="zh-CN")
    p.add_argument("--json", action="store_true", help="print the hits as JSON")
    p.set_defaults(func=cmd_search)
