"""Signing in and out: the sign-in page, its form, and ``/api/session`` for programs and scripts.

``GET /login`` is the page (zh-CN / English), ``POST /login`` its form (CSRF-protected, rate
limited by :mod:`web.throttle`), ``POST /logout`` ends the session. ``/api/session`` is the
page's JSON twin: ``GET`` says who is signed in (and gives the CSRF token a script sends as
``X-CSRFToken``), ``POST {"name", "password"}`` signs in, ``DELETE`` signs out.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request
from flask_wtf.csrf import generate_csrf

from gridmap.access.roles import ROLE_TITLES
from gridmap.errors import GridmapError, InputError
from gridmap.service import accounts
from web import auth
from web.auth import EVERYONE, allow
from web.common import choose_lang, workspace
from web.errors import error_text
from web.pages import html_page
from web.throttle import LoginThrottle

bp = Blueprint("login", __name__)

#: The key, in ``app.extensions``, of the app's :class:`LoginThrottle`.
THROTTLE_KEY = "gridmap.login_throttle"


@bp.record_once
def _throttle(state: Any) -> None:
    state.app.extensions.setdefault(THROTTLE_KEY, LoginThrottle())


def _safe_next(target: str | None) -> str:
    """Return ``target`` if it is a path of this site (never another site), else the map."""
    default = "/"
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target


def _demo_accounts() -> list[dict[str, str]]:
    lang = choose_lang()
    return [
        {"name": u.name, "title": ROLE_TITLES[u.role][1 if lang == "zh-CN" else 0]}
        for u in workspace().users()
        if u.demo and not u.disabled
    ]


def _page(name: str = "", error: GridmapError | None = None, status: int = 200) -> Response:
    lang = request.form.get("lang") or choose_lang()
    lang = lang if lang in ("zh-CN", "en") else "zh-CN"
    doc = error.to_dict()["error"] if error else None
    texts = []
    if doc is not None:
        first = [lang, *(x for x in ("zh-CN", "en") if x != lang)]
        texts = [(x, error_text(doc, x)) for x in first]  # type: ignore[arg-type]
    ws = workspace()
    body = render_template(
        "login.html",
        lang=lang,
        json_twin="/api/session",
        next=_safe_next(request.values.get("next")),
        name=name,
        error=doc,
        texts=texts,
        demo=_demo_accounts(),
        public=bool(accounts.public_layers(ws)),
        workspace_title=ws.get_meta("title", ws.name),
        who=auth.access(),
        role_title=ROLE_TITLES[auth.access().role][0 if lang == "en" else 1],
    )
    resp = Response(body, status=status, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    if error is not None and getattr(error, "retry_after", None):
        resp.headers["Retry-After"] = str(error.retry_after)  # type: ignore[attr-defined]
    return resp


@html_page("/login", twin="login.session_doc", roles=EVERYONE, blueprint=bp)
def login_page(json_twin: str) -> Response:
    """The sign-in page (already signed in: who, with a way on to the map or out)."""
    return _page()


def _attempt(name: str, password: str) -> None:
    """Check a name and password against the rate limit and the accounts; start the session."""
    if len(name) > 40 or len(password) > 200:
        raise InputError("The user name or password is too long. (用户名或密码过长。)")
    throttle: LoginThrottle = current_app.extensions[THROTTLE_KEY]
    ip = request.remote_addr or "?"
    throttle.check(name, ip)
    try:
        record = accounts.authenticate(workspace(), name, password)
    except GridmapError:
        throttle.failed(name, ip)
        current_app.logger.info("Sign-in refused for %r from %s", name, ip)  # never the password
        raise
    throttle.succeeded(name, ip)
    auth.sign_in(record.name)


@bp.post("/login")
@allow(EVERYONE)
def login_submit() -> Response:
    """The sign-in form: on success on to ``next``; else the page again with the reason."""
    name = request.form.get("name", "").strip()
    try:
        _attempt(name, request.form.get("password", ""))
    except GridmapError as exc:
        return _page(name, exc, exc.status)
    return redirect(_safe_next(request.form.get("next")), code=303)  # type: ignore[return-value]


@bp.post("/logout")
@allow(EVERYONE)
def logout() -> Response:
    """End this browser's session; back to the sign-in page."""
    auth.sign_out()
    return redirect("/login", code=303)  # type: ignore[return-value]


def _session_doc() -> dict[str, Any]:
    who = auth.access()
    record = workspace().get_user(who.user) if who.user else None
    return {
        "signed_in": who.signed_in,
        "user": who.user,
        "display_name": record.display_name if record else None,
        "role": who.role,
        "role_title": {"en": ROLE_TITLES[who.role][0], "zh-CN": ROLE_TITLES[who.role][1]},
        "grids": sorted(who.grids),
        "by_token": bool(getattr(auth.g, "by_token", False)),
        "csrf_token": generate_csrf(),
    }


@bp.get("/api/session")
@allow(EVERYONE)
def session_doc() -> Response:
    """Who is signed in: user, role, a grid worker's grids, and the CSRF token for writes."""
    resp = jsonify(_session_doc())
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.post("/api/session")
@allow(EVERYONE)
def session_start() -> Response:
    """Sign in with ``{"name": …, "password": …}`` (JSON); the reply is the new session."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise InputError('Send {"name": "…", "password": "…"} as JSON.')
    password = body.get("password")
    if not isinstance(password, str):
        raise InputError('Send {"name": "…", "password": "…"} as JSON.')
    _attempt(body["name"].strip(), password)
    auth.g.access = accounts.access_of(
        workspace(), accounts.user(workspace(), body["name"].strip())
    )
    return session_doc()


@bp.delete("/api/session")
@allow(EVERYONE)
def session_end() -> Response:
    """Sign out (this browser's session)."""
    auth.sign_out()
    return Response(status=204)
