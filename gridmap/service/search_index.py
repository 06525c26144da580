"""The search index of one layer: normalised texts of its features, their labels and places.

:mod:`gridmap.service.search` keeps one :class:`LayerIndex` per layer and workspace version and
asks it :meth:`LayerIndex.match`. What each layer offers to search is its :class:`Spec`: the
columns read (and only those: a masked reader is searched only in layers whose every searched
column the masked view serves), which are codes, names or other words, and how a hit is
labelled. Texts are compared in :func:`normalise`\\ d form: NFKC (full-width digits and letters
become ASCII), case folded, spaces, hyphens and punctuation removed, so ``3201 0200-1001``
finds ``320102001001`` and ``ＣＡＭ０００１`` finds ``CAM0001``.

Places are lon/lat degrees (EPSG:4326): each feature's bounding box and a point on it (a
polygon's point on its surface, a line's middle, a point itself).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.network.graph import unique_edges
from gridmap.schema import get_layer
from gridmap.schema.titles import choice_titles

#: What :func:`normalise` removes: white space, hyphens, dashes, dots, slashes, brackets,
#: quotes, number signs and control characters.
_DROP = re.compile(
    r"[\s\x00-\x1f\-‐‑‒–—―_·・.,，。、/\\|()（）\[\]【】{}<>《》'\"“”‘’#＃:：;；!！?？*]+"
)

#: Field priorities: a code, a name, another text (an address, a worker), a kind's word.
CODE, NAME, OTHER, WORD = 0, 1, 2, 3
#: Match tiers: the whole text, its start, anywhere in it.
EXACT, PREFIX, SUBSTRING = 0, 1, 2

#: The languages of labels and details.
LANGS = ("zh-CN", "en")


#: Zeros that open a run of digits after a letter (CAM0005 → CAM5; 320102001 stays).
_LEADING_ZEROS = re.compile(r"(?<=[^\W\d_])0+(?=\d)")


def normalise(text: Any) -> str:
    """Return ``text`` as the index compares it: NFKC, case folded, separators removed.

    ``ＣＡＭ－０００１`` → ``cam0001``; ``Police Post`` → ``policepost``; None → ``""``.
    """
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return ""
    return _DROP.sub("", unicodedata.normalize("NFKC", str(text)).casefold())


def _present(value: Any) -> bool:
    return value is not None and not (not isinstance(value, str) and pd.isna(value)) and value != ""


def _text(value: Any) -> str:
    return str(value) if _present(value) else ""


def _kind_title(layer: str, column: str, code: Any, lang: str) -> str:
    titles = choice_titles(layer, column).get(str(code))
    if not titles:
        return _text(code)
    return titles[1] if lang == "zh-CN" else titles[0]


#: Words that find facilities of a kind besides the kind's own titles (派出所 is what people
#: call the police post; the schema's title is 警务站).
KIND_WORDS: dict[str, tuple[str, ...]] = {
    "police_post": ("派出所", "警务室", "公安", "警察", "police station", "police"),
    "community_office": ("居委会", "社区服务中心", "社区办公室", "residents committee"),
    "school": ("小学", "中学", "primary school", "middle school"),
    "kindergarten": ("幼儿园", "托儿所", "nursery"),
    "parking": ("停车", "车库", "car park", "parking lot", "garage"),
    "toilets": ("厕所", "卫生间", "toilet", "wc"),
    "hospital": ("卫生院",),
    "clinic": ("卫生站", "卫生室", "社区卫生服务中心", "health centre"),
}
#: Words that find every camera (and each kind by its titles: 球机, dome camera …).
CAMERA_WORDS: tuple[str, ...] = ("监控", "探头", "摄像头", "摄像机", "camera", "cctv")


@dataclass(frozen=True)
class Spec:
    """What one layer offers to search, and how its hits read.

    ``fields`` maps each searched column to its priority (:data:`CODE` …); ``words`` gives
    extra words of a row (kind titles); ``label`` and ``detail`` make a hit's two lines from a
    row in the language asked; ``keys`` are columns the index keeps to narrow
    rows by a reader's scope (``grid_code``); ``group_by`` merges rows with the same value of a
    column into one hit (a street's edges).
    """

    layer: str
    fields: dict[str, int]
    label: Callable[[dict[str, Any], str], str]
    detail: Callable[[dict[str, Any], str], str]
    words: Callable[[dict[str, Any]], Iterable[str]] | None = None
    keys: tuple[str, ...] = ("grid_code",)
    extra: tuple[str, ...] = ()
    group_by: str | None = None

    @property
    def columns(self) -> list[str]:
        """Return every column the index reads of the layer (searched, shown, narrowed by)."""
        names = [*self.fields, *self.extra, *self.keys]
        known = get_layer(self.layer).column_names
        return [c for c in dict.fromkeys(names) if c in known]


def _join(*parts: Any) -> str:
    return " · ".join(_text(p) for p in parts if _present(p))


def _kind_words(row: dict[str, Any]) -> list[str]:
    kind = row.get("kind")
    titles = choice_titles("facilities", "kind").get(str(kind), ())
    return [*titles, *KIND_WORDS.get(str(kind), ())]


def _camera_words(row: dict[str, Any]) -> list[str]:
    return [*choice_titles("cameras", "kind").get(str(row.get("kind")), ()), *CAMERA_WORDS]


def _km(metres: Any) -> str:
    if not _present(metres):
        return ""
    m = float(metres)
    return f"{m / 1000:.1f} km" if m >= 1000 else f"{m:.0f} m"


def _worker(row: dict[str, Any], lang: str) -> str:
    if not _present(row.get("worker")):
        return ""
    return f"网格员 {row['worker']}" if lang == "zh-CN" else f"worker {row['worker']}"


#: The searched layers, in the order their groups are listed when their best hits tie.
SPECS: dict[str, Spec] = {
    s.layer: s
    for s in (
        Spec(
            "grids",
            {"code": CODE, "name": NAME, "worker": OTHER},
            label=lambda r, lang: _text(r.get("name")) or _text(r.get("code")),
            detail=lambda r, lang: _join(r.get("code"), _worker(r, lang)),
            keys=(),
        ),
        Spec(
            "community",
            {"code": CODE, "name": NAME},
            label=lambda r, lang: _text(r.get("name")) or _text(r.get("code")),
            detail=lambda r, lang: _join(r.get("code"), r.get("street")),
            extra=("street",),
            keys=(),
        ),
        Spec(
            "buildings",
            {"name": NAME, "address": OTHER},
            label=lambda r, lang: _text(r.get("name")) or _text(r.get("address")),
            detail=lambda r, lang: _join(r.get("address") if _present(r.get("name")) else None),
            keys=(),
        ),
        Spec(
            "households",
            {"household_id": CODE, "address": NAME},
            label=lambda r, lang: _text(r.get("address")) or _text(r.get("household_id")),
            detail=lambda r, lang: _join(r.get("household_id"), r.get("grid_code")),
        ),
        Spec(
            "cameras",
            {"code": CODE, "name": NAME},
            label=lambda r, lang: _text(r.get("name")) or _text(r.get("code")),
            detail=lambda r, lang: _join(
                r.get("code"), _kind_title("cameras", "kind", r.get("kind"), lang)
            ),
            words=_camera_words,
            extra=("kind",),
            keys=(),
        ),
        Spec(
            "facilities",
            {"name": NAME, "address": OTHER},
            label=lambda r, lang: (
                _text(r.get("name")) or _kind_title("facilities", "kind", r.get("kind"), lang)
            ),
            detail=lambda r, lang: _join(
                _kind_title("facilities", "kind", r.get("kind"), lang),
                r.get("address") if _present(r.get("address")) else r.get("grid_code"),
            ),
            words=_kind_words,
            extra=("kind", "grid_code"),
            keys=(),
        ),
        Spec(
            "streets",
            {"name": NAME},
            label=lambda r, lang: _text(r.get("name")),
            detail=lambda r, lang: _km(r.get("length_m")),
            extra=("length_m", "u", "v", "key"),
            keys=(),
            group_by="name",
        ),
    )
}


@dataclass(frozen=True)
class Ranked:
    """What one layer holds for a query: how many rows matched, the best ``limit`` of them."""

    matched: int
    rows: np.ndarray
    tiers: np.ndarray
    priorities: np.ndarray


#: A row's score when nothing of it matched.
_MISS = np.iinfo(np.int16).max


@dataclass
class LayerIndex:
    """The searchable texts of one layer and, per row, what a hit shows.

    Rows are features (streets: one row per street name, its longest edge standing for it);
    ``codes`` holds each row's key (a grid's code) where the layer has one. ``texts`` holds
    every normalised text, ``owners`` its row, ``priorities`` its field's priority;
    ``label_order`` ranks the rows by their label in each language (ties broken by length).
    """

    layer: str
    fids: np.ndarray
    labels: dict[str, list[str]]
    details: dict[str, list[str]]
    bboxes: np.ndarray
    points: np.ndarray
    keys: dict[str, np.ndarray]
    codes: list[str | None] = field(default_factory=list)
    texts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=str))
    lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    owners: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    priorities: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    label_order: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.fids)

    def rank(
        self, query: str, *, limit: int, lang: str, allowed: np.ndarray | None = None
    ) -> Ranked:
        """Return the rows whose texts hold ``query`` (normalised), best first.

        Each row counts with its best text: the lowest (tier, priority), tier :data:`EXACT`
        when the text is the query, :data:`PREFIX` when it starts with it, else
        :data:`SUBSTRING`. Rows are ranked by tier, priority, then the shorter and then the
        smaller label in ``lang``. ``allowed`` (a boolean mask of rows) leaves the others out.
        One vectorised ``find`` over every text (numpy's string functions), whatever the
        number of matches.
        """
        empty = np.zeros(0, dtype=np.int64)
        if not query or not len(self.texts):
            return Ranked(0, empty, empty, empty)
        at = np.strings.find(self.texts, query)
        hit = np.flatnonzero(at >= 0)
        if not len(hit):
            return Ranked(0, empty, empty, empty)
        tier = np.where(
            at[hit] > 0, SUBSTRING, np.where(self.lengths[hit] == len(query), EXACT, PREFIX)
        )
        score = (tier * 8 + self.priorities[hit]).astype(np.int16)
        # texts are stored row after row, so the owners of the hits come sorted: the best
        # score of each row is a minimum over one run of hits
        owners = self.owners[hit]
        first = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        best = np.full(len(self), _MISS, dtype=np.int16)
        best[owners[first]] = np.minimum.reduceat(score, first)
        if allowed is not None:
            best[~allowed] = _MISS
        rows = np.flatnonzero(best != _MISS)
        if not len(rows):
            return Ranked(0, empty, empty, empty)
        key = best[rows].astype(np.int64) * len(self) + self.label_order[lang][rows]
        if len(rows) > limit:
            top = np.argpartition(key, limit - 1)[:limit]
            rows, key = rows[top], key[top]
        order = np.argsort(key, kind="stable")
        rows = rows[order]
        return Ranked(len(np.flatnonzero(best != _MISS)), rows, best[rows] // 8, best[rows] % 8)


def _places(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return (n, 4) bounding boxes and (n, 2) points of the frame's geometries (degrees)."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    n = len(geoms)
    boxes = np.full((n, 4), np.nan)
    points = np.full((n, 2), np.nan)
    have = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms) if n else np.zeros(0, bool)
    if have.any():
        g = geoms[have]
        boxes[have] = shapely.bounds(g)
        kind = shapely.get_type_id(g)
        lines = np.isin(kind, (1, 5))
        pts = np.empty(len(g), dtype=object)
        pts[lines] = shapely.line_interpolate_point(g[lines], 0.5, normalized=True)
        pts[~lines] = shapely.point_on_surface(g[~lines])
        points[have] = shapely.get_coordinates(pts)
    return boxes, points


def _grouped(spec: Spec, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return one row per value of ``spec.group_by``: its longest feature, the group's box."""
    key = spec.group_by
    assert key is not None
    named = unique_edges(frame[frame[key].map(_present)])  # a two-way street's length once
    if named.empty:
        return named
    length = named["length_m"] if "length_m" in named.columns else named.geometry.length
    order = named.assign(_len=pd.to_numeric(length, errors="coerce").fillna(0))
    first = order.sort_values("_len", ascending=False, kind="stable").groupby(key, sort=False)
    rows = named.loc[first.head(1).index].copy()
    if "length_m" in named.columns:
        rows["length_m"] = named.groupby(key)["length_m"].sum().reindex(rows[key]).to_numpy()
    rows = rows.sort_index()
    b = named.geometry.bounds.groupby(named[key])
    box = pd.concat([b["minx"].min(), b["miny"].min(), b["maxx"].max(), b["maxy"].max()], axis=1)
    rows.attrs["group_boxes"] = box.reindex(rows[key]).to_numpy()
    return rows


def build_index(spec: Spec, frame: gpd.GeoDataFrame) -> LayerIndex:
    """Return the index of ``frame`` (rows of ``spec.layer`` indexed by feature id)."""
    if spec.group_by:
        frame = _grouped(spec, frame)
    boxes, points = _places(frame) if len(frame) else (np.zeros((0, 4)), np.zeros((0, 2)))
    if "group_boxes" in frame.attrs:
        boxes = np.asarray(frame.attrs["group_boxes"], dtype=float)
    rows = frame.drop(columns=[frame.geometry.name]).to_dict("records") if len(frame) else []
    index = LayerIndex(
        layer=spec.layer,
        fids=np.asarray(frame.index, dtype=np.int64),
        labels={lang: [spec.label(r, lang) for r in rows] for lang in LANGS},
        details={lang: [spec.detail(r, lang) for r in rows] for lang in LANGS},
        bboxes=boxes,
        points=points,
        keys={k: frame[k].to_numpy(dtype=object) for k in spec.keys if k in frame.columns},
    )
    key = get_layer(spec.layer).key
    if key and key in frame.columns:
        index.codes = [_text(v) or None for v in frame[key].tolist()]
    texts: list[str] = []
    owners: list[int] = []
    priorities: list[int] = []
    for i, r in enumerate(rows):
        values = [(r.get(c), p) for c, p in spec.fields.items()]
        values += [(w, WORD) for w in (spec.words(r) if spec.words else ())]
        seen: set[str] = set()
        for value, prio in values:
            text = normalise(value)
            # a code's numbers without their leading zeros too: cam5 finds CAM0005
            for form in (text, _LEADING_ZEROS.sub("", text)):
                if not form or form in seen:
                    continue
                seen.add(form)
                texts.append(form)
                owners.append(i)
                priorities.append(prio)
    index.texts = np.array(texts, dtype=str) if texts else np.zeros(0, dtype=str)
    index.lengths = np.array([len(t) for t in texts], dtype=np.int32)
    index.owners = np.array(owners, dtype=np.int64)
    index.priorities = np.array(priorities, dtype=np.int16)
    for lang in LANGS:
        labels = index.labels[lang]
        order = sorted(range(len(labels)), key=lambda j: (len(labels[j]), labels[j], j))
        rank = np.empty(len(labels), dtype=np.int64)
        rank[order] = np.arange(len(labels))
        index.label_order[lang] = rank
    return index
