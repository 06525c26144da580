"""Who reads what: the checks and filters every read of a layer goes through, and its audit.

:func:`require` refuses a layer the reader may not read (401 for nobody signed in, 403 for the
wrong role); :func:`scoped_where` narrows a grid worker's reads of the register to the rows of
their own grids (another grid's feature is then simply not found: 404); :func:`record` writes
the access-log row of a read or export that shows personal data unmasked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gridmap.access import privacy
from gridmap.access.roles import Access, Level, audited, read_level
from gridmap.errors import AuthenticationError, InputError, PermissionDeniedError
from gridmap.schema import get_layer
from gridmap.store import Workspace
from gridmap.store.conditions import AllOf, Condition


def require(access: Access, layer: str) -> Level:
    """Return how ``layer`` is served to ``access``; raise when it is not served at all.

    A masked view without rows (people, for roles that see the register masked) is refused
    here too, pointing at the figures that replace it.
    """
    level = read_level(access, layer)
    if level is not Level.NONE and not privacy.serves_rows(layer, access):
        raise PermissionDeniedError(
            f"Your role ({access.role}) sees '{layer}' as figures per grid, not as rows "
            "(the register figures: /api/figures/register)."
        )
    if level is Level.NONE:
        if not access.signed_in:
            raise AuthenticationError(f"Sign in to read layer '{layer}'.")
        raise PermissionDeniedError(f"Your role ({access.role}) may not read layer '{layer}'.")
    return level


def serves(access: Access, layer: str) -> bool:
    """Return whether ``access`` gets rows of ``layer`` (what lists of layers offer them)."""
    return read_level(access, layer) is not Level.NONE and privacy.serves_rows(layer, access)


def check_bbox(access: Access, layer: str, bbox: object) -> None:
    """Refuse a bounding box on a layer served to ``access`` without its place (masked visits):
    the box would select rows by the place the view leaves out."""
    if bbox is None:
        return
    if get_layer(layer).geometry and privacy.served_layer(layer, access).geometry is None:
        raise InputError(
            f"Your role ({access.role}) gets '{layer}' without their place on the map, so they "
            "cannot be selected by a bounding box: select them by grid instead."
        )


def scoped_where(
    ws: Workspace, access: Access, layer: str, where: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """Return ``where`` narrowed to the rows ``access`` may read of ``layer``.

    For a grid worker's read of the register (level OWN): rows whose ``grid_code`` is one of
    their grids; people through their household's grid. Other readers: ``where`` unchanged.
    """
    level = require(access, layer)
    out = dict(where or {})
    if level is not Level.OWN:
        return out or None
    grids = sorted(access.grids)
    schema = get_layer(layer)
    if "grid_code" in schema.column_names:
        out["grid_code"] = _narrow(out.get("grid_code"), grids)
        return out
    if schema.located_by:
        by, key = schema.located_by
        parents = ws.read(by, where={"grid_code": grids}, columns=(key,), system=False)
        out[key] = _narrow(out.get(key), sorted(set(parents[key].dropna())))
        return out
    raise PermissionDeniedError(f"Layer '{layer}' cannot be narrowed to your grids.")


def _narrow(given: Any, allowed: list[Any]) -> Any:
    if given is None:
        return allowed
    if isinstance(given, Condition):  # a user's filter: it must hold too
        return AllOf((given, allowed))
    asked = given if isinstance(given, list | tuple | set) else [given]
    keep = set(allowed)
    return [v for v in asked if v in keep]


def record(
    ws: Workspace,
    access: Access,
    layer: str,
    rows: int,
    *,
    action: str,
    filter: Mapping[str, Any] | None = None,
) -> None:
    """Write the access-log row of a read that showed ``layer``'s personal data unmasked.

    Nothing is written for reads that show no personal data (masked, or a layer without
    any). ``filter`` is what selected the rows (bbox, filters; a grid worker's grids).
    """
    if not audited(access, layer):
        return
    shown = dict(filter or {})
    if access.grids and read_level(access, layer) is Level.OWN:
        shown.setdefault("grids", sorted(access.grids))
    ws.log_read(
        user=access.who, role=access.role, action=action, layer=layer, rows=rows, filter=shown
    )
