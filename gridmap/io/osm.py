"""Read an OpenStreetMap XML extract (.osm, .osm.bz2) offline into workspace layers.

Streets come from osmnx: only ``highway=*`` ways go into the graph (osmnx's ``graph_from_xml``
would otherwise turn building and landuse outlines into edges), cut to the area, simplified
without merging across a change of class or name, and reduced to the largest connected piece.
Buildings, facilities and landuse come from ``osmnx.features_from_xml``; a building's storeys
come from its tags by the rule of :mod:`gridmap.io.osm_buildings`. Everything is returned
in EPSG:4326 with the columns of :mod:`gridmap.schema`; nothing is fetched from the internet.
"""

from __future__ import annotations

import bz2
import gzip
import os
import re
import tempfile
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import shapely
from osmnx._errors import InsufficientResponseError

from gridmap.errors import OsmError
from gridmap.io.osm_buildings import residential_flag, storeys
from gridmap.schema import STORAGE_CRS

Bbox = tuple[float, float, float, float]
Progress = Callable[[str], None]

#: Main roads: where intersection cameras go, and the widest lines on the map.
MAIN_HIGHWAYS = frozenset(
    {
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
    }
)
#: Highway classes of the driving network (as measured in shared/geodata/SOURCES.md).
DRIVE_HIGHWAYS = MAIN_HIGHWAYS | {
    "motorway",
    "motorway_link",
    "unclassified",
    "residential",
    "living_street",
}
#: Highway classes nobody walks on.
NO_WALK_HIGHWAYS = frozenset({"motorway", "motorway_link", "construction", "proposed", "raceway"})

_AMENITY_KIND = {
    "police": "police_post",
    "townhall": "government",  # a district government is no residents' committee
    "community_centre": "community_office",
    "parking": "parking",
    "parking_entrance": "parking",
    "bicycle_parking": "parking",
    "school": "school",
    "college": "school",
    "university": "school",
    "kindergarten": "kindergarten",
    "hospital": "hospital",
    "clinic": "clinic",
    "doctors": "clinic",
    "pharmacy": "pharmacy",
    "bank": "bank",
    "atm": "bank",
    "restaurant": "restaurant",
    "cafe": "restaurant",
    "fast_food": "restaurant",
    "bar": "restaurant",
    "pub": "restaurant",
    "toilets": "toilets",
    "library": "library",
    "arts_centre": "culture",
    "theatre": "culture",
    "cinema": "culture",
    "marketplace": "market",
}

_FEATURE_TAGS: dict[str, bool | str | list[str]] = {
    "amenity": True,
    "shop": True,
    "office": True,
    "landuse": True,
    "entrance": True,
    "highway": ["street_lamp"],
    "man_made": ["surveillance"],
}


@dataclass
class OsmExtract:
    """What an OSM extract yields, in EPSG:4326 with schema columns (``landuse`` is extra)."""

    bbox: Bbox
    streets: gpd.GeoDataFrame
    street_nodes: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    cameras: gpd.GeoDataFrame
    landuse: gpd.GeoDataFrame


def _open(path: Path):
    name = path.name.lower()
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _filter_highways(path: Path, out: Path) -> Bbox | None:
    """Copy the nodes and the highway ways of ``path`` into ``out``; return its <bounds>."""
    bounds: Bbox | None = None
    n_ways = 0
    root = ET.Element("osm", version="0.6", generator="gridmap")
    try:
        with _open(path) as fh:
            for _event, elem in ET.iterparse(fh, events=("end",)):
                tag = elem.tag
                if tag == "bounds":
                    bounds = tuple(
                        float(elem.get(k)) for k in ("minlon", "minlat", "maxlon", "maxlat")
                    )  # type: ignore[assignment]
                elif tag == "node":
                    node = ET.SubElement(
                        root, "node", {k: elem.get(k) for k in ("id", "lat", "lon")}
                    )
                    for t in elem.findall("tag"):
                        if t.get("k") == "highway":
                            ET.SubElement(node, "tag", k="highway", v=t.get("v"))
                    elem.clear()
                elif tag == "way":
                    if any(t.get("k") == "highway" for t in elem.findall("tag")):
                        root.append(elem)
                        n_ways += 1
                    else:
                        elem.clear()
                elif tag == "relation":
                    elem.clear()
    except (ET.ParseError, OSError, EOFError) as exc:
        raise OsmError(f"Cannot read {path.name} as an OpenStreetMap XML extract: {exc}") from exc
    if n_ways == 0:
        raise OsmError(f"{path.name} holds no streets (no way tagged highway=*).")
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)
    return bounds


def _join(value: object) -> str | None:
    if isinstance(value, list):
        return ",".join(dict.fromkeys(str(v) for v in value))
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def _first(value: object) -> str | None:
    if isinstance(value, list):
        return str(value[0]) if value else None
    return _join(value)


def _street_graph(filtered: Path, bbox: Bbox) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        G = ox.graph_from_xml(filtered, bidirectional=False, simplify=False, retain_all=True)
        try:
            G = ox.truncate.truncate_graph_bbox(G, bbox, truncate_by_edge=True)
        except ValueError:  # osmnx: no graph nodes within the box
            G = nx.MultiDiGraph()
        if G.number_of_edges() == 0:
            raise OsmError(
                "No street lies inside the area "
                f"({bbox[0]:.5f}, {bbox[1]:.5f}, {bbox[2]:.5f}, {bbox[3]:.5f}): check --bbox."
            )
        # keep rings: a street that closes on itself with no junction is still a street
        G = ox.simplify_graph(G, edge_attrs_differ=["highway", "name"], remove_rings=False)
        G = ox.truncate.largest_component(G, strongly=False)
        nx.set_node_attributes(G, ox.stats.count_streets_per_node(G), "street_count")
    nodes, edges = ox.graph_to_gdfs(G)
    edges = edges.reset_index()
    highway = edges["highway"].map(_first)
    access = (
        edges["access"].map(_first) if "access" in edges else pd.Series(None, index=edges.index)
    )
    streets = gpd.GeoDataFrame(
        {
            "u": edges["u"].astype("int64"),
            "v": edges["v"].astype("int64"),
            "key": edges["key"].astype("int64"),
            "osmid": edges["osmid"].map(_join),
            "name": edges["name"].map(_first) if "name" in edges else None,
            "highway": highway,
            "oneway": edges["oneway"].astype(bool),
            "length_m": edges["length"].astype(float).round(2),
            "walk": ~highway.isin(NO_WALK_HIGHWAYS),
            "drive": highway.isin(DRIVE_HIGHWAYS) & ~access.isin(["no", "private"]),
            "source": "osm",
        },
        geometry=edges.geometry.values,
        crs=STORAGE_CRS,
    )
    nodes = nodes.reset_index()
    street_nodes = gpd.GeoDataFrame(
        {
            "osmid": nodes["osmid"].astype("int64"),
            "street_count": nodes["street_count"].astype("int64"),
            "highway": nodes["highway"].map(_join) if "highway" in nodes else None,
            "source": "osm",
        },
        geometry=nodes.geometry.values,
        crs=STORAGE_CRS,
    )
    return streets, street_nodes


def _number(value: object) -> float | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    match = re.search(r"\d+(\.\d+)?", str(value))
    return float(match.group()) if match else None


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object)


def _buildings(path: Path, area: shapely.Polygon) -> gpd.GeoDataFrame:
    f = _features_or_none(path, area, {"building": True})
    if f is None:
        f = gpd.GeoDataFrame(
            geometry=[],
            crs=STORAGE_CRS,
            index=pd.MultiIndex.from_tuples([], names=["element", "id"]),
        )
    f = f[f.geom_type.isin(["Polygon", "MultiPolygon"])]
    f = f[shapely.contains_xy(area, *shapely.get_coordinates(f.representative_point()).T)]
    if "building:part" in f:
        f = f[f["building:part"].isna()]
    floors = storeys(f)
    name = _col(f, "name").where(_col(f, "name").notna(), _col(f, "name:zh"))
    street, number = _col(f, "addr:street"), _col(f, "addr:housenumber")
    address = (street.fillna("") + number.fillna("")).replace("", None)
    out = gpd.GeoDataFrame(
        {
            "osm_id": [i[1] for i in f.index],
            "name": name.values,
            "building": _col(f, "building").values,
            "levels": floors["levels"].values,
            "levels_source": floors["levels_source"].values,
            "height_m": floors["height_m"].values,
            "residential": [residential_flag(b) for b in _col(f, "building")],
            "address": address.values,
            "source": "osm",
        },
        geometry=shapely.make_valid(f.geometry.values),
        crs=STORAGE_CRS,
    )
    return out.reset_index(drop=True)


def _classify(row: pd.Series) -> tuple[str, str] | None:
    amenity = row.get("amenity")
    if isinstance(amenity, str):
        return (_AMENITY_KIND[amenity], f"amenity={amenity}") if amenity in _AMENITY_KIND else None
    for key, kind in (("shop", "shop"), ("office", "office")):
        value = row.get(key)
        if isinstance(value, str):
            return kind, f"{key}={value}"
    if row.get("highway") == "street_lamp":
        return "light", "highway=street_lamp"
    if isinstance(row.get("entrance"), str):
        return "entrance", f"entrance={row['entrance']}"
    return None


def _features(
    path: Path, area: shapely.Polygon
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    f = _features_or_none(path, area, _FEATURE_TAGS)
    if f is None:
        f = gpd.GeoDataFrame(
            geometry=[],
            crs=STORAGE_CRS,
            index=pd.MultiIndex.from_tuples([], names=["element", "id"]),
        )
    f = f[~f.geometry.is_empty]
    points = f.geometry.representative_point()
    inside = shapely.contains_xy(area, *shapely.get_coordinates(points).T)
    f, points = f[inside], points[inside]

    landuse = f[_col(f, "landuse").notna() & f.geom_type.isin(["Polygon", "MultiPolygon"])]
    landuse = gpd.GeoDataFrame(
        {"landuse": _col(landuse, "landuse").values, "name": _col(landuse, "name").values},
        geometry=landuse.geometry.values,
        crs=STORAGE_CRS,
    )

    rows, geoms = [], []
    for (kind_osm, osm_id), row in f.iterrows():
        hit = _classify(row)
        if hit is None:
            continue
        kind, tag = hit
        name = row.get("name") if isinstance(row.get("name"), str) else row.get("name:zh")
        rows.append(
            {
                "kind": kind,
                "name": name if isinstance(name, str) else None,
                "osm_id": int(osm_id),
                "osm_tag": tag,
                "address": _join(row.get("addr:street")),
                "phone": _join(row.get("phone")),
                "source": "osm",
            }
        )
        geoms.append(points.loc[(kind_osm, osm_id)])
    columns = ["kind", "name", "osm_id", "osm_tag", "address", "phone", "source"]
    facilities = gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=columns), geometry=geoms, crs=STORAGE_CRS
    )

    cams = f[_col(f, "man_made") == "surveillance"]
    cameras = gpd.GeoDataFrame(
        {
            "code": [f"OSM-{i[1]}" for i in cams.index],
            "name": _col(cams, "name").values,
            "kind": ["dome" if t == "dome" else "fixed" for t in _col(cams, "camera:type").values],
            "bearing_deg": _col(cams, "camera:direction").map(_number).values,
            "source": "osm",
        },
        geometry=points[_col(f, "man_made") == "surveillance"].values,
        crs=STORAGE_CRS,
    )
    return facilities, cameras, landuse


def _check_bbox(bbox: Bbox) -> Bbox:
    minx, miny, maxx, maxy = (float(v) for v in bbox)
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise OsmError("The area must be minlon,minlat,maxlon,maxlat with min < max, in degrees.")
    return minx, miny, maxx, maxy


def _way_extent(filtered: Path) -> Bbox:
    """Return the extent of the nodes the streets of ``filtered`` use."""
    used: set[str] = set()
    coords: dict[str, tuple[float, float]] = {}
    for _event, elem in ET.iterparse(filtered, events=("end",)):
        if elem.tag == "node":
            coords[elem.get("id")] = (float(elem.get("lon")), float(elem.get("lat")))
        elif elem.tag == "way":
            used.update(nd.get("ref") for nd in elem.findall("nd"))
    xy = np.array([coords[n] for n in used if n in coords])
    return (
        float(xy[:, 0].min()),
        float(xy[:, 1].min()),
        float(xy[:, 0].max()),
        float(xy[:, 1].max()),
    )


def _features_or_none(
    path: Path, area: shapely.Polygon | None, tags: dict[str, bool | str | list[str]]
) -> gpd.GeoDataFrame | None:
    """Return osmnx features of ``path`` with ``tags`` inside ``area``, or None when there are none."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ox.features_from_xml(path, polygon=area, tags=tags)
        except InsufficientResponseError:
            return None


def read_osm(
    path: str | os.PathLike[str],
    *,
    bbox: Bbox | None = None,
    progress: Progress | None = None,
) -> OsmExtract:
    """Read streets, buildings and facilities of an OSM XML extract, offline.

    Parameters
    ----------
    path
        An ``.osm`` (or ``.osm.bz2`` / ``.osm.gz``) file as exported by openstreetmap.org,
        Overpass or osmium.
    bbox
        Area to keep (minlon, minlat, maxlon, maxlat, degrees). Default: the file's
        ``<bounds>``, else the extent of its buildings.
    progress
        Called with a short message before each step.
    """
    src = Path(path)
    if not src.is_file():
        raise OsmError(f"No such OSM file: {src}")
    say = progress or (lambda _msg: None)
    with tempfile.TemporaryDirectory(prefix="gridmap-osm-") as tmp:
        filtered = Path(tmp) / "highways.osm"
        say("reading OSM extract")
        file_bounds = _filter_highways(src, filtered)
        area_bbox = _check_bbox(bbox) if bbox else file_bounds
        if area_bbox is None:
            # no <bounds>: ways crossing the extract's edge are complete, so their far ends
            # would inflate the extent; the buildings mark the area, else the streets do
            say("no <bounds> in file: using the extent of its buildings")
            b = _features_or_none(src, None, {"building": True})
            area_bbox = tuple(b.total_bounds) if b is not None else _way_extent(filtered)
        say("building street graph")
        try:
            streets, nodes = _street_graph(filtered, area_bbox)
        except OsmError:
            if bbox or file_bounds:
                raise
            area_bbox = _way_extent(filtered)  # the buildings lie off the streets: take them all
            streets, nodes = _street_graph(filtered, area_bbox)
        area = shapely.box(*area_bbox)
    say("reading buildings")
    buildings = _buildings(src, area)
    say("reading facilities")
    facilities, cameras, landuse = _features(src, area)
    return OsmExtract(
        bbox=tuple(float(v) for v in area_bbox),  # type: ignore[arg-type]
        streets=streets,
        street_nodes=nodes,
        buildings=buildings,
        facilities=facilities,
        cameras=cameras,
        landuse=landuse,
    )
