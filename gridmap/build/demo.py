"""The demo workspace: a real OSM neighbourhood of central Nanjing plus synthetic people.

OSM gives streets, buildings and facilities (``source = "osm"``). What OSM lacks is generated,
deterministically from ``seed`` and ``today``, and marked ``source = "synthetic"``: households
and people, a community boundary, a first set of grids of about 400 households, grid workers,
cameras, a community office and police post, three months of visits and a year of incidents.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap import store
from gridmap.access import ids
from gridmap.build.init import metric_crs, osm_meta, sjoin_code
from gridmap.build.synthetic import activity, addresses, identity, places, register
from gridmap.errors import InputError
from gridmap.grids import GridPartition
from gridmap.grids.codes import storage_polygons
from gridmap.grids.problem import UNIT_MAX, UNIT_TARGET
from gridmap.io.osm import OsmExtract, read_osm
from gridmap.schema import STORAGE_CRS, STORAGE_PRECISION_DEG

Progress = Callable[[str], None]

GEODATA = Path(__file__).resolve().parent / "data"
DEMO_OSM = GEODATA / "nanjing_changjianglu_core_2021.osm.bz2"
DEFAULT_SEED = 20210612

DISTRICT = ("320102", "玄武区")  # code (GB/T 2260) and name of the demo's district
STREET_CODE = "001"
STREET_NAME = "演示街道"
TITLE = "南京 · 长江路（演示数据）"
GRID_TARGET_HOUSEHOLDS = 400
GRID_BOUNDS = (300, 500)
#: Street blocks with more households than this are cut into pieces of about the target, so
#: that grids can be balanced from them (a grid is then about three units).
UNIT_MAX_HOUSEHOLDS = UNIT_MAX
UNIT_TARGET_HOUSEHOLDS = UNIT_TARGET
COMMUNITY_TARGET_HOUSEHOLDS = 4500
#: Randomised restarts of the partition, as ``gridmap grids auto`` makes by default: towers of
#: a few hundred households make lumpy street units, and one start alone leaves some grids
#: just outside 300-500 (seeded: the demo stays the same from run to run).
GRID_RESTARTS = 10
NON_RESIDENTIAL_LANDUSE = ("commercial", "retail", "education", "industrial", "religious")


def community_polygon(bbox_polygon: shapely.Polygon, buildings: np.ndarray) -> shapely.Polygon:
    """Return the area box grown to hold every building whole, without holes."""
    shape = shapely.union_all([bbox_polygon, *buildings])
    if shape.geom_type == "MultiPolygon":
        shape = max(shape.geoms, key=lambda g: g.area)
    return shapely.Polygon(shape.exterior).simplify(0.5)


def demo_buildings(ext: OsmExtract, crs: Any) -> tuple[gpd.GeoDataFrame, shapely.Polygon]:
    """Return the extract's buildings with estimated households, and the area to partition.

    Both in ``crs`` (the area's UTM zone, metres). Buildings in non-residential land use
    (:data:`NON_RESIDENTIAL_LANDUSE`) without a residential tag hold no homes; households
    follow floor area and storeys (:func:`gridmap.build.synthetic.register.estimate_households`,
    ``households_source = "synthetic"``); the area is the extract's box grown to hold every
    building whole (:func:`community_polygon`).
    """
    b = ext.buildings.to_crs(crs)
    landuse = ext.landuse.to_crs(crs)
    nonres = landuse[landuse["landuse"].isin(NON_RESIDENTIAL_LANDUSE)]
    in_nonres = np.zeros(len(b), dtype=bool)
    if len(nonres):
        tree = shapely.STRtree(nonres.geometry.values)
        hit, _ = tree.query(b.geometry.representative_point().values, predicate="within")
        in_nonres[hit] = True
    b.loc[in_nonres & b["residential"].isna().to_numpy(), "residential"] = False
    est = register.estimate_households(b, b.geometry.area.to_numpy())
    for column in ("levels", "levels_source", "residential", "households", "households_source"):
        b[column] = est[column].to_numpy()
    area = community_polygon(
        shapely.box(
            *gpd.GeoSeries([shapely.box(*ext.bbox)], crs=STORAGE_CRS).to_crs(crs).total_bounds
        ),
        b.geometry.values,
    )
    return b, area


def _partition(
    b: gpd.GeoDataFrame,
    area: shapely.Polygon,
    streets_m: gpd.GeoDataFrame,
    rng: np.random.Generator,
    district: tuple[str, str],
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list[str]]:
    """Split the area into communities, and each community into grids, by households.

    Runs :class:`gridmap.grids.GridPartition` and adds what the demo makes up: the street and
    district of each community and a grid worker with a phone for each grid.
    """
    problem = GridPartition.from_frames(
        area,
        streets_m,
        b,
        weight="households",
        target=GRID_TARGET_HOUSEHOLDS,
        bounds=GRID_BOUNDS,
        community_target=COMMUNITY_TARGET_HOUSEHOLDS,
        code_prefix=f"{district[0]}{STREET_CODE}",
        unit_max=UNIT_MAX_HOUSEHOLDS,
        unit_target=UNIT_TARGET_HOUSEHOLDS,
        # the demo's published grids (docs, tests) are those of the partition before the
        # street-border search of issue 8 (gridmap grids auto draws with it)
        street_borders=False,
    )
    frames = problem.solve(restarts=GRID_RESTARTS).to_frames()
    community = frames["community"]
    community.insert(2, "street", STREET_NAME)
    community.insert(3, "district", district[1])
    community["source"] = "synthetic"
    grids = frames["grids"][["code", "name", "community_code", "area_m2", "geometry"]]
    people = [
        (identity.person_name(rng, bool(rng.random() < 0.6)), identity.phone(rng))
        for _ in range(len(grids))
    ]
    grids.insert(3, "worker", [p[0] for p in people])
    grids.insert(4, "worker_phone", [p[1] for p in people])
    grids["source"] = "synthetic"
    return community, grids, list(frames["buildings"]["grid_code"])


def build_demo(
    path: str | os.PathLike[str],
    *,
    osm_path: str | os.PathLike[str] = DEMO_OSM,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
    district: tuple[str, str] = DISTRICT,
    title: str | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Build the demo workspace at ``path`` (a .gpkg file) and return its path.

    Any OSM extract works (``osm_path``); ``district`` is the 6-digit code and name that grid
    codes start with, ``title`` what the map shows (default: the Nanjing demo's, or the file's).
    """
    if not (len(district[0]) == 6 and district[0].isdigit()):
        raise InputError(f"A district code has 6 digits (GB/T 2260), not '{district[0]}'.")
    say = progress or (lambda _m: None)
    today = today or date.today()
    rng = np.random.default_rng(seed)
    src = Path(osm_path)
    ext = read_osm(src, progress=say)
    crs = metric_crs(ext)

    say("estimating households")
    b, area = demo_buildings(ext, crs)
    if b["households"].sum() < GRID_BOUNDS[0]:
        raise InputError(
            f"{src.name} has too few homes for a demo: {len(b)} buildings, about "
            f"{int(b['households'].sum())} households, less than one grid. Choose a larger area."
        )

    say("drawing communities and grids")
    community, grids, b["grid_code"] = _partition(b, area, ext.streets.to_crs(crs), rng, district)
    workers = dict(zip(grids["code"], grids["worker"], strict=True))

    say("generating register")
    b["address"] = addresses.street_addresses(b, ext.streets.to_crs(crs))
    households, people = register.make_register(b, rng, today)
    households["grid_code"] = households["building_osm_id"].map(
        dict(zip(b["osm_id"], b["grid_code"], strict=True))
    )
    residents = people.groupby("household_id").size()
    b["residents"] = (
        b["osm_id"]
        .map(
            households.assign(n=households["household_id"].map(residents))
            .groupby("building_osm_id")["n"]
            .sum()
        )
        .fillna(0)
        .astype(int)
    )

    for col in ("households", "residents"):
        grids[col] = grids["code"].map(b.groupby("grid_code")[col].sum()).fillna(0).astype(int)
    grids["buildings"] = grids["code"].map(b.groupby("grid_code").size()).fillna(0).astype(int)

    say("placing cameras and offices")
    streets_m = ext.streets.to_crs(crs)
    nodes_m = ext.street_nodes.to_crs(crs)
    cameras = places.make_cameras(streets_m, nodes_m, rng)
    if len(ext.cameras):
        cameras = pd.concat([ext.cameras.to_crs(crs), cameras], ignore_index=True)
    offices = [
        places.make_offices(b[b["grid_code"].str.startswith(c.code)], c.name)
        for c in community.itertuples()
    ]
    facilities = pd.concat([ext.facilities.to_crs(crs), *offices], ignore_index=True)
    for frame in (cameras, facilities):
        frame["grid_code"] = sjoin_code(frame.geometry, grids)

    say("generating visits and incidents")
    hh_m = households.to_crs(crs)
    visits = activity.make_visits(hh_m, workers, rng, today)
    parking = facilities[facilities["kind"] == "parking"]
    incidents = activity.make_incidents(
        b, shapely.get_coordinates(parking.geometry.values), rng, today
    )
    incidents["grid_code"] = sjoin_code(incidents.geometry, grids)

    say("writing workspace")
    layers = {
        "community": community,
        "grids": grids,
        "buildings": b,
        "streets": ext.streets,
        "street_nodes": ext.street_nodes,
        "facilities": facilities,
        "cameras": cameras,
        "households": households,
        "people": people,
        "visits": visits,
        "incidents": incidents,
    }
    # the grids as one coverage on the storage grid (borders shared vertex for vertex), and
    # each community the union of its grids, so that grids and communities meet exactly
    layers["grids"] = storage_polygons(layers["grids"])
    layers["community"] = layers["community"].to_crs(STORAGE_CRS)
    layers["community"].geometry = [
        shapely.MultiPolygon(
            shapely.get_parts(
                shapely.union_all(
                    layers["grids"].geometry[layers["grids"]["community_code"] == code].values,
                    grid_size=STORAGE_PRECISION_DEG,
                )
            )
        )
        for code in layers["community"]["code"]
    ]
    with (
        store.building(path, overwrite=overwrite) as ws,
        ws.transaction(action="build demo") as tx,
    ):
        for name, frame in layers.items():
            if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None:
                frame = frame.to_crs(STORAGE_CRS)
            tx.replace(name, frame)
        for key, value in osm_meta(src, ext).items():
            tx.set_meta(key, value)
        default_title = (
            TITLE
            if src.resolve() == DEMO_OSM.resolve()
            else f"{src.name.split('.')[0]}（演示数据）"
        )
        tx.set_meta("title", title or default_title)
        tx.set_meta("synthetic", True)
        ws.secret(ids.SECRET)  # the key of masked readers' opaque feature ids
        tx.set_meta(
            "synthetic_note",
            {
                "en": "Streets, buildings and facilities: OpenStreetMap (2021). Households, people, "
                "grids, cameras, visits and incidents: synthetic demo data.",
                "zh-CN": "道路、建筑、设施来自 OpenStreetMap（2021）；住户、人员、网格、探头、走访和案事件为演示用合成数据。",
            },
        )
        tx.set_meta("generated", {"seed": seed, "today": today.isoformat(), "osm": src.name})
    return Path(path)
