"""Personal data: who may see which columns, and masking for everyone else.

Columns marked ``personal`` in :mod:`gridmap.schema` (names, ID numbers, phones, birth dates,
hardship, disability, assistance, visit notes) are shown only to roles that need them. Everyone
else gets masked values: enough to recognise a record (张**, 320102********1234, 139****5678),
never enough to identify a person. Masking happens before data leaves gridmap: in the web API,
in exports, in printed sheets.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from gridmap.schema import Layer, get_layer

#: Roles, from least to most trusted. Later issues scope grid workers to their own grid.
ROLES = ("viewer", "analyst", "grid_worker", "admin")
#: Roles that see personal data unmasked.
PERSONAL_ROLES = frozenset({"grid_worker", "admin"})
MASK = "***"


def can_see_personal(role: str) -> bool:
    """Return whether ``role`` may see personal data unmasked."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return role in PERSONAL_ROLES


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


def mask_frame(frame: pd.DataFrame, layer: str | Layer, role: str = "viewer") -> pd.DataFrame:
    """Return ``frame`` with the layer's personal columns masked unless ``role`` may see them.

    Text columns keep a recognisable part; dates keep the year only (as text, ``1950-**-**``);
    yes/no flags such as hardship or disability become null; coded values that reveal such a
    status (a visit for disability) become ``***``.
    """
    schema = layer if isinstance(layer, Layer) else get_layer(layer)
    if can_see_personal(role) or not schema.has_personal_data:
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
    return out
