"""Personal data: what each reader sees of a layer, masked where their role needs it so.

Columns marked ``personal`` in :mod:`gridmap.schema` (names, ID numbers, phones, birth dates,
hardship, disability, assistance, visit notes) are shown only to readers whose
:func:`gridmap.access.roles.read_level` is FULL or OWN. Everyone else gets the *masked view*
of a layer: :func:`served_layer` says which columns it has and their served types,
:func:`present` turns stored rows into it. Masking happens before data leaves gridmap: in the
web API, the OGC API, exports and printed sheets.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from gridmap.access.roles import Access, Level, read_level
from gridmap.errors import PermissionDeniedError
from gridmap.schema import Column, Layer, get_layer

MASK = "***"


def mask_text(value: Any, column: str) -> Any:
    """Return a masked form of one personal text value (None stays None)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value)
    if column == "id_number" and len(text) >= 10:
        return text[:6] + "*" * (len(text) - 10) + text[-4:]
    if "phone" in column and len(text) >= 7:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    if column.endswith("name") and text:
        return text[0] + "*" * max(1, len(text) - 1)
    return MASK


def _level(layer: Layer, access: Access) -> Level:
    level = read_level(access, layer.name)
    if level is Level.NONE:
        raise PermissionDeniedError(f"Your role ({access.role}) may not read layer '{layer.name}'.")
    return level


def served_layer(layer: str | Layer, access: Access) -> Layer:
    """Return ``layer`` as served to ``access``: its columns, with the types they are served in.

    Readers at level FULL or OWN get the layer as it is. The masked view may drop columns and
    serve others coarsened (a masked date is text such as ``1950-**-**``); a column that stays
    but is masked keeps ``personal=True``, so nothing filters on it.
    """
    schema = layer if isinstance(layer, Layer) else get_layer(layer)
    if _level(schema, access) is not Level.MASKED or not schema.has_personal_data:
        return schema
    columns: list[Column] = []
    for c in schema.columns:
        if c.personal and c.type in ("date", "datetime"):
            c = dataclasses.replace(c, type="str")
        if c.personal_values and c.choices:
            hidden = set(c.personal_values)
            c = dataclasses.replace(c, choices=(*[x for x in c.choices if x not in hidden], MASK))
        columns.append(c)
    return dataclasses.replace(schema, columns=tuple(columns))


def present(frame: pd.DataFrame, layer: str | Layer, access: Access) -> pd.DataFrame:
    """Return stored rows of ``layer`` as ``access`` may see them (the columns of :func:`served_layer`).

    ``frame`` holds rows as read from the workspace (any subset of the layer's columns, the
    geometry in EPSG:4326); it is not changed.
    """
    schema = layer if isinstance(layer, Layer) else get_layer(layer)
    if _level(schema, access) is not Level.MASKED or not schema.has_personal_data:
        return frame
    out = frame.copy()
    for column in schema.columns:
        if column.personal_values and column.name in out.columns:
            hidden = set(column.personal_values)
            out[column.name] = [MASK if v in hidden else v for v in out[column.name].tolist()]
    for name in schema.personal_columns:
        if name not in out.columns:
            continue
        kind = schema.column(name).type
        if kind == "str":
            out[name] = [mask_text(v, name) for v in out[name].tolist()]
        elif kind in ("date", "datetime"):
            out[name] = [
                None if pd.isna(v) else f"{pd.Timestamp(v).year}-**-**" for v in out[name].tolist()
            ]
        else:
            out[name] = pd.Series([None] * len(out), index=out.index, dtype=object)
    served = [c.name for c in served_layer(schema, access).columns]
    keep = [c for c in out.columns if c in served or c not in schema.column_names]
    return out[keep]
