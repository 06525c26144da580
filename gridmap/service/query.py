"""Pages of features for the web API and OGC API - Features: filter, page, mask, encode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gridmap.access import privacy
from gridmap.errors import InputError
from gridmap.io import geojson
from gridmap.schema import get_layer
from gridmap.store import Bbox, Workspace

MAX_LIMIT = 100_000


@dataclass(frozen=True)
class Page:
    """One page of a layer as GeoJSON text, with how many features matched and were returned."""

    text: str
    matched: int
    returned: int


def layer_page(
    ws: Workspace,
    layer: str,
    *,
    bbox: Bbox | None = None,
    limit: int | None = None,
    offset: int = 0,
    role: str = "viewer",
    extra: dict[str, Any] | None = None,
) -> Page:
    """Return features of ``layer`` meeting ``bbox`` as a masked GeoJSON FeatureCollection.

    ``numberMatched`` and ``numberReturned`` are added to the collection, then ``extra``.
    """
    schema = get_layer(layer)
    if limit is not None and not 0 <= limit <= MAX_LIMIT:
        raise InputError(f"limit must be between 0 and {MAX_LIMIT}.")
    if offset < 0:
        raise InputError("offset must not be negative.")
    frame = ws.read(layer, bbox=bbox, limit=limit, offset=offset)
    whole = limit is None and offset == 0
    matched = len(frame) if whole else ws.count(layer, bbox=bbox)
    frame = privacy.mask_frame(frame, schema, role)
    members = {"numberMatched": matched, "numberReturned": len(frame), **(extra or {})}
    tz = ws.get_meta("timezone", geojson.DEFAULT_TZ)
    text = geojson.feature_collection(frame, schema.column_names, extra=members, tz=tz)
    return Page(text, matched, len(frame))
