"""The standard printed map of a workspace, made once per sheet and drawn for many pages.

:class:`WorkspaceMap` takes plain frames — community boundaries, grids, buildings, streets,
facilities, cameras, as the reader may see them — projects them to the metric CRS once and
prepares what every page draws the same way (two-way streets once, roads ordered by class,
street names merged, camera views as polygons). :meth:`WorkspaceMap.layers` then gives the
layers of one page, bottom to top, for the grids it is about and the buildings it numbers:
a sheet of 53 grid pages prepares its frames once and draws 53 maps from them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import geopandas as gpd
import pandas as pd
import pyproj

from gridmap.network.graph import unique_edges
from gridmap.print import symbols as sym
from gridmap.print.labels import LabelRule
from gridmap.print.mapfigure import FID, LegendEntry, MapLayer
from gridmap.print.svg import Style

#: The layers a workspace map draws, bottom to top (the register never).
LAYERS = ("community", "grids", "buildings", "streets", "facilities", "cameras")


class WorkspaceMap:
    """The standard map of a workspace: grids, buildings, roads, boundaries, facilities, cameras.

    Parameters
    ----------
    frames
        Layers by name (any of :data:`LAYERS` may be missing), in EPSG:4326 as stored or in
        any CRS they declare. Give them as the reader may see them
        (:func:`gridmap.access.privacy.present`).
    crs
        The metric CRS the map is drawn in (the area's UTM zone).
    lang
        zh-CN or en: legend words and labels.
    colours
        Grid fills by code (default: :func:`gridmap.print.symbols.grid_colours` of the grids).
    community_names
        Community names by code, to shorten grid labels (第1网格 inside 中山东路社区).
    """

    def __init__(
        self,
        frames: Mapping[str, gpd.GeoDataFrame],
        *,
        crs: str | pyproj.CRS,
        lang: str = "zh-CN",
        colours: Mapping[str, str] | None = None,
        community_names: Mapping[str, str] | None = None,
    ) -> None:
        self.crs = pyproj.CRS.from_user_input(crs)
        self.lang = lang
        got = {k: v.to_crs(self.crs) for k, v in frames.items() if k in LAYERS and v is not None}
        self.frames = {k: v for k, v in got.items() if len(v)}
        grids = self.frames.get("grids")
        self.colours = dict(colours or (sym.grid_colours(grids) if grids is not None else {}))
        self.names = dict(community_names or {})
        streets = self.frames.get("streets")
        if streets is not None:
            edges = unique_edges(streets)
            highway = edges["highway"] if "highway" in edges else pd.Series(None, index=edges.index)
            ranks = [sym.road_class(h)[0] for h in highway]
            self.roads = edges.assign(_rank=ranks).sort_values("_rank", kind="stable")
            self.street_names = sym.street_names(streets)
        cameras = self.frames.get("cameras")
        if cameras is not None:
            self.views = sym.camera_views(cameras, self.crs)
        facilities = self.frames.get("facilities")
        if facilities is not None:
            police = facilities["kind"] == "police_post"  # drawn last, on top
            self.facilities = gpd.GeoDataFrame(
                pd.concat([facilities[~police], facilities[police]]), crs=self.crs
            )

    def w(self, key: str, **values: str) -> str:
        """Return a legend word in the map's language."""
        return sym.word(key, self.lang, **values)

    def layers(
        self, *, chosen: Collection[str] | None = None, numbered: Mapping[Any, int] | None = None
    ) -> list[MapLayer]:
        """Return the layers of one map, bottom to top.

        ``chosen``: codes of the grids the page is about — drawn full, outlined in the accent
        colour and labelled first; the others lighter (None: every grid is chosen).
        ``numbered``: buildings to number (feature id → number), as their list on the page.
        """
        f = self.frames
        wanted = None if chosen is None else {str(c) for c in chosen}

        def is_chosen(code: Any) -> bool:
            return wanted is None or code in wanted

        out: list[MapLayer] = []
        if "grids" in f:
            out.append(self._grids(is_chosen))
        if "buildings" in f:
            out.append(self._buildings(numbered))
        if "streets" in f:
            out.append(self._roads())
        if "community" in f:
            legend = [LegendEntry("line", sym.COMMUNITY, self.w("community"))]
            out.append(MapLayer("community", f["community"], sym.COMMUNITY, legend=legend))
        if "grids" in f and chosen is not None:
            accent = Style(stroke=sym.ACCENT, stroke_width=0.7)
            legend = [LegendEntry("outline", accent, self.w("chosen"))]
            out.append(
                MapLayer(
                    "chosen",
                    f["grids"],
                    lambda p: accent if is_chosen(str(p.get("code"))) else None,
                    legend=legend,
                )
            )
        if "cameras" in f:
            out.extend(self._cameras())
        if "facilities" in f:
            out.append(self._facilities())
        if "streets" in f:
            rule = LabelRule(
                lambda p: [str(p.get("name") or "")], size_mm=1.9, placement="line", color="#5c4a32"
            )
            out.append(MapLayer("street-names", self.street_names, None, label=rule))
        if "grids" in f:
            out.extend(self._grid_labels(is_chosen))
        return out

    def _grids(self, is_chosen: Callable[[Any], bool]) -> MapLayer:
        def style(p: Mapping[str, Any]) -> Style:
            code = str(p.get("code"))
            fill = self.colours.get(code, sym.GRID_PALETTE[1])
            return sym.grid_style(fill, faded=not is_chosen(code))

        legend = [
            LegendEntry("fill", sym.grid_style(sym.GRID_PALETTE[1]), self.w("grids")),
            LegendEntry("label", Style(fill="#343a40"), self.w("grid_label"), sample="A"),
        ]
        return MapLayer("grids", self.frames["grids"], style, legend=legend)

    def _grid_labels(self, is_chosen: Callable[[Any], bool]) -> list[MapLayer]:
        """Return the grid labels (short name over code): the page's grids first and larger."""

        def label(p: Mapping[str, Any]) -> list[str]:
            community = self.names.get(str(p.get("community_code")))
            return [sym.short_grid_name(p.get("name"), community), str(p.get("code") or "")]

        def mine(p: Mapping[str, Any]) -> list[str] | None:
            return label(p) if is_chosen(str(p.get("code"))) else None

        def others(p: Mapping[str, Any]) -> list[str] | None:
            return None if is_chosen(str(p.get("code"))) else label(p)

        grids = self.frames["grids"]
        return [
            MapLayer("grid-labels", grids, None, LabelRule(mine, size_mm=2.6, priority=1e6)),
            MapLayer(
                "grid-labels-other", grids, None, LabelRule(others, size_mm=2.2, color="#6c757d")
            ),
        ]

    def _buildings(self, numbered: Mapping[Any, int] | None) -> MapLayer:
        def kind(p: Mapping[str, Any]) -> str:
            return "residential" if sym.yes(p.get("residential")) else "other"

        label = None
        if numbered:
            marks = dict(numbered)
            label = LabelRule(
                lambda p: [str(marks[p[FID]])] if p[FID] in marks else None,
                size_mm=2.0,
                priority=5e5,
                color="#5a3d1e",
            )

        def legend(shown: gpd.GeoDataFrame) -> list[LegendEntry]:
            flags = shown.get("residential", [])
            kinds = {"residential" if sym.yes(r) else "other" for r in flags}
            out = [
                LegendEntry("fill", sym.BUILDING[k], self.w(k))
                for k in ("residential", "other")
                if k in kinds
            ]
            if numbered:
                mark = Style(fill="#5a3d1e")
                out.append(LegendEntry("label", mark, self.w("building_number"), sample="1"))
            return out

        buildings = self.frames["buildings"]
        return MapLayer(
            "buildings", buildings, lambda p: sym.BUILDING[kind(p)], label=label, legend=legend
        )

    def _roads(self) -> MapLayer:
        def style(p: Mapping[str, Any]) -> Style:
            return sym.road_style(sym.ROAD_CLASSES[int(p["_rank"])])

        def legend(shown: gpd.GeoDataFrame) -> list[LegendEntry]:
            ranks = set(shown["_rank"].astype(int))
            out = []
            if ranks & {3, 4, 5}:
                out.append(
                    LegendEntry("road", sym.road_style(sym.ROAD_CLASSES[5]), self.w("major"))
                )
            if ranks & {1, 2}:
                out.append(
                    LegendEntry("road", sym.road_style(sym.ROAD_CLASSES[2]), self.w("minor"))
                )
            if 0 in ranks:
                out.append(LegendEntry("line", sym.road_style(sym.ROAD_CLASSES[0]), self.w("path")))
            return out

        return MapLayer("roads", self.roads, style, legend=legend)

    def _facilities(self) -> MapLayer:
        def legend(shown: gpd.GeoDataFrame) -> list[LegendEntry]:
            present = set(shown["kind"].astype(str))
            return [
                LegendEntry(
                    "ring" if k == "police_post" else "point",
                    sym.facility_style(k),
                    sym.choice("facilities", "kind", k, self.lang),
                )
                for k in sym.FACILITY_COLOURS
                if k in present
            ]

        return MapLayer(
            "facilities",
            self.facilities,
            lambda p: sym.facility_style(p.get("kind")),
            legend=legend,
        )

    def _cameras(self) -> list[MapLayer]:
        def sector(kind: Any) -> Style:
            colour = sym.CAMERA_COLOURS.get(str(kind), "#868e96")
            return Style(
                fill=colour, fill_opacity=0.16, stroke=colour, stroke_width=0.15, stroke_opacity=0.6
            )

        def views_legend(shown: gpd.GeoDataFrame) -> list[LegendEntry]:
            present = set(shown["kind"].astype(str))
            return [
                LegendEntry(
                    "sector",
                    sector(k),
                    self.w("camera_view", kind=sym.choice("cameras", "kind", k, self.lang)),
                )
                for k in sym.CAMERA_COLOURS
                if k in present
            ]

        point = [LegendEntry("point", sym.CAMERA_POINT, self.w("camera"))]
        return [
            MapLayer(
                "camera-views", self.views, lambda p: sector(p.get("kind")), legend=views_legend
            ),
            MapLayer("cameras", self.frames["cameras"], sym.CAMERA_POINT, legend=point),
        ]


def workspace_layers(
    frames: Mapping[str, gpd.GeoDataFrame],
    *,
    crs: str | pyproj.CRS,
    lang: str = "zh-CN",
    chosen: Collection[str] | None = None,
    numbered: Mapping[Any, int] | None = None,
    colours: Mapping[str, str] | None = None,
    community_names: Mapping[str, str] | None = None,
) -> list[MapLayer]:
    """Return the layers of one standard map (see :class:`WorkspaceMap` and its ``layers``)."""
    base = WorkspaceMap(
        frames, crs=crs, lang=lang, colours=colours, community_names=community_names
    )
    return base.layers(chosen=chosen, numbered=numbered)
