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
        "<!-- Generated from gridmap/schema/layers.py by scripts/gen_layer_docs; do not edit by hand. -->",
        "",
        "A workspace is one GeoPackage file (`*.gpkg`) that QGIS, ArcGIS and GDAL open as it is.",
        f"Geometry is stored in {STORAGE_CRS} (WGS84 longitude/latitude, degrees); metric work",
        "happens in the UTM zone of the area. Every layer has an integer `fid`. Columns marked",
        "**personal** hold personal data: roles without personal access get a masked view",
        "instead, in the web API, the OGC API and exports (docs/privacy.md says what each role sees).",
        "",
        "The six monthly home-visit categories (六必访) are the yes/no columns "
        + ", ".join(f"`{c}`" for c in VISIT_CATEGORIES)
        + " of `households` and `people`.",
        "",
        "## Ids, versions, history",
        "",
        "A feature keeps its `fid` for life: ids come from the database (SQLite AUTOINCREMENT)",
        "and are never reused, and replacing a layer keeps the id of every row whose key is",
        "still there. A reader of a masked view (planners, patrol leads and analysts on the",
        "register; every role but the admin on the buildings) never sees a `fid`: they get an",
        "opaque id of 16 letters and digits per feature, and the rows in its order",
        "(docs/privacy.md, *Feature ids*). Every layer also carries three system columns, kept",
        "by gridmap and not imported or exported:",
        "",
        "| column | type | meaning |",
        "|---|---|---|",
        "| `version` | integer | 1 when created, +1 on every change — also a change made by QGIS or "
        "GDAL (a trigger counts it); an edit that names an older version is refused (HTTP 409) |",
        "| `updated_at` | date-time (UTC) | when the feature last changed |",
        "| `updated_by` | text | who changed it last (`(other program)` for QGIS, GDAL, ...) |",
        "",
        "The rules of the columns below are also constraints of the tables, so edits made in QGIS",
        "obey them too: required columns are NOT NULL (and not empty), keys UNIQUE, coded",
        "columns CHECK their choices, numbers, dates and yes/no values their type. References",
        "are FOREIGN KEYs, checked at commit by programs that switch SQLite's foreign keys on",
        "(gridmap does; QGIS and GDAL do not, so deleting a household there leaves its people).",
        "",
        "Three more tables: `gridmap_meta` (workspace settings as JSON: title, time zone, OSM",
        "source and attribution, layer versions, storage format), `gridmap_audit` (one row per",
        "transaction: when, who, what, which layers, how many rows) and `gridmap_history` (one",
        "row per change of a feature: transaction, layer, fid, insert/update/delete, the values",
        "before and the values written), from which a layer is shown as it was after any",
        "transaction and a transaction is undone.",
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
                notes.append("required")
            if c.personal:
                notes.append("**personal**")
            if c.choices:
                notes.append("one of " + ", ".join(f"`{v}`" for v in c.choices))
            if c.references:
                other, key = c.references
                rule = (
                    "deleting it deletes this row"
                    if c.on_delete == "cascade"
                    else ("it cannot be deleted while this row names it")
                )
                notes.append(f"refers to `{other}.{key}` ({rule})")
            out.append(
                f"| `{c.name}` | {_TYPES[c.type]} | {c.unit or ''} | {c.en + (': ' + c.doc if c.doc else '')} "
                f"| {c.zh} | {'; '.join(notes)} |"
            )
        out.append("")
    return "\n".join(out)
