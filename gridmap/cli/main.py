"""The ``gridmap`` command: a thin shell over the library, one module per command group.

Each subcommand parses its arguments, calls gridmap and prints the answer; a
:class:`gridmap.errors.GridmapError` becomes a one-line message and exit status 2, Ctrl+C exit
status 130 (every command writes in one transaction, so an interrupted one changes nothing).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from gridmap import __version__
from gridmap.cli import data, demo, grids, history, privacy, search, serve, users, workspace
from gridmap.cli import print as printing
from gridmap.cli.common import Progress, quiet_parent
from gridmap.cli.demo import DEFAULT_DEMO_WORKSPACE
from gridmap.errors import GridmapError

#: The command groups, in the order ``gridmap --help`` lists them.
GROUPS = (demo, serve, workspace, data, grids, history, users, privacy, search, printing)

__all__ = ["DEFAULT_DEMO_WORKSPACE", "Progress", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``gridmap`` command."""
    parser = argparse.ArgumentParser(
        prog="gridmap", description="Community grid management (网格化管理)."
    )
    parser.add_argument("--version", action="version", version=f"gridmap {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parents = [quiet_parent()]
    for group in GROUPS:
        group.add_commands(sub, parents)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``gridmap`` command; return its exit status."""
    parser = build_parser()
    args: Any = parser.parse_args(argv)
    try:
        status = args.func(args)  # a command may return its exit status (None: 0)
    except GridmapError as exc:
        print(f"gridmap: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("gridmap: interrupted; nothing was changed.", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
