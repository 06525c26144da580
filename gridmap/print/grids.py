"""Grid sheets (网格图): the chosen grids' map with their table, as a reader may see them.

The first sheet built on the print engine. Its shape:

- with two grids or more, an **overview page**: the chosen grids on one map (each in its web
  map colour, the others lighter) and a table of them — code, name, community, worker,
  households, residents, buildings, area — with totals; a long table (all 52 grids of the
  demo) continues on pages of its own;
- then **one page per grid**: the grid's map (outlined in the accent colour, its buildings
  numbered) with its details — code, community, worker and phone, households, residents,
  buildings, area, facilities and cameras — and the list of its buildings, numbered as on
  the map.

What a reader sees follows their :class:`~gridmap.access.roles.Access`: every layer is read
through :func:`gridmap.service.scope.require` and shown through
:func:`gridmap.access.privacy.present` (columns the reader is not served are not printed —
the grids' ``worker_phone`` for a role whose view leaves it out); a grid worker prints only
their own grids (another's code is not found, as in the rest of the API). The sheet shows no
register data: no household, person, visit or incident.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
import pyproj

from gridmap.access import privacy
from gridmap.access.roles import Access, Level, read_level
from gridmap.errors import FeatureNotFoundError, InputError
from gridmap.geo.crs import utm_crs
from gridmap.print import symbols
from gridmap.print.basemap import LAYERS as MAP_LAYERS
from gridmap.print.basemap import WorkspaceMap
from gridmap.print.mapfigure import MapFigure
from gridmap.print.render import Cancelled, Progress
from gridmap.print.sheet import Column, Page, Sheet, Table, number, words
from gridmap.service import scope
from gridmap.service.jobs.filenames import file_part
from gridmap.store import Workspace

#: Part of the chosen grids' extent read around it, so that the map's edges are not bare.
READ_MARGIN = 0.6
#: More grids than this are not listed in the overview page's column but after it.
OVERVIEW_BESIDE_MAX = 14


@dataclass(frozen=True)
class GridChoice:
    """The grids a print is of: their codes, in code order, and whether all were asked."""

    codes: tuple[str, ...]
    all: bool


def parse_grids(value: str | Sequence[str] | None) -> list[str] | None:
    """Return the grid codes of ``--grids`` / ``?grids=`` (commas between), or None for all.

    ``all`` (or ``*``) means every grid the reader may print. Nothing at all is refused: a
    print names its grids.
    """
    if value is None:
        raise InputError("Name the grids to print: grid codes with commas, or all. (请指定网格。)")
    items = [value] if isinstance(value, str) else list(value)
    codes: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InputError("Grid codes are text. (网格编码须为文本。)")
        codes.extend(c.strip() for c in item.split(",") if c.strip())
    if not codes:
        raise InputError("Name the grids to print: grid codes with commas, or all. (请指定网格。)")
    if any(c.lower() in ("all", "*") for c in codes):
        if len(codes) > 1:
            raise InputError("Give grid codes or all, not both. (请指定网格编码或 all。)")
        return None
    return list(dict.fromkeys(codes))


def choose_grids(ws: Workspace, access: Access, value: str | Sequence[str] | None) -> GridChoice:
    """Return the grids to print for ``access``: those named, or all it may print.

    A code that does not exist — or, for a grid worker, is not one of their grids — raises
    :class:`~gridmap.errors.FeatureNotFoundError` (404), as the rest of the API does.
    """
    scope.require(access, "grids")
    asked = parse_grids(value)
    known = set(ws.read("grids", columns=["code"], system=False)["code"].dropna().astype(str))
    own = access.role == "grid_worker"
    if own:
        known &= set(access.grids)
    if asked is None:
        if not known:
            where = "among your grids" if own else "in this workspace"
            raise FeatureNotFoundError(f"There are no grids {where} to print. (没有可打印的网格。)")
        return GridChoice(tuple(sorted(known)), True)
    for code in asked:
        if code not in known:
            where = "among your grids" if own else "in this workspace"
            raise FeatureNotFoundError(f"There is no grid '{code}' {where}. (没有此网格。)")
    return GridChoice(tuple(sorted(asked)), False)


def _read(
    ws: Workspace, access: Access, layer: str, bbox: tuple[float, float, float, float] | None
) -> gpd.GeoDataFrame | None:
    """Return ``layer`` (within ``bbox``) as ``access`` sees it, or None if it is not served."""
    if read_level(access, layer) is Level.NONE or not scope.serves(access, layer):
        return None
    scope.require(access, layer)
    frame = ws.read(layer, bbox=bbox, system=False)
    shown = privacy.present(frame, layer, access)
    return shown if isinstance(shown, gpd.GeoDataFrame) else None


def metric_crs(ws: Workspace) -> pyproj.CRS:
    """Return the workspace's metric CRS: its ``metric_crs`` setting, else its UTM zone."""
    text = ws.get_meta("metric_crs")
    if text:
        return pyproj.CRS.from_user_input(text)
    minx, miny, maxx, maxy = ws.bounds()
    return utm_crs((minx + maxx) / 2, (miny + maxy) / 2)


def workspace_today(ws: Workspace) -> date:
    """Return today's date in the workspace's time zone (default Asia/Shanghai)."""
    zone = ws.get_meta("timezone") or "Asia/Shanghai"
    try:
        return datetime.now(ZoneInfo(str(zone))).date()
    except (KeyError, ValueError):
        return date.today()


def _bbox(frame: gpd.GeoDataFrame, margin: float) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = (float(v) for v in frame.total_bounds)
    dx, dy = max(maxx - minx, 0.002) * margin, max(maxy - miny, 0.002) * margin
    return (minx - dx, miny - dy, maxx + dx, maxy + dy)


def _value(row: Mapping[str, Any], key: str) -> Any:
    v = row.get(key)
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else v


def _text(v: Any) -> str:
    return "—" if v is None or (not isinstance(v, str) and pd.isna(v)) or v == "" else str(v)


def grid_sheet(
    ws: Workspace,
    access: Access,
    grids: str | Sequence[str] | None,
    *,
    lang: str = "zh-CN",
    today: date | None = None,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> Sheet:
    """Return the grid sheet of ``grids`` for ``access`` (see the module for its pages).

    Parameters
    ----------
    ws
        The workspace.
    access
        Who prints: what they may read decides what the sheet shows.
    grids
        Grid codes (a list, or text with commas) or ``all``.
    lang
        ``zh-CN`` (the default) or ``en``: titles, tables, legend.
    today
        The date printed on the sheet (default: today in the workspace's time zone).
    progress, cancelled
        ``progress(fraction, en, zh)`` while reading; ``cancelled()`` asked between steps.
    """
    lang = "zh-CN" if lang == "zh-CN" else "en"
    choice = choose_grids(ws, access, grids)
    if progress is not None:
        progress(0.0, "Reading the layers", "正在读取图层")
    all_grids = _read(ws, access, "grids", None)
    assert all_grids is not None  # choose_grids required it
    chosen = all_grids[all_grids["code"].astype(str).isin(choice.codes)]
    bbox = _bbox(chosen, READ_MARGIN)
    crs = metric_crs(ws)
    frames: dict[str, gpd.GeoDataFrame] = {}
    for layer in MAP_LAYERS:
        if cancelled is not None and cancelled():
            from gridmap.print.render import PrintCancelled

            raise PrintCancelled("The print was cancelled. (打印已取消。)")
        frame = all_grids if layer == "grids" else _read(ws, access, layer, bbox)
        if frame is not None:
            frames[layer] = frame
    colours = symbols.grid_colours(all_grids)
    communities = frames.get("community")
    names = (
        dict(zip(communities["code"].astype(str), communities["name"].astype(str), strict=True))
        if communities is not None and len(communities)
        else {}
    )
    served = {c.name for c in privacy.served_layer("grids", access).columns}
    base = WorkspaceMap(frames, crs=crs, lang=lang, colours=colours, community_names=names)
    ctx = _Context(ws, lang, crs, frames, names, served, base)
    pages: list[Page] = []
    rows = chosen.sort_values("code")
    if len(rows) > 1:
        pages.append(ctx.overview(rows, choice))
    for idx in rows.index:
        pages.append(ctx.grid_page(rows.loc[[idx]]))
    title = words(lang, "Grid map", "网格图")
    ws_title = str(ws.get_meta("title") or ws.name)
    return Sheet(
        title=f"{title} · {ws_title}",
        pages=tuple(pages),
        lang=lang,
        printed=today or workspace_today(ws),
        notices=notices(ws, lang),
        subject=words(
            lang, f"{len(rows)} grid(s) of {ws_title}", f"{ws_title}：{len(rows)} 个网格"
        ),
        meta={"grids": list(choice.codes), "all": choice.all},
    )


def notices(ws: Workspace, lang: str) -> tuple[str, ...]:
    """Return what every page's footer says: the data's attribution and the synthetic note."""
    out = []
    attribution = ws.get_meta("attribution")
    if attribution:
        out.append(f"{attribution} (ODbL)")
    note = ws.get_meta("synthetic_note")
    if isinstance(note, dict) and note.get(lang):
        out.append(str(note[lang]))
    out.append(words(lang, "Printed by gridmap", "gridmap 打印"))
    return tuple(out)


@dataclass
class _Context:
    """What every page of one grid sheet shares: frames (metric), colours, names, words."""

    ws: Workspace
    lang: str
    crs: pyproj.CRS
    frames: dict[str, gpd.GeoDataFrame]
    community_names: dict[str, str]
    served: set[str]
    base: WorkspaceMap

    def w(self, en: str, zh: str) -> str:
        return words(self.lang, en, zh)

    def community(self, code: Any) -> str:
        return self.community_names.get(str(code), _text(code))

    def figure(
        self,
        extent_frame: gpd.GeoDataFrame,
        chosen: set[str] | None,
        numbered: Mapping[Any, int] | None,
    ) -> MapFigure:
        """Return the map of a page: ``extent_frame``'s bounds, ``chosen`` grids outlined."""
        b = extent_frame.to_crs(self.crs).total_bounds
        return MapFigure(
            self.base.layers(chosen=chosen, numbered=numbered),
            extent=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
            extent_crs=self.crs,
            crs=self.crs,
            pad=0.06,
            lang=self.lang,
            background=symbols.BACKGROUND,
        )

    def overview(self, rows: gpd.GeoDataFrame, choice: GridChoice) -> Page:
        columns = [
            Column("n", "#", "right"),
            Column("code", self.w("Code", "网格编码")),
            Column("name", self.w("Name", "网格名称")),
            Column("community", self.w("Community", "所属社区")),
            Column("worker", self.w("Grid worker", "网格员")),
            Column("households", self.w("Households", "户数"), "right"),
            Column("residents", self.w("Residents", "人口"), "right"),
            Column("buildings", self.w("Buildings", "楼栋"), "right"),
            Column("area", self.w("Area (m²)", "面积（m²）"), "right"),
        ]
        cols = [c for c in columns if c.key in ("n", "community", "area") or c.key in self.served]
        body = []
        for i, (_, r) in enumerate(rows.iterrows(), start=1):
            values = {
                "n": str(i),
                "code": _text(_value(r, "code")),
                "name": symbols.short_grid_name(
                    _text(_value(r, "name")), self.community_names.get(str(r.get("community_code")))
                ),
                "community": self.community(_value(r, "community_code")),
                "worker": _text(_value(r, "worker")),
                "households": number(_value(r, "households")),
                "residents": number(_value(r, "residents")),
                "buildings": number(_value(r, "buildings")),
                "area": number(_value(r, "area_m2")),
            }
            body.append(tuple(values[c.key] for c in cols))
        sums = {
            "n": "",
            "code": self.w("Total", "合计"),
            "name": self.w(f"{len(rows)} grids", f"{len(rows)} 个网格"),
            "community": "",
            "worker": "",
            **{
                k: number(pd.to_numeric(rows[col], errors="coerce").sum(min_count=1))
                if col in rows
                else "—"
                for k, col in (
                    ("households", "households"),
                    ("residents", "residents"),
                    ("buildings", "buildings"),
                    ("area", "area_m2"),
                )
            },
        }
        table = Table(
            tuple(cols),
            tuple(body),
            caption=self.w("Grids on this sheet", "本图网格一览"),
            total=tuple(sums[c.key] for c in cols),
        )
        communities = sorted({self.community(c) for c in rows.get("community_code", [])})
        scope_text = (
            self.w("all grids", "全部网格")
            if choice.all
            else self.w(f"{len(rows)} grids", f"{len(rows)} 个网格")
        )
        return Page(
            title=self.w("Grid overview", "网格总览")
            + " · "
            + str(self.ws.get_meta("title") or self.ws.name),
            subtitle=f"{scope_text} · " + self.w(", ", "、").join(communities),
            figure=self.figure(rows, self._chosen(rows), None),
            tables=(table,),
            column_share=0.42,
            tables_after=len(rows) > OVERVIEW_BESIDE_MAX,
        )

    def _chosen(self, rows: gpd.GeoDataFrame) -> set[str] | None:
        """Return the codes to set apart on the overview (None: every grid of the map is)."""
        codes = set(rows["code"].astype(str))
        every = set(self.frames["grids"]["code"].astype(str))
        return None if codes >= every else codes

    def grid_page(self, one: gpd.GeoDataFrame) -> Page:
        """Return the page of one grid (``one``: its row, as a one-row frame)."""
        row = one.iloc[0]
        code = str(row["code"])
        buildings = self.frames.get("buildings")
        mine = (
            buildings[buildings["grid_code"].astype(str) == code]
            if buildings is not None and "grid_code" in buildings
            else None
        )
        numbered: dict[Any, int] = {}
        listing = []
        if mine is not None and len(mine):
            order = mine.assign(
                _a=mine["address"].fillna("").astype(str) if "address" in mine else "",
                _n=mine["name"].fillna("").astype(str) if "name" in mine else "",
            ).sort_values(["_a", "_n"], kind="stable")
            for i, (idx, b) in enumerate(order.iterrows(), start=1):
                numbered[idx] = i
                listing.append(self._building_row(i, b))
        details = self._details(row, mine)
        tables = [details]
        if listing:
            tables.append(
                Table(
                    (
                        Column("n", self.w("No.", "序号"), "right"),
                        Column("building", self.w("Building", "楼栋")),
                        Column("kind", self.w("Use", "用途")),
                        Column("levels", self.w("Storeys", "层数"), "right"),
                        Column("households", self.w("Households", "户数"), "right"),
                    ),
                    tuple(listing),
                    caption=self.w("Buildings (numbered as on the map)", "楼栋（序号同图）"),
                )
            )
        name = _text(_value(row, "name"))
        community = self.community(_value(row, "community_code"))
        worker = _value(row, "worker") if "worker" in self.served else None
        subtitle = " · ".join(
            s
            for s in (
                self.w(f"Code {code}", f"网格编码 {code}"),
                community,
                self.w(f"Grid worker {worker}", f"网格员 {worker}") if worker else "",
            )
            if s
        )
        return Page(
            title=name,
            subtitle=subtitle,
            figure=self.figure(one, {code}, numbered),
            tables=tuple(tables),
        )

    def _details(self, row: pd.Series, mine: gpd.GeoDataFrame | None) -> Table:
        fields: list[tuple[str, str]] = [
            (self.w("Grid code", "网格编码"), _text(_value(row, "code"))),
            (self.w("Community", "所属社区"), self.community(_value(row, "community_code"))),
        ]
        if "worker" in self.served:
            fields.append((self.w("Grid worker", "网格员"), _text(_value(row, "worker"))))
        if "worker_phone" in self.served:
            fields.append(
                (self.w("Worker's phone", "网格员电话"), _text(_value(row, "worker_phone")))
            )
        for key, en, zh in (
            ("households", "Households", "户数"),
            ("residents", "Residents", "人口"),
            ("buildings", "Buildings", "楼栋数"),
        ):
            if key in self.served:
                fields.append((self.w(en, zh), number(_value(row, key))))
        fields.append((self.w("Area", "面积"), f"{number(_value(row, 'area_m2'))} m²"))
        code = str(row["code"])
        fields.extend(self._counts(code))
        return Table(
            (Column("field", ""), Column("value", "")),
            tuple(fields),
            caption=self.w("Grid details", "网格信息"),
            kind="fields",
            across=2,
        )

    def _counts(self, code: str) -> list[tuple[str, str]]:
        out = []
        facilities = self.frames.get("facilities")
        if facilities is not None and "grid_code" in facilities:
            here = facilities[facilities["grid_code"].astype(str) == code]
            kinds = here["kind"].value_counts()
            parts = [
                f"{symbols.choice('facilities', 'kind', k, self.lang)} {n}"
                for k, n in kinds.items()
            ]
            text = self.w(f"{len(here)}", f"{len(here)} 处")
            if parts:
                text += self.w(f" ({', '.join(parts)})", f"（{'、'.join(parts)}）")
            out.append((self.w("Facilities", "单位与设施"), text))
        cameras = self.frames.get("cameras")
        if cameras is not None and "grid_code" in cameras:
            n = int((cameras["grid_code"].astype(str) == code).sum())
            out.append((self.w("Cameras", "监控探头"), self.w(f"{n}", f"{n} 个")))
        return out

    def _building_row(self, i: int, b: pd.Series) -> tuple[str, ...]:
        label = _value(b, "name") or _value(b, "address")
        if _value(b, "name") and _value(b, "address"):
            label = f"{_value(b, 'name')}（{_value(b, 'address')}）"
        residential = symbols.yes(_value(b, "residential"))
        kind = self.w("Residential", "住宅") if residential else self.w("Other", "非住宅")
        return (
            str(i),
            _text(label),
            kind,
            number(_value(b, "levels")),
            number(_value(b, "households")),
        )


def sheet_filename(choice_codes: Sequence[str], all_grids: bool, printed: date, fmt: str) -> str:
    """Return the name a grid sheet is saved as: ``grid-<code>-<date>.pdf``,
    ``grids-<n>-<date>.pdf`` or ``grids-all-<date>.pdf``."""
    stamp = printed.isoformat()
    if all_grids:
        stem = f"grids-all-{stamp}"
    elif len(choice_codes) == 1:
        stem = f"grid-{file_part(choice_codes[0]) or 'grid'}-{stamp}"
    else:
        stem = f"grids-{len(choice_codes)}-{stamp}"
    return f"{stem}.{fmt}"
