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

import bisect
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

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

_SEP = "\x00"
#: The languages of labels and details.
LANGS = ("zh-CN", "en")


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
            extra=("length_m",),
            keys=(),
            group_by="name",
        ),
    )
}


@dataclass(frozen=True)
class Match:
    """How well one row matched: its tier (:data:`EXACT` …) and the field's priority."""

    row: int
    tier: int
    priority: int


@dataclass
class LayerIndex:
    """The searchable texts of one layer and, per row, what a hit shows.

    Rows are features (streets: one row per street name, its longest edge standing for it);
    ``codes`` holds each row's key (a grid's code) where the layer has one.
    ``blob`` holds every normalised text, ``starts`` where each begins, ``owners`` its row and
    ``priorities`` its field's priority.
    """

    layer: str
    fids: np.ndarray
    labels: dict[str, list[str]]
    details: dict[str, list[str]]
    bboxes: np.ndarray
    points: np.ndarray
    keys: dict[str, np.ndarray]
    codes: list[str | None] = field(default_factory=list)
    blob: str = ""
    starts: list[int] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)
    priorities: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.fids)

    def match(self, query: str) -> dict[int, Match]:
        """Return the best match of each row whose texts hold ``query`` (normalised).

        One pass of ``str.find`` over the blob: after a hit the search goes on at the next
        text, so each text costs one comparison at most.
        """
        best: dict[int, Match] = {}
        if not query:
            return best
        blob, starts, n = self.blob, self.starts, len(self.starts)
        pos = blob.find(query)
        while pos != -1:
            j = bisect.bisect_right(starts, pos) - 1
            if pos == starts[j]:
                tier = EXACT if self.lengths[j] == len(query) else PREFIX
            else:
                tier = SUBSTRING
            row, prio = self.owners[j], self.priorities[j]
            found = best.get(row)
            if found is None or (tier, prio) < (found.tier, found.priority):
                best[row] = Match(row, tier, prio)
            if j + 1 >= n:
                break
            pos = blob.find(query, starts[j + 1])
        return best


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
    named = frame[frame[key].map(_present)]
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
    pos = 0
    for i, r in enumerate(rows):
        values = [(r.get(c), p) for c, p in spec.fields.items()]
        values += [(w, WORD) for w in (spec.words(r) if spec.words else ())]
        seen: set[str] = set()
        for value, prio in values:
            text = normalise(value)
            if not text or text in seen:
                continue
            seen.add(text)
            texts.append(text)
            index.starts.append(pos)
            index.lengths.append(len(text))
            index.owners.append(i)
            index.priorities.append(prio)
            pos += len(text) + 1
    index.blob = _SEP.join(texts)
    return index
