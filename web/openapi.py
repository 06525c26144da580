"""The OpenAPI 3.1 description of the JSON API, ``GET /api/openapi.json``, built from the routes.

Every route under ``/api`` describes itself next to its view, and the document is built from
the app's URL map, so it lists exactly the routes the app has. A test walks the URL map and
fails on any ``/api`` route (and method) without a description.

How a blueprint adds its routes::

    from web.openapi import describe, errors, json_body, json_reply

    @bp.get("/jobs/<int:job>")
    @allow(SIGNED_IN)
    @describe({"summary": "One job", "responses": {"200": json_reply("Job"), **errors(404)}})
    def job(job: int) -> Response: ...

with the schemas it refers to added once (``add_schemas({"Job": {...}})``, at import time: it
only stores them). What :func:`document` adds to each operation by itself: the path parameters
(from the rule's converters), ``x-roles`` (the roles of :func:`web.auth.allow`), the security
that fits them (bearer token, or the session cookie with the ``X-CSRFToken`` header for a
state-changing request) and the error replies every route may give (401 for a bad token, 400
for a missing CSRF token, 413 for an oversize body). ``describe(build, each={"name": [...]})``
takes a function instead, called once per value of the path parameter ``name``, which then
becomes part of the path: one path per layer, each with that layer's schemas.

Views in modules that cannot carry the decorator are described with :func:`register`
(:mod:`web.api_doc` does it for :mod:`web.api` and :mod:`web.login`, :mod:`web.api_doc_admin`
for :mod:`web.admin`, :mod:`web.api_doc_jobs` for :mod:`web.jobs` and the figures).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, jsonify
from werkzeug.routing import Rule

from gridmap import __version__
from gridmap.access.roles import ANONYMOUS
from web.auth import EVERYONE, allow, route_roles

F = TypeVar("F", bound=Callable[..., Any])
Build = Callable[..., dict[str, Any]]

#: The attribute of a view function that holds its description.
DOC_ATTR = "_gridmap_openapi"
#: The key, in ``app.extensions``, of the built document.
CACHE_KEY = "gridmap.openapi"
#: Methods that change state: the session cookie needs its CSRF header for them.
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: What each error status means, for the reply's description.
ERROR_TEXTS: dict[int, str] = {
    400: "The request is not valid: bad parameters or body, or no CSRF token (error.code says which)",
    401: "Nobody is signed in, or the token or session is not valid",
    403: "The caller's role may not do this",
    404: "No such layer, feature, grid or job (or one of another grid worker's grids, or "
    "another user's job), or no such route",
    409: "The feature changed since it was read (or the row conflicts with another)",
    412: "If-Match names no version of the feature (a weak tag, *, a list, not a number)",
    413: "The body is larger than this route takes",
    415: "The body is not JSON (Content-Type application/json or application/geo+json)",
    428: "The change needs If-Match with the version read",
    429: "Too many attempts: wait Retry-After seconds",
    503: "The workspace is busy with another write: try again after Retry-After seconds",
}

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "The one error shape of gridmap",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "status"],
            "properties": {
                "code": {"type": "string", "description": "stable machine name, never translated"},
                "message": {"type": "string", "description": "what went wrong, for people"},
                "status": {"type": "integer", "description": "the HTTP status"},
                "row": {"type": "integer"},
                "column": {"type": "string"},
                "retry_after": {"type": "integer"},
                "layer": {"type": "string"},
                "fid": {"type": "integer"},
                "expected_version": {"type": "integer"},
                "actual_version": {"type": "integer"},
                "changed_by": {
                    "type": "string",
                    "description": "who changed it (a 409) or removed it (a 404)",
                },
                "changed_at": {
                    "type": "string",
                    "description": "when, ISO 8601 UTC (a 409 or a 404)",
                },
            },
        }
    },
}
_SCHEMAS: dict[str, dict[str, Any]] = {"Error": _ERROR_SCHEMA}
_REGISTERED: dict[str, Description] = {}


@dataclass(frozen=True)
class Description:
    """How a view is described: one operation, or a function of path values (``each``)."""

    operation: dict[str, Any] | Build
    each: Mapping[str, tuple[str, ...]] | None = None

    def expand(self, path: str) -> list[tuple[str, dict[str, Any]]]:
        """Return (path, operation) pairs: one, or one per value of the ``each`` parameter."""
        if not self.each:
            op = self.operation
            return [(path, dict(op() if callable(op) else op))]
        ((name, values),) = self.each.items()
        build = self.operation
        assert callable(build), "describe(..., each=) needs a function of the path value"
        return [(path.replace("{" + name + "}", v), dict(build(**{name: v}))) for v in values]


def describe(
    operation: dict[str, Any] | Build, *, each: Mapping[str, Iterable[str]] | None = None
) -> Callable[[F], F]:
    """Describe a view: an OpenAPI operation object, or a function of ``each``'s path values."""
    desc = Description(operation, {k: tuple(v) for k, v in each.items()} if each else None)

    def mark(view: F) -> F:
        setattr(view, DOC_ATTR, desc)
        return view

    return mark


def register(
    endpoint: str,
    operation: dict[str, Any] | Build,
    *,
    each: Mapping[str, Iterable[str]] | None = None,
) -> None:
    """Describe the view of ``endpoint`` (``"api.layer"``) from outside its module."""
    _REGISTERED[endpoint] = Description(
        operation, {k: tuple(v) for k, v in each.items()} if each else None
    )


def add_schemas(schemas: Mapping[str, dict[str, Any]]) -> None:
    """Add named schemas to ``components/schemas`` (refer to them as ``ref("Name")``)."""
    _SCHEMAS.update(schemas)


def ref(name: str) -> dict[str, str]:
    """Return a reference to the schema ``name`` of ``components/schemas``."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_reply(
    description: str, schema: dict[str, Any] | str, media: str = "application/json", **extra: Any
) -> dict[str, Any]:
    """Return a reply object: ``schema`` (a schema or the name of one) as ``media``."""
    body = ref(schema) if isinstance(schema, str) else schema
    return {"description": description, "content": {media: {"schema": body}}, **extra}


def json_body(schema: dict[str, Any] | str, *media: str, required: bool = True) -> dict[str, Any]:
    """Return a request body object of ``schema`` in each of ``media`` (JSON by default)."""
    body = ref(schema) if isinstance(schema, str) else schema
    return {
        "required": required,
        "content": {m: {"schema": body} for m in media or ("application/json",)},
    }


def errors(*statuses: int, **replies: dict[str, Any]) -> dict[str, Any]:
    """Return the error replies of ``statuses`` in the one error shape (see :data:`ERROR_TEXTS`)."""
    out: dict[str, Any] = {str(s): {"$ref": f"#/components/responses/E{s}"} for s in statuses}
    out.update(replies)
    return out


def description(app: Flask, endpoint: str) -> Description | None:
    """Return how the view of ``endpoint`` is described, or None."""
    view = app.view_functions.get(endpoint)
    found = getattr(view, DOC_ATTR, None)
    return found if isinstance(found, Description) else _REGISTERED.get(endpoint)


def api_rules(app: Flask) -> list[Rule]:
    """Return the rules under ``/api`` of ``app``, by path."""
    rules = [r for r in app.url_map.iter_rules() if r.rule == "/api" or r.rule.startswith("/api/")]
    return sorted(rules, key=lambda r: r.rule)


def methods(rule: Rule) -> list[str]:
    """Return the methods a rule answers that the description lists (not HEAD, OPTIONS)."""
    return sorted(set(rule.methods or ()) - {"HEAD", "OPTIONS"})


def undocumented(app: Flask) -> list[str]:
    """Return ``METHOD /path`` of every ``/api`` route without a description."""
    return [
        f"{m} {rule.rule}"
        for rule in api_rules(app)
        for m in methods(rule)
        if description(app, rule.endpoint) is None
    ]


_ARG = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


def path_of(rule: Rule) -> tuple[str, list[dict[str, Any]]]:
    """Return the OpenAPI path of ``rule`` and its path parameters (from the converters)."""
    params: list[dict[str, Any]] = []
    for converter, args, name in _ARG.findall(rule.rule):
        schema: dict[str, Any] = {"type": "string"}
        if converter == "int":
            schema = {"type": "integer", "minimum": 0}
            top = re.search(r"max=(\d+)", args)
            if top:
                schema["maximum"] = int(top.group(1))
        elif converter == "float":
            schema = {"type": "number"}
        elif converter == "any":
            schema = {"type": "string", "enum": [a.strip().strip("'\"") for a in args.split(",")]}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _ARG.sub(lambda m: "{" + m.group(3) + "}", rule.rule), params


def _security(roles: frozenset[str], method: str) -> list[dict[str, list[str]]]:
    session: dict[str, list[str]] = (
        {"session": [], "csrf": []} if method in WRITES else {"session": []}
    )
    out: list[dict[str, list[str]]] = [{"bearer": []}, session]
    if ANONYMOUS in roles and method not in WRITES:
        out.insert(0, {})
    return out


def _finish(op: dict[str, Any], method: str, params: list[dict[str, Any]], roles: frozenset[str]):
    op = dict(op)
    op.setdefault("x-roles", sorted(roles))
    op.setdefault("security", _security(frozenset(op["x-roles"]), method))
    listed = {(p.get("name"), p.get("in")) for p in op.get("parameters", [])}
    path_params = [p for p in params if (p["name"], "path") not in listed]
    op["parameters"] = [*path_params, *op.get("parameters", [])]
    if not op["parameters"]:
        del op["parameters"]
    replies = dict(op.get("responses", {}))
    extra = [401, *([400] if method in WRITES else []), *([413] if "requestBody" in op else [])]
    for status in extra:
        replies.setdefault(str(status), {"$ref": f"#/components/responses/E{status}"})
    op["responses"] = dict(sorted(replies.items()))
    return op


def document(app: Flask) -> dict[str, Any]:
    """Return the OpenAPI 3.1 description of every described ``/api`` route of ``app``."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in api_rules(app):
        desc = description(app, rule.endpoint)
        if desc is None:
            continue
        template, params = path_of(rule)
        roles = route_roles(app, rule.endpoint) or frozenset()
        expanded = {"{" + n + "}" for n in (desc.each or {})}
        for method in methods(rule):
            for path, op in desc.expand(template):
                kept = [p for p in params if "{" + p["name"] + "}" not in expanded]
                paths.setdefault(path, {})[method.lower()] = _finish(op, method, kept, roles)
    responses = {
        f"E{status}": json_reply(text, "Error") for status, text in sorted(ERROR_TEXTS.items())
    }
    for status in (429, 503):
        responses[f"E{status}"]["headers"] = {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "gridmap JSON API",
            "version": __version__,
            "description": (
                "Layers of a gridmap workspace (community grid management, 网格化管理) as GeoJSON "
                "(longitude/latitude degrees, EPSG:4326), their files, and the write API. Errors "
                'come as {"error": {"code", "message", "status"}}. x-roles lists the roles that '
                "may call an operation; what a role sees of the register is masked or narrowed "
                "to a grid worker's grids."
            ),
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(_SCHEMAS.items())),
            "responses": responses,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API token (gridmap users token NAME)",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "gridmap_session",
                    "description": "The session cookie of a browser signed in at /login",
                },
                "csrf": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-CSRFToken",
                    "description": "With the session cookie, every state-changing request "
                    "sends the csrf_token of GET /api/session",
                },
            },
        },
    }


bp = Blueprint("openapi", __name__, url_prefix="/api")


@bp.record_once
def _describe_others(state: Any) -> None:
    """Load the descriptions of the routes whose modules do not describe themselves."""
    # they register on import
    import web.api_doc
    import web.api_doc_admin
    import web.api_doc_jobs  # noqa: F401


@bp.get("/openapi.json")
@allow(EVERYONE)
@describe(
    {
        "summary": "This description of the JSON API (OpenAPI 3.1)",
        "tags": ["api"],
        "responses": {"200": json_reply("The OpenAPI document", {"type": "object"})},
    }
)
def openapi_document() -> Response:
    """The OpenAPI 3.1 description of the JSON API."""
    doc = current_app.extensions.get(CACHE_KEY)
    if doc is None:
        doc = current_app.extensions[CACHE_KEY] = document(current_app)
    return jsonify(doc)
