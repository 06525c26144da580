"""The administrator's page ``/admin`` and its JSON API under ``/api/admin``.

Accounts (add with role, grids, display name and a first password; change role and grids;
disable and enable; reset the password; remove with confirmation), each account's API tokens
(made — and shown — once, listed, revoked), the layers open to readers who are not signed in,
and the access log of unmasked reads. Every route is the administrator's (``@allow("admin")``);
every change goes through :mod:`gridmap.service.accounts`, which also refuses the changes that
would leave the workspace without an administrator. Browser requests that change something
carry the CSRF token (``X-CSRFToken``, checked by :mod:`web.auth`); token requests need none.

``GET /api/admin`` is the page's JSON twin: the accounts, the roles, the grids a grid worker
can have, the layers that may be opened to everyone and those that are. Every reply carries
``Cache-Control: private, no-store`` (names of people, tokens).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, cast

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from gridmap.access.roles import ADMIN, ROLE_TITLES, ROLES, openable_layers
from gridmap.errors import AuthenticationError, GridmapError, InputError
from gridmap.schema import LAYERS, get_layer
from gridmap.service import accounts
from gridmap.store.accounts import TokenRecord, UserRecord
from web import assets, auth
from web.auth import allow
from web.common import choose_lang, parse_int, workspace
from web.errors import ErrorRenderer, add_error_renderer, wants_html
from web.pages import html_page

bp = Blueprint("admin", __name__)

ADMIN_ONLY = (ADMIN,)


@bp.record_once
def _sign_in_first(state: Any) -> None:
    """A browser that is not signed in and opens /admin goes to the sign-in page."""
    add_error_renderer(state.app, "/admin", cast(ErrorRenderer, _to_login))


def _to_login(exc: GridmapError | HTTPException) -> Response | None:
    if isinstance(exc, AuthenticationError) and wants_html():
        target = url_for("login.login_page", next=request.full_path.rstrip("?"))
        return cast(Response, redirect(target, code=303))
    return None  # the usual error page


@bp.after_request
def _private(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


# -- documents ---------------------------------------------------------------------------------


def _titles(role: str) -> dict[str, str]:
    en, zh = ROLE_TITLES[role]
    return {"en": en, "zh-CN": zh}


def user_doc(record: UserRecord, tokens: Iterable[TokenRecord] = ()) -> dict[str, Any]:
    """Return an account as the admin page shows it (never its password hash)."""
    return {
        "name": record.name,
        "display_name": record.display_name,
        "role": record.role,
        "role_title": _titles(record.role),
        "grids": list(record.grids),
        "disabled": record.disabled,
        "demo": record.demo,
        "created_at": record.created_at,
        "last_login": record.last_login,
        "active_tokens": sum(1 for t in tokens if t.active),
    }


def token_doc(token: TokenRecord) -> dict[str, Any]:
    """Return an API token's record (never the token, which only its owner saw once)."""
    return {
        "id": token.id,
        "user": token.user,
        "label": token.label,
        "created_at": token.created_at,
        "last_used": token.last_used,
        "revoked_at": token.revoked_at,
        "active": token.active,
    }


def _layer_doc(name: str) -> dict[str, Any]:
    layer = get_layer(name)
    return {"name": name, "title": {"en": layer.en, "zh-CN": layer.zh}}


def _public_doc() -> dict[str, Any]:
    return {
        "openable": [_layer_doc(n) for n in openable_layers()],
        "public": accounts.public_layers(workspace()),
    }


def _users_doc() -> list[dict[str, Any]]:
    ws = workspace()
    tokens: dict[str, list[TokenRecord]] = {}
    for t in ws.tokens():
        tokens.setdefault(t.user, []).append(t)
    return [user_doc(u, tokens.get(u.name, ())) for u in ws.users()]


def _grids_doc() -> list[dict[str, Any]]:
    frame = workspace().read("grids", columns=("code", "name"), system=False)
    rows = sorted(
        (str(c), None if n is None else str(n))
        for c, n in zip(frame["code"], frame["name"], strict=True)
        if c
    )
    return [{"code": c, "name": n} for c, n in rows]


def _actor() -> str:
    who = auth.access()
    assert who.user is not None  # the route is the administrator's
    return who.user


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError("Send the change as a JSON object. (请以 JSON 对象发送。)")
    return body


def _text(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise InputError(f"'{key}' is missing. (缺少 “{key}”。)")
        return None
    if not isinstance(value, str):
        raise InputError(f"'{key}' must be text. (“{key}”应为文字。)")
    return value


def _grid_codes(body: dict[str, Any]) -> list[str] | None:
    value = body.get("grids")
    if value is None:
        return None
    if isinstance(value, str):
        return [c.strip() for c in value.replace("，", ",").split(",") if c.strip()]
    if isinstance(value, list) and all(isinstance(c, str) for c in value):
        return [c.strip() for c in value if c.strip()]
    raise InputError("'grids' must be a list of grid codes. (“grids”应为网格编码列表。)")


# -- the page ----------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def ui_strings(lang: str) -> dict[str, str]:
    """Return the browser's UI strings of ``lang`` (web/static/i18n/<lang>.json), read once."""
    path = assets.STATIC / "i18n" / f"{lang}.json"
    strings: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return strings


@html_page("/admin", twin="admin.overview", roles=ADMIN_ONLY, blueprint=bp)
def admin_page(json_twin: str) -> str:
    """The administrator's page: accounts, tokens, public layers, the access log."""
    lang = choose_lang()
    strings = ui_strings(lang)
    return render_template(
        "admin.html",
        lang=lang,
        json_twin=json_twin,
        who=auth.access(),
        t=lambda key: strings.get(key, key),
    )


@bp.get("/api/admin")
@allow(ADMIN_ONLY)
def overview() -> Response:
    """The admin page's content: accounts, roles, grids, layers open to everyone."""
    ws = workspace()
    return jsonify(
        {
            "me": _actor(),
            "users": _users_doc(),
            "roles": [{"role": r, "title": _titles(r)} for r in ROLES],
            "grids": _grids_doc(),
            "layers": _public_doc(),
            "layer_titles": {n: _layer_doc(n)["title"] for n in LAYERS},
            "timezone": ws.get_meta("timezone", "Asia/Shanghai"),
            "links": {
                "users": url_for("admin.list_users"),
                "public_layers": url_for("admin.get_public_layers"),
                "reads": url_for("admin.reads"),
            },
        }
    )


# -- accounts ----------------------------------------------------------------------------------


@bp.get("/api/admin/users")
@allow(ADMIN_ONLY)
def list_users() -> Response:
    """Every account, by name."""
    return jsonify({"users": _users_doc()})


@bp.post("/api/admin/users")
@allow(ADMIN_ONLY)
def add_user() -> tuple[Response, int, dict[str, str]]:
    """Add an account: ``{"name", "role", "password", "grids"?, "display_name"?}``."""
    body = _body()
    name = (_text(body, "name", required=True) or "").strip()
    record = accounts.add_user(
        workspace(),
        name,
        _text(body, "role", required=True) or "",
        password=_text(body, "password", required=True) or "",
        grids=_grid_codes(body) or (),
        display_name=(_text(body, "display_name") or "").strip() or None,
        actor=_actor(),
    )
    location = url_for("admin.get_user", name=record.name)
    return jsonify(user_doc(record)), 201, {"Location": location}


@bp.get("/api/admin/users/<name>")
@allow(ADMIN_ONLY)
def get_user(name: str) -> Response:
    """One account and its API tokens."""
    ws = workspace()
    tokens = accounts.tokens_of(ws, name)
    doc = user_doc(accounts.user(ws, name), tokens)
    return jsonify({**doc, "tokens": [token_doc(t) for t in tokens]})


@bp.patch("/api/admin/users/<name>")
@allow(ADMIN_ONLY)
def change_user(name: str) -> Response:
    """Change ``role`` and ``grids``, ``display_name`` or ``disabled`` of an account."""
    body = _body()
    unknown = set(body) - {"role", "grids", "display_name", "disabled"}
    if unknown:
        raise InputError(
            f"These cannot be changed here: {', '.join(sorted(unknown))} "
            "(role, grids, display_name, disabled can; the password has its own request)."
        )
    disabled = body.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        raise InputError("'disabled' must be true or false. (“disabled”应为 true 或 false。)")
    ws = workspace()
    record = accounts.update_account(
        ws,
        name,
        actor=_actor(),
        role=_text(body, "role"),
        grids=_grid_codes(body),
        display_name=_text(body, "display_name"),
        disabled=disabled,
    )
    return jsonify(user_doc(record, accounts.tokens_of(ws, name)))


@bp.post("/api/admin/users/<name>/password")
@allow(ADMIN_ONLY)
def reset_password(name: str) -> Response:
    """Set a new password (``{"password"}``); the account's sessions end."""
    password = _text(_body(), "password", required=True) or ""
    record = accounts.set_password(workspace(), name, password, actor=_actor())
    if name == _actor() and not auth.g.get("by_token"):
        auth.sign_in(name)  # one's own new password: this browser stays signed in
    return jsonify(user_doc(record, accounts.tokens_of(workspace(), name)))


@bp.delete("/api/admin/users/<name>")
@allow(ADMIN_ONLY)
def remove_user(name: str) -> Response:
    """Remove an account and its tokens: ``?confirm=<name>`` (what it did stays in the log)."""
    accounts.remove_account(workspace(), name, actor=_actor(), confirm=request.args.get("confirm"))
    return Response(status=204)


# -- API tokens --------------------------------------------------------------------------------


@bp.get("/api/admin/users/<name>/tokens")
@allow(ADMIN_ONLY)
def list_tokens(name: str) -> Response:
    """An account's API tokens, revoked ones included (never the tokens themselves)."""
    return jsonify({"tokens": [token_doc(t) for t in accounts.tokens_of(workspace(), name)]})


@bp.post("/api/admin/users/<name>/tokens")
@allow(ADMIN_ONLY)
def make_token(name: str) -> tuple[Response, int]:
    """Make an API token (``{"label"?}``); the reply holds it, once — only its digest is kept."""
    body = _body() if request.get_data() else {}  # JSON that is not an object: 400, not 500
    label = (_text(body, "label") or "").strip()
    token, record = accounts.issue_token_record(workspace(), name, label, actor=_actor())
    return jsonify({**token_doc(record), "token": token}), 201


@bp.delete("/api/admin/users/<name>/tokens/<int:token_id>")
@allow(ADMIN_ONLY)
def revoke_token(name: str, token_id: int) -> Response:
    """Revoke one API token of an account."""
    ws = workspace()
    if not any(t.id == token_id and t.active for t in accounts.tokens_of(ws, name)):
        raise InputError(
            f"'{name}' has no active token {token_id}. (“{name}”没有有效的令牌 {token_id}。)"
        )
    accounts.revoke_tokens(ws, name, token_id, actor=_actor())
    return jsonify({"tokens": [token_doc(t) for t in accounts.tokens_of(ws, name)]})


# -- layers open to everyone -------------------------------------------------------------------


@bp.get("/api/admin/public-layers")
@allow(ADMIN_ONLY)
def get_public_layers() -> Response:
    """The layers that may be opened to readers who are not signed in, and those that are."""
    return jsonify(_public_doc())


@bp.put("/api/admin/public-layers")
@allow(ADMIN_ONLY)
def set_public_layers() -> Response:
    """Open exactly ``{"layers": [...]}`` to readers who are not signed in (the register never)."""
    layers = _body().get("layers")
    if not isinstance(layers, list) or not all(isinstance(n, str) for n in layers):
        raise InputError('Send {"layers": ["grids", …]}. (请发送图层名列表。)')
    accounts.set_public_layers(workspace(), layers, actor=_actor())
    return jsonify(_public_doc())


# -- the access log ----------------------------------------------------------------------------


@bp.get("/api/admin/reads")
@allow(ADMIN_ONLY)
def reads() -> Response:
    """The access log of unmasked reads, newest first: ``?user=&since=&limit=&offset=``.

    ``since`` is a date (from midnight in the workspace's time zone) or an ISO date and time.
    """
    limit = parse_int("limit", accounts.READ_LOG_PAGE) or accounts.READ_LOG_PAGE
    offset = parse_int("offset", 0) or 0
    rows, more = accounts.read_log_page(
        workspace(),
        user_name=request.args.get("user") or None,
        since=request.args.get("since") or None,
        limit=limit,
        offset=offset,
    )
    doc: dict[str, Any] = {"reads": rows, "limit": limit, "offset": offset, "more": more}
    if more:
        args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "offset"}
        doc["next"] = url_for("admin.reads", **{**args, "offset": offset + limit})
    return jsonify(doc)
