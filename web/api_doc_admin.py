"""OpenAPI descriptions of the administrator's JSON API (:mod:`web.admin`, ``/api/admin``).

Every route is the administrator's. A request that names an account that does not exist is
refused with 400 (``invalid_input``, "There is no user called …"), as the CLI does; a body that
is not a JSON object with 400 too (these views read JSON whatever the Content-Type says).
Times are UTC ISO 8601 text.
"""

from __future__ import annotations

from typing import Any

from gridmap.access.accounts import MIN_PASSWORD
from gridmap.access.roles import ROLES, openable_layers
from gridmap.schema import LAYER_ORDER
from gridmap.service.accounts import READ_LOG_MAX_PAGE, READ_LOG_PAGE
from web.openapi import add_schemas, errors, json_body, json_reply, ref, register

_TAGS = ["admin"]
_TITLE = {
    "type": "object",
    "properties": {"en": {"type": "string"}, "zh-CN": {"type": "string"}},
}
_TIME = {"type": ["string", "null"], "description": "UTC ISO 8601 time"}
_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "The account's name",
    "schema": {"type": "string", "minLength": 1},
}
_GRIDS = {
    "description": "A grid worker's grid codes: a list, or one text with commas between "
    "(only a grid worker has grids)",
    "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}, {"type": "null"}],
}
_LAYER_DOC = {
    "type": "object",
    "required": ["name", "title"],
    "properties": {"name": {"type": "string"}, "title": _TITLE},
}

add_schemas(
    {
        "Account": {
            "type": "object",
            "title": "An account as the admin page shows it (never its password hash)",
            "required": ["name", "role", "grids", "disabled", "demo", "active_tokens"],
            "properties": {
                "name": {"type": "string"},
                "display_name": {"type": ["string", "null"]},
                "role": {"enum": list(ROLES)},
                "role_title": _TITLE,
                "grids": {"type": "array", "items": {"type": "string"}},
                "disabled": {"type": "boolean"},
                "demo": {"type": "boolean"},
                "created_at": _TIME,
                "last_login": _TIME,
                "active_tokens": {"type": "integer", "minimum": 0},
            },
        },
        "ApiToken": {
            "type": "object",
            "title": "An API token's record (never the token itself)",
            "required": ["id", "user", "label", "active"],
            "properties": {
                "id": {"type": "integer"},
                "user": {"type": "string"},
                "label": {"type": "string"},
                "created_at": _TIME,
                "last_used": _TIME,
                "revoked_at": _TIME,
                "active": {"type": "boolean"},
            },
        },
        "AccountWithTokens": {
            "allOf": [
                ref("Account"),
                {
                    "type": "object",
                    "required": ["tokens"],
                    "properties": {"tokens": {"type": "array", "items": ref("ApiToken")}},
                },
            ]
        },
        "Accounts": {
            "type": "object",
            "required": ["users"],
            "properties": {"users": {"type": "array", "items": ref("Account")}},
        },
        "ApiTokens": {
            "type": "object",
            "required": ["tokens"],
            "properties": {"tokens": {"type": "array", "items": ref("ApiToken")}},
        },
        "NewApiToken": {
            "allOf": [
                ref("ApiToken"),
                {
                    "type": "object",
                    "required": ["token"],
                    "properties": {
                        "token": {
                            "type": "string",
                            "description": "The token, shown this once (only its digest is kept)",
                        }
                    },
                },
            ]
        },
        "PublicLayers": {
            "type": "object",
            "title": "The layers that may be opened to readers not signed in, and those that are",
            "required": ["openable", "public"],
            "properties": {
                "openable": {"type": "array", "items": _LAYER_DOC},
                "public": {"type": "array", "items": {"enum": openable_layers()}},
            },
        },
        "AdminOverview": {
            "type": "object",
            "title": "The admin page's content (its JSON twin)",
            "required": ["me", "users", "roles", "grids", "layers", "layer_titles", "links"],
            "properties": {
                "me": {"type": "string"},
                "users": {"type": "array", "items": ref("Account")},
                "roles": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["role", "title"],
                        "properties": {"role": {"enum": list(ROLES)}, "title": _TITLE},
                    },
                },
                "grids": {
                    "type": "array",
                    "description": "The grids a grid worker can have, by code",
                    "items": {
                        "type": "object",
                        "required": ["code", "name"],
                        "properties": {
                            "code": {"type": "string"},
                            "name": {"type": ["string", "null"]},
                        },
                    },
                },
                "layers": ref("PublicLayers"),
                "layer_titles": {
                    "type": "object",
                    "propertyNames": {"enum": list(LAYER_ORDER)},
                    "additionalProperties": _TITLE,
                },
                "timezone": {"type": "string"},
                "links": {
                    "type": "object",
                    "required": ["users", "public_layers", "reads"],
                    "properties": {
                        k: {"type": "string"} for k in ("users", "public_layers", "reads")
                    },
                },
            },
        },
        "NewAccount": {
            "type": "object",
            "required": ["name", "role", "password"],
            "properties": {
                "name": {
                    "type": "string",
                    "minLength": 2,
                    "maxLength": 40,
                    "description": "2 to 40 letters, digits, dots, dashes or underscores; new",
                },
                "role": {"enum": list(ROLES)},
                "password": {"type": "string", "minLength": MIN_PASSWORD},
                "grids": _GRIDS,
                "display_name": {"type": ["string", "null"]},
            },
        },
        "AccountChange": {
            "type": "object",
            "title": "What to change of an account (the password has its own request)",
            "additionalProperties": False,
            "properties": {
                "role": {"enum": [*ROLES, None]},
                "grids": _GRIDS,
                "display_name": {
                    "type": ["string", "null"],
                    "description": "At most 60 characters; empty text: none",
                },
                "disabled": {"type": ["boolean", "null"]},
            },
        },
        "NewPassword": {
            "type": "object",
            "required": ["password"],
            "properties": {"password": {"type": "string", "minLength": MIN_PASSWORD}},
        },
        "TokenRequest": {
            "type": "object",
            "properties": {
                "label": {
                    "type": ["string", "null"],
                    "description": "What the token is for (at most 80 characters)",
                }
            },
        },
        "PublicLayersChange": {
            "type": "object",
            "required": ["layers"],
            "properties": {"layers": {"type": "array", "items": {"enum": openable_layers()}}},
        },
        "ReadLogRow": {
            "type": "object",
            "title": "One unmasked read or export of personal data",
            "required": ["id", "at", "user", "role", "action", "layer", "rows"],
            "properties": {
                "id": {"type": "integer"},
                "at": {"type": "string", "description": "UTC ISO 8601 time"},
                "user": {"type": "string"},
                "role": {"type": "string"},
                "action": {"type": "string"},
                "layer": {"type": "string"},
                "rows": {"type": "integer"},
                "filter": {"description": "What was asked for (bbox, grids, …)"},
            },
        },
        "ReadLog": {
            "type": "object",
            "required": ["reads", "limit", "offset", "more"],
            "properties": {
                "reads": {"type": "array", "items": ref("ReadLogRow")},
                "limit": {"type": "integer"},
                "offset": {"type": "integer"},
                "more": {"type": "boolean"},
                "next": {"type": "string", "description": "The URL of the next page"},
            },
        },
    }
)


def _op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "tags": _TAGS, "responses": responses, **extra}


#: The errors of a route of one account: 404 is a name that leads to no route (a slash in it);
#: an account that does not exist is 400.
_ADMIN_ERRORS = (400, 403, 404)
_WRITE_ERRORS = (400, 403, 404, 503)

register(
    "admin.overview",
    _op(
        "The admin page's content: accounts, roles, grids, the layers open to everyone",
        {"200": json_reply("The overview", "AdminOverview"), **errors(403)},
    ),
)
register(
    "admin.list_users",
    _op("Every account, by name", {"200": json_reply("The accounts", "Accounts"), **errors(403)}),
)
register(
    "admin.add_user",
    _op(
        "Add an account with a role, a first password and (a grid worker) grids",
        {
            "201": json_reply(
                "The new account",
                "Account",
                headers={"Location": {"schema": {"type": "string"}}},
            ),
            **errors(400, 403, 503),
        },
        description="Refused with 400: a name taken or not valid, an unknown role, a password "
        f"shorter than {MIN_PASSWORD} characters, grids for a role other than grid worker, a "
        "grid code that does not exist.",
        requestBody=json_body("NewAccount"),
    ),
)
register(
    "admin.get_user",
    _op(
        "One account and its API tokens",
        {"200": json_reply("The account", "AccountWithTokens"), **errors(*_ADMIN_ERRORS)},
        parameters=[_NAME],
    ),
)
register(
    "admin.change_user",
    _op(
        "Change an account's role and grids, display name, or disable or enable it",
        {"200": json_reply("The account as it is now", "Account"), **errors(*_WRITE_ERRORS)},
        description="A change of role or grids and a disabling end the account's sessions. "
        "Refused with 400: other keys, one's own disabling or demotion, leaving the workspace "
        "without an enabled administrator.",
        parameters=[_NAME],
        requestBody=json_body("AccountChange"),
    ),
)
register(
    "admin.reset_password",
    _op(
        "Set an account's password; its sessions end",
        {"200": json_reply("The account", "Account"), **errors(*_WRITE_ERRORS)},
        parameters=[_NAME],
        requestBody=json_body("NewPassword"),
    ),
)
register(
    "admin.remove_user",
    _op(
        "Remove an account and its tokens (what it did stays in the audit log)",
        {"204": {"description": "Removed"}, **errors(*_WRITE_ERRORS)},
        description="Refused with 400 unless confirm is the account's name, and for one's own "
        "account or the last enabled administrator.",
        parameters=[
            _NAME,
            {
                "name": "confirm",
                "in": "query",
                "required": True,
                "description": "The account's name again",
                "schema": {"type": "string"},
            },
        ],
    ),
)
register(
    "admin.list_tokens",
    _op(
        "An account's API tokens, revoked ones included (never the tokens themselves)",
        {"200": json_reply("The tokens", "ApiTokens"), **errors(*_ADMIN_ERRORS)},
        parameters=[_NAME],
    ),
)
register(
    "admin.make_token",
    _op(
        "Make an API token for an account: the reply holds it, once",
        {
            "201": json_reply("The token and its record", "NewApiToken"),
            **errors(*_WRITE_ERRORS),
        },
        description="Refused with 400 for a disabled account and a label over 80 characters.",
        parameters=[_NAME],
        requestBody=json_body("TokenRequest", required=False),
    ),
)
register(
    "admin.revoke_token",
    _op(
        "Revoke one API token of an account",
        {
            "200": json_reply("The account's tokens now", "ApiTokens"),
            **errors(*_WRITE_ERRORS),
        },
        description="400 when the account has no active token of that id.",
        parameters=[_NAME],
    ),
)
register(
    "admin.get_public_layers",
    _op(
        "The layers that may be opened to readers not signed in, and those that are",
        {"200": json_reply("The layers", "PublicLayers"), **errors(403)},
    ),
)
register(
    "admin.set_public_layers",
    _op(
        "Open exactly these layers to readers not signed in (never the register)",
        {"200": json_reply("The layers now", "PublicLayers"), **errors(400, 403, 503)},
        requestBody=json_body("PublicLayersChange"),
    ),
)
register(
    "admin.reads",
    _op(
        "The access log of unmasked reads of personal data, newest first",
        {"200": json_reply("One page of the log", "ReadLog"), **errors(400, 403)},
        parameters=[
            {
                "name": "user",
                "in": "query",
                "required": False,
                "description": "Only this account's reads",
                "schema": {"type": "string"},
            },
            {
                "name": "since",
                "in": "query",
                "required": False,
                "description": "A date (from midnight in the workspace's time zone) or an ISO "
                "date and time (without an offset: in the workspace's time zone)",
                "schema": {"type": "string"},
                "example": "2026-12-01",
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"Rows per page, 1 to {READ_LOG_MAX_PAGE} (0 or none: "
                f"{READ_LOG_PAGE})",
                "schema": {"type": "integer", "minimum": 0, "maximum": READ_LOG_MAX_PAGE},
            },
            {
                "name": "offset",
                "in": "query",
                "required": False,
                "description": "Skip this many rows first",
                "schema": {"type": "integer", "minimum": 0, "maximum": 10**9},
            },
        ],
    ),
)
