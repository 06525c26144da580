"""Feature ids as each reader is served them, and the ids they send back.

Readers of a masked view (:func:`gridmap.access.privacy.opaque_ids`: planners, patrol leads
and analysts on the register — households, people, visits, incidents —, and every role but the
admin on the buildings) never see a stored feature id: every reply gives them the feature's token (:mod:`gridmap.access.ids`) and lists
rows in token order, and every id they send — ``ids=`` of ``/api/layers``, the table's rows
and values, exports and export jobs, a feature in a URL — is a token, turned back into the
stored id here. A token that names no feature of the layer selects nothing (a feature in a URL:
404), as an unknown id does; a plain number from such a reader names nothing either, so that
no reply can pair a stored id with its token. Everyone else is served the stored ids as they
are. Coordinates are lon/lat degrees (EPSG:4326), as stored.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gridmap.access import ids, privacy
from gridmap.access.roles import Access
from gridmap.errors import InputError
from gridmap.schema import Layer, get_layer
from gridmap.service import stamps
from gridmap.service.filters import MAX_VALUES
from gridmap.store import Bbox, Workspace

#: The most ids one request may send (as :func:`gridmap.service.filters.parse_ids` allows).
MAX_IDS = MAX_VALUES * 10
#: The largest feature id (SQLite's largest integer); a larger number names no feature.
MAX_FID = 2**63 - 1


def opaque(layer: str | Layer, access: Access) -> bool:
    """Return whether ``access`` is served tokens, not stored ids, of ``layer``."""
    return privacy.opaque_ids(layer, access)


def key(ws: Workspace) -> bytes:
    """Return the workspace's key of opaque ids (made on first use)."""
    return ws.secret(ids.SECRET)


def served_ids(
    ws: Workspace, layer: str, access: Access, fids: Sequence[int] | pd.Index
) -> list[int | str]:
    """Return the ids ``access`` is served for the stored ids ``fids`` of ``layer``, in order."""
    if not opaque(layer, access):
        return [int(f) for f in fids]
    return list(ids.tokens(key(ws), layer, fids))


@dataclass
class _Known:
    """The tokens of one layer's features, by token, as of a workspace stamp."""

    stamp: str = ""
    fids: dict[str, int] = field(default_factory=dict)


_known: dict[tuple[bytes, str], _Known] = {}
_lock = threading.Lock()


def _lookup(ws: Workspace, layer: str, tokens: Sequence[str]) -> dict[str, int]:
    """Return the stored id of each token that names a feature of ``layer``.

    The layer's tokens are made once and kept by key and layer (a token's feature never
    changes); when a token is not among them and the workspace changed since, the layer's ids
    are read again (new features). Masked readers are never narrowed to some grids, so every
    feature of the layer is in their scope.
    """
    k = key(ws)
    with _lock:
        known = _known.setdefault((k, layer), _Known())
        missing = any(t not in known.fids for t in tokens)
        stale = missing and known.stamp != stamps.content(ws)
    if stale:
        stamp = stamps.content(ws)
        fids = ws.read(layer, columns=(), system=False, geometry=False).index
        fresh = _Known(stamp, dict(zip(ids.tokens(k, layer, fids), fids.tolist(), strict=True)))
        with _lock:
            _known[(k, layer)] = known = fresh
    return {t: known.fids[t] for t in tokens if t in known.fids}


def _token_texts(given: str | Sequence[Any]) -> list[str]:
    parts = given.split(",") if isinstance(given, str) else list(given)
    texts = [str(p).strip().lower() for p in parts if str(p).strip()]
    if len(texts) > MAX_IDS:
        raise InputError(f"At most {MAX_IDS} features at once. (一次最多 {MAX_IDS} 个要素。)")
    for text in texts:
        if not ids.is_token(text):
            raise InputError(
                f"'{text}' is not a feature id of yours: your role gets this layer's features "
                f"with ids of {ids.TOKEN_LENGTH} letters and digits, as the replies give them. "
                f"(“{text}”不是您得到的要素编号。)"
            )
    return texts


def stored_ids(
    ws: Workspace, layer: str, access: Access, given: str | Sequence[Any] | None
) -> str | Sequence[Any] | None:
    """Return ``ids=`` of a request as :func:`gridmap.service.filters.layer_filter` takes them.

    For a reader served stored ids, ``given`` as it is (the filter checks it). For a reader
    served tokens: the stored id of each token (``A,B`` or a list), a token naming no feature
    as 0 (which names none: the filter then selects nothing, as for an unknown id). Text that
    is no token is an InputError (400), as a word is where numbers are expected.
    """
    if given is None or not opaque(layer, access):
        return given
    texts = _token_texts(given)
    if not texts:
        return None
    found = _lookup(ws, layer, texts)
    return [found.get(t, 0) for t in texts]


def stored_id(ws: Workspace, layer: str, access: Access, text: str) -> int | None:
    """Return the stored id a feature id in a URL names for ``access``, or None (a 404).

    A stored id is 1 to 2^63 - 1 in digits; for a reader served tokens, a token of a feature
    of ``layer``.
    """
    get_layer(layer)
    if opaque(layer, access):
        token = text.strip().lower()
        return _lookup(ws, layer, [token]).get(token) if ids.is_token(token) else None
    return parse_fid(text)


def parse_fid(text: str) -> int | None:
    """Return a stored feature id from a URL path segment, or None when it names none.

    Ids are positive 64-bit integers (GeoPackage fids); anything else (2^63 or more, signs,
    letters) names no feature, which is a 404, not an error of the server.
    """
    if not re.fullmatch(r"[0-9]{1,19}", text):
        return None
    value = int(text)
    return value if 0 < value <= MAX_FID else None


def _ties(frame: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """Number the runs of rows with equal values of ``names`` (the rows in sorted order)."""
    if not names or not len(frame):
        return np.zeros(len(frame), dtype=np.int64)
    new = np.zeros(len(frame), dtype=bool)
    for name in names:
        codes = pd.factorize(frame[name], use_na_sentinel=False)[0]
        new[1:] |= codes[1:] != codes[:-1]
    return np.cumsum(new)


#: Served orders kept (per workspace stamp, layer and query): paging through a layer (QGIS and
#: GDAL read 1,000 features a page, or 10) sorts its keys once, not once a page.
ORDERS_KEPT = 16
_orders: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()


def _ordered(
    ws: Workspace,
    layer: str,
    boxes: Sequence[Bbox] | None,
    where: dict[str, Any] | None,
    order: Sequence[tuple[str, bool]],
) -> np.ndarray:
    """Return the stored ids of every row meeting the query, in the order they are served."""
    k = key(ws)
    asked = (
        stamps.content(ws),  # the access log's rows do not empty it
        k,
        layer,
        repr(list(boxes or [])),
        repr(sorted((where or {}).items())),
        tuple(order),
    )
    with _lock:
        if asked in _orders:
            _orders.move_to_end(asked)
            return _orders[asked]
    names = [name for name, _ in order]
    parts = [
        ws.read(
            layer,
            bbox=b,
            where=where,
            columns=names,
            system=False,
            order=order or None,
            geometry=False,  # the sort keys alone
        )
        for b in (boxes or [None])  # type: ignore[list-item]
    ]
    frame = parts[0] if len(parts) == 1 else pd.concat(parts)
    if len(parts) > 1:
        frame = frame[~frame.index.duplicated()]
    served = ids.tokens(k, layer, frame.index)
    fids = frame.index.to_numpy()[ids.order(served, _ties(frame, names) if order else None)]
    with _lock:
        _orders[asked] = fids
        while len(_orders) > ORDERS_KEPT:
            _orders.popitem(last=False)
    return fids


def served_page(
    ws: Workspace,
    layer: str,
    *,
    access: Access,
    boxes: Sequence[Bbox] | None = None,
    where: dict[str, Any] | None = None,
    keep: Callable[[pd.DataFrame], pd.Series] | None = None,
    order: Sequence[tuple[str, bool]] = (),
    limit: int | None = None,
    offset: int = 0,
    columns: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, int]:
    """Return one page of rows in the order a reader served tokens gets them, and the matches.

    The rows meeting ``boxes`` (a row meets any of them; degrees, EPSG:4326), ``where`` and
    ``keep`` are sorted by ``order`` as the store sorts them, and rows the sort leaves equal
    (all of them, without ``order``) by their tokens, not by their stored ids
    (:func:`gridmap.access.ids.order`); then ``limit`` rows from ``offset`` on are returned
    (EPSG:4326 geometry, unmasked, indexed by stored id; ``columns`` as
    :meth:`~gridmap.store.Workspace.read` takes them). Several boxes only without ``order``.
    A page of part of the matches sorts the keys of every match (kept for the next pages
    while the workspace is unchanged), then reads the page's rows; a whole layer, or one
    tested by ``keep``, is read at once.
    """
    if keep is None and not (limit is None and offset == 0):
        ordered = _ordered(ws, layer, boxes, where, order)
        chosen = ordered[offset : None if limit is None else offset + limit].tolist()
        rows = ws.read(layer, where={"fid": chosen}, columns=columns, system=False)
        # a row deleted since the order was kept is left out, not a KeyError
        return rows.loc[[f for f in chosen if f in rows.index]], len(ordered)
    names = [name for name, _ in order]
    parts = [
        ws.read(layer, bbox=b, where=where, columns=columns, system=False, order=order or None)
        for b in (boxes or [None])  # type: ignore[list-item]
    ]
    frame = parts[0] if len(parts) == 1 else pd.concat(parts)
    if len(parts) > 1:
        frame = frame[~frame.index.duplicated()]
    if keep is not None:
        frame = frame[keep(frame).to_numpy(dtype=bool)]
    served = ids.tokens(key(ws), layer, frame.index)
    positions = ids.order(served, _ties(frame, names) if order else None)
    chosen_at = positions[offset : None if limit is None else offset + limit]
    return frame.iloc[chosen_at], len(frame)


def clear_cache() -> None:
    """Forget the tokens looked up (tests)."""
    with _lock:
        _known.clear()
        _orders.clear()
    ids.clear_cache()
