"""Render the layer schema as the Markdown page ``docs/layers.md``."""

from __future__ import annotations

from gridmap.schema import LAYER_ORDER, LAYERS, STORAGE_CRS, VISIT_CATEGORIES

_TYPES = {
    "int": "integer",
    "float": "real",
    "str": "text",
    "bool": "yes/no",
    "date": "date",
    "datetime": "date-time (UTC)",
}


def render_markdown() -> str:
    """Return the Markdown description of every layer, its columns and units."""
    out = [
        "# Layers of a gridmap workspace",
        "",
        "<!-- Generated from gridmap/schema.py by scripts/gen_layer_docs; do not edit by hand. -->",
        "",
        "A workspace is one GeoPackage file (`*.gpkg`) that QGIS, ArcGIS and GDAL open as it is.",
        f"Geometry is stored in {STORAGE_CRS} (WGS84 longitude/latitude, degrees); metric work",
        "happens in the UTM zone of the area. Every layer has an integer `fid`. Columns marked",
        "**personal** hold personal data: masked (张**, 320102\\*\\*\\*\\*\\*\\*\\*\\*1234) for roles",
        "that may not see them, in the web API and in exports.",
        "",
        "The six monthly home-visit categories (六必访) are the yes/no columns "
        + ", ".join(f"`{c}`" for c in VISIT_CATEGORIES)
        + " of `households` and `people`.",
        "",
        "Two more tables: `gridmap_meta` (workspace settings as JSON: title, time zone, OSM source",
        "and attribution, layer versions) and `gridmap_audit` (one row per change: when, who,",
        "what, which layers, how many rows).",
        "",
    ]
    for name in LAYER_ORDER:
        layer = LAYERS[name]
        geometry = layer.geometry or "none (attribute table)"
        out += [
            f"## `{name}` — {layer.en} / {layer.zh}",
            "",
            layer.description,
            "",
            f"Geometry: {geometry}." + (f" Key: `{layer.key}` (unique)." if layer.key else ""),
            "",
        ]
        out += ["| column | type | unit | meaning | 中文 | notes |", "|---|---|---|---|---|---|"]
        for c in layer.columns:
            notes = []
            if c.required:
                notes.append("required on import")
            if c.personal:
                notes.append("**personal**")
            if c.choices:
                notes.append("one of " + ", ".join(f"`{v}`" for v in c.choices))
            out.append(
                f"| `{c.name}` | {_TYPES[c.type]} | {c.unit or ''} | {c.en + (': ' + c.doc if c.doc else '')} "
                f"| {c.zh} | {'; '.join(notes)} |"
            )
        out.append("")
    return "\n".join(out)
