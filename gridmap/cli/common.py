"""What every command group of the ``gridmap`` command shares: progress lines, a bbox option,
and who a command reads as (:func:`reader`)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from gridmap.errors import InputError

if TYPE_CHECKING:
    from gridmap.access.roles import Access
    from gridmap.store import Workspace


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


def add_reader_options(parser: argparse.ArgumentParser, what: str, *, personal: bool) -> None:
    """Add ``--as USER`` and ``--role ROLE`` (and ``--personal``) to a command that reads.

    ``what`` names what the command makes (``export``, ``search``, ``print``), for the help.
    """
    parser.add_argument(
        "--as",
        dest="as_user",
        metavar="USER",
        help=f"{what} as this account of the workspace sees it (its role, a grid worker's grids)",
    )
    parser.add_argument(
        "--role",
        metavar="ROLE",
        help=f"{what} as this role sees it: admin, planner, patrol_lead, grid_worker (with "
        "--grids: the worker's grids), analyst",
    )
    if personal:
        parser.add_argument(
            "--personal",
            action="store_true",
            help="show personal data unmasked (needed whenever the result would be: as an "
            "admin, a grid worker, or without --as/--role; recorded in the access log)",
        )


def reader(
    ws: Workspace,
    args: argparse.Namespace,
    *,
    shows: Iterable[str] | Callable[[Access], Iterable[str]] | None = None,
    grids: Sequence[str] = (),
    what: str = "read",
) -> Access:
    """Return who a command reads as, from ``--as USER``, ``--role ROLE`` and ``--personal``.

    The one way the CLI chooses its reader (``export``, ``search``, ``print``):

    - ``--as USER``: that account's role and grids (looked up with
      :func:`gridmap.service.accounts.user`);
    - ``--role ROLE``: that role (a grid worker's grids: ``grids``, which must be given);
    - neither: an analyst, who sees the register masked; with ``--personal`` an admin.

    The access log names the operating-system user who acted (:func:`cli_user`), and for
    ``--as`` the account too: ``root (cli) as demo-worker``. ``shows`` are the layers the
    result would show (or a function of the reader that returns them): when the reader sees
    personal data of one of them unmasked, ``--personal`` is required (a masked role with
    ``--personal`` is refused, as it would change nothing). ``shows`` None: the command shows
    no personal data.
    """
    from gridmap.access.roles import ADMIN, ANALYST, GRID_WORKER, ROLES, Access, audited, check_role
    from gridmap.service import accounts

    as_user, role = getattr(args, "as_user", None), getattr(args, "role", None)
    personal = bool(getattr(args, "personal", False))
    if as_user and role:
        raise InputError("Give --as USER or --role ROLE, not both. (--as 与 --role 只能选一个。)")
    if as_user:
        if ws.get_user(as_user) is None and as_user in ROLES:
            raise InputError(
                f"There is no account '{as_user}': to {what} as the role, give --role {as_user}. "
                f"(没有账户“{as_user}”；按角色请用 --role {as_user}。)"
            )
        record = accounts.user(ws, as_user)
        if record.disabled:  # a disabled account reads nothing, in the browser or here
            raise InputError(
                f"The account '{as_user}' is disabled: an administrator can enable it again. "
                f"(账户“{as_user}”已停用。)"
            )
        who = Access.of(
            f"{cli_user()} as {record.name}",
            record.role,
            record.grids,
            account=record.created_at or "",
        )
        label = f"{record.name} ({record.role})"
    elif role:
        check_role(role)
        if role == GRID_WORKER and not grids:
            raise InputError(
                "As a grid worker, name the worker's grids: --grids CODES. "
                "(以网格员身份须用 --grids 指明网格。)"
            )
        who = Access.of(cli_user(), role, grids)
        label = f"the role {role}"
    else:
        who = Access.of(cli_user(), ADMIN if personal else ANALYST)
        label = f"the role {who.role}"
    layers = shows(who) if callable(shows) else shows
    unmasked = [name for name in layers or () if audited(who, name)]
    if unmasked and not personal:
        raise InputError(
            f"As {label}, the {what} would show personal data of {', '.join(unmasked)} unmasked: add "
            "--personal (the read is recorded in the access log). "
            "(结果将显示未脱敏的个人信息：请加 --personal，此操作会记入访问日志。)"
        )
    if personal and not who.personal:
        raise InputError(
            f"--personal shows personal data only to roles that may see it (admin, grid_worker); "
            f"the role {who.role} sees it masked. (该角色只能看到脱敏数据，--personal 无效。)"
        )
    return who
