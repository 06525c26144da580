"""Who is asking, and whether they may call this route: sessions, API tokens, the route table.

Every request gets an :class:`~gridmap.access.roles.Access` in ``g.access`` before its view
runs: from ``Authorization: Bearer <token>`` (programs: QGIS, GDAL, scripts), else from the
signed session cookie (people, after :mod:`web.login`), else anonymous. A session names its
user and the account's ``epoch``; changing the password, the role or disabling the account
raises the epoch, which ends every session signed in before.

**Every route declares who may call it.** :func:`allow` marks a view with its roles;
:func:`route_roles` reads them back (and the roles of endpoints registered without a view of
ours, such as ``static``, from :data:`ENDPOINT_ROLES`). A request to a route without a rule is
refused (500, logged): a route can never be open by omission, and ``tests/test_routes.py``
walks the URL map and fails on any route without one. Refusals: 401 when nobody is signed
in, 403 for a role the route does not allow. What a role may read inside a route (the
register, another worker's grid) is the data policy's (:mod:`gridmap.access.roles`).

State-changing requests of a browser session need a CSRF token (Flask-WTF's CSRFProtect:
``X-CSRFToken`` header or ``csrf_token`` form field); token requests carry no cookie and need
none.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Flask, current_app, g, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect

from gridmap.access.roles import ALL_ROLES, ANONYMOUS, ROLES, Access
from gridmap.errors import (
    AuthenticationError,
    BadTokenError,
    CsrfError,
    PermissionDeniedError,
    WrongPasswordError,
)
from gridmap.service import accounts
from gridmap.store import Workspace
from web.common import workspace

F = TypeVar("F", bound=Callable[..., Any])

#: Every role, anonymous included: a route anyone may call.
EVERYONE: frozenset[str] = frozenset(ALL_ROLES)
#: Every signed-in role.
SIGNED_IN: frozenset[str] = frozenset(ROLES)
#: The attribute of a view function that holds its roles.
ROLES_ATTR = "_gridmap_roles"
#: Roles of endpoints whose view is not ours (Flask's static files).
ENDPOINT_ROLES: dict[str, frozenset[str]] = {"static": EVERYONE}
#: The session keys of a signed-in user.
SESSION_USER, SESSION_EPOCH, SESSION_AT = "user", "epoch", "at"
#: Seconds between two records of a token's use (its ``last_used``).
TOKEN_TOUCH_S = 60.0

csrf = CSRFProtect()


def allow(*roles: str | Iterable[str]) -> Callable[[F], F]:
    """Declare the roles that may call a view: ``@allow(EVERYONE)``, ``@allow("admin")``…"""
    names: set[str] = set()
    for r in roles:
        names |= {r} if isinstance(r, str) else set(r)
    unknown = names - set(ALL_ROLES)
    if unknown or not names:
        raise ValueError(f"allow() needs roles of {ALL_ROLES}, not {sorted(unknown) or 'none'}")

    def mark(view: F) -> F:
        setattr(view, ROLES_ATTR, frozenset(names))
        return view

    return mark


def route_roles(app: Flask, endpoint: str) -> frozenset[str] | None:
    """Return the roles that may call ``endpoint``, or None when it declares none."""
    view = app.view_functions.get(endpoint)
    found = getattr(view, ROLES_ATTR, None)
    if found is None:
        found = ENDPOINT_ROLES.get(endpoint)
    return found


def access() -> Access:
    """Return who is asking (set for every request before its view runs)."""
    found: Access | None = g.get("access")
    if found is None:
        raise AuthenticationError("Sign in first.")
    return found


def init_app(app: Flask) -> None:
    """Check every request's identity and route rule; protect sessions against CSRF."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked below, not for tokens
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session's life
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = session_secret(workspace_of(app))
    csrf.init_app(app)
    app.before_request(_identify)
    app.extensions["gridmap.token_touched"] = ({}, threading.Lock())


def workspace_of(app: Flask) -> Workspace:
    """Return the workspace of ``app`` (outside a request)."""
    from web.common import WORKSPACE_KEY

    ws: Workspace = app.extensions[WORKSPACE_KEY]
    return ws


def session_secret(ws: Workspace) -> str:
    """Return the key that signs session cookies: kept in the workspace, so sessions survive a
    restart; a read-only workspace gets one for this run only."""
    key = "session_secret"
    found = ws.get_meta(key)
    if isinstance(found, str) and len(found) >= 32:
        return found
    made = secrets.token_urlsafe(48)
    if getattr(ws, "read_only", False):
        return made
    with ws.transaction(user="system", action="settings session key") as tx:
        tx.set_meta(key, made)
    return made


def _identify() -> None:
    """Set ``g.access`` for this request, check the route's rule, then (for a session) CSRF."""
    ws = workspace()
    header = request.headers.get("Authorization", "")
    g.by_token = False
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise BadTokenError("Send an API token as 'Authorization: Bearer <token>'.")
        record = accounts.token_user(ws, token.strip())
        g.access = accounts.access_of(ws, record)
        g.by_token = True
        _touch(ws, token.strip())
        check_route()
    else:
        g.access = _session_access(ws)
        check_route()  # who may call it first: nobody signed in gets 401, not a CSRF error
        # Only a request that reaches a view can change anything: a 404 / 405 needs no token.
        if (
            request.endpoint is not None
            and request.method not in ("GET", "HEAD", "OPTIONS", "TRACE")
            and current_app.config.get("WTF_CSRF_ENABLED", True)
        ):
            try:
                csrf.protect()
            except CSRFError as exc:
                raise CsrfError(
                    "This form or request has no valid CSRF token: reload the page and try again."
                ) from exc


def _session_access(ws: Workspace) -> Access:
    name = session.get(SESSION_USER)
    if name:
        record = ws.get_user(str(name))
        if (
            record is not None
            and not record.disabled
            and record.epoch == session.get(SESSION_EPOCH)
        ):
            return accounts.access_of(ws, record)
        session.clear()  # removed, disabled, or signed out elsewhere: the cookie is void
    return accounts.anonymous(ws)


def _touch(ws: Workspace, token: str) -> None:
    """Record a token's use at most once a minute (a write per request would contend)."""
    from gridmap.access.accounts import token_digest

    seen, lock = current_app.extensions["gridmap.token_touched"]
    digest = token_digest(token)
    now = time.monotonic()
    with lock:
        if now - seen.get(digest, -TOKEN_TOUCH_S) < TOKEN_TOUCH_S:
            return
        seen[digest] = now
    found = ws.find_token(digest)
    if found is not None:
        try:
            ws.touch_token(found.id)
        except Exception:
            current_app.logger.warning("Could not record the use of token %s", found.id)


def check_route() -> None:
    """Refuse the request unless its route allows the caller's role (401 / 403)."""
    if request.endpoint is None:  # no route matched: the 404 / 405 handler answers
        return
    roles = route_roles(current_app, request.endpoint)
    if roles is None:
        current_app.logger.error("Route %s declares no roles: refused", request.endpoint)
        raise PermissionDeniedError("This route declares no roles, so nobody may call it.")
    who = access()
    if who.role in roles:
        return
    if who.role == ANONYMOUS:
        raise AuthenticationError("Sign in first.")
    raise PermissionDeniedError(f"Your role ({who.role}) may not do this.")


def sign_in(name: str) -> None:
    """Start a session for the account ``name`` (after its password was checked)."""
    record = workspace().get_user(name)
    if record is None:
        raise WrongPasswordError(accounts.WRONG_PASSWORD)
    session.clear()  # a new session id: no fixation
    session.permanent = True
    session[SESSION_USER] = record.name
    session[SESSION_EPOCH] = record.epoch
    session[SESSION_AT] = int(time.time())


def sign_out() -> None:
    """End this account's sessions, on this browser and every other: a signed cookie copied
    before cannot be used again (its epoch is over)."""
    who = g.get("access")
    if who is not None and who.user and not g.get("by_token"):
        accounts.end_sessions(workspace(), who.user, actor=who.user)
    session.clear()
