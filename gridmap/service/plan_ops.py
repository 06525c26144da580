"""The operations of ``POST /api/grids/edit``, parsed and checked before anything is read.

:func:`parse_operation` turns a request body into an :class:`Operation` or raises
:class:`gridmap.errors.InputError` (400) saying, in English and Chinese, what is wrong: an
unknown operation or member, versions that are not ``{code: version}``, a geometry that is no
polygon (or line, for a split), too many vertices, ids that are not ids. Geometry as GeoJSON,
EPSG:4326 degrees. :mod:`gridmap.service.planning` runs what it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import GeometryError, InputError
from gridmap.grids import topology
from gridmap.schema import get_layer
from gridmap.service.feature_body import parse_geometry, show

#: The operations of ``POST /api/grids/edit`` and the members each takes besides ``op``.
OPERATIONS: dict[str, tuple[str, ...]] = {
    "draw": ("geometry", "name", "worker", "worker_phone", "community_code"),
    "reshape": ("code", "geometry"),
    "split": ("code", "line", "name"),
    "merge": ("codes",),
    "delete": ("code", "to"),
    "give": ("geometry", "to"),
    "paint": ("to", "buildings", "blocks", "stamp"),
}
#: Members every operation may carry.
COMMON = ("op", "versions")
#: The most vertices a drawn outline, a split line or given ground may have: a grid's outline
#: has hundreds; more is a mistake (or an attack) and would slow every later check.
MAX_VERTICES = 50_000
#: The longest ``stamp`` of a paint taken (the blocks' stamps are 16 characters).
MAX_STAMP = 64


@dataclass(frozen=True)
class Operation:
    """A parsed planning operation (geometry in EPSG:4326 degrees)."""

    op: str
    code: str | None = None
    codes: tuple[str, ...] = ()
    geometry: BaseGeometry | None = None
    line: BaseGeometry | None = None
    to: str | None = None
    buildings: tuple[int, ...] = ()
    blocks: tuple[int, ...] = ()
    stamp: str | None = None
    props: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)

    @property
    def named(self) -> list[str]:
        """The grids the operation names (whose versions a client should send)."""
        out = [c for c in (self.code, self.to, *self.codes) if c and c != "neighbours"]
        return list(dict.fromkeys(out))


def _text(doc: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = doc.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(
            f"'{name}' must be a grid code as text, not {show(value)}. (“{name}”应为网格编码。)"
        )
    return value.strip()


def parse_versions(versions: Any) -> dict[str, int]:
    """Return ``{grid code: version}`` as sent, or raise InputError saying what it should be."""
    if not isinstance(versions, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**62
        for k, v in versions.items()
    ):
        raise InputError(
            "'versions' must map grid codes to the versions you edited, such as "
            '{"320102001001001": 3}. (versions 应为“网格编码: 版本号”。)'
        )
    return dict(versions)


def _geometry(doc: Mapping[str, Any], name: str, layer: Any, what: str, zh: str) -> BaseGeometry:
    """Return member ``name`` as a geometry, or an InputError a planner reads in both languages
    (the parser's own message, about the layer, follows it)."""
    given = doc.get(name)
    try:
        geom = parse_geometry(given, layer)
    except InputError as exc:
        raise GeometryError(
            f"'{name}' must be {what} as GeoJSON in longitude/latitude degrees: {exc} "
            f"({name} 应为 GeoJSON 格式的{zh}，经纬度坐标。)"
        ) from None
    n = int(shapely.get_num_coordinates(geom)) if geom is not None else 0
    if n > MAX_VERTICES:
        raise GeometryError(
            f"'{name}' has {n:,} vertices; at most {MAX_VERTICES:,} are taken (simplify it). "
            f"({name} 有 {n} 个顶点，最多 {MAX_VERTICES} 个，请先简化。)"
        )
    return geom


def _stamp(stamp: Any, painting_blocks: bool) -> str | None:
    """Return a paint's ``stamp`` (the street blocks' stamp it was made from), required when
    it paints blocks: their ids are places in a list that changes with the streets."""
    if stamp is None and painting_blocks:
        raise InputError(
            "Send the street blocks' 'stamp' with the blocks you paint (GET /api/grids/blocks "
            "gives it with the blocks): a block's id is its place in a list that changes when "
            "the streets or a community boundary change. "
            "(划入街区时请一并发送街区的 stamp（随 GET /api/grids/blocks 返回）：街区编号会随街道"
            "或社区边界的修改而变化。)"
        )
    if stamp is not None and (not isinstance(stamp, str) or not 0 < len(stamp) <= MAX_STAMP):
        raise InputError(
            f"'stamp' must be the text GET /api/grids/blocks gave with the blocks, not "
            f"{show(stamp)}. (stamp 应为加载街区时返回的文本。)"
        )
    return stamp


def parse_operation(doc: Any) -> Operation:
    """Return the operation a request body asks for, or raise InputError saying what is wrong."""
    if not isinstance(doc, dict):
        raise InputError(
            'The body must be a JSON object such as {"op": "merge", "codes": [...]}. '
            "(请求体应为 JSON 对象。)"
        )
    op = doc.get("op")
    if not isinstance(op, str) or op not in OPERATIONS:
        raise InputError(
            f"'op' must be one of {', '.join(OPERATIONS)}, not {show(op)}. "
            f"(操作类型 op 应为 {'、'.join(OPERATIONS)} 之一。)"
        )
    unknown = sorted(set(doc) - set(OPERATIONS[op]) - set(COMMON))
    if unknown:
        raise InputError(
            f"A {op} takes {', '.join(OPERATIONS[op])}, not {', '.join(unknown)}. "
            f"(操作 {op} 不接受 {'、'.join(unknown)}。)"
        )
    versions = parse_versions(doc.get("versions") or {})
    grids, streets = get_layer("grids"), get_layer("streets")
    kw: dict[str, Any] = {"op": op, "versions": dict(versions)}
    if "code" in OPERATIONS[op]:
        kw["code"] = _text(doc, "code")
    if op in ("draw", "reshape", "give"):
        kw["geometry"] = topology.ensure_polygon(
            _geometry(doc, "geometry", grids, "an outline (Polygon)", "边界（多边形）"), "outline"
        )
    if op == "split":
        kw["line"] = _geometry(doc, "line", streets, "a line (LineString)", "一条线（LineString）")
    if op == "merge":
        codes = doc.get("codes")
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise InputError(
                "'codes' must be a list of grid codes to merge. (codes 应为要合并的网格编码列表。)"
            )
        kw["codes"] = tuple(c.strip() for c in codes)
    if op in ("give", "paint"):
        kw["to"] = _text(doc, "to")
    if op == "delete":
        to = doc.get("to")
        if to not in (None, "neighbours"):
            raise InputError(
                f"'to' of a delete is \"neighbours\" (give its ground to them) or absent (leave "
                f"a gap), not {show(to)}. (删除网格时 to 应为 neighbours（把其范围分给相邻网格）"
                "或省略（留作空隙）。)"
            )
        kw["to"] = to
    if op == "paint":
        for name, what, zh in (
            ("buildings", "building", "楼栋"),
            ("blocks", "street block", "街区"),
        ):
            ids = doc.get(name, [])
            if not isinstance(ids, list) or not all(
                isinstance(f, int) and not isinstance(f, bool) and 0 < f < 2**62 for f in ids
            ):
                raise InputError(
                    f"'{name}' must be a list of {what} ids to move. ({name} 应为{zh}编号列表。)"
                )
            kw[name] = tuple(ids)
        if not kw["buildings"] and not kw["blocks"]:
            raise InputError(
                "Paint at least one building or street block: 'buildings' or 'blocks'. "
                "(请至少选择一个楼栋或街区。)"
            )
        kw["stamp"] = _stamp(doc.get("stamp"), bool(kw["blocks"]))
    props = {k: doc[k] for k in ("name", "worker", "worker_phone", "community_code") if k in doc}
    for k, v in props.items():
        if v is not None and not isinstance(v, str):
            raise InputError(f"'{k}' must be text, not {show(v)}. (“{k}”应为文本。)")
    kw["props"] = props
    return Operation(**kw)


#: The most moves one rebalance applies (a district's proposal has tens).
MAX_MOVES = 5000


def _move(m: Any) -> dict[str, Any]:
    """One move of a rebalance proposal, checked: ``block``, ``from``, ``to``, ``buildings``."""
    ok = isinstance(m, dict) and isinstance(m.get("to"), str) and m["to"].strip()
    block = m.get("block") if isinstance(m, dict) else None
    ok = ok and isinstance(block, int) and not isinstance(block, bool) and 0 < block < 2**62
    frm = m.get("from") if isinstance(m, dict) else None
    buildings = (m.get("buildings") or []) if isinstance(m, dict) else None
    ok = ok and (frm is None or isinstance(frm, str)) and isinstance(buildings, list)
    ok = ok and all(
        isinstance(b, str) or (isinstance(b, int) and not isinstance(b, bool) and 0 < b < 2**62)
        for b in buildings or []
    )
    if not ok:
        raise InputError(
            "Each move must be as the proposal gave it: "
            '{"block": 12, "from": "…", "to": "…", "buildings": [...]}, not '
            f"{show(m)}. (每项调整应与方案所给一致：block、from、to、buildings。)"
        )
    return {"block": block, "from": frm, "to": m["to"].strip(), "buildings": list(buildings or [])}


def parse_rebalance(doc: Any) -> tuple[list[dict[str, Any]], dict[str, int], str | None]:
    """Return the moves, versions and blocks' stamp of a rebalance to apply
    (``{"moves", "versions", "stamp"}`` as ``GET /api/grids/rebalance`` gave them), or raise
    InputError (400) saying what is wrong, in English and Chinese."""
    if not isinstance(doc, dict):
        raise InputError(
            'Send the proposal as JSON: {"moves": [...], "versions": {...}, "stamp": "…"}. '
            "(请以 JSON 发送方案：moves、versions、stamp。)"
        )
    unknown = sorted(set(doc) - {"moves", "versions", "stamp"})
    if unknown:
        raise InputError(
            f"A rebalance takes moves, versions and stamp, not {', '.join(unknown)}. "
            f"(应用方案不接受 {'、'.join(unknown)}。)"
        )
    moves = doc.get("moves")
    if not isinstance(moves, list) or not moves or len(moves) > MAX_MOVES:
        raise InputError(
            f"'moves' must list the proposal's moves (1 to {MAX_MOVES}). "
            f"(moves 应列出方案的调整，1 到 {MAX_MOVES} 项。)"
        )
    if "versions" not in doc:
        raise InputError(
            "Send the proposal's 'versions' (each grid's version when it was made), so that "
            "applying it cannot overwrite a change made since. (请一并发送方案的 versions。)"
        )
    versions = parse_versions(doc["versions"])
    checked = [_move(m) for m in moves]
    stamp = _stamp(doc.get("stamp"), any(not m["buildings"] for m in checked))
    return checked, dict(versions), stamp


__all__ = [
    "COMMON",
    "MAX_MOVES",
    "MAX_STAMP",
    "MAX_VERTICES",
    "OPERATIONS",
    "Operation",
    "parse_operation",
    "parse_rebalance",
    "parse_versions",
]
