"""The write API: features of the editable layers created, read, changed and deleted as JSON.

``POST /api/layers/<name>/features`` (a GeoJSON Feature; for ``people`` ``{"properties": …}``)
answers 201 with the stored feature, its ``ETag`` (the feature's version, ``"1"``) and
``Location``. ``GET /api/layers/<name>/features/<fid>`` answers the feature of any readable
layer with its ETag. ``fid`` is the id the caller is served: a stored id, or for a reader of a
masked view its opaque id (a patrol lead's incidents: :mod:`gridmap.service.feature_ids`).
``PATCH`` (the properties to change and/or a new geometry) and ``DELETE`` need
``If-Match: "<version>"``: 428 without it, 400 when it is no entity tag, 412 when it is a tag
that names no version (``*``, ``W/"3"``), and 409 with ``{"error": {…}, "current": <the
feature as it is now>}`` when the feature changed since that version. Bodies are JSON (``application/json``, ``application/geo+json`` or
``application/merge-patch+json``; else 415) of at most
:data:`~gridmap.service.feature_body.MAX_FEATURE_BYTES` (else 413). Geometry is GeoJSON:
longitude/latitude degrees, EPSG:4326.

The views are thin: :mod:`gridmap.service.edit` checks and writes. Each describes itself in
the OpenAPI document (:mod:`web.openapi`), one path per layer with that layer's schemas.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, request, url_for
from werkzeug.exceptions import (
    PreconditionFailed,
    PreconditionRequired,
    RequestEntityTooLarge,
    UnsupportedMediaType,
)

from gridmap.access import privacy
from gridmap.access.roles import ADMIN, ANALYST, EDITABLE_LAYERS, WRITERS, Access
from gridmap.errors import ConflictError, InputError
from gridmap.schema import LAYER_ORDER, get_layer
from gridmap.service import edit, feature_schema
from gridmap.service import feature_body as body_rules
from web.auth import EVERYONE, access, allow
from web.common import workspace
from web.openapi import add_schemas, describe, errors, json_body, json_reply, ref

bp = Blueprint("edit", __name__, url_prefix="/api/layers")

#: The media types a feature body may be sent as.
BODY_TYPES = ("application/json", "application/geo+json", "application/merge-patch+json")
#: Every role that writes some layer (the route's rule; the layer's own is checked inside).
WRITER_ROLES: frozenset[str] = frozenset().union(*WRITERS.values())
#: A feature id in a URL, as the caller is served it: a stored id (one beyond SQLite's 64 bits
#: is simply not found), or a masked reader's opaque id (gridmap.service.feature_ids).
FID = "<fid>"
_VERSION = re.compile(r'\s*"(\d{1,18})"\s*')
#: What an If-Match header may be (RFC 9110): ``*`` or a list of entity tags.
ETAGS = re.compile(
    r'\s*(\*|(W/)?"[\x21\x23-\x7e\x80-\xff]*"(\s*,\s*(W/)?"[\x21\x23-\x7e\x80-\xff]*")*)\s*'
)
#: The layers of the write API, as a URL converter: PATCH and DELETE of others are 405.
EDITABLE = "<any(" + ", ".join(EDITABLE_LAYERS) + "):name>"


# -- the request ------------------------------------------------------------------------------


def _body() -> Any:
    """Return the request's JSON body, refusing other media types and oversize bodies."""
    limit = body_rules.MAX_FEATURE_BYTES
    size = request.content_length or 0
    if size > limit:
        raise RequestEntityTooLarge(
            f"A feature may be at most {limit // 1024} KiB of JSON; this one is "
            f"{size // 1024} KiB. (要素数据过大。)"
        )
    if request.mimetype not in BODY_TYPES:
        raise UnsupportedMediaType(
            f"Send the feature as JSON (Content-Type: application/json or application/geo+json), "
            f"not '{request.mimetype or 'no Content-Type'}'. (请以 JSON 格式发送要素。)"
        )
    data = request.stream.read(limit + 1)  # a body without Content-Length is cut here too
    if len(data) > limit:
        raise RequestEntityTooLarge(
            f"A feature may be at most {limit // 1024} KiB of JSON. (要素数据过大。)"
        )
    return body_rules.parse_json(data)


def _if_match() -> str:
    """Return the ``If-Match`` header: 428 without it, 400 when it is no entity tag at all."""
    given = request.headers.get("If-Match")
    if given is None:
        raise PreconditionRequired(
            'Send the version you read as If-Match: "<version>" (the ETag of the feature), so '
            "that a change made by someone else meanwhile is not overwritten. "
            "(请在 If-Match 中发送读取时的版本号。)"
        )
    if ETAGS.fullmatch(given) is None:
        raise InputError(
            f'If-Match must be the feature\'s version in quotes, such as "3", not '
            f"'{given[:40]}'. (If-Match 应为带引号的版本号。)"
        )
    return given


def _version(given: str) -> int:
    """Return the version an ``If-Match`` entity tag names; 412 when it names none.

    Only one strong tag that is a version can match a feature (``*``, weak tags and lists
    never do: a change must say which version it was made from).
    """
    found = _VERSION.fullmatch(given)
    if found is None:
        raise PreconditionFailed(
            f"If-Match must be one feature version in quotes, such as \"3\", not '{given[:40]}'. "
            "(If-Match 应为带引号的版本号。)"
        )
    return int(found.group(1))


def _reply(feature: edit.Feature, status: int = 200) -> Response:
    resp = Response(
        json.dumps(feature.doc, ensure_ascii=False), status=status, mimetype="application/geo+json"
    )
    if feature.version is not None:
        resp.set_etag(str(feature.version))
    personal = get_layer(feature.layer).has_personal_data
    resp.headers["Cache-Control"] = "private, no-store" if personal else "private, no-cache"
    return resp


def _conflict(name: str, fid: str, exc: ConflictError) -> Response:
    doc, current = edit.conflict_document(workspace(), name, fid, exc, access=access())
    resp = Response(json.dumps(doc, ensure_ascii=False), status=409, mimetype="application/json")
    if current is not None and current.version is not None:
        resp.set_etag(str(current.version))
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


# -- the routes ---------------------------------------------------------------------------------


def _create_doc(name: str) -> dict[str, Any]:
    return {
        "summary": f"Add a feature to {name} ({get_layer(name).zh})",
        "tags": ["edit"],
        "x-roles": sorted(WRITERS[name]),
        "requestBody": json_body(f"{name}_new", *BODY_TYPES[:2]),
        "responses": {
            "201": _feature_reply(name, "The feature as stored (version 1)", location=True),
            **errors(400, 403, 404, 415, 503),
        },
    }


@bp.post("/<name>/features")
@allow(WRITER_ROLES)
@describe(_create_doc, each={"name": EDITABLE_LAYERS})
def create(name: str) -> Response:
    """Add one feature; 201 with the stored feature, its ETag and Location."""
    who = access()
    edit.require_writer(who, name)
    feature = edit.create_feature(workspace(), name, _body(), access=who)
    resp = _reply(feature, 201)
    resp.headers["Location"] = url_for("edit.feature", name=name, fid=feature.doc["id"])
    return resp


def _read_doc(name: str) -> dict[str, Any]:
    return {
        "summary": f"One feature of {name} ({get_layer(name).zh}), as the caller may see it",
        "tags": ["edit"],
        "responses": {
            "200": _feature_reply(name, "The feature"),
            "304": {"description": "Unchanged since the version sent as If-None-Match"},
            **errors(403, 404, 503),
        },
    }


@bp.get("/<name>/features/" + FID)
@allow(EVERYONE)
@describe(_read_doc, each={"name": LAYER_ORDER})
def feature(name: str, fid: str) -> Response:
    """One feature with its version as ETag (304 for ``If-None-Match`` of that version).

    ``fid`` is the id the caller is served: a reader of a masked view with opaque ids names
    the feature by its token (:mod:`gridmap.service.feature_ids`); what names none is 404."""
    found = edit.read_feature(workspace(), name, fid, access=access())
    if found.version is not None and request.if_none_match.contains(str(found.version)):
        resp = Response(status=304)
        resp.set_etag(str(found.version))
        return resp
    return _reply(found)


def _if_match_param() -> dict[str, Any]:
    return {
        "name": "If-Match",
        "in": "header",
        "required": True,
        "description": 'The version read, in quotes: "3" (the feature\'s ETag)',
        "schema": {"type": "string", "pattern": "^" + ETAGS.pattern + "$"},
    }


def _update_doc(name: str) -> dict[str, Any]:
    return {
        "summary": f"Change properties and/or the geometry of a feature of {name}",
        "description": "Only the properties given change (null clears one); a geometry given "
        "replaces the feature's. A change that changes nothing keeps the version.",
        "tags": ["edit"],
        "x-roles": sorted(WRITERS[name]),
        "parameters": [_if_match_param()],
        "requestBody": json_body(f"{name}_change", *BODY_TYPES),
        "responses": {
            "200": _feature_reply(name, "The feature as stored now"),
            **errors(403, 404, 412, 415, 428, 503, **{"409": _conflict_reply(name)}),
        },
    }


@bp.patch(f"/{EDITABLE}/features/{FID}")
@allow(WRITER_ROLES)
@describe(_update_doc, each={"name": EDITABLE_LAYERS})
def update(name: str, fid: str) -> Response:
    """Change a feature read at the version ``If-Match`` names; 409 with it when stale."""
    who = access()
    edit.require_writer(who, name)
    tag = _if_match()
    body = edit.parse_change(name, fid, _body())  # a bad body is 400 whatever the version
    version = _version(tag)
    try:
        changed = edit.update_feature(
            workspace(), name, fid, body, expected_version=version, access=who
        )
    except ConflictError as exc:
        return _conflict(name, fid, exc)
    return _reply(changed)


def _delete_doc(name: str) -> dict[str, Any]:
    return {
        "summary": f"Delete a feature of {name}",
        "description": "Deleting a household deletes its people; a household with visits "
        "is kept (400, constraint_violated).",
        "tags": ["edit"],
        "x-roles": sorted(WRITERS[name]),
        "parameters": [_if_match_param()],
        "responses": {
            "204": {"description": "Deleted"},
            **errors(403, 404, 412, 428, 503, **{"409": _conflict_reply(name)}),
        },
    }


@bp.delete(f"/{EDITABLE}/features/{FID}")
@allow(WRITER_ROLES)
@describe(_delete_doc, each={"name": EDITABLE_LAYERS})
def delete(name: str, fid: str) -> Response:
    """Delete a feature read at the version ``If-Match`` names; 409 with it when stale."""
    who = access()
    edit.require_writer(who, name)
    version = _version(_if_match())
    try:
        edit.delete_feature(workspace(), name, fid, expected_version=version, access=who)
    except ConflictError as exc:
        return _conflict(name, fid, exc)
    return Response(status=204)


# -- the schemas of the description -----------------------------------------------------------


def _feature_reply(name: str, text: str, *, location: bool = False) -> dict[str, Any]:
    headers: dict[str, Any] = {
        "ETag": {"description": 'The version, "1"', "schema": {"type": "string"}}
    }
    if location:
        headers["Location"] = {"description": "The feature's URL", "schema": {"type": "string"}}
    return json_reply(text, f"{name}_feature", "application/geo+json", headers=headers)


def _conflict_reply(name: str) -> dict[str, Any]:
    return json_reply(
        "The feature changed since the version sent: the error and the feature as it is now "
        "(null when deleted); make the change again from it",
        f"{name}_conflict",
    )


def _views(name: str) -> list[Any]:
    """Return the layer as served to a reader of everything and to a reader of masked data."""
    readers = (Access.of("openapi-full", ADMIN), Access.of("openapi-masked", ANALYST))
    return [privacy.served_layer(name, who) for who in readers]


add_schemas(
    {
        key: schema
        for name in LAYER_ORDER
        for key, schema in (
            (f"{name}_feature", feature_schema.served_schema(name, _views(name))),
            (f"{name}_new", feature_schema.body_schema(name)),
            (f"{name}_change", feature_schema.body_schema(name, partial=True)),
            (
                f"{name}_conflict",
                {
                    "allOf": [
                        ref("Error"),
                        {
                            "type": "object",
                            "required": ["current"],
                            "properties": {
                                "current": {"anyOf": [ref(f"{name}_feature"), {"type": "null"}]}
                            },
                        },
                    ]
                },
            ),
        )
    }
)
