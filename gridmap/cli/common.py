"""What every command group of the ``gridmap`` command shares: progress lines, a bbox option."""

from __future__ import annotations

import argparse
import sys
import time

from gridmap.errors import InputError


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


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """Return ``minlon,minlat,maxlon,maxlat`` as four numbers (degrees), or None."""
    if not text:
        return None
    try:
        minx, miny, maxx, maxy = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise InputError("--bbox is minlon,minlat,maxlon,maxlat") from exc
    return minx, miny, maxx, maxy


def quiet_parent() -> argparse.ArgumentParser:
    """Return a parent parser that lets ``-q`` come after the command too.

    ``default=SUPPRESS`` keeps ``gridmap -q COMMAND`` working.
    """
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress messages"
    )
    return quiet


#: The subparsers action of the top-level parser (what ``add_subparsers`` returns).
Subparsers = argparse._SubParsersAction


def cli_user() -> str:
    """Return the name recorded for what a command does: the operating-system user, ``(cli)``."""
    import getpass

    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return f"{name} (cli)"
