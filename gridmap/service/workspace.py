"""The workspace document: what a client needs to draw a workspace (the JSON twin of the map page).

Flask-free: :mod:`web.api` serves :func:`workspace_document` at ``/api/workspace``, and the map
page (``/``) names that URL as its JSON twin.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gridmap.access import privacy
from gridmap.access.privacy import MASK
from gridmap.access.roles import Access, Level, read_level
from gridmap.schema import LAYER_ORDER, LAYERS, Layer, choice_titles
from gridmap.service import scope
from gridmap.store import LayerInfo, Workspace


def layer_document(layer: Layer, info: LayerInfo) -> dict[str, Any]:
    """Return the description of one layer: titles, geometry, count, extent and columns.

    Parameters
    ----------
    layer
        The layer's schema.
    info
        What the workspace holds in it; ``bounds`` are lon/lat degrees (EPSG:4326).

    Returns
    -------
    dict
        JSON-ready: ``name``, ``title`` (``{"en", "zh-CN"}``), ``description``, ``geometry``,
        ``located_by``, ``count``, ``bounds`` (minlon, minlat, maxlon, maxlat or None),
        ``version`` and ``columns`` (name, type, unit, titles, personal, choices).
    """
    return {
        "name": layer.name,
        "title": {"en": layer.en, "zh-CN": layer.zh},
        "description": layer.description,
        "geometry": layer.geometry,
        "located_by": list(layer.located_by) if layer.located_by else None,
        "count": info.count,
        "bounds": list(info.bounds) if info.bounds else None,
        "version": info.version,
        "columns": [
            {
                "name": c.name,
                "type": c.type,
                "unit": c.unit,
                "title": {"en": c.en, "zh-CN": c.zh},
                "personal": c.personal or bool(c.personal_values),
                "choices": list(c.choices) if c.choices else None,
                "choice_titles": {
                    code: {"en": en, "zh-CN": zh}
                    for code, (en, zh) in choice_titles(layer.name, c.name).items()
                }
                or None,
            }
            for c in layer.columns
        ],
    }


def workspace_document(
    ws: Workspace, *, access: Access, tiles: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Return the workspace as the map page draws it: title, extent, settings and every layer.

    Parameters
    ----------
    ws
        The workspace.
    access
        Who asks: the layers they may read, and how (``read``: full, own, masked).
    tiles
        The online tile layers offered (from :func:`web.tiles.parse_tiles`); default none.

    Returns
    -------
    dict
        JSON-ready; ``bounds`` (minlon, minlat, maxlon, maxlat) and ``center`` (lon, lat) are
        degrees in EPSG:4326; ``layers`` follow :data:`gridmap.schema.LAYER_ORDER`.
    """
    meta = ws.meta()
    infos = {info.name: info for info in ws.layers()}
    minx, miny, maxx, maxy = ws.bounds()
    return {
        "name": ws.name,
        "title": meta.get("title", ws.name),
        "bounds": [minx, miny, maxx, maxy],
        "center": [(minx + maxx) / 2, (miny + maxy) / 2],
        "attribution": meta.get("attribution", ""),
        "synthetic": bool(meta.get("synthetic", False)),
        "synthetic_note": meta.get("synthetic_note"),
        "timezone": meta.get("timezone", "Asia/Shanghai"),
        "masked_value": MASK,
        "role": access.role,
        "user": access.user,
        "grids": sorted(access.grids),
        "personal_visible": access.personal,
        "layers": [
            _served(ws, access, name, infos[name])
            for name in LAYER_ORDER
            if scope.serves(access, name)
        ],
        "tiles": list(tiles or []),
    }


def _served(ws: Workspace, access: Access, name: str, info: LayerInfo) -> dict[str, Any]:
    """Return the document of one layer as ``access`` is served it (a grid worker: own rows)."""
    level = read_level(access, name)
    if level is Level.OWN:
        info = replace(info, count=ws.count(name, where=scope.scoped_where(ws, access, name)))
    doc = layer_document(privacy.served_layer(LAYERS[name], access), info)
    return {**doc, "read": level.value}
