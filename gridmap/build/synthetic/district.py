"""A synthetic district at scale, for measuring grid planning (issue 8): streets, buildings,
households, communities and grids, deterministic from ``seed``.

The demo (a real OSM neighbourhood) has 52 grids; the planning write path and the plan's
checks must also hold at the size of a district. This builds one, made up but shaped like the
real thing: a street grid of blocks :data:`BLOCK_M` metres apart (centre line to centre line,
every fourth street a main road), each block holding a lattice of building footprints set back
from the streets, each building its households (and a row per household in the register's
``households`` layer), grids of :data:`BLOCKS_PER_GRID` blocks whose borders run along the
street centre lines, communities of :data:`GRIDS_PER_COMMUNITY` grids, twenty communities to a
street office. Grids and communities form one valid polygonal coverage on the storage grid
(:func:`gridmap.grids.codes.storage_polygons`), every building lies whole in its grid, and
each grid's figures agree with its buildings: ``gridmap grids validate`` finds nothing to say
on a fresh build except grids outside the household range the draw may give.

Geometry is built in :data:`METRIC_CRS` (UTM zone 50N, metres, around Nanjing) and written in
EPSG:4326 through the store, in one transaction. Everything is marked ``source = "synthetic"``.
"""

from __future__ import annotations

import math
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
from gridmap.build.synthetic import identity
from gridmap.errors import InputError
from gridmap.grids.codes import grid_name, storage_polygons
from gridmap.schema import STORAGE_CRS, STORAGE_PRECISION_DEG

Progress = Callable[[str], None]

DEFAULT_SEED = 20260301
#: The district's projected CRS (UTM zone 50N: Nanjing) and its north-west corner in it.
METRIC_CRS = "EPSG:32650"
ORIGIN_M = (660_000.0, 3_550_000.0)
DISTRICT = ("320199", "合成区")
#: Street spacing, centre line to centre line, metres; footprints keep this far from it.
BLOCK_M = 110.0
SETBACK_M = 10.0
#: Blocks in a grid (west-east, north-south) and grids in a community (the same).
BLOCKS_PER_GRID = (2, 2)
GRIDS_PER_COMMUNITY = (5, 3)
#: Communities under one street office (街道): the street part of the codes.
COMMUNITIES_PER_STREET = 20
#: Every this many streets is a main road (secondary), the others residential.
MAIN_ROAD_EVERY = 4
#: Households of a home building: drawn uniformly from this range; this share holds none.
HOUSEHOLDS_RANGE = (2, 11)
NON_RESIDENTIAL_SHARE = 0.04
PERSONS_PER_HOUSEHOLD = (1, 5)


def _layout(n: int) -> tuple[int, int]:
    """Return (columns, rows) of ``n`` grids laid out about square (rows filled first)."""
    cols = math.ceil(math.sqrt(n))
    return cols, math.ceil(n / cols)


def _ring(x0: float, y0: float, x1: float, y1: float, step: float) -> shapely.Polygon:
    """Return the rectangle x0..x1, y1..y0 with a vertex at every street crossing on it."""
    nx, ny = round((x1 - x0) / step), round((y0 - y1) / step)
    xs = [x0 + i * step for i in range(nx + 1)]
    ys = [y0 - j * step for j in range(ny + 1)]
    ring = [(x, y0) for x in xs] + [(x1, y) for y in ys[1:]]
    ring += [(x, y1) for x in xs[-2::-1]] + [(x0, y) for y in ys[-2::-1]]
    return shapely.Polygon(ring)


def _grids(n: int) -> pd.DataFrame:
    """Return the grid cells: column, row, community index and the grid's sequence number."""
    cols, _rows = _layout(n)
    cw, ch = GRIDS_PER_COMMUNITY
    per_row = math.ceil(cols / cw)
    rows = []
    for k in range(n):
        gi, gj = k % cols, k // cols
        rows.append((gi, gj, (gj // ch) * per_row + gi // cw))
    frame = pd.DataFrame(rows, columns=["gi", "gj", "community"])
    # numbered west to east, north to south within the community
    frame["seq"] = frame.sort_values(["gj", "gi"]).groupby("community").cumcount() + 1
    return frame


def _community_code(index: int) -> str:
    street, number = divmod(index, COMMUNITIES_PER_STREET)
    return f"{DISTRICT[0]}{street + 1:03d}{number + 1:03d}"


def _streets(blocks: set[tuple[int, int]], nx: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Return the street edges (both directions) and nodes around ``blocks`` (metric CRS)."""
    x0, y0 = ORIGIN_M

    def node(i: int, j: int) -> int:
        return 1 + j * (nx + 1) + i

    segments: set[tuple[tuple[int, int], tuple[int, int]]] = set()
    for bi, bj in blocks:
        corners = [(bi, bj), (bi + 1, bj), (bi + 1, bj + 1), (bi, bj + 1)]
        for a, b in zip(corners, corners[1:] + corners[:1], strict=True):
            segments.add((min(a, b), max(a, b)))
    edges: list[dict[str, Any]] = []
    for a, b in sorted(segments):
        main = (a[1] == b[1] and a[1] % MAIN_ROAD_EVERY == 0) or (
            a[0] == b[0] and a[0] % MAIN_ROAD_EVERY == 0
        )
        name = f"合成{'东西' if a[1] == b[1] else '南北'}{'大道' if main else '路'}"
        name += f"{(a[1] if a[1] == b[1] else a[0]) + 1}"
        for u, v in ((a, b), (b, a)):
            line = shapely.LineString(
                [
                    (x0 + u[0] * BLOCK_M, y0 - u[1] * BLOCK_M),
                    (x0 + v[0] * BLOCK_M, y0 - v[1] * BLOCK_M),
                ]
            )
            edges.append(
                {
                    "u": node(*u),
                    "v": node(*v),
                    "key": 0,
                    "osmid": str(10_000_000 + len(edges) // 2),
                    "name": name,
                    "highway": "secondary" if main else "residential",
                    "oneway": False,
                    "length_m": BLOCK_M,
                    "walk": True,
                    "drive": True,
                    "source": "synthetic",
                    "geometry": line,
                }
            )
    streets = gpd.GeoDataFrame(edges, geometry="geometry", crs=METRIC_CRS)
    ends = pd.concat([streets["u"], streets["v"]])
    count = (ends.value_counts() // 2).sort_index()
    ij = [((k - 1) % (nx + 1), (k - 1) // (nx + 1)) for k in count.index]
    nodes = gpd.GeoDataFrame(
        {
            "osmid": count.index.astype(int),
            "street_count": count.to_numpy().astype(int),
            "highway": None,
            "source": "synthetic",
        },
        geometry=[shapely.Point(x0 + i * BLOCK_M, y0 - j * BLOCK_M) for i, j in ij],
        crs=METRIC_CRS,
    )
    return streets, nodes


def _buildings(
    blocks: list[tuple[int, int]], per_block: np.ndarray, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """Return the footprints of each block's lattice of buildings, with households."""
    x0, y0 = ORIGIN_M
    inner = BLOCK_M - 2 * SETBACK_M
    boxes, block_of = [], []
    for (bi, bj), n in zip(blocks, per_block.tolist(), strict=True):
        cols = math.ceil(math.sqrt(n))
        rows = math.ceil(n / cols)
        cw, ch = inner / cols, inner / rows
        left, top = x0 + bi * BLOCK_M + SETBACK_M, y0 - bj * BLOCK_M - SETBACK_M
        for k in range(n):
            c, r = k % cols, k // cols
            shrink = rng.uniform(0.15, 0.35, size=4)
            boxes.append(
                (
                    left + c * cw + shrink[0] * cw / 2,
                    top - (r + 1) * ch + shrink[1] * ch / 2,
                    left + (c + 1) * cw - shrink[2] * cw / 2,
                    top - r * ch - shrink[3] * ch / 2,
                )
            )
            block_of.append((bi, bj))
    arr = np.asarray(boxes)
    footprints = shapely.box(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])
    n = len(footprints)
    home = rng.random(n) >= NON_RESIDENTIAL_SHARE
    households = np.where(home, rng.integers(*HOUSEHOLDS_RANGE, size=n), 0)
    residents = households * rng.integers(*PERSONS_PER_HOUSEHOLD, size=n) // 2 + households
    area = shapely.area(footprints)
    levels = np.maximum(1, np.ceil(households * 90.0 / (0.8 * area))).astype(int)
    return gpd.GeoDataFrame(
        {
            "osm_id": np.arange(1, n + 1),
            "name": None,
            "building": np.where(home, "residential", "commercial"),
            "levels": np.where(home, levels, 2),
            "levels_source": "default",
            "residential": home,
            "households": households.astype(int),
            "residents": residents.astype(int),
            "households_source": "synthetic",
            "address": [f"合成路{k + 1}号" for k in range(n)],
            "source": "synthetic",
            "block": block_of,
        },
        geometry=[shapely.MultiPolygon([p]) for p in footprints],
        crs=METRIC_CRS,
    )


def district_layers(
    grids: int = 300, buildings: int = 20_000, *, seed: int = DEFAULT_SEED, households: bool = True
) -> dict[str, gpd.GeoDataFrame]:
    """Return the layers of a synthetic district (see the module), in EPSG:4326.

    Parameters
    ----------
    grids
        Number of grids (each :data:`BLOCKS_PER_GRID` street blocks).
    buildings
        About this many buildings in all, spread evenly over the blocks (at least one each).
    seed
        Seed of every random draw: the same arguments give the same district.
    households
        Also write one ``households`` row per household (a point at its building); False
        leaves the register empty (the buildings keep their counts).

    Returns
    -------
    dict
        ``community``, ``grids``, ``buildings``, ``streets``, ``street_nodes``,
        ``facilities``, ``cameras`` and (with ``households``) ``households``, EPSG:4326.
    """
    if not 1 <= grids <= 20_000 or buildings < 1:
        raise InputError(
            f"A synthetic district has 1 to 20,000 grids and at least one building, not "
            f"{grids} grids and {buildings} buildings. (合成区网格数应为 1 到 20000，楼栋数至少为 1。)"
        )
    rng = np.random.default_rng(seed)
    x0, y0 = ORIGIN_M
    bx, by = BLOCKS_PER_GRID
    cells = _grids(grids)
    cols, _rows = _layout(grids)
    blocks = [
        (gi * bx + a, gj * by + b)
        for gi, gj in zip(cells["gi"], cells["gj"], strict=True)
        for b in range(by)
        for a in range(bx)
    ]
    per_block = np.full(len(blocks), max(1, buildings // len(blocks)))
    extra = max(0, buildings - int(per_block.sum()))
    per_block[rng.choice(len(blocks), size=min(extra, len(blocks)), replace=False)] += 1
    streets, nodes = _streets(set(blocks), cols * bx)
    b = _buildings(blocks, per_block, rng)

    codes = [
        f"{_community_code(c)}{s:03d}"
        for c, s in zip(cells["community"], cells["seq"], strict=True)
    ]
    grid_of_block = {
        blk: code
        for code, k in zip(codes, range(len(codes)), strict=True)
        for blk in blocks[k * bx * by : (k + 1) * bx * by]
    }
    b["grid_code"] = [grid_of_block[blk] for blk in b["block"]]
    b = b.drop(columns=["block"])
    outlines = [
        _ring(
            x0 + gi * bx * BLOCK_M,
            y0 - gj * by * BLOCK_M,
            x0 + (gi + 1) * bx * BLOCK_M,
            y0 - (gj + 1) * by * BLOCK_M,
            BLOCK_M,
        )
        for gi, gj in zip(cells["gi"], cells["gj"], strict=True)
    ]
    community_codes = [_community_code(int(c)) for c in cells["community"]]
    people = [
        (identity.person_name(rng, bool(rng.random() < 0.6)), identity.phone(rng)) for _ in codes
    ]
    names = {c: f"合成{int(c[9:12])}社区" for c in community_codes}
    g = gpd.GeoDataFrame(
        {
            "code": codes,
            "name": [grid_name(names[c[:12]], c) for c in codes],
            "community_code": community_codes,
            "worker": [p[0] for p in people],
            "worker_phone": [p[1] for p in people],
        },
        geometry=[shapely.MultiPolygon([o]) for o in outlines],
        crs=METRIC_CRS,
    )
    by_grid = b.groupby("grid_code")
    for column in ("households", "residents"):
        g[column] = g["code"].map(by_grid[column].sum()).fillna(0).astype(int)
    g["buildings"] = g["code"].map(by_grid.size()).fillna(0).astype(int)
    g["area_m2"] = np.round(g.geometry.area.to_numpy(), 1)
    g["source"] = "synthetic"
    g = storage_polygons(g)

    community = gpd.GeoDataFrame(
        {"code": sorted(names)},
        geometry=[
            shapely.MultiPolygon(
                shapely.get_parts(
                    shapely.union_all(
                        g.geometry[g["community_code"] == code].values,
                        grid_size=STORAGE_PRECISION_DEG,
                    )
                )
            )
            for code in sorted(names)
        ],
        crs=STORAGE_CRS,
    )
    community.insert(1, "name", [names[c] for c in community["code"]])
    community.insert(2, "street", [f"合成{int(c[6:9])}街道" for c in community["code"]])
    community.insert(3, "district", DISTRICT[1])
    community["area_m2"] = np.round(community.to_crs(METRIC_CRS).area.to_numpy(), 1)
    community["source"] = "synthetic"

    # a camera at every third crossing each way, and an office in each community's first grid
    ij = shapely.get_coordinates(nodes.geometry.values)
    pick = np.flatnonzero(
        (np.round((ij[:, 0] - x0) / BLOCK_M) % 3 == 0)
        & (np.round((y0 - ij[:, 1]) / BLOCK_M) % 3 == 0)
    )
    cameras = gpd.GeoDataFrame(
        {
            "code": [f"SC{k + 1:05d}" for k in range(len(pick))],
            "name": None,
            "kind": "dome",
            "height_m": 6.0,
            "bearing_deg": 0.0,
            "fov_deg": 360.0,
            "range_m": 40.0,
            "target": "intersection",
            "source": "synthetic",
        },
        geometry=nodes.geometry.values[pick],
        crs=METRIC_CRS,
    )
    first = g.sort_values("code").groupby("community_code").head(1)
    offices = gpd.GeoDataFrame(
        {
            "kind": "community_office",
            "name": [f"{names[c]}居委会" for c in first["community_code"]],
            "source": "synthetic",
            "grid_code": first["code"].to_numpy(),
        },
        geometry=shapely.point_on_surface(first.geometry.values),
        crs=STORAGE_CRS,
    )
    cameras["grid_code"] = _point_codes(cameras.to_crs(STORAGE_CRS), g)
    layers = {
        "community": community,
        "grids": g,
        "buildings": b.to_crs(STORAGE_CRS),
        "streets": streets.to_crs(STORAGE_CRS),
        "street_nodes": nodes.to_crs(STORAGE_CRS),
        "facilities": offices,
        "cameras": cameras.to_crs(STORAGE_CRS),
    }
    if households:
        layers["households"] = _households(layers["buildings"], rng)
    return layers


def _point_codes(points: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> list[str | None]:
    """Return the grid each point lies in (the first, on a border), else None."""
    tree = shapely.STRtree(np.asarray(grids.geometry.values, dtype=object))
    pi, gi = tree.query(np.asarray(points.geometry.values, dtype=object), predicate="intersects")
    out: list[str | None] = [None] * len(points)
    codes = grids["code"].tolist()
    for p, k in zip(pi[::-1].tolist(), gi[::-1].tolist(), strict=True):
        out[p] = codes[k]
    return out


def _households(buildings: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Return one row per household, a point at its building's centre (EPSG:4326)."""
    n = buildings["households"].to_numpy()
    at = np.repeat(np.arange(len(buildings)), n)
    centre = shapely.get_coordinates(shapely.centroid(buildings.geometry.values))[at]
    members = rng.integers(1, 6, size=len(at))
    room = np.concatenate([np.arange(k) for k in n]) if len(n) else np.zeros(0, dtype=int)
    return gpd.GeoDataFrame(
        {
            "household_id": [f"SD{k + 1:08d}" for k in range(len(at))],
            "building_osm_id": buildings["osm_id"].to_numpy()[at],
            "grid_code": buildings["grid_code"].to_numpy()[at],
            "address": [
                f"{a}{r // 4 + 1}0{r % 4 + 1}室"
                for a, r in zip(buildings["address"].to_numpy()[at], room.tolist(), strict=True)
            ],
            "members": members,
            "rented": False,
            "source": "synthetic",
        },
        geometry=shapely.points(centre),
        crs=STORAGE_CRS,
    )


def build_district(
    path: str | os.PathLike[str],
    *,
    grids: int = 300,
    buildings: int = 20_000,
    seed: int = DEFAULT_SEED,
    households: bool = True,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Build a synthetic district workspace at ``path`` (a .gpkg file) and return its path.

    See :func:`district_layers` for the arguments; the workspace is written in one
    transaction through the store and is left out entirely when anything fails.
    """
    say = progress or (lambda _m: None)
    say(f"drawing {grids} grids and about {buildings} buildings")
    layers = district_layers(grids, buildings, seed=seed, households=households)
    say("writing workspace")
    with (
        store.building(path, overwrite=overwrite) as ws,
        ws.transaction(action="build synthetic district") as tx,
    ):
        for name, frame in layers.items():
            tx.replace(name, frame)
        tx.set_meta("title", f"合成区（{grids} 个网格，合成数据）")
        tx.set_meta("synthetic", True)
        ws.secret(ids.SECRET)
        tx.set_meta(
            "synthetic_note",
            {
                "en": "A synthetic district for measuring planning: every street, building, "
                "household, community and grid is made up.",
                "zh-CN": "用于测量规划性能的合成区：道路、楼栋、住户、社区和网格均为合成数据。",
            },
        )
        tx.set_meta(
            "generated",
            {
                "seed": seed,
                "grids": grids,
                "buildings": buildings,
                "today": date.today().isoformat(),
                "kind": "district",
            },
        )
    return Path(path)
