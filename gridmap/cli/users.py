"""``gridmap users …`` (accounts, API tokens, layers open to everyone) and ``gridmap audit``.

Passwords are asked on the terminal (twice, not echoed) or read from standard input with
``--password-stdin``; they never appear on a command line, where other users of the machine
could read them. A token is printed once: only its digest is kept.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gridmap.access.roles import ROLE_TITLES, ROLES, openable_layers
from gridmap.cli.common import Subparsers, cli_user
from gridmap.errors import InputError

if TYPE_CHECKING:
    from gridmap.store import Workspace


def _password(args: argparse.Namespace) -> str:
    """Return the new password: from stdin with --password-stdin, else asked twice."""
    if args.password_stdin:
        text = sys.stdin.readline().rstrip("\r\n")
        if not text:
            raise InputError("--password-stdin read an empty line: give the password on stdin.")
        return text
    if not sys.stdin.isatty():
        raise InputError(
            "No terminal to ask the password on: pipe it with --password-stdin "
            "(e.g. printf '%s\\n' \"$PW\" | gridmap users add … --password-stdin)."
        )
    first = getpass.getpass("New password (密码): ")
    if first != getpass.getpass("Again (再次输入): "):
        raise InputError("The two passwords differ; nothing was changed.")
    return first


def _grids(text: str | None) -> list[str]:
    return [c for c in (text or "").split(",") if c.strip()]


def _ws(args: argparse.Namespace) -> Workspace:
    from gridmap.store import open_workspace

    return open_workspace(args.workspace)


def cmd_add(args: argparse.Namespace) -> None:
    """Add an account."""
    from gridmap.service import accounts

    ws = _ws(args)
    _valid_first(ws, args)  # check the name and role before asking for a password
    password = _password(args)
    accounts.add_user(
        ws,
        args.name,
        args.role,
        password=password,
        grids=_grids(args.grids),
        display_name=args.display_name,
        actor=cli_user(),
    )
    grids = f" for grids {args.grids}" if args.grids else ""
    print(f"Added user '{args.name}' ({args.role}{grids}).")


def _valid_first(ws: Workspace, args: argparse.Namespace) -> None:
    from gridmap.access.accounts import check_name
    from gridmap.access.roles import check_role

    check_name(args.name)
    check_role(args.role)
    if ws.get_user(args.name) is not None:
        raise InputError(f"There is a user called '{args.name}' already.")


def cmd_list(args: argparse.Namespace) -> None:
    """List the accounts."""
    ws = _ws(args)
    users = ws.users()
    active = {t.user for t in ws.tokens() if t.active}
    rows: list[dict[str, Any]] = [
        {
            "name": u.name,
            "role": u.role,
            "grids": list(u.grids),
            "display_name": u.display_name,
            "disabled": u.disabled,
            "demo": u.demo,
            "tokens": sum(1 for t in ws.tokens(u.name) if t.active),
            "last_login": u.last_login,
        }
        for u in users
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        print("No users yet: add one with gridmap users add WORKSPACE NAME --role admin")
        return
    for r in rows:
        flags = [f for f, on in (("disabled", r["disabled"]), ("demo", r["demo"])) if on]
        if r["name"] in active:
            flags.append(f"{r['tokens']} token(s)")
        grids = f" grids {','.join(r['grids'])}" if r["grids"] else ""
        title = ROLE_TITLES[r["role"]][1]
        extra = f"  [{', '.join(flags)}]" if flags else ""
        print(f"{r['name']:<20} {r['role']:<12} {title}{grids}{extra}")


def cmd_state(args: argparse.Namespace) -> None:
    """Disable or enable an account."""
    from gridmap.service import accounts

    disabled = args.command_name == "disable"
    ws = _ws(args)
    if disabled:
        accounts.check_admin_change(ws, args.name, actor=cli_user(), disable=True)
    accounts.set_disabled(ws, args.name, disabled, actor=cli_user())
    print(
        f"User '{args.name}' {'disabled: its sessions and tokens stop working' if disabled else 'enabled'}."
    )


def cmd_passwd(args: argparse.Namespace) -> None:
    """Set an account's password."""
    from gridmap.service import accounts

    ws = _ws(args)
    accounts.user(ws, args.name)
    accounts.set_password(ws, args.name, _password(args), actor=cli_user())
    print(f"Password of '{args.name}' changed; its open sessions are signed out.")


def cmd_role(args: argparse.Namespace) -> None:
    """Give an account another role."""
    from gridmap.service import accounts

    accounts.change_role(
        _ws(args), args.name, args.role, grids=_grids(args.grids), actor=cli_user()
    )
    print(f"User '{args.name}' is now {args.role}; its open sessions are signed out.")


def cmd_remove(args: argparse.Namespace) -> None:
    """Remove an account."""
    from gridmap.service import accounts

    if not args.yes:
        raise InputError(f"Removing '{args.name}' cannot be undone: add --yes to confirm.")
    ws = _ws(args)
    accounts.check_admin_change(ws, args.name, actor=cli_user(), remove=True)
    accounts.remove_user(ws, args.name, actor=cli_user())
    print(f"Removed user '{args.name}' and its tokens (what it did stays in the audit log).")


def cmd_token(args: argparse.Namespace) -> None:
    """Make, list or revoke a user's API tokens."""
    from gridmap.service import accounts

    ws = _ws(args)
    if args.list:
        accounts.user(ws, args.name)
        for t in ws.tokens(args.name):
            state = "active" if t.active else f"revoked {t.revoked_at}"
            print(
                f"{t.id:>5}  {t.label:<20} made {t.created_at}  used {t.last_used or '-'}  {state}"
            )
        return
    if args.revoke is not None:
        token_id = None if args.revoke == "all" else _int(args.revoke)
        n = accounts.revoke_tokens(ws, args.name, token_id, actor=cli_user())
        print(f"Revoked {n} token(s) of '{args.name}'.")
        return
    token = accounts.issue_token(ws, args.name, args.label or "", actor=cli_user())
    print(token)
    print(
        "This token is shown once: keep it like a password. Send it as "
        "'Authorization: Bearer <token>' (QGIS: an API header; GDAL: GDAL_HTTP_HEADERS).",
        file=sys.stderr,
    )


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise InputError(f"--revoke takes a token id (see --list) or 'all', not '{text}'.") from exc


def cmd_public(args: argparse.Namespace) -> None:
    """Show or set the layers open to readers who are not signed in."""
    from gridmap.service import accounts

    ws = _ws(args)
    if args.none or args.layers:
        names = accounts.set_public_layers(ws, [] if args.none else args.layers, actor=cli_user())
    else:
        names = accounts.public_layers(ws)
    shown = ", ".join(names) if names else "none (everyone must sign in)"
    print(f"Open to readers who are not signed in: {shown}.")
    if not (args.none or args.layers):
        print(f"Layers that may be opened: {', '.join(openable_layers())}.")


def cmd_audit(args: argparse.Namespace) -> None:
    """List reads and exports of personal data unmasked."""
    ws = _ws(args)
    log = ws.read_log(user=args.user, since=args.since, limit=args.limit)
    if args.json:
        print(log.to_json(orient="records", force_ascii=False, indent=2))
        return
    if log.empty:
        print(
            "No reads of personal data unmasked" + (f" by {args.user}" if args.user else "") + "."
        )
        return
    for r in log.itertuples():
        print(
            f"{r.at}  {r.user:<18} {r.role:<12} {r.action:<11} {r.layer:<10} {r.rows:>6} rows  {r.filter}"
        )


def add_commands(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``users`` and ``audit`` to the ``gridmap`` command."""
    users = sub.add_parser("users", parents=parents, help="accounts, API tokens, public layers")
    verbs = users.add_subparsers(dest="command_name", required=True, metavar="ACTION")

    def verb(
        name: str, help: str, func: Callable[[argparse.Namespace], None], *, password: bool = False
    ) -> argparse.ArgumentParser:
        p = verbs.add_parser(name, parents=parents, help=help)
        p.add_argument("workspace")
        if name not in ("list", "public"):
            p.add_argument("name", help="the account's name")
        if password:
            p.add_argument(
                "--password-stdin", action="store_true", help="read the password from stdin"
            )
        p.set_defaults(func=func)
        return p

    p = verb("add", "add an account", cmd_add, password=True)
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--grids", help="a grid worker's grid codes, comma-separated")
    p.add_argument("--display-name", help="the name shown in the page (e.g. 张网格员)")
    p = verb("list", "list the accounts", cmd_list)
    p.add_argument("--json", action="store_true")
    verb("disable", "disable an account (sessions and tokens stop working)", cmd_state)
    verb("enable", "enable a disabled account", cmd_state)
    verb("passwd", "set an account's password", cmd_passwd, password=True)
    p = verb("role", "give an account another role", cmd_role)
    p.add_argument("role", choices=ROLES)
    p.add_argument("--grids", help="a grid worker's grid codes, comma-separated")
    p = verb("remove", "remove an account and its tokens", cmd_remove)
    p.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    p = verb("token", "make (printed once), list or revoke API tokens", cmd_token)
    p.add_argument("--label", help="what the token is for (e.g. QGIS on the office PC)")
    p.add_argument("--list", action="store_true", help="list the account's tokens")
    p.add_argument("--revoke", nargs="?", const="all", help="revoke token ID, or all of them")
    p = verb("public", "show or set the layers open to readers who are not signed in", cmd_public)
    p.add_argument("layers", nargs="*", help="layers to open (replaces the list)")
    p.add_argument("--none", action="store_true", help="open no layer: everyone must sign in")

    p = sub.add_parser(
        "audit", parents=parents, help="who read or exported personal data unmasked, and when"
    )
    p.add_argument("workspace")
    p.add_argument("--user", help="only this account")
    p.add_argument("--since", help="only from this date or time on (UTC, e.g. 2026-12-01)")
    p.add_argument("--limit", type=int, default=1000, help="at most this many rows (default 1000)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_audit)
