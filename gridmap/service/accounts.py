"""Accounts of a workspace: add and change users, sign in, API tokens, anonymous layers.

Flask-free use cases over the store's account records (:mod:`gridmap.store.accounts`) and the
rules of :mod:`gridmap.access` (roles, password hashing). The CLI's ``gridmap users`` and the
web app's sign-in and admin pages call these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from gridmap.access import accounts as secrets
from gridmap.access.roles import (
    ADMIN,
    ANALYST,
    GRID_WORKER,
    PATROL_LEAD,
    PLANNER,
    PUBLIC_LAYERS_KEY,
    ROLE_TITLES,
    Access,
    check_role,
    openable_layers,
)
from gridmap.errors import AccountDisabledError, BadTokenError, InputError, WrongPasswordError
from gridmap.store import Workspace
from gridmap.store.accounts import UserRecord

WRONG_PASSWORD = "Wrong user name or password."
DISABLED = "This account is disabled: ask an administrator."
BAD_TOKEN = "The API token is not valid (revoked, mistyped, or its account removed)."


def _grids(ws: Workspace, role: str, grids: Iterable[str]) -> tuple[str, ...]:
    codes = tuple(dict.fromkeys(g.strip() for g in grids if g.strip()))
    if role != GRID_WORKER:
        if codes:
            raise InputError("Only a grid worker has grids (--grids is for role grid_worker).")
        return ()
    if not codes:
        raise InputError("A grid worker needs the grids they work in: --grids CODE[,CODE…].")
    known = set(ws.read("grids", columns=("code",), system=False)["code"].dropna())
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise InputError(
            f"No grid has the code {', '.join(unknown)} (grids: {', '.join(sorted(known)[:8])}"
            f"{' …' if len(known) > 8 else ''})."
        )
    return codes


def user(ws: Workspace, name: str) -> UserRecord:
    """Return the account ``name`` or raise a clear InputError."""
    found = ws.get_user(name)
    if found is None:
        raise InputError(f"There is no user called '{name}' (gridmap users list shows them).")
    return found


def add_user(
    ws: Workspace,
    name: str,
    role: str,
    *,
    password: str,
    grids: Iterable[str] = (),
    display_name: str | None = None,
    demo: bool = False,
    actor: str = "system",
) -> UserRecord:
    """Add an account: name, role, password (hashed here), a grid worker's grids."""
    secrets.check_name(name)
    check_role(role)
    record = UserRecord(
        name=name,
        role=role,
        password_hash=secrets.hash_password(password),
        grids=_grids(ws, role, grids),
        display_name=display_name,
        demo=demo,
    )
    ws.add_user(record, actor=actor)
    return user(ws, name)


def change_role(
    ws: Workspace, name: str, role: str, *, grids: Iterable[str] = (), actor: str = "system"
) -> UserRecord:
    """Give an account another role (and a grid worker's grids); ends its sessions."""
    old = user(ws, name)
    check_role(role)
    changes = {"role": role, "grids": _grids(ws, role, grids), "epoch": old.epoch + 1}
    return ws.update_user(name, changes, actor=actor, action="users role")


def set_password(ws: Workspace, name: str, password: str, *, actor: str = "system") -> UserRecord:
    """Set an account's password; every session signed in before ends."""
    old = user(ws, name)
    changes = {"password_hash": secrets.hash_password(password), "epoch": old.epoch + 1}
    return ws.update_user(name, changes, actor=actor, action="users passwd")


def set_disabled(ws: Workspace, name: str, disabled: bool, *, actor: str = "system") -> UserRecord:
    """Disable (its sessions end, its tokens stop working) or enable an account."""
    old = user(ws, name)
    changes = {"disabled": disabled, "epoch": old.epoch + (1 if disabled else 0)}
    return ws.update_user(
        name, changes, actor=actor, action="users disable" if disabled else "users enable"
    )


def remove_user(ws: Workspace, name: str, *, actor: str = "system") -> None:
    """Remove an account and its tokens; what it did stays in the audit log."""
    user(ws, name)
    ws.remove_user(name, actor=actor)


def authenticate(ws: Workspace, name: str, password: str) -> UserRecord:
    """Return the account whose name and password these are, or raise.

    Raises :class:`AuthenticationError` for a wrong name or password (one message for both)
    and :class:`AccountDisabledError` for a disabled account with the right password. A hash
    made with weaker settings than today's is replaced by a new one.
    """
    found = ws.get_user(name) if name else None
    ok = secrets.verify_password(found.password_hash if found else None, password or "")
    if found is None or not ok:
        raise WrongPasswordError(WRONG_PASSWORD)
    if found.disabled:
        raise AccountDisabledError(DISABLED)
    changes: dict[str, object] = {"last_login": _now()}
    if found.password_hash and secrets.needs_rehash(found.password_hash):
        changes["password_hash"] = secrets.hash_password(password)
    if not getattr(ws, "read_only", False):
        ws.update_user(name, changes, actor=name)
    return found


def access_of(ws: Workspace, record: UserRecord) -> Access:
    """Return the :class:`Access` of a signed-in account."""
    return Access.of(record.name, record.role, record.grids)


def issue_token(ws: Workspace, name: str, label: str = "", *, actor: str = "system") -> str:
    """Make a new API token for ``name``; return it (shown once: only its digest is kept)."""
    record = user(ws, name)
    if record.disabled:
        raise InputError(f"The account '{name}' is disabled: enable it before giving it a token.")
    token = secrets.new_token()
    ws.add_token(name, secrets.token_digest(token), label or "token", actor=actor)
    return token


def revoke_tokens(
    ws: Workspace, name: str, token_id: int | None = None, *, actor: str = "system"
) -> int:
    """Revoke one of ``name``'s tokens (all with None); return how many were revoked."""
    user(ws, name)
    return ws.revoke_tokens(name, token_id, actor=actor)


def token_user(ws: Workspace, token: str) -> UserRecord:
    """Return the account an API token opens, or raise AuthenticationError / disabled."""
    found = ws.find_token(secrets.token_digest(token)) if token else None
    if found is None:
        raise BadTokenError(BAD_TOKEN)
    record = ws.get_user(found.user)
    if record is None:
        raise BadTokenError(BAD_TOKEN)
    if record.disabled:
        raise AccountDisabledError(DISABLED)
    return record


def public_layers(ws: Workspace) -> list[str]:
    """Return the layers an admin opened to anonymous readers (only layers that may be)."""
    allowed = set(openable_layers())
    return [name for name in ws.get_meta(PUBLIC_LAYERS_KEY, []) or [] if name in allowed]


def set_public_layers(ws: Workspace, layers: Iterable[str], *, actor: str = "system") -> list[str]:
    """Open exactly ``layers`` to anonymous readers; refuse the register and personal layers."""
    names = list(dict.fromkeys(layers))
    allowed = openable_layers()
    refused = [n for n in names if n not in allowed]
    if refused:
        raise InputError(
            f"These layers cannot be opened to anonymous readers: {', '.join(refused)} "
            f"(they may be: {', '.join(allowed)})."
        )
    with ws.transaction(user=actor, action="settings public layers") as tx:
        tx.set_meta(PUBLIC_LAYERS_KEY, names)
    return names


def anonymous(ws: Workspace) -> Access:
    """Return the access of a request nobody signed in to, with the layers opened to it."""
    return Access.anonymous(public_layers(ws))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: The demo accounts, one per role but admin: (name, role). Marked ``demo`` in the workspace.
DEMO_ACCOUNTS: tuple[tuple[str, str], ...] = (
    ("demo-planner", PLANNER),
    ("demo-patrol", PATROL_LEAD),
    ("demo-worker", GRID_WORKER),
    ("demo-analyst", ANALYST),
)
#: The administrator every demo workspace gets.
DEMO_ADMIN = "admin"


def create_demo_accounts(
    ws: Workspace, *, password: str | None = None, admin_password: str | None = None
) -> dict[str, str]:
    """Give a new demo workspace an ``admin`` and one demo account per role; return passwords.

    The grid worker works in the first two grids (by code). Passwords are random unless
    given; they are returned once, as ``{name: password}``, and only their hashes are kept.
    """
    codes = sorted(ws.read("grids", columns=("code",), system=False)["code"].dropna())
    made = {DEMO_ADMIN: admin_password or secrets.new_password()}
    add_user(ws, DEMO_ADMIN, ADMIN, password=made[DEMO_ADMIN], display_name="管理员 Admin")
    shared = password or secrets.new_password()
    for name, role in DEMO_ACCOUNTS:
        grids = codes[:2] if role == GRID_WORKER else []
        if role == GRID_WORKER and not grids:
            continue  # a workspace without grids has no grid worker to show
        title = ROLE_TITLES[role]
        add_user(
            ws,
            name,
            role,
            password=shared,
            grids=grids,
            display_name=f"{title[1]}（演示）",
            demo=True,
        )
        made[name] = shared
    return made
