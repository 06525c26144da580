"""``gridmap history|undo|backup|upgrade``: what changed, take a change back, keep a copy."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gridmap.cli.common import Subparsers

#: Undoing a transaction that changed more rows than this asks for --yes.
BIG_UNDO_ROWS = 1000


def _short(values: Any) -> str:
    if not isinstance(values, dict):
        return ""
    shown = {
        k: (v[:40] + "…" if isinstance(v, str) and len(v) > 40 else v) for k, v in values.items()
    }
    return json.dumps(shown, ensure_ascii=False)


def cmd_history(args: argparse.Namespace) -> None:
    """List transactions (or one feature's changes), newest first."""
    from gridmap.store import open_workspace

    ws = open_workspace(args.workspace, read_only=True)
    if args.layer is None and args.fid is None and args.tx is None:
        log = ws.audit_log(limit=args.limit)
        for row in log.itertuples():
            print(
                f"{row.fid:>6}  {row.at}  {row.user:<12} {row.action}  ({row.rows} rows: {row.layers})"
            )
        return
    rows = ws.history(layer=args.layer, fid=args.fid, tx=args.tx, limit=args.limit)
    for row in rows.itertuples():
        ids = (
            f"{row.fid}"
            if row.fid_last is None or row.fid_last != row.fid_last
            else (f"{row.fid}-{int(row.fid_last)}")
        )
        print(
            f"tx {row.tx:>5}  {row.at}  {row.user:<12} {row.op:<6} {row.layer} {ids}"
            f"  v{row.version}  {_short(row.before)} -> {_short(row.after)}"
        )


def cmd_undo(args: argparse.Namespace) -> None:
    """Undo one transaction in a new one."""
    from gridmap.errors import InputError
    from gridmap.store import open_workspace

    ws = open_workspace(args.workspace)
    log = ws.audit_log(limit=1_000_000)
    row = log[log["fid"] == args.tx]
    if len(row) and int(row["rows"].iloc[0]) > BIG_UNDO_ROWS and not args.yes:
        raise InputError(
            f"Transaction {args.tx} ({row['action'].iloc[0]}, {int(row['rows'].iloc[0]):,} rows in "
            f"{row['layers'].iloc[0]}) is large: undoing it takes all of that back. Add --yes "
            "to go ahead (it can be undone in turn)."
        )
    new = ws.undo(args.tx, user=args.user)
    print(f"Undid transaction {args.tx} (as transaction {new}).")


def cmd_backup(args: argparse.Namespace) -> None:
    """Write a single-file copy of a workspace, safe while it is served."""
    from gridmap.store import GeoPackageWorkspace, open_workspace

    ws = open_workspace(args.workspace, read_only=True)
    if not isinstance(ws, GeoPackageWorkspace):  # pragma: no cover - one backend today
        raise NotImplementedError
    print(f"Copy written: {ws.backup(args.dest, overwrite=args.overwrite)}")


def cmd_upgrade(args: argparse.Namespace) -> None:
    """Bring a workspace made by an older gridmap to the current storage format."""
    from gridmap.store import upgrade

    kept = upgrade(args.workspace)
    print(f"Upgraded {args.workspace}; the old file is kept as {kept}.")


def add_commands(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``history``, ``undo``, ``backup`` and ``upgrade`` to the ``gridmap`` command."""
    p = sub.add_parser(
        "history",
        parents=parents,
        help="list the transactions, or the changes of a layer, a feature or a transaction",
    )
    p.add_argument("workspace")
    p.add_argument("--layer", help="changes of this layer")
    p.add_argument("--fid", type=int, help="changes of this feature (with --layer)")
    p.add_argument("--tx", type=int, help="changes made by this transaction")
    p.add_argument("--limit", type=int, default=50, help="how many rows (default 50)")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("undo", parents=parents, help="undo a transaction (see gridmap history)")
    p.add_argument("workspace")
    p.add_argument("tx", type=int, help="the transaction to undo")
    p.add_argument("--user", default="cli", help="who is undoing (recorded in the history)")
    p.add_argument(
        "--yes", action="store_true", help=f"undo even a transaction of over {BIG_UNDO_ROWS} rows"
    )
    p.set_defaults(func=cmd_undo)

    p = sub.add_parser(
        "backup", parents=parents, help="write a single-file copy (safe while it is served)"
    )
    p.add_argument("workspace")
    p.add_argument("dest", help="the copy (.gpkg)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing copy")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "upgrade", parents=parents, help="upgrade a workspace made by an older gridmap"
    )
    p.add_argument("workspace")
    p.set_defaults(func=cmd_upgrade)
