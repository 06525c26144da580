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
from gridmap.store.accounts import TokenRecord, UserRecord

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
        raise InputError(
            f"There is no user called '{name}' (gridmap users list shows them). (没有用户“{name}”。)"
        )
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
        # a random start: a session of a removed account of the same name never fits this one
        epoch=random_epoch(),
    )
    ws.add_user(record, actor=actor)
    return user(ws, name)


def random_epoch() -> int:
    """Return a random first epoch of an account (sessions carry it; 1 to 2**53)."""
    import secrets as random

    return random.randbelow(2**53) + 1


def end_sessions(ws: Workspace, name: str, *, actor: str) -> None:
    """End every session of the account ``name`` (signing out ends them on every device)."""
    old = ws.get_user(name)
    if old is not None and not getattr(ws, "read_only", False):
        ws.update_user(name, {"epoch": old.epoch + 1}, actor=actor, action="users sign out")


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
    return Access.of(record.name, record.role, record.grids, account=record.created_at or "")


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


# -- the administrator's page: changes that keep an administrator, the access log -------------

#: Rows of the access log one page of the admin page shows, and the most one request may ask.
READ_LOG_PAGE = 50
READ_LOG_MAX_PAGE = 500


def enabled_admins(ws: Workspace) -> list[str]:
    """Return the names of the enabled administrators, by name."""
    return [u.name for u in ws.users() if u.role == ADMIN and not u.disabled]


def check_admin_change(
    ws: Workspace,
    name: str,
    *,
    actor: str,
    role: str | None = None,
    disable: bool = False,
    remove: bool = False,
) -> UserRecord:
    """Refuse a change that would leave the workspace without an administrator; return the account.

    An administrator (``actor``) may not disable or remove their own account, nor give it
    another role (another administrator must do that); nobody may disable, remove or take
    the role away from the last enabled administrator. Raises :class:`InputError` with a
    message that says what to do instead.
    """
    record = user(ws, name)
    demoting = role is not None and role != ADMIN and record.role == ADMIN
    if actor == name and (disable or remove or demoting):
        what = "disable" if disable else "remove" if remove else "take the administrator role from"
        zh = "停用" if disable else "删除" if remove else "取消管理员角色："
        raise InputError(
            f"You cannot {what} your own account: ask another administrator. "
            f"(不能{zh}自己的账号，请另一位管理员操作。)"
        )
    losing = record.role == ADMIN and not record.disabled and (disable or remove or demoting)
    if losing and enabled_admins(ws) == [name]:
        raise InputError(
            f"'{name}' is the last administrator: make another account administrator first. "
            f"(“{name}”是最后一位管理员，请先将另一账号设为管理员。)"
        )
    return record


def update_account(
    ws: Workspace,
    name: str,
    *,
    actor: str,
    role: str | None = None,
    grids: Iterable[str] | None = None,
    display_name: str | None = None,
    disabled: bool | None = None,
) -> UserRecord:
    """Change an account's role, grids, display name or state in one audited change.

    Parameters
    ----------
    ws
        The workspace.
    name
        The account.
    actor
        Who changes it (an administrator's name, recorded in the audit log).
    role, grids
        A new role and a grid worker's grid codes (grids alone: the same role, new grids).
    display_name
        The name shown in the page (empty text: none).
    disabled
        Disable (its sessions end, its tokens stop working) or enable the account.

    Returns
    -------
    UserRecord
        The account as it is now. A change of role, grids or a disabling ends its sessions.
    """
    disabling = bool(disabled) and not user(ws, name).disabled
    record = check_admin_change(ws, name, actor=actor, role=role, disable=disabling)
    changes: dict[str, object] = {}
    if role is not None or grids is not None:
        new_role = check_role(role) if role is not None else record.role
        codes = tuple(grids) if grids is not None else record.grids
        if new_role != GRID_WORKER and grids is None:
            codes = ()
        changes["role"] = new_role
        changes["grids"] = _grids(ws, new_role, codes)
    if display_name is not None:
        text = display_name.strip()
        if len(text) > 60:
            raise InputError("A display name has at most 60 characters. (显示名称最多 60 个字符。)")
        changes["display_name"] = text or None
    if disabled is not None:
        changes["disabled"] = bool(disabled)
    ends = (
        changes.get("role", record.role) != record.role
        or tuple(changes.get("grids", record.grids)) != record.grids  # type: ignore[arg-type]
        or disabling
    )
    if ends:
        changes["epoch"] = record.epoch + 1
    if not changes:
        return record
    return ws.update_user(name, changes, actor=actor, action="users change")


def remove_account(ws: Workspace, name: str, *, actor: str, confirm: str | None) -> None:
    """Remove an account once its name is given again as ``confirm``; keep an administrator.

    Raises :class:`InputError` when ``confirm`` is not the account's name, or when the
    change is refused by :func:`check_admin_change`.
    """
    check_admin_change(ws, name, actor=actor, remove=True)
    if confirm != name:
        raise InputError(
            f"Removing '{name}' cannot be undone: confirm with the account's name. "
            f"(删除账号“{name}”无法撤销，请输入账号名确认。)"
        )
    remove_user(ws, name, actor=actor)


def since_utc(text: str | None, timezone: str = "Asia/Shanghai") -> str | None:
    """Return the UTC ISO time an access-log filter ``since`` stands for (None: no filter).

    Parameters
    ----------
    text
        A date (``2026-12-01``: from midnight of that day in ``timezone``) or an ISO date and
        time (without an offset: in ``timezone``).
    timezone
        The IANA name of the workspace's time zone (its ``timezone`` setting).

    Returns
    -------
    str or None
        ``YYYY-MM-DDTHH:MM:SS.fffZ``, comparable with the log's ``at`` column (UTC).
    """
    if text is None or not text.strip():
        return None
    from zoneinfo import ZoneInfo

    raw = text.strip()
    try:
        when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(
            f"'{raw}' is not a date: write it as 2026-12-01. (日期格式应为 2026-12-01。)"
        ) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(timezone))
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read_log_page(
    ws: Workspace,
    *,
    user_name: str | None = None,
    since: str | None = None,
    limit: int = READ_LOG_PAGE,
    offset: int = 0,
) -> tuple[list[dict[str, object]], bool]:
    """Return one page of the access log of unmasked reads, newest first, and whether more follow.

    Parameters
    ----------
    ws
        The workspace.
    user_name
        Only this account's reads.
    since
        Only reads from this date or time on (see :func:`since_utc`; the workspace's time zone).
    limit, offset
        The page: at most ``limit`` rows (1 to :data:`READ_LOG_MAX_PAGE`) after skipping ``offset``.

    Returns
    -------
    (rows, more)
        Rows as dicts (id, at — UTC ISO text —, user, role, action, layer, rows, filter — a
        dict), and whether rows follow this page.
    """
    import json

    if not 1 <= limit <= READ_LOG_MAX_PAGE:
        raise InputError(f"limit must be between 1 and {READ_LOG_MAX_PAGE}.")
    if offset < 0:
        raise InputError("offset must be 0 or more.")
    start = since_utc(since, str(ws.get_meta("timezone", "Asia/Shanghai")))
    frame = ws.read_log(user=user_name or None, since=start, limit=offset + limit + 1)
    rows = frame.iloc[offset : offset + limit]
    out: list[dict[str, object]] = []
    for r in rows.to_dict("records"):
        try:
            shown = json.loads(r["filter"]) if r.get("filter") else {}
        except ValueError:
            shown = {"text": r["filter"]}
        out.append(
            {
                "id": int(r["id"]),
                "at": r["at"],
                "user": r["user"],
                "role": r["role"],
                "action": r["action"],
                "layer": r["layer"],
                "rows": int(r["rows"]),
                "filter": shown,
            }
        )
    return out, len(frame) > offset + limit


def tokens_of(ws: Workspace, name: str) -> list[TokenRecord]:
    """Return every API token of the account ``name``, revoked ones included, oldest first."""
    user(ws, name)
    return ws.tokens(name)


def issue_token_record(
    ws: Workspace, name: str, label: str = "", *, actor: str = "system"
) -> tuple[str, TokenRecord]:
    """Make a new API token for ``name``; return it (shown once) and its record (id, label…)."""
    if len(label) > 80:
        raise InputError("A token's label has at most 80 characters. (令牌说明最多 80 个字符。)")
    token = issue_token(ws, name, label.strip(), actor=actor)
    found = ws.find_token(secrets.token_digest(token))
    assert found is not None  # just stored
    return token, found
