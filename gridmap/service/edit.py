"""Edits of features through the JSON API: create, read, change and delete one feature.

Flask-free: :mod:`web.edit` reads the request and calls these. A feature travels as a GeoJSON
Feature (RFC 7946: geometry in longitude/latitude degrees, EPSG:4326); ``people``, which has
no geometry, as ``{"properties": {…}}`` (:mod:`gridmap.service.feature_body` parses it). Every
write is one transaction of the workspace (``user`` the caller, ``action`` ``edit <layer>``:
one audit row and its history rows), checked by the import's rules
(:func:`gridmap.schema.rules.check_rows`). A feature is served as the caller may see it
(:func:`gridmap.access.privacy.present`) with its ``version``, the ETag a change sends back as
``If-Match``; a change from a stale version raises :class:`gridmap.errors.ConflictError`.

Who may write what is :mod:`gridmap.access.roles`' policy: :func:`~gridmap.access.roles.may_write`
per layer; a grid worker changes only register rows of their own grids, before and after the
change (another grid's row is not found: 404; moving a row into another grid: 403).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.access import privacy
from gridmap.access.roles import (
    ANALYST,
    EDITABLE_LAYERS,
    GRID_WORKER,
    Access,
    Level,
    may_write,
    read_level,
)
from gridmap.errors import (
    AuthenticationError,
    ConflictError,
    FeatureNotFoundError,
    InputError,
    PermissionDeniedError,
    SchemaError,
)
from gridmap.io import geojson
from gridmap.schema import STORAGE_CRS, Layer, get_layer
from gridmap.service import feature_ids, scope
from gridmap.service.feature_body import Change, parse_feature, show
from gridmap.store import Transaction, Workspace

#: The largest feature id a workspace can hold (SQLite's 64-bit integers).
MAX_FID = 2**63 - 1
#: The reader whose view counts as "the masked view" a value may have been copied from.
_MASKED_READER = Access.of("masked-view", ANALYST)


@dataclass(frozen=True)
class Feature:
    """One stored feature as served to a caller.

    ``doc`` is the GeoJSON Feature (``id``, ``geometry`` in EPSG:4326 degrees or null,
    ``properties`` as :func:`gridmap.access.privacy.present` shows them, and the members
    ``version``, ``updated_at``, ``updated_by``); ``version`` is also its ETag. A reader of
    the masked view gets none of the three (the edit time and the editor would tie a
    household's change to a worker's visit) and no ETag, unless they may write the layer
    (then the version, which an edit needs).
    """

    layer: str
    fid: int
    version: int | None
    doc: dict[str, Any]


# -- who may write which rows ----------------------------------------------------------------


def require_writer(access: Access, layer: str) -> None:
    """Refuse a caller whose role may not change ``layer`` (401 for nobody, 403 otherwise)."""
    schema = get_layer(layer)
    if may_write(access, layer):
        return
    if not access.signed_in:
        raise AuthenticationError(
            f"Sign in to change layer '{layer}'. (请登录后修改图层 “{schema.zh}”。)"
        )
    if layer not in EDITABLE_LAYERS:
        raise PermissionDeniedError(
            f"Layer '{layer}' ({schema.zh}) is not changed through the write API; the layers "
            f"that are: {', '.join(EDITABLE_LAYERS)}."
        )
    raise PermissionDeniedError(
        f"Your role ({access.role}) may not change layer '{layer}'. "
        f"(您的角色无权修改图层 “{schema.zh}”。)"
    )


def _household_grid(tx: Transaction, household: Any) -> Any:
    """Return the grid code of the household ``household`` (None: no such household)."""
    if household is None:
        return None
    found = tx.read("households", where={"household_id": household})
    return None if found.empty else found.iloc[0]["grid_code"]


def _own_grid(tx: Transaction, access: Access, layer: Layer, row: Mapping[str, Any]) -> bool:
    """Return whether a grid worker's row lies in their grids (people: through the household).

    A row with a ``grid_code`` needs one of theirs; people and visits also need a household
    of their grids. A person without a household is left to the write rules to refuse.
    """
    grids = access.grids
    if "grid_code" in layer.column_names and row.get("grid_code") not in grids:
        return False
    household = row.get("household_id")
    if layer.name in ("people", "visits") and household is not None:
        return _household_grid(tx, household) in grids
    return True


def _scoped(access: Access, layer: str) -> bool:
    return read_level(access, layer) is Level.OWN


# -- reading and writing ---------------------------------------------------------------------


def read_feature(ws: Workspace, layer: str, fid: int | str, *, access: Access) -> Feature:
    """Return feature ``fid`` of ``layer`` as ``access`` may see it (404 when not theirs).

    Any readable layer; a grid worker finds only register rows of their own grids. A read
    that shows personal data unmasked is recorded in the access log. ``fid`` is a stored id,
    or text naming the feature as ``access`` is served it (a URL's: a masked reader's opaque
    id, :func:`gridmap.service.feature_ids.stored_id`).
    """
    get_layer(layer)
    scope.require(access, layer)  # a refused layer is 401/403 before any id is looked up
    fid = stored_fid(ws, layer, fid, access)
    _check_fid(layer, fid)
    where = scope.scoped_where(ws, access, layer, {"fid": int(fid)})
    frame = ws.read(layer, where=where)
    if frame.empty:
        raise FeatureNotFoundError(f"Layer '{layer}' has no feature {fid}.")
    feature = served(ws, layer, frame, access=access)
    scope.record(ws, access, layer, 1, action="read", filter={"fid": int(fid)})
    return feature


def create_feature(ws: Workspace, layer: str, body: Any, *, access: Access) -> Feature:
    """Add one feature to ``layer`` from a Feature body; return it as stored.

    Parameters
    ----------
    ws
        The workspace.
    layer
        One of :data:`gridmap.access.roles.EDITABLE_LAYERS`.
    body
        The parsed JSON Feature (geometry in longitude/latitude degrees, EPSG:4326).
    access
        Who writes: recorded as the transaction's user. A grid worker adds register rows
        to their own grids only; a visit they log names them as ``worker`` unless given.

    Returns
    -------
    Feature
        The new feature (``version`` 1), served as ``access`` may see it.
    """
    require_writer(access, layer)
    schema = get_layer(layer)
    change = parse_feature(schema, body)
    values = dict(change.values)
    if access.role == GRID_WORKER and layer == "visits" and values.get("worker") is None:
        record = ws.get_user(access.who)
        values["worker"] = (record.display_name if record else None) or access.who
    with ws.transaction(user=access.who, action=f"edit {layer}") as tx:
        if layer == "visits" and values.get("grid_code") is None:
            values["grid_code"] = _household_grid(tx, values.get("household_id"))
        if _scoped(access, layer) and not _own_grid(tx, access, schema, values):
            raise _not_your_grid(schema, access)
        fid = tx.append(layer, _frame(schema, values, change.geometry))[0]
        if layer == "grids":
            _grids_moved(ws, tx, [change.geometry], values.get("code"))
        stored = tx.feature(layer, fid)
    return _reply(ws, layer, stored, access)


def stored_fid(ws: Workspace, layer: str, fid: int | str, access: Access) -> int:
    """Return the stored id of feature ``fid``: a stored id, or text naming the feature as
    ``access`` is served it (:func:`gridmap.service.feature_ids.stored_id`); 404 for none."""
    if not isinstance(fid, str):
        return int(fid)
    found = feature_ids.stored_id(ws, layer, access, fid)
    if found is None:
        raise FeatureNotFoundError(f"Layer '{layer}' has no feature '{fid}'.")
    return found


def parse_change(layer: str, fid: int | str, body: Any) -> Change:
    """Return the change a PATCH body asks of feature ``fid`` (its ``id``, if given, must be it).

    ``fid`` as the URL names it: the stored id, or a masked writer's opaque id (a patrol lead's
    incident); the body's ``id`` is compared as text."""
    change = parse_feature(layer, body, partial=True)
    given = body.get("id") if isinstance(body, dict) else None
    if given is not None and (isinstance(given, bool) or str(given) != str(fid)):
        raise InputError(
            f"The body is feature {show(body['id'])}, but the URL names feature {fid}: send "
            "the change to the feature's own URL."
        )
    return change


def update_feature(
    ws: Workspace,
    layer: str,
    fid: int | str,
    body: Any,
    *,
    expected_version: int,
    access: Access,
) -> Feature:
    """Change the properties and/or geometry a Feature body gives; return the feature as stored.

    ``body`` is the parsed JSON, or the :class:`~gridmap.service.feature_body.Change` that
    :func:`parse_change` made of it. ``expected_version`` is the version the caller read
    (their ``If-Match``): when the feature has changed since,
    :class:`gridmap.errors.ConflictError` is raised and nothing is written
    (:func:`conflict_document` gives the reply with the current feature). A change that
    changes nothing keeps the version. ``fid``: as :func:`stored_fid` takes it.
    """
    require_writer(access, layer)
    schema = get_layer(layer)
    change = body if isinstance(body, Change) else parse_change(layer, fid, body)
    fid = stored_fid(ws, layer, fid, access)
    values = dict(change.values)
    if change.geometry is not None:
        values["geometry"] = change.geometry
    with ws.transaction(user=access.who, action=f"edit {layer}") as tx:
        before = _stored(tx, access, schema, fid, ws)
        _refuse_masked_copies(schema, before, values, access)
        if _scoped(access, layer):
            after = {**before.iloc[0].to_dict(), **values}
            if not _own_grid(tx, access, schema, after):
                raise _not_your_grid(schema, access)
        tx.update(layer, fid, values, expected_version=expected_version)
        if layer == "grids" and ("geometry" in values or "code" in values):
            code = values.get("code", before["code"].iloc[0])
            _grids_moved(ws, tx, [before.geometry.iloc[0], values.get("geometry")], code)
        stored = tx.feature(layer, fid)
    return _reply(ws, layer, stored, access)


def delete_feature(
    ws: Workspace, layer: str, fid: int | str, *, expected_version: int, access: Access
) -> None:
    """Delete feature ``fid`` of ``layer`` if it is still at ``expected_version``.

    A stale version raises :class:`gridmap.errors.ConflictError`; a household still named by
    visits is refused (:class:`gridmap.errors.ConstraintError`); a household's people go
    with it. ``fid``: as :func:`stored_fid` takes it.
    """
    require_writer(access, layer)
    schema = get_layer(layer)
    fid = stored_fid(ws, layer, fid, access)
    with ws.transaction(user=access.who, action=f"edit {layer}") as tx:
        before = _stored(tx, access, schema, fid, ws)
        tx.delete(layer, [fid], expected_versions={int(fid): int(expected_version)})
        if layer == "grids":
            _grids_moved(ws, tx, [before.geometry.iloc[0]])


def _grids_moved(ws: Workspace, tx: Transaction, outlines: list[Any], code: Any = None) -> None:
    """Recompute what lies where the grids changed, and the figures of the grids there, in
    the write's transaction (:func:`gridmap.service.relocate.refigure`)."""
    from gridmap.service.metric import metric_crs
    from gridmap.service.relocate import refigure

    shapes = [g for g in outlines if g is not None and not getattr(g, "is_empty", True)]
    if shapes:
        refigure(
            tx,
            metric_crs=metric_crs(ws),
            region=shapely.union_all([shapely.box(*g.bounds) for g in shapes]),
        )


def conflict_document(
    ws: Workspace, layer: str, fid: int | str, error: ConflictError, *, access: Access
) -> tuple[dict[str, Any], Feature | None]:
    """Return the reply to a stale write: ``{"error": {…}, "current": <feature or null>}``.

    ``current`` is the feature as it is now, served as ``access`` may see it (null when it
    was deleted); the feature is also returned, for its version (the reply's ETag).
    """
    try:
        current: Feature | None = read_feature(ws, layer, fid, access=access)
    except FeatureNotFoundError:
        current = None
    doc: dict[str, Any] = dict(error.to_dict())
    if layer == "grids" and current is not None:  # the planning page names who changed it
        from gridmap.service.plan_replies import conflict_grids

        code = str(current.doc["properties"].get("code") or "")
        if code:
            stale = {"error": dict(doc["error"])}
            stale["error"]["grids"] = conflict_grids(ws, [code], {code: error.expected})
            doc.update(stale)
    doc["current"] = current.doc if current else None
    return doc, current


def _stored(
    tx: Transaction, access: Access, schema: Layer, fid: int, ws: Workspace
) -> pd.DataFrame:
    """Return the stored row ``fid`` in the transaction; not found unless the caller's (a
    deleted grid's 404 says who deleted it and when, from ``ws``'s history)."""
    _check_fid(schema.name, fid)
    frame = tx.read(schema.name, where={"fid": int(fid)})
    if frame.empty and schema.name == "grids" and not _scoped(access, schema.name):
        from gridmap.service.planning import deleted_grid

        raise deleted_grid(ws, int(fid))  # who deleted it and when, where the history says
    if frame.empty or (
        _scoped(access, schema.name) and not _own_grid(tx, access, schema, frame.iloc[0])
    ):
        raise FeatureNotFoundError(f"Layer '{schema.name}' has no feature {fid}.")
    return frame


def _check_fid(layer: str, fid: int) -> None:
    if not 0 < int(fid) <= MAX_FID:
        raise FeatureNotFoundError(f"Layer '{layer}' has no feature {fid}.")


def _refuse_masked_copies(
    schema: Layer, before: pd.DataFrame, values: Mapping[str, Any], access: Access
) -> None:
    """Refuse personal values that equal the masked view of the stored ones, from a caller
    who reads the layer masked (they can only have copied them from what they were shown)."""
    if read_level(access, schema.name) is not Level.MASKED:
        return
    names = [c for c in schema.columns if (c.personal or c.personal_values) and c.name in values]
    if not names:
        return
    shown = privacy.present(before, schema, _MASKED_READER).iloc[0]
    real = before.iloc[0]
    for column in names:
        if column.name not in shown.index:
            continue
        masked, stored = shown[column.name], real[column.name]
        if _same(values[column.name], masked) and not _same(values[column.name], stored):
            raise SchemaError(
                f"'{show(values[column.name])}' is how {column.zh} ({column.name}) is shown to "
                "your role, not its value: writing it would overwrite the real value. Leave the "
                "column out of the change.",
                column=column.name,
            )


def _same(a: Any, b: Any) -> bool:
    a, b = geojson.json_value(a), geojson.json_value(b)
    return bool(a == b)


def _not_your_grid(schema: Layer, access: Access) -> PermissionDeniedError:
    grids = ", ".join(sorted(access.grids)) or "none"
    what = "household" if schema.name == "people" else "grid_code (or household)"
    return PermissionDeniedError(
        f"A grid worker writes {schema.name} of their own grids only ({grids}): give the row "
        f"a {what} of one of them. (网格员只能修改本人网格的{schema.zh}。)"
    )


def _frame(schema: Layer, values: Mapping[str, Any], geometry: BaseGeometry | None) -> pd.DataFrame:
    """Return one row of ``values`` (and the geometry, EPSG:4326) as the store takes it."""
    frame = pd.DataFrame({k: pd.Series([v], dtype=object) for k, v in values.items()})
    frame.index = pd.Index([1])
    if schema.geometry is None:
        return frame
    return gpd.GeoDataFrame(frame, geometry=[geometry], crs=STORAGE_CRS, index=frame.index)


def _reply(ws: Workspace, layer: str, stored: pd.DataFrame, access: Access) -> Feature:
    """Serve a feature just written, recording the read when it shows personal data."""
    feature = served(ws, layer, stored, access=access)
    scope.record(ws, access, layer, 1, action="edit", filter={"fid": feature.fid})
    return feature


def served(ws: Workspace, layer: str, frame: pd.DataFrame, *, access: Access) -> Feature:
    """Return the first row of ``frame`` (as read, with system columns) served to ``access``."""
    schema = get_layer(layer)
    shown = privacy.present(frame.iloc[:1], schema, access)
    columns = [c.name for c in privacy.served_layer(schema, access).columns]
    tz = ws.get_meta("timezone", geojson.DEFAULT_TZ)
    served_id = feature_ids.served_ids(ws, layer, access, frame.index[:1])  # a token if masked
    doc: dict[str, Any] = json.loads(geojson.features(shown, columns, tz, ids=served_id)[0])
    row = frame.iloc[0]
    masked = schema.has_personal_data and read_level(access, layer) is Level.MASKED
    version: int | None = int(row["version"])
    if not masked or may_write(access, layer):
        doc["version"] = version
    else:
        version = None
    if not masked:
        doc["updated_at"] = geojson.json_value(row.get("updated_at"), tz)
        doc["updated_by"] = geojson.json_value(row.get("updated_by"), tz)
    return Feature(layer, int(frame.index[0]), version, doc)


def served_docs(
    ws: Workspace, layer: str, frame: pd.DataFrame, *, access: Access
) -> list[dict[str, Any]]:
    """Return every row of ``frame`` (as read, with system columns) served to ``access``, as
    GeoJSON features (EPSG:4326): what :func:`served` gives for one row, for all in one batch
    (one masking pass, one id lookup, one encoding) rather than row by row."""
    if not len(frame):
        return []
    schema = get_layer(layer)
    shown = privacy.present(frame, schema, access)
    columns = [c.name for c in privacy.served_layer(schema, access).columns]
    tz = ws.get_meta("timezone", geojson.DEFAULT_TZ)
    served_id = feature_ids.served_ids(ws, layer, access, frame.index)
    docs = [json.loads(text) for text in geojson.features(shown, columns, tz, ids=served_id)]
    masked = schema.has_personal_data and read_level(access, layer) is Level.MASKED
    versions = frame["version"].tolist()
    stamps = [
        frame[c].tolist() if c in frame else [None] * len(frame)
        for c in ("updated_at", "updated_by")
    ]
    for k, doc in enumerate(docs):
        if not masked or may_write(access, layer):
            doc["version"] = int(versions[k])
        if not masked:
            doc["updated_at"] = geojson.json_value(stamps[0][k], tz)
            doc["updated_by"] = geojson.json_value(stamps[1][k], tz)
    return docs
