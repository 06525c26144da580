"""The map's bubbles: points gathered into cells of the pixel grid (gridmap.service.clusters)
and the route that serves them (/api/layers/<name>/clusters), by role.

The cell arithmetic is checked on a handful of points placed by hand, where each cell, count,
centroid and stack can be worked out on paper; the service and the route on the real demo,
against the stored households themselves.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from gridmap.access.roles import Access
from gridmap.errors import (
    AuthenticationError,
    InputError,
    LayerNotFoundError,
    PermissionDeniedError,
)
from gridmap.service import clusters as C
from tests.conftest import ROLE_USERS

# -- the pixel grid, on paper ----------------------------------------------------------------


def test_pixel_xy_is_web_mercator_of_256_pixel_tiles():
    x, y = C.pixel_xy(
        np.array([0.0, -180.0, 180.0, 0.0]), np.array([0.0, 0.0, 0.0, 85.0511287798]), 0
    )
    assert x.tolist() == [128.0, 0.0, 256.0, 128.0]
    assert y[0] == pytest.approx(128.0) and y[3] == pytest.approx(0.0, abs=1e-6)
    x2, y2 = C.pixel_xy(np.array([90.0]), np.array([0.0]), 2)  # 1024 pixels wide at zoom 2
    assert (x2[0], y2[0]) == (pytest.approx(768.0), pytest.approx(512.0))
    # latitude 45°: y = (1 - ln(tan 45° + sec 45°) / π) / 2 × 256
    _, y45 = C.pixel_xy(np.array([0.0]), np.array([45.0]), 0)
    assert y45[0] == pytest.approx((1 - math.log(1 + math.sqrt(2)) / math.pi) / 2 * 256)


def test_cells_counts_centroids_and_boxes():
    # Zoom 1: the world is 512 pixels, 8 × 8 cells of 64 pixels, each 45° of longitude wide.
    # Two points in the cell of column 4 (0°..45° E), one in column 6 (90°..135° E); all at
    # latitude 10° N (y = 227.6: row 3).
    lon = np.array([10.0, 30.0, 100.0])
    lat = np.array([10.0, 10.0, 10.0])
    cells = C.cluster_points(lon, lat, zoom=1)
    assert [(c.col, c.row, c.count) for c in cells] == [(4, 3, 2), (6, 3, 1)]
    first = cells[0]
    assert (first.lon, first.lat) == (20.0, 10.0)  # the centroid of its two points
    assert first.bbox == (10.0, 10.0, 30.0, 10.0)
    assert first.places == 2 and first.stacks == ()  # two places, none stacked
    assert cells[1].bbox == (100.0, 10.0, 100.0, 10.0)


def test_cells_come_north_to_south_then_west_to_east():
    lon = np.array([100.0, 10.0, 10.0])
    lat = np.array([50.0, 50.0, -50.0])  # rows 2, 2 and 5 at zoom 1
    cells = C.cluster_points(lon, lat, zoom=1)
    assert [(c.row, c.col) for c in cells] == [(2, 4), (2, 6), (5, 4)]


def test_a_higher_zoom_splits_a_cell():
    lon = np.array([10.0, 30.0])
    lat = np.array([10.0, 10.0])
    assert len(C.cluster_points(lon, lat, zoom=1)) == 1
    assert len(C.cluster_points(lon, lat, zoom=3)) == 2  # 11.25° columns at zoom 3


def test_stacks_are_points_on_one_coordinate_with_the_key_they_share():
    # A building of three households, another of two (one of them on another building's
    # record: the key is mixed), and a lone household; all in one cell at zoom 10.
    lon = np.array([118.78, 118.78, 118.78, 118.781, 118.781, 118.782])
    lat = np.array([32.04, 32.04, 32.04, 32.041, 32.041, 32.042])
    keys = [7, 7, 7, 8, 9, 10]
    (cell,) = C.cluster_points(lon, lat, zoom=10, keys=keys)
    assert cell.count == 6 and cell.places == 3
    assert cell.stacks == (C.Stack(118.78, 32.04, 3, 7), C.Stack(118.781, 32.041, 2, None))
    # without keys the stacks are the same places
    (plain,) = C.cluster_points(lon, lat, zoom=10)
    assert [(s.count, s.key) for s in plain.stacks] == [(3, None), (2, None)]


def test_points_that_agree_to_seven_decimals_are_one_place():
    lon = np.array([118.7800000, 118.78000001, 118.7800002])
    lat = np.array([32.04, 32.04, 32.04])
    (cell,) = C.cluster_points(lon, lat, zoom=15)
    assert cell.places == 2 and cell.stacks[0].count == 2


def test_a_cell_lists_at_most_max_stacks_the_largest_first():
    lon = np.repeat([118.78, 118.7801, 118.7802], [2, 4, 3])
    lat = np.full(9, 32.04)
    (cell,) = C.cluster_points(lon, lat, zoom=12, max_stacks=2)
    assert [s.count for s in cell.stacks] == [4, 3] and cell.places == 3


def test_no_points_no_cells():
    assert C.cluster_points(np.array([]), np.array([]), zoom=5) == ()


@pytest.mark.parametrize("zoom", [-1, 25, 1.5, True, "3"])
def test_zoom_must_be_a_whole_level(zoom):
    with pytest.raises(InputError, match="zoom must be a whole number from 0 to 24"):
        C.check_zoom(zoom)


@pytest.mark.parametrize(
    ("bbox", "says"),
    [
        ((math.nan, 0.0, 1.0, 1.0), "finite"),
        ((0.0, 0.0, math.inf, 1.0), "finite"),
        ((0.0, 0.0, 190.0, 1.0), "-180..180"),
        ((0.0, -95.0, 1.0, 1.0), "-90..90"),
        ((2.0, 0.0, 1.0, 1.0), "minimum is above its maximum"),
    ],
)
def test_a_bbox_must_be_a_box_on_earth(bbox, says):
    with pytest.raises(InputError, match=says):
        C.check_bbox(bbox)


# -- the service on the demo, by role ---------------------------------------------------------


def _access(ws: Any, role: str) -> Access:
    name = ROLE_USERS[role]
    user = ws.get_user(name)
    return Access.of(name, role, user.grids if user else ())


def test_every_household_is_in_one_cell_and_stacks_are_buildings(demo_workspace):
    admin = _access(demo_workspace, "admin")
    got = C.layer_clusters(demo_workspace, "households", access=admin, zoom=15)
    stored = demo_workspace.read("households", columns=("building_osm_id",), system=False)
    assert got.matched == len(stored) == sum(c.count for c in got.cells)
    assert got.stack_key == "building_osm_id"
    per_building = stored.groupby("building_osm_id").size()
    stacks = [s for c in got.cells for s in c.stacks]
    assert stacks and all(s.key is not None for s in stacks)
    for s in stacks[:50]:  # each stack holds exactly its building's households
        assert s.count == per_building[s.key]
    doc = json.loads(json.dumps(got.document()))  # JSON as it is served
    assert doc["numberMatched"] == len(stored) and doc["zoom"] == 15 and doc["cell_px"] == 64
    assert set(doc["clusters"][0]) == {"count", "lon", "lat", "bbox", "places", "stacks"}


def test_a_bbox_keeps_the_points_in_it(demo_workspace):
    admin = _access(demo_workspace, "admin")
    box = (118.785, 32.040, 118.790, 32.045)
    got = C.layer_clusters(demo_workspace, "households", access=admin, zoom=17, bbox=box)
    assert got.matched == demo_workspace.count("households", bbox=box) > 0
    for c in got.cells:
        w, s, e, n = c.bbox
        assert box[0] <= w <= e <= box[2] and box[1] <= s <= n <= box[3]


def test_a_grid_worker_gets_the_households_of_their_grids(demo_workspace):
    worker = _access(demo_workspace, "grid_worker")
    got = C.layer_clusters(demo_workspace, "households", access=worker, zoom=15)
    own = demo_workspace.count("households", where={"grid_code": sorted(worker.grids)})
    assert 0 < got.matched == own < demo_workspace.count("households")


def test_a_masked_reader_gets_the_same_counts_and_buildings(demo_workspace):
    admin = C.layer_clusters(
        demo_workspace, "households", access=_access(demo_workspace, "admin"), zoom=16
    )
    planner = C.layer_clusters(
        demo_workspace, "households", access=_access(demo_workspace, "planner"), zoom=16
    )
    assert planner.document() == admin.document()  # counts and buildings: nothing personal
    with pytest.raises(InputError, match="rented"):  # not filterable in the masked view
        C.layer_clusters(
            demo_workspace,
            "households",
            access=_access(demo_workspace, "planner"),
            zoom=16,
            where=["rented=true"],
        )


def test_filters_narrow_the_cells(demo_workspace):
    admin = _access(demo_workspace, "admin")
    got = C.layer_clusters(
        demo_workspace, "households", access=admin, zoom=15, where=["rented=true"]
    )
    assert got.matched == demo_workspace.count("households", where={"rented": True}) > 0
    grid = demo_workspace.read("grids", columns=("code",), system=False)["code"].iloc[0]
    one = C.layer_clusters(demo_workspace, "households", access=admin, zoom=15, grids=grid)
    assert one.matched == demo_workspace.count("households", where={"grid_code": grid}) > 0


def test_a_masked_reader_selects_by_token_never_by_stored_id(demo_workspace):
    from gridmap.service import feature_ids

    planner = _access(demo_workspace, "planner")
    fid = int(demo_workspace.read("households", columns=("household_id",), limit=1).index[0])
    [token] = feature_ids.served_ids(demo_workspace, "households", planner, [fid])
    assert isinstance(token, str)
    got = C.layer_clusters(demo_workspace, "households", access=planner, zoom=15, ids=token)
    assert got.matched == 1
    with pytest.raises(InputError):  # a stored id from a reader served tokens names nothing
        C.layer_clusters(demo_workspace, "households", access=planner, zoom=15, ids=str(fid))


def test_who_may_not_read_is_refused(demo_workspace):
    nobody = Access.anonymous()
    with pytest.raises(AuthenticationError):
        C.layer_clusters(demo_workspace, "households", access=nobody, zoom=15)
    analyst = _access(demo_workspace, "analyst")
    with pytest.raises(PermissionDeniedError, match="without their place"):
        C.layer_clusters(demo_workspace, "visits", access=analyst, zoom=15)  # masked visits
    with pytest.raises(PermissionDeniedError):
        C.layer_clusters(demo_workspace, "people", access=analyst, zoom=15)
    admin = _access(demo_workspace, "admin")
    with pytest.raises(InputError, match="point layers; 'grids' is a multipolygon layer"):
        C.layer_clusters(demo_workspace, "grids", access=admin, zoom=15)
    with pytest.raises(InputError, match="'people' has no geometry"):
        C.layer_clusters(demo_workspace, "people", access=admin, zoom=15)
    with pytest.raises(LayerNotFoundError):
        C.layer_clusters(demo_workspace, "nosuch", access=admin, zoom=15)


def test_nothing_is_written_to_the_access_log(demo_workspace):
    before = len(demo_workspace.read_log(limit=10_000))
    C.layer_clusters(demo_workspace, "households", access=_access(demo_workspace, "admin"), zoom=14)
    assert len(demo_workspace.read_log(limit=10_000)) == before


# -- the route ---------------------------------------------------------------------------------

URL = "/api/layers/{}/clusters?zoom=15"


def test_the_route_answers_the_cells(client_as, demo_workspace):
    resp = client_as("analyst").get(URL.format("households"))
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    doc = resp.get_json()
    assert doc["numberMatched"] == demo_workspace.count("households")
    assert doc["layer"] == "households" and doc["stack_key"] == "building_osm_id"
    assert sum(c["count"] for c in doc["clusters"]) == doc["numberMatched"]
    assert resp.headers["Cache-Control"] == "private, no-cache" and resp.headers["ETag"]
    again = client_as("analyst").get(
        URL.format("households"), headers={"If-None-Match": resp.headers["ETag"]}
    )
    assert again.status_code == 304


def test_the_route_obeys_roles(client_as, anon_client, demo_workspace):
    assert anon_client.get(URL.format("households")).status_code == 401
    refused = client_as("analyst").get(URL.format("visits"))
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "permission_denied"
    worker = client_as("grid_worker").get(URL.format("households")).get_json()
    mine = demo_workspace.get_user(ROLE_USERS["grid_worker"]).grids
    assert worker["numberMatched"] == demo_workspace.count(
        "households", where={"grid_code": sorted(mine)}
    )
    admin = client_as("admin").get(URL.format("visits")).get_json()
    assert admin["numberMatched"] == demo_workspace.count("visits")


def test_a_masked_reader_gets_no_personal_values(client_as):
    doc = client_as("planner").get(URL.format("households") + "&bbox=118.78,32.04,118.79,32.05")
    text = doc.get_data(as_text=True)
    for column in ("head_name", "phone", "household_id", "members", "rented"):
        assert column not in text
