"""Checks of a plan of grids that a planner can act on: what is wrong, where, and a fix.

:func:`check_plan` looks at the grids as a whole — overlaps, gaps inside a community, parts
outside every community, grids in several pieces, buildings cut by a border, buildings in no
grid, grids outside the household range, grids not inside exactly one community — and returns
a :class:`Finding` for each, located (its geometry) and, for the common ones, with one-click
fixes in the shape of a planning operation (``{"op": "give", …}``). Findings warn; they never
block an edit (a half-drawn plan is normal).

Geometry in a metric CRS (the area's UTM zone); areas in m². Plain data only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

#: Overlaps, gaps and parts smaller than this are digitising noise, square metres.
MIN_AREA_M2 = 1.0
#: A building is cut when more than this share of it (and 0.5 m²) lies outside its main grid.
CUT_SHARE = 0.01
#: Pieces of one grid that touch at a point (or closer than this, m) count as one piece.
TOUCH_M = 0.01
#: The order of kinds in a report, most serious first.
KINDS = (
    "overlap",
    "outside",
    "community",
    "gap",
    "orphan_building",
    "cut_building",
    "off_street",
    "multipart",
    "households_range",
)
#: Each kind's title in a report, (English, Chinese) — the planning page's labels
#: (web/static/i18n/tools/plan.json ``plan.kind.*``) say the same in Chinese.
KIND_TITLES: dict[str, tuple[str, str]] = {
    "overlap": ("Overlap", "重叠"),
    "outside": ("Outside the community", "超出社区"),
    "community": ("Not in one community", "跨社区"),
    "gap": ("Gap", "空隙"),
    "orphan_building": ("Building in no grid", "楼栋无网格"),
    "cut_building": ("Cut building", "切分楼栋"),
    "off_street": ("Border off the street", "偏离街道"),
    "multipart": ("In pieces", "不连续"),
    "households_range": ("Households out of range", "户数超范围"),
}


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a plan (see the module)."""

    kind: str
    grids: tuple[str, ...]
    geometry: BaseGeometry
    value: float
    message_en: str
    message_zh: str
    detail: dict[str, Any] = field(default_factory=dict)
    fixes: tuple[dict[str, Any], ...] = ()


def _gives(codes: Iterable[str]) -> tuple[dict[str, Any], ...]:
    """Return the fixes that give a finding's ground to each of ``codes`` (the page sends the
    finding's geometry with the chosen one)."""
    return tuple({"op": "give", "to": c} for c in codes)


def _overlaps(codes: np.ndarray, geoms: np.ndarray) -> list[Finding]:
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    # neighbours in a coverage share only their border: no interior in common, no overlap
    inner = shapely.relate_pattern(geoms[left], geoms[right], "T********")
    left, right = left[inner], right[inner]
    out = []
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        both = shapely.intersection(geoms[i], geoms[j])
        area = float(shapely.area(both))
        if area >= MIN_AREA_M2:
            a, b = str(codes[i]), str(codes[j])
            out.append(
                Finding(
                    "overlap",
                    (a, b),
                    both,
                    area,
                    f"Grids {a} and {b} overlap by {area:.0f} m².",
                    f"网格 {a} 与 {b} 重叠 {area:.0f} 平方米。",
                    fixes=_gives((a, b)),
                )
            )
    return out


#: A finding without grids (a building in no grid) belongs to an edit's re-check when it lies
#: this close to an edited grid, metres; grids this close border a piece (:func:`_around`).
NEAR_M = TOUCH_M * 10


def _around(
    piece: BaseGeometry, codes: np.ndarray, geoms: np.ndarray, tree: shapely.STRtree | None = None
) -> list[str]:
    """Return the grids that border ``piece``, longest shared border first (``tree``: of
    ``geoms``, to find them without testing every grid)."""
    if tree is None:
        near = np.flatnonzero(shapely.dwithin(geoms, piece, NEAR_M))
    else:
        near = tree.query(piece, predicate="dwithin", distance=NEAR_M)
    shared = [
        (
            float(shapely.length(shapely.intersection(piece.boundary, geoms[i].boundary))),
            str(codes[i]),
        )
        for i in near.tolist()
    ]
    return [c for length, c in sorted(shared, reverse=True) if length > 0]


#: A gap closer than this to the edge of a re-check's window (m) may go on beyond it.
EDGE_M = 0.5


def gap_findings(
    grids: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    window: BaseGeometry | None = None,
    near: BaseGeometry | None = None,
) -> tuple[list[Finding], list[str]]:
    """Return the gaps inside each community (kind ``gap``), and the communities to check whole.

    Parameters
    ----------
    grids
        ``code``, ``community_code`` and geometry, metric CRS: every grid that reaches into
        ``window`` (all of them without one).
    communities
        ``code`` and geometry, same CRS.
    window
        Only the gaps inside this polygon (an edit's re-check): a gap within :data:`EDGE_M`
        of its edge may go on beyond it, where its area and its neighbours are unknown; it is
        left out and its community listed, to be checked whole, when it lies within
        :data:`NEAR_M` of ``near`` (the edited grids) or ``near`` is None.

    Returns
    -------
    findings, communities
        The gaps, and the codes of the communities whose gaps ``window`` cut (none without
        one).
    """
    codes = grids["code"].astype(str).to_numpy()
    geoms = np.asarray(grids.geometry.values, dtype=object)
    community_of = grids["community_code"].to_numpy(dtype=object)
    return _gaps(codes, geoms, community_of, communities, window, near)


def _gaps(
    codes: np.ndarray,
    geoms: np.ndarray,
    community_of: np.ndarray,
    communities: gpd.GeoDataFrame,
    window: BaseGeometry | None = None,
    near: BaseGeometry | None = None,
) -> tuple[list[Finding], list[str]]:
    out = []
    unsure: list[str] = []
    tree = shapely.STRtree(geoms)
    edge = None if window is None else shapely.boundary(window)
    for row in communities.itertuples():
        region = row.geometry
        if window is not None:
            if not shapely.intersects(region, window):
                continue
            region = shapely.intersection(region, window)
        mine = geoms[community_of == row.code]
        if window is not None:
            mine = mine[shapely.intersects(mine, window)]
        covered = shapely.union_all(mine) if len(mine) else shapely.Polygon()
        left = shapely.difference(region, covered)
        for piece in shapely.get_parts(left):
            if edge is not None and shapely.dwithin(piece, edge, EDGE_M):
                cut_off = near is None or shapely.dwithin(piece, near, NEAR_M)
                if cut_off and str(row.code) not in unsure:
                    unsure.append(str(row.code))
                continue
            area = float(piece.area)
            if area < MIN_AREA_M2 or piece.geom_type != "Polygon":
                continue
            around = _around(piece, codes, geoms, tree)
            out.append(
                Finding(
                    "gap",
                    tuple(around),
                    piece,
                    area,
                    f"{area:.0f} m² of community {row.code} belong to no grid.",
                    f"社区 {row.code} 有 {area:.0f} 平方米不属于任何网格。",
                    {"community": str(row.code)},
                    _gives(around),
                )
            )
    return out, unsure


def _outside(codes: np.ndarray, geoms: np.ndarray, area: BaseGeometry) -> list[Finding]:
    out = []
    shapely.prepare(area)
    covered = shapely.covers(area, geoms)  # nothing outside: skip the difference
    for code, geom in zip(codes[~covered], geoms[~covered], strict=True):
        spill = shapely.difference(geom, area)
        value = float(spill.area)
        if value >= MIN_AREA_M2:
            out.append(
                Finding(
                    "outside",
                    (str(code),),
                    spill,
                    value,
                    f"Grid {code} reaches {value:.0f} m² outside every community.",
                    f"网格 {code} 有 {value:.0f} 平方米超出社区范围。",
                )
            )
    return out


def _communities(
    codes: np.ndarray, geoms: np.ndarray, community_of: np.ndarray, communities: gpd.GeoDataFrame
) -> list[Finding]:
    out: list[Finding] = []
    cgeoms = np.asarray(communities.geometry.values, dtype=object)
    ccodes = communities["code"].astype(str).to_numpy()
    if not len(geoms):
        return out
    # only communities whose interior meets a grid's hold a share of it (the others around it
    # touch it at most); one that covers it holds all of it
    gi, ci = shapely.STRtree(cgeoms).query(geoms, predicate="intersects")
    shapely.prepare(cgeoms)
    inner = shapely.relate_pattern(cgeoms[ci], geoms[gi], "T********")
    gi, ci = gi[inner], ci[inner]
    shares = shapely.area(geoms[gi])
    partly = ~shapely.covers(cgeoms[ci], geoms[gi])
    shares[partly] = shapely.area(shapely.intersection(cgeoms[ci[partly]], geoms[gi[partly]]))
    held = shares >= MIN_AREA_M2
    gi, ci = gi[held], ci[held]
    first = {c: k for k, c in reversed(list(enumerate(ccodes.tolist())))}
    holding_of: dict[int, list[str]] = {}
    for g, k in zip(gi.tolist(), ci.tolist(), strict=True):
        holding_of.setdefault(g, []).append(str(ccodes[k]))
    for g, (code, geom, named) in enumerate(zip(codes, geoms, community_of, strict=True)):
        holding = sorted(holding_of.get(g, []), key=lambda c: first[c])
        if len(holding) == 1 and (named is None or str(named) == holding[0]):
            continue
        if not holding:
            en, zh = f"Grid {code} lies in no community.", f"网格 {code} 不在任何社区内。"
        elif len(holding) > 1:
            en = f"Grid {code} spans {len(holding)} communities ({', '.join(holding)})."
            zh = f"网格 {code} 跨越 {len(holding)} 个社区（{'、'.join(holding)}）。"
        else:
            en = f"Grid {code} lies in community {holding[0]}, not in {named} as it says."
            zh = f"网格 {code} 位于社区 {holding[0]}，而非其所属的 {named}。"
        out.append(
            Finding(
                "community",
                (str(code),),
                geom,
                float(len(holding)),
                en,
                zh,
                {"communities": holding},
            )
        )
    return out


def pieces_of(geom: BaseGeometry) -> list[BaseGeometry]:
    """Return the pieces of a grid (metric CRS) as ``validate`` counts them: parts apart by
    more than :data:`TOUCH_M` metres, each over :data:`MIN_AREA_M2` square metres (buffered)."""
    if shapely.get_num_geometries(geom) <= 1:  # one polygon is one piece
        return [geom]
    return [p for p in shapely.get_parts(shapely.buffer(geom, TOUCH_M)) if p.area > MIN_AREA_M2]


def _multipart(codes: np.ndarray, geoms: np.ndarray) -> list[Finding]:
    out = []
    several = shapely.get_num_geometries(geoms) > 1  # one polygon is one piece
    for code, geom in zip(codes[several], geoms[several], strict=True):
        pieces = pieces_of(geom)
        if len(pieces) <= 1:
            continue
        pieces.sort(key=lambda p: p.area, reverse=True)
        extra = shapely.intersection(shapely.union_all(pieces[1:]), geom)
        out.append(
            Finding(
                "multipart",
                (str(code),),
                extra,
                float(extra.area),
                f"Grid {code} is in {len(pieces)} pieces; the smaller ones cover "
                f"{extra.area:.0f} m².",
                f"网格 {code} 分为 {len(pieces)} 块，较小部分共 {extra.area:.0f} 平方米。",
                {"pieces": len(pieces)},
            )
        )
    return out


def _buildings(
    codes: np.ndarray, geoms: np.ndarray, buildings: gpd.GeoDataFrame
) -> tuple[list[Finding], np.ndarray]:
    """Return findings for cut and orphan buildings, and each building's grid (or None)."""
    out: list[Finding] = []
    foot = np.asarray(buildings.geometry.values, dtype=object)
    owner = np.full(len(foot), None, dtype=object)
    if not len(foot):
        return out, owner
    tree = shapely.STRtree(geoms)
    bi, gi = tree.query(foot, predicate="intersects")
    pairs = np.lexsort((gi, bi))  # in frame order: shares that tie keep it
    bi, gi = bi[pairs], gi[pairs]
    # a footprint inside a grid has all its area there: intersect only those on a border
    shapely.prepare(geoms)
    inside = shapely.contains_properly(geoms[gi], foot[bi])
    area = shapely.area(foot[bi])
    area[~inside] = shapely.area(shapely.intersection(foot[bi[~inside]], geoms[gi[~inside]]))
    positive = area > 0
    # a building's grid: the first (in frame order) that holds its inner point; a footprint
    # that meets one grid only and lies inside it is that grid's without looking
    meets = np.bincount(bi, minlength=len(foot))
    alone = inside & (meets[bi] == 1)
    owner[bi[alone]] = codes[gi[alone]]
    rest = np.flatnonzero(pd.isna(owner))
    pi, pg = tree.query(shapely.point_on_surface(foot[rest]), predicate="intersects")
    first = np.lexsort((pg, pi))
    first = first[np.r_[True, pi[first][1:] != pi[first][:-1]]] if len(first) else first
    owner[rest[pi[first]]] = codes[pg[first]]
    # only a building in no grid, or sharing its area with two grids or more, can be a finding
    grids_of = np.bincount(bi[positive], minlength=len(foot))
    todo = np.flatnonzero((grids_of != 1) | pd.isna(owner))
    shares: dict[int, dict[str, float]] = {int(b): {} for b in todo}
    for b, g, a in zip(
        bi[positive].tolist(), gi[positive].tolist(), area[positive].tolist(), strict=True
    ):
        if b in shares:
            shares[b][str(codes[g])] = a
    ids = buildings.index.to_numpy()
    for b in todo.tolist():
        total = float(foot[b].area)
        got = shares.get(b, {})
        if not got or owner[b] is None:
            out.append(
                Finding(
                    "orphan_building",
                    (),
                    foot[b],
                    total,
                    f"Building {ids[b]} lies in no grid.",
                    f"楼栋 {ids[b]} 不在任何网格内。",
                    {"building": int(ids[b])},
                    tuple(
                        {"op": "paint", "buildings": [int(ids[b])], "to": c}
                        for c in _around(foot[b], codes, geoms)[:3]
                    ),
                )
            )
            continue
        main = max(got, key=lambda c: got[c])
        outside = total - got[main]
        if len(got) > 1 and outside > max(CUT_SHARE * total, 0.5):
            part = {c: round(a / total, 3) for c, a in sorted(got.items(), key=lambda kv: -kv[1])}
            text = ", ".join(f"{c} {s:.0%}" for c, s in part.items())
            out.append(
                Finding(
                    "cut_building",
                    tuple(part),
                    foot[b],
                    round(outside / total, 3),
                    f"Building {ids[b]} is cut by a grid border: {text}.",
                    f"楼栋 {ids[b]} 被网格边界切开：{text}。",
                    {"building": int(ids[b]), "shares": part},
                    ({"op": "paint", "buildings": [int(ids[b])], "to": main},),
                )
            )
    return out, owner


def check_plan(
    grids: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    bounds: tuple[float, float] = (300, 500),
    only: Iterable[str] | None = None,
    gaps: bool = True,
    within: BaseGeometry | None = None,
) -> list[Finding]:
    """Return every finding of the plan, most serious first (see the module).

    Parameters
    ----------
    grids
        ``code``, ``community_code`` and geometry, metric CRS.
    communities
        ``code`` and geometry, same CRS.
    buildings
        Footprints with ``households``, indexed by building id, same CRS.
    bounds
        The household range a grid should hold.
    only
        Codes of the grids to report on (an edit's re-check): only the findings about them
        (:func:`about`).
    gaps
        False: leave the gaps to :func:`gap_findings` (a re-check looks for them in a window).
    within
        With ``only``: keep the findings naming no grid whose inner point lies in this area.
    """
    codes = grids["code"].astype(str).to_numpy()
    geoms = np.asarray(grids.geometry.values, dtype=object)
    community_of = grids["community_code"].to_numpy(dtype=object)
    area = shapely.union_all(np.asarray(communities.geometry.values, dtype=object))
    found = _overlaps(codes, geoms)
    if gaps:
        found += _gaps(codes, geoms, community_of, communities)[0]
    found += _outside(codes, geoms, area)
    found += _communities(codes, geoms, community_of, communities)
    found += _multipart(codes, geoms)
    cut, owner = _buildings(codes, geoms, buildings)
    found += cut
    households = buildings["households"].fillna(0).astype(float).to_numpy()
    lo, hi = bounds
    held = pd.Series(households).groupby(pd.Series(owner, dtype=object)).sum()
    for code, geom in zip(codes, geoms, strict=True):
        n = float(held.get(code, 0.0))
        if not lo <= n <= hi:
            word, zh = ("fewer", "少于") if n < lo else ("more", "多于")
            limit = lo if n < lo else hi
            found.append(
                Finding(
                    "households_range",
                    (str(code),),
                    geom,
                    n,
                    f"Grid {code} holds {n:.0f} households, {word} than {limit:g}.",
                    f"网格 {code} 有 {n:.0f} 户，{zh} {limit:g} 户。",
                    {"min": lo, "max": hi},
                )
            )
    if only is not None:
        found = about(found, only, codes, geoms, within=within)
    return sorted(found, key=order)


def about(
    found: Iterable[Finding],
    only: Iterable[str],
    codes: np.ndarray,
    geoms: np.ndarray,
    *,
    within: BaseGeometry | None = None,
) -> list[Finding]:
    """Return the findings an edit's re-check of the grids ``only`` reports: those naming one
    of them, and those naming no grid (a building in no grid) within :data:`NEAR_M` of one —
    or, given ``within`` (an area), whose inner point lies in it. ``codes`` and ``geoms``: the
    grids (metric CRS), ``only`` among them."""
    found, wanted = list(found), set(only)
    if within is not None:
        inner = [
            None if f.geometry.is_empty else shapely.point_on_surface(f.geometry) for f in found
        ]
        keep = [bool(p is not None and within.covers(p)) for p in inner]
        return [
            f
            for f, k in zip(found, keep, strict=True)
            if wanted & set(f.grids) or (k and not f.grids)
        ]
    mine = geoms[np.isin(codes.astype(str), list(wanted))] if len(codes) else geoms
    area = shapely.union_all(mine) if len(mine) else shapely.Polygon()
    return [
        f
        for f in found
        if wanted & set(f.grids) or (not f.grids and shapely.dwithin(f.geometry, area, NEAR_M))
    ]


def order(finding: Finding) -> tuple[int, float, tuple[str, ...], str]:
    """The sort key of a report: most serious kind first, then the largest (then by grids and
    building or community, so that equal findings keep one order)."""
    which = str(finding.detail.get("building", finding.detail.get("community", "")))
    return (KINDS.index(finding.kind), -finding.value, finding.grids, which)
