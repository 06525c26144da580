"""Optional online tile layers. None is on by default: the basemap is drawn from local layers.

An administrator turns them on with ``gridmap serve --tiles osm,tianditu:KEY,amap``. Tianditu
(CGCS2000, within centimetres of WGS84 at map scale) needs no shift; Amap tiles are drawn in
GCJ-02 and the browser undoes the shift (``gcj02: true``).
"""

from __future__ import annotations

from typing import Any

from gridmap.errors import InputError

PRESETS: dict[str, dict[str, Any]] = {
    "osm": {
        "title": {"en": "OpenStreetMap", "zh-CN": "OpenStreetMap 地图"},
        "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attribution": "© OpenStreetMap contributors",
        "max_zoom": 19,
        "gcj02": False,
    },
    "tianditu": {
        "title": {"en": "Tianditu vector", "zh-CN": "天地图矢量"},
        "url": "https://t0.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk={key}",
        "attribution": "© 天地图 Tianditu",
        "max_zoom": 18,
        "gcj02": False,
        "needs_key": True,
    },
    "amap": {
        "title": {"en": "Amap (GCJ-02, shift undone)", "zh-CN": "高德地图（已纠偏）"},
        "url": "https://webrd01.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "attribution": "© 高德 AutoNavi",
        "max_zoom": 18,
        "gcj02": True,
    },
}


def parse_tiles(spec: str | None) -> list[dict[str, Any]]:
    """Return tile-layer settings from ``"osm,tianditu:KEY,amap"`` (empty for None or "")."""
    out = []
    for part in filter(None, (p.strip() for p in (spec or "").split(","))):
        name, _, key = part.partition(":")
        if name not in PRESETS:
            raise InputError(f"Unknown tile layer '{name}': choose from {', '.join(PRESETS)}.")
        preset = dict(PRESETS[name])
        if preset.pop("needs_key", False):
            if not key:
                raise InputError(f"Tile layer '{name}' needs a key: --tiles {name}:YOUR_KEY.")
            preset["url"] = preset["url"].replace("{key}", key)
        out.append({"id": name, **preset})
    return out
