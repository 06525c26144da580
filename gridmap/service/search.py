"""Search: one box for grids, communities, buildings, households, cameras, facilities, streets.

:func:`search` finds the features whose codes, names, addresses or kinds hold the query, for
one reader: only in layers they may read, only in columns the view they get serves, only in
the rows their scope allows. So a planner, whose households are masked, never finds a
household (their ids and room addresses are exactly what the masked view leaves out) and no
hit, count or order depends on anything hidden from them; a grid worker finds the households
of their own grids only; nobody signed in finds only in the layers an admin opened. A search
that shows households unmasked is written to the access log (:func:`gridmap.service.scope.record`),
with an ID or phone number in the query masked (:func:`gridmap.access.privacy.masked_text`).

Matching is on :func:`~gridmap.service.search_index.normalise`\\ d text (NFKC, case folded,
spaces and hyphens removed): substring matching, ranked exact > prefix > substring, then the
field (code > name > other text > a kind's word), then the shorter label. Hits come grouped by
layer, each group capped at ``limit``, with how many matched.

The index is built from the workspace's layers once and kept while their content is the same
(:func:`gridmap.service.stamps.content`): every edit, by gridmap, QGIS or GDAL, is seen at the
next search, and the access log's rows (written by audited reads) do not empty it. Places are
lon/lat degrees (EPSG:4326).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridmap.access import privacy
from gridmap.access.roles import Access, Level, read_level
from gridmap.errors import AuthenticationError, InputError
from gridmap.schema import LAYER_ORDER, get_layer
from gridmap.service import feature_ids, scope, stamps
from gridmap.service.search_index import LANGS, SPECS, LayerIndex, build_index, normalise
from gridmap.store import Workspace

#: Hits per layer unless asked otherwise, and the most a request may ask for.
DEFAULT_LIMIT = 6
MAX_LIMIT = 50
#: The longest query (characters).
MAX_QUERY = 100
#: Levels at which a layer's rows may be searched: households only by readers who see them.
SEARCH_LEVELS: dict[str, frozenset[Level]] = {
    "households": frozenset({Level.FULL, Level.OWN}),
}
_ANY_LEVEL = frozenset({Level.FULL, Level.OWN, Level.MASKED})


@dataclass(frozen=True)
class Hit:
    """One found feature: its layer, feature id, two lines of text and its place (EPSG:4326).

    ``id`` is the id the reader is served (a masked reader's opaque id for the buildings:
    :mod:`gridmap.service.feature_ids`).

    ``bbox`` is minlon, minlat, maxlon, maxlat; ``lon``/``lat`` a point on the feature (all
    None for a feature without geometry); ``key`` its layer's key (a grid's code) or None. A
    street's hit stands for every edge of that name: its box holds them all, its id is the
    longest edge's.
    """

    layer: str
    id: int | str
    label: str
    detail: str
    bbox: tuple[float, float, float, float] | None
    lon: float | None
    lat: float | None
    key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the hit as JSON-ready data."""
        return {
            "layer": self.layer,
            "id": self.id,
            "label": self.label,
            "detail": self.detail,
            "bbox": list(self.bbox) if self.bbox else None,
            "lon": self.lon,
            "lat": self.lat,
            "key": self.key,
        }


@dataclass(frozen=True)
class Group:
    """The hits of one layer: how many features matched, and the first ``limit`` of them."""

    layer: str
    matched: int
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class Result:
    """What a search found: the query, its normalised form, the groups and the layers searched."""

    query: str
    normalised: str
    groups: tuple[Group, ...]
    layers: tuple[str, ...]

    @property
    def hits(self) -> list[Hit]:
        """Return every hit, group after group."""
        return [h for g in self.groups for h in g.hits]

    @property
    def personal(self) -> bool:
        """Return whether the result shows personal data unmasked (households found)."""
        return any(g.layer == "households" and g.hits for g in self.groups)


@dataclass
class _Entry:
    stamp: str
    indexes: dict[str, LayerIndex] = field(default_factory=dict)
    scopes: dict[tuple[Any, ...], np.ndarray | None] = field(default_factory=dict)


_CACHE: weakref.WeakKeyDictionary[Workspace, _Entry] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _entry(ws: Workspace) -> _Entry:
    """Return the cache entry of ``ws`` for its current content (a new one when it changed)."""
    stamp = stamps.content(ws)
    with _LOCK:
        entry = _CACHE.get(ws)
        if entry is None or entry.stamp != stamp:
            entry = _Entry(stamp)
            _CACHE[ws] = entry
        return entry


def layer_index(ws: Workspace, layer: str) -> LayerIndex:
    """Return the search index of ``layer`` for the workspace as it is now (built once)."""
    entry = _entry(ws)
    with _LOCK:
        found = entry.indexes.get(layer)
    if found is not None:
        return found
    spec = SPECS[layer]
    frame = ws.read(layer, columns=spec.columns, system=False)
    built = build_index(spec, frame)
    with _LOCK:
        return entry.indexes.setdefault(layer, built)


def searchable(access: Access) -> list[str]:
    """Return the layers ``access`` searches, in catalogue order.

    A layer is searched when its level for ``access`` is one of :data:`SEARCH_LEVELS` (any
    but NONE for most), its served view has rows, and that view serves every column the
    layer's index reads, none of them as masked text.
    """
    out = []
    for name in LAYER_ORDER:
        spec = SPECS.get(name)
        if spec is None:
            continue
        level = read_level(access, name)
        if level not in SEARCH_LEVELS.get(name, _ANY_LEVEL) or not scope.serves(access, name):
            continue
        served = privacy.served_layer(name, access)
        columns = {c.name: c for c in served.columns}
        masked = level is Level.MASKED
        if all(c in columns and not (masked and columns[c].personal) for c in spec.columns):
            out.append(name)
    return out


def _allowed(ws: Workspace, entry: _Entry, index: LayerIndex, access: Access) -> np.ndarray | None:
    """Return which rows of ``index`` ``access`` may find: a boolean mask, or None for all.

    A scope that narrows by a column the index does not keep allows nothing.
    """
    where = scope.scoped_where(ws, access, index.layer) or {}
    if not where:
        return None
    key = (index.layer, tuple(sorted((k, tuple(v)) for k, v in where.items())))
    with _LOCK:
        if key in entry.scopes:
            return entry.scopes[key]
    mask = np.ones(len(index), dtype=bool)
    for column, values in where.items():
        if column not in index.keys:
            mask[:] = False
            break
        wanted = set(values) if isinstance(values, list | tuple | set) else {values}
        mask &= np.fromiter((v in wanted for v in index.keys[column]), bool, len(index))
    with _LOCK:
        entry.scopes[key] = mask
    return mask


def _check(query: str, limit: int, lang: str) -> None:
    if not isinstance(query, str) or not query:
        raise InputError("Type something to search for. (请输入要搜索的内容。)")
    if len(query) > MAX_QUERY:
        raise InputError(
            f"A search is at most {MAX_QUERY} characters. (搜索内容最多 {MAX_QUERY} 个字符。)"
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit must be 1 to {MAX_LIMIT}. (limit 须在 1 到 {MAX_LIMIT} 之间。)")
    if lang not in LANGS:
        raise InputError(
            f"lang must be zh-CN or en, not '{lang}'. (界面语言 lang 须为 zh-CN 或 en。)"
        )


def search(
    ws: Workspace,
    query: str,
    *,
    access: Access,
    limit: int = DEFAULT_LIMIT,
    layers: Iterable[str] | None = None,
    lang: str = "zh-CN",
) -> Result:
    """Return the features of the workspace that ``query`` finds for ``access``.

    Parameters
    ----------
    ws
        The workspace.
    query
        What was typed (1 to :data:`MAX_QUERY` characters); compared normalised.
    access
        Who searches: layers, columns and rows as their role may read them.
    limit
        Hits per layer, 1 to :data:`MAX_LIMIT`.
    layers
        Search only these layers (an unknown name raises LayerNotFoundError); layers the
        reader does not search are left out.
    lang
        The language of labels and details that carry words (a facility's kind): zh-CN or en.

    Returns
    -------
    Result
        Groups of hits by layer, the group with the best hit first; an empty result when the
        normalised query is empty (only punctuation). Raises AuthenticationError for nobody
        signed in when no layer is open to them.
    """
    _check(query, limit, lang)
    open_layers = searchable(access)
    if not open_layers and not access.signed_in:
        raise AuthenticationError("Sign in to search. (请先登录再搜索。)")
    if layers is not None:
        asked = [get_layer(name).name for name in layers]
        open_layers = [name for name in open_layers if name in asked]
    text = normalise(query)
    if not text:
        return Result(query, text, (), tuple(open_layers))
    entry = _entry(ws)
    ranked: list[tuple[tuple[Any, ...], Group]] = []
    for order, name in enumerate(open_layers):
        index = layer_index(ws, name)
        mask = _allowed(ws, entry, index, access)
        found = index.rank(text, limit=limit, lang=lang, allowed=mask)
        if not found.matched:
            continue
        served = feature_ids.served_ids(ws, name, access, index.fids[found.rows].tolist())
        hits = tuple(
            _hit(index, int(row), lang, fid) for row, fid in zip(found.rows, served, strict=True)
        )
        first = int(found.rows[0])
        best = (int(found.tiers[0]), int(found.priorities[0]), len(index.labels[lang][first]))
        ranked.append(((*best, order), Group(name, found.matched, hits)))
    ranked.sort(key=lambda pair: pair[0])
    result = Result(query, text, tuple(g for _, g in ranked), tuple(open_layers))
    logged = {"q": privacy.masked_text(query)}  # an ID or phone number typed is kept masked
    for group in result.groups:
        scope.record(ws, access, group.layer, len(group.hits), action="search", filter=logged)
    return result


def _hit(index: LayerIndex, row: int, lang: str, fid: int | str) -> Hit:
    box = index.bboxes[row]
    lon, lat = index.points[row]
    placed = not np.isnan(box).any() and not np.isnan([lon, lat]).any()
    return Hit(
        layer=index.layer,
        id=fid,
        label=index.labels[lang][row],
        detail=index.details[lang][row],
        bbox=(float(box[0]), float(box[1]), float(box[2]), float(box[3])) if placed else None,
        lon=float(lon) if placed else None,
        lat=float(lat) if placed else None,
        key=index.codes[row] if index.codes else None,
    )


def clear_cache() -> None:
    """Forget every index (tests; a server never needs to)."""
    with _LOCK:
        _CACHE.clear()
