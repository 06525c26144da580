"""Finding things: ``GET /api/search`` and ``GET /api/buildings/<fid>/register``.

Thin views over :mod:`gridmap.service.search` and :mod:`gridmap.service.register`: they parse
the query, call the service for the caller's access and render JSON. Who finds and sees what is
the services' (and the data policy's) business; replies that show households unmasked are
marked personal (``Cache-Control: private, no-store``).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from gridmap.errors import InputError
from gridmap.schema import get_layer
from gridmap.service import register as register_service
from gridmap.service import search as search_service
from gridmap.service.search_index import SPECS
from web.api_doc_find import REGISTER, SEARCH
from web.auth import EVERYONE, access, allow
from web.common import LANGS, choose_lang, parse_int, workspace
from web.headers import mark_personal
from web.openapi import describe

bp = Blueprint("find", __name__, url_prefix="/api")


def _layers(text: str | None) -> list[str] | None:
    if text is None or not text.strip():
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    wrong = [n for n in names if n not in SPECS]
    if wrong:
        raise InputError(
            f"Search layers are {', '.join(SPECS)}, not {', '.join(wrong)}. "
            f"(可搜索的图层：{'、'.join(get_layer(n).zh for n in SPECS)}。)"
        )
    return names


def _lang() -> str:
    asked = request.args.get("lang")
    if asked is not None and asked not in LANGS:
        raise InputError(
            f"lang must be zh-CN or en, not '{asked}'. (界面语言 lang 须为 zh-CN 或 en。)"
        )
    return asked or choose_lang()


@bp.get("/search")
@allow(EVERYONE)
@describe(SEARCH)
def search() -> Response:
    """Find features by code, name, address or kind: ``?q=&limit=&layers=&lang=``."""
    query = request.args.get("q", "")
    if not query:
        raise InputError("Type something to search for: q. (请输入要搜索的内容 q。)")
    limit = parse_int("limit", search_service.DEFAULT_LIMIT)
    result = search_service.search(
        workspace(),
        query,
        access=access(),
        limit=search_service.DEFAULT_LIMIT if limit is None else limit,
        layers=_layers(request.args.get("layers")),
        lang=_lang(),
    )
    if result.personal:
        mark_personal()
    return jsonify(
        {
            "q": result.query,
            "normalised": result.normalised,
            "layers": list(result.layers),
            "groups": [
                {
                    "layer": g.layer,
                    "title": {"en": get_layer(g.layer).en, "zh-CN": get_layer(g.layer).zh},
                    "matched": g.matched,
                    "returned": len(g.hits),
                }
                for g in result.groups
            ],
            "hits": [h.to_dict() for h in result.hits],
        }
    )


@bp.get("/buildings/<fid>/register")
@allow(EVERYONE)
@describe(REGISTER)
def building_register(fid: str) -> Response:
    """A building's households by unit, floor and room: ``?offset=&limit=`` (``fid`` as the
    caller is served it: every role but the admin names the building by its opaque id)."""
    limit = parse_int("limit", register_service.DEFAULT_LIMIT)
    doc = register_service.building_register(
        workspace(),
        fid,
        access=access(),
        offset=parse_int("offset", 0) or 0,
        limit=register_service.DEFAULT_LIMIT if limit is None else limit,
    )
    if doc["read"] != "totals":
        mark_personal()
    return jsonify(doc)
