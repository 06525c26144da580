"""Search: normalising, ranking, who finds what, the index cache; then over HTTP on the demo.

The unit tests run on a hand-made workspace (:func:`find_layers`: the tiny fixture of
tests/conftest.py with two grids' households, three cameras and a few facilities) whose every
answer can be worked out by hand. The HTTP tests search the real demo as each role.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridmap import store
from gridmap.access.roles import ALL_ROLES, Access
from gridmap.cli.common import cli_user
from gridmap.errors import AuthenticationError, InputError, LayerNotFoundError
from gridmap.service import feature_ids
from gridmap.service import search as search_service
from gridmap.service.search_index import normalise
from gridmap.store.gpkg import encoding as geopackage
from tests.conftest import ROLE_USERS, TINY_BOX, tiny_layers

GRID_A, GRID_B = "320102001001001", "320102001001002"


def find_layers() -> dict[str, pd.DataFrame]:
    """The tiny layers plus: households H1 (grid A, 1单元302室) and H2 (grid B, 2单元101室) in
    一号楼; cameras XCAM1, CAM10, CAM1; a school, a police post and two shops on 长江路."""
    layers = tiny_layers()
    minx, miny, _, _ = TINY_BOX
    b1 = layers["buildings"].geometry.iloc[0]
    grids = layers["grids"]
    left = shapely.box(minx, miny, (minx + TINY_BOX[2]) / 2, TINY_BOX[3])
    right = shapely.box((minx + TINY_BOX[2]) / 2, miny, TINY_BOX[2], TINY_BOX[3])
    layers["grids"] = gpd.GeoDataFrame(
        {
            "code": [GRID_A, GRID_B],
            "name": ["第1网格", "第2网格"],
            "worker": ["王芳", "李强"],
            "households": [1, 1],
            "source": ["user", "user"],
        },
        geometry=[left, right],
        crs=4326,
    )
    assert len(grids) == 1
    layers["households"] = gpd.GeoDataFrame(
        {
            "household_id": ["H1", "H2"],
            "building_osm_id": [101, 101],
            "grid_code": [GRID_A, GRID_B],
            "address": ["一号楼1单元302室", "一号楼2单元101室"],
            "head_name": ["王小明", "李华"],
            "members": [3, 1],
            "source": ["synthetic"] * 2,
        },
        geometry=[b1.centroid, b1.centroid],
        crs=4326,
    )
    point = shapely.Point(minx + 0.0003, miny + 0.0001)
    layers["cameras"] = gpd.GeoDataFrame(
        {"code": ["XCAM1", "CAM10", "CAM1"], "kind": ["fixed", "dome", "ptz"]},
        geometry=[point] * 3,
        crs=4326,
    )
    layers["facilities"] = gpd.GeoDataFrame(
        {
            "kind": ["school", "police_post", "shop", "shop"],
            "name": ["长江路社区居委会小学", None, "长江路小卖部", "长江路便利店大楼"],
            "address": ["二条巷1号", "长江路2号", None, None],
        },
        geometry=[point] * 4,
        crs=4326,
    )
    return layers


def make_find_workspace(path: Path, layers: dict[str, pd.DataFrame] | None = None):
    with store.building(path) as ws, ws.transaction(action="find fixture") as tx:
        for name, frame in (layers or find_layers()).items():
            tx.replace(name, frame)
    return store.GeoPackageWorkspace(path)


@pytest.fixture
def ws(tmp_path: Path):
    workspace = make_find_workspace(tmp_path / "find.gpkg")
    yield workspace
    workspace.close()


ADMIN = Access.of("root", "admin")
PLANNER = Access.of("pia", "planner")
WORKER_A = Access.of("wang", "grid_worker", [GRID_A])


def found(ws: Any, query: str, access: Access, **kw: Any) -> dict[str, list[str]]:
    """Labels found, by layer, in the order given."""
    result = search_service.search(ws, query, access=access, **kw)
    return {g.layer: [h.label for h in g.hits] for g in result.groups}


# -- normalising -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＣＡＭ－０００１", "cam0001"),  # full-width letters, digits and hyphen
        ("Police Post", "policepost"),
        ("3201 0200-1001", "320102001001"),
        ("长江路 ２３号", "长江路23号"),
        ("  ", ""),
        (None, ""),
        (float("nan"), ""),
    ],
)
def test_normalise(text: Any, expected: str) -> None:
    assert normalise(text) == expected


# -- ranking -----------------------------------------------------------------------------------


def test_exact_code_before_prefix_before_substring(ws) -> None:
    assert found(ws, "cam1", ADMIN)["cameras"] == ["CAM1", "CAM10", "XCAM1"]
    assert found(ws, "ＣＡＭ－１", ADMIN)["cameras"] == ["CAM1", "CAM10", "XCAM1"]


def test_shorter_label_first_among_equal_matches(ws) -> None:
    # both shops start with 长江路: the shorter name first; the police post's address is
    # exactly 长江路2号, not 长江路, so it is a prefix match of an address, after the names
    labels = found(ws, "长江路", ADMIN)["facilities"]
    assert labels == ["长江路小卖部", "长江路便利店大楼", "长江路社区居委会小学", "警务站"]


def test_groups_are_ordered_by_their_best_hit(ws) -> None:
    result = search_service.search(ws, "长江路", access=ADMIN)
    assert result.groups[0].layer == "streets"  # the street is called exactly that
    assert [h.label for h in result.groups[0].hits] == ["长江路"]  # three edges, one street
    street = result.groups[0].hits[0]
    assert street.bbox is not None and street.bbox[0] < street.lon < street.bbox[2]
    # its length counts a two-way edge once: 99 m both ways plus 99 m one way, not 297 m
    assert street.detail == "198 m", street.detail
    (lane,) = search_service.search(ws, "二条巷", access=ADMIN).groups[0].hits
    assert lane.detail == "200 m", lane.detail  # one 200 m street, not 400 m


def test_limit_caps_each_group_and_counts_all(ws) -> None:
    result = search_service.search(ws, "cam", access=ADMIN, limit=2)
    (cameras,) = [g for g in result.groups if g.layer == "cameras"]
    assert cameras.matched == 3 and len(cameras.hits) == 2


def test_kinds_by_their_titles_in_both_languages(ws) -> None:
    assert found(ws, "派出所", PLANNER) == {"facilities": ["警务站"]}
    assert found(ws, "police post", PLANNER, lang="en") == {"facilities": ["Police post"]}
    assert found(ws, "School", PLANNER) == {"facilities": ["长江路社区居委会小学"]}
    assert "cameras" in found(ws, "球机", PLANNER)  # the dome camera, by its kind's title


def test_grid_by_code_name_and_worker(ws) -> None:
    for query in (GRID_A, "3201 0200 1001 001", "第1网格", "王芳"):
        assert found(ws, query, PLANNER).get("grids") == ["第1网格"], query
    hit = search_service.search(ws, GRID_A, access=PLANNER).hits[0]
    assert hit.key == GRID_A and hit.layer == "grids"
    minx, miny, maxx, maxy = hit.bbox or (0, 0, 0, 0)
    assert minx <= hit.lon <= maxx and miny <= hit.lat <= maxy


# -- who finds what ----------------------------------------------------------------------------


def test_admin_finds_households_by_id_and_address(ws) -> None:
    assert found(ws, "H1", ADMIN)["households"] == ["一号楼1单元302室"]
    assert found(ws, "2单元101", ADMIN)["households"] == ["一号楼2单元101室"]


def test_a_planner_never_finds_a_household(ws) -> None:
    for query in ("H1", "h2", "1单元302", "302室", "一号楼"):
        result = search_service.search(ws, query, access=PLANNER)
        assert "households" not in result.layers
        assert all(g.layer != "households" for g in result.groups), query
    # 一号楼 is still found: as the building, which the masked view serves
    assert found(ws, "一号楼", PLANNER) == {"buildings": ["一号楼"]}


def stored(ws: store.GeoPackageWorkspace, groups: tuple[Any, ...]) -> list[Any]:
    """The groups of a planner's search with each hit's id as the stored id it stands for."""
    return [
        (
            g.layer,
            g.matched,
            [replace(h, id=feature_ids.stored_id(ws, h.layer, PLANNER, str(h.id))) for h in g.hits],
        )
        for g in groups
    ]


def test_a_planners_results_do_not_depend_on_the_households(ws, tmp_path: Path) -> None:
    """No hit, count or order of a masked reader changes when the register does."""
    layers = find_layers()
    layers["households"] = layers["households"].iloc[0:0]
    layers["people"] = layers["people"].iloc[0:0]
    without = make_find_workspace(tmp_path / "empty.gpkg", layers)
    try:
        for query in ("H1", "一号楼", "1单元", "长江路", "302", "cam", "第"):
            a = search_service.search(ws, query, access=PLANNER)
            b = search_service.search(without, query, access=PLANNER)
            # the same hits; a building's opaque id is the workspace's own (its own key)
            assert stored(ws, a.groups) == stored(without, b.groups), query
    finally:
        without.close()


def test_a_grid_worker_finds_own_grid_households_only(ws) -> None:
    assert found(ws, "H1", WORKER_A) == {"households": ["一号楼1单元302室"]}
    assert "households" not in found(ws, "H2", WORKER_A)
    assert "households" not in found(ws, "2单元101", WORKER_A)
    groups = search_service.search(ws, "单元", access=WORKER_A).groups
    assert [(g.layer, g.matched) for g in groups] == [("households", 1)]


def test_anonymous_finds_only_public_layers(ws) -> None:
    with pytest.raises(AuthenticationError):
        search_service.search(ws, "cam", access=Access.anonymous())
    public = Access.anonymous(["cameras"])
    assert search_service.searchable(public) == ["cameras"]
    assert found(ws, "cam1", public) == {"cameras": ["CAM1", "CAM10", "XCAM1"]}
    assert found(ws, "第1网格", public) == {}
    # households can never be opened to nobody, so they are never searched
    assert "households" not in search_service.searchable(Access.anonymous(["households"]))


def test_searchable_layers_by_role() -> None:
    assert search_service.searchable(ADMIN) == [
        "community",
        "grids",
        "buildings",
        "streets",
        "facilities",
        "cameras",
        "households",
    ]
    for role in ("planner", "patrol_lead", "analyst"):
        names = search_service.searchable(Access.of("x", role))
        assert "households" not in names and {"grids", "buildings", "cameras"} <= set(names)
    assert "households" in search_service.searchable(WORKER_A)


def test_a_search_showing_households_is_in_the_access_log(ws) -> None:
    before = len(ws.read_log())
    search_service.search(ws, "一号楼", access=PLANNER)
    assert len(ws.read_log()) == before  # masked: nothing personal shown
    search_service.search(ws, "H1", access=ADMIN)
    row = ws.read_log().iloc[0]
    assert (row["user"], row["action"], row["layer"], row["rows"]) == (
        "root",
        "search",
        "households",
        1,
    )
    assert '"H1"' in row["filter"]


def test_an_id_number_searched_for_is_logged_masked(ws) -> None:
    """A register keyed by the head's ID number: the log keeps the query masked, not in clear."""
    one = ws.read("households", limit=1, system=False)
    one["household_id"] = "32010219500102123X"
    ws.append("households", one)
    hits = found(ws, "32010219500102123X", ADMIN, layers=["households"])
    assert len(hits["households"]) == 1
    row = ws.read_log(limit=1).iloc[0]
    assert row["action"] == "search" and json.loads(row["filter"]) == {"q": "32***************X"}
    search_service.search(ws, "电话13812345678", access=ADMIN)  # found nothing: not logged
    assert ws.read_log(limit=1).iloc[0]["id"] == row["id"]


def test_layers_and_bad_requests(ws) -> None:
    assert found(ws, "长江路", ADMIN, layers=["facilities"]).keys() == {"facilities"}
    assert found(ws, "长江路", PLANNER, layers=["households"]) == {}
    with pytest.raises(LayerNotFoundError):
        search_service.search(ws, "x", access=ADMIN, layers=["nothing"])
    for bad in ({"limit": 0}, {"limit": 51}, {"lang": "fr"}):
        with pytest.raises(InputError):
            search_service.search(ws, "x", access=ADMIN, **bad)
    with pytest.raises(InputError):
        search_service.search(ws, "", access=ADMIN)
    with pytest.raises(InputError):
        search_service.search(ws, "x" * 101, access=ADMIN)
    assert search_service.search(ws, " - ", access=ADMIN).groups == ()  # nothing left to find


# -- the index cache ---------------------------------------------------------------------------


def test_the_index_is_kept_until_the_layers_change(ws) -> None:
    search_service.clear_cache()
    first = search_service.layer_index(ws, "cameras")
    assert search_service.layer_index(ws, "cameras") is first
    search_service.search(ws, "H1", access=ADMIN)  # writes the access log: the stamp moves
    assert search_service.layer_index(ws, "cameras") is first  # but the layers did not
    with ws.transaction(action="add camera") as tx:
        tx.append(
            "cameras",
            gpd.GeoDataFrame(
                {"code": ["CAM99"], "kind": ["fixed"]},
                geometry=[shapely.Point(TINY_BOX[0] + 0.0005, TINY_BOX[1] + 0.0005)],
                crs=4326,
            ),
        )
    assert search_service.layer_index(ws, "cameras") is not first
    assert found(ws, "cam99", PLANNER) == {"cameras": ["CAM99"]}


def test_an_edit_by_another_program_is_seen_at_the_next_search(ws) -> None:
    """QGIS renaming a grid keeps count and extent; the version trigger moves the content."""
    search_service.clear_cache()
    assert found(ws, "第2网格", PLANNER) == {"grids": ["第2网格"]}
    before = ws.content_stamp()
    search_service.search(ws, "H1", access=ADMIN)  # an audited read: the file changes
    assert ws.content_stamp() == before
    with contextlib.closing(sqlite3.connect(ws.path)) as conn, conn:
        geopackage.register_functions(conn)  # GDAL provides these to the R-tree triggers
        conn.execute("UPDATE grids SET name = '南门网格' WHERE code = ?", (GRID_B,))
    assert ws.content_stamp() != before
    assert found(ws, "南门", PLANNER) == {"grids": ["南门网格"]}


def test_an_edit_that_keeps_counts_and_extent_is_seen(ws) -> None:
    """A gridmap edit raises the layer's version, so the index is rebuilt at once."""
    search_service.clear_cache()
    assert found(ws, "第2网格", PLANNER) == {"grids": ["第2网格"]}
    fid = int(ws.read("grids", where={"code": GRID_B}).index[0])
    with ws.transaction(action="rename") as tx:
        tx.update("grids", fid, {"name": "北门网格"})
    assert found(ws, "北门", PLANNER) == {"grids": ["北门网格"]}
    assert found(ws, "第2网格", PLANNER) == {}


# -- over HTTP, on the demo --------------------------------------------------------------------


def _get(client: Any, query: str, **params: Any) -> Any:
    return client.get("/api/search", query_string={"q": query, **params})


def test_route_rules(app) -> None:
    from web.auth import route_roles

    assert route_roles(app, "find.search") == frozenset(ALL_ROLES)
    assert route_roles(app, "find.building_register") == frozenset(ALL_ROLES)


def test_every_role_finds_a_grid_by_its_code(client_as, anon_client, demo_workspace) -> None:
    grid = demo_workspace.read("grids", columns=["code", "name"]).iloc[7]
    fid = int(demo_workspace.read("grids", where={"code": grid["code"]}).index[0])
    for role in ("admin", "planner", "patrol_lead", "grid_worker", "analyst"):
        resp = _get(client_as(role), grid["code"])
        assert resp.status_code == 200, role
        doc = resp.get_json()
        hit = doc["hits"][0]
        assert (hit["layer"], hit["id"], hit["label"], hit["key"]) == (
            "grids",
            fid,
            grid["name"],
            grid["code"],
        )
        assert doc["groups"][0]["title"] == {"en": "Grids", "zh-CN": "网格"}
    resp = _get(anon_client, grid["code"])
    assert resp.status_code == 401  # no layer is open to the public in the demo


def test_households_over_http_by_role(client_as, demo_workspace) -> None:
    worker = demo_workspace.get_user(ROLE_USERS["grid_worker"])
    assert worker is not None
    households = demo_workspace.read("households", columns=["household_id", "grid_code"])
    own = households[households.grid_code.isin(worker.grids)].iloc[3]
    other = households[~households.grid_code.isin(worker.grids)].iloc[3]
    for hid, role, expect in [
        (own.household_id, "grid_worker", True),
        (other.household_id, "grid_worker", False),
        (own.household_id, "admin", True),
        (other.household_id, "admin", True),
        (own.household_id, "planner", False),
        (own.household_id, "analyst", False),
    ]:
        resp = _get(client_as(role), hid)
        doc = resp.get_json()
        hits = [h for h in doc["hits"] if h["layer"] == "households"]
        assert bool(hits) is expect, (role, hid)
        if expect:
            assert hits[0]["detail"].startswith(hid) and hits[0]["key"] == hid
            assert resp.headers["Cache-Control"] == "private, no-store"
        else:
            assert doc["hits"] == []
            assert ("households" in doc["layers"]) is (role == "grid_worker")


def test_camera_and_address_over_http(client_as, demo_workspace) -> None:
    camera = demo_workspace.read("cameras", columns=["code", "name"]).iloc[4]
    doc = _get(client_as("planner"), camera["code"].lower()).get_json()
    assert doc["hits"][0]["layer"] == "cameras" and doc["hits"][0]["key"] == camera["code"]
    building = demo_workspace.read("buildings", columns=["address", "name"])
    address = building[building.name.isna()].address.dropna().iloc[10]
    doc = _get(client_as("analyst"), address).get_json()
    hits = [h for h in doc["hits"] if h["layer"] == "buildings"]
    assert hits and hits[0]["label"] == address


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "x", "limit": "0"},
        {"q": "x", "limit": "51"},
        {"q": "x", "limit": "many"},
        {"q": "x", "lang": "fr"},
        {"q": "x", "layers": "people"},
        {"q": "x" * 101},
    ],
)
def test_bad_searches_are_400_in_both_languages(client, params) -> None:
    resp = client.get("/api/search", query_string=params)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "invalid_input"


def test_messages_people_read_are_bilingual(client) -> None:
    for params in ({}, {"q": "x", "lang": "fr"}, {"q": "x", "layers": "people"}):
        message = client.get("/api/search", query_string=params).get_json()["error"]["message"]
        assert any("\u4e00" <= c <= "\u9fff" for c in message), message


def test_anonymous_over_http_with_public_layers(demo_path, tmp_path) -> None:
    from gridmap.service import accounts
    from tests.conftest import client_for
    from web.app import create_app

    copy = store.GeoPackageWorkspace(demo_path, read_only=True).backup(tmp_path / "pub.gpkg")
    ws = store.GeoPackageWorkspace(copy)
    accounts.set_public_layers(ws, ["cameras", "streets"])
    app = create_app({"WORKSPACE": ws, "TESTING": True})
    doc = client_for(app, None).get("/api/search?q=长江路").get_json()
    assert doc["layers"] == ["streets", "cameras"]
    assert {h["layer"] for h in doc["hits"]} <= {"streets", "cameras"} and doc["hits"]
    ws.close()


# -- the command line --------------------------------------------------------------------------


def test_gridmap_search_command(ws, capsys) -> None:
    from gridmap.cli import main
    from gridmap.service import accounts

    accounts.add_user(ws, "wang", "grid_worker", password="a-long-password-1", grids=[GRID_A])
    assert main(["search", str(ws.path), "H1"]) == 0  # as a masked reader: no household
    assert capsys.readouterr().out.startswith("Nothing found for 'H1'.")
    # as a grid worker, households show unmasked: only with --personal, and logged as the
    # operating-system user acting for the account
    assert main(["search", str(ws.path), "H", "--as", "wang"]) == 2
    assert "--personal" in capsys.readouterr().err
    assert main(["search", str(ws.path), "H", "--as", "wang", "--personal"]) == 0
    out = capsys.readouterr().out
    assert "住户 Households (1):" in out and "一号楼1单元302室" in out and "H2" not in out
    (row,) = ws.read_log(limit=1).to_dict("records")
    assert row["user"] == f"{cli_user()} as wang" and row["role"] == "grid_worker"
    # without households among the layers searched, nothing shows unmasked
    assert main(["search", str(ws.path), "一号楼", "--as", "wang", "--layers", "buildings"]) == 0
    capsys.readouterr()
    assert main(["search", str(ws.path), "H", "--role", "grid_worker", "--grids", GRID_A]) == 2
    assert main(["search", str(ws.path), "H", "--role", "planner", "--personal"]) == 2
    assert "sees it masked" in capsys.readouterr().err
    assert main(["search", str(ws.path), "H1", "--role", "planner"]) == 0
    assert capsys.readouterr().out.startswith("Nothing found for 'H1'.")
    assert main(["search", str(ws.path), "cam1", "--json", "--layers", "cameras"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [h["label"] for h in hits] == ["CAM1", "CAM10", "XCAM1"]
    assert main(["search", str(ws.path), "x", "--as", "nobody"]) == 2
    assert "nobody" in capsys.readouterr().err
    assert main(["search", str(ws.path), "x", "--as", "wang", "--role", "admin"]) == 2
    assert "not both" in capsys.readouterr().err
    accounts.set_disabled(ws, "wang", True)  # a disabled account reads nothing here either
    assert main(["search", str(ws.path), "H", "--as", "wang", "--personal"]) == 2
    assert "disabled" in capsys.readouterr().err


def test_a_code_is_found_without_its_leading_zeros(demo_workspace) -> None:
    for query in ("cam5", "CAM 5", "cam0005"):
        result = search_service.search(demo_workspace, query, access=PLANNER, layers=["cameras"])
        assert result.groups[0].hits[0].key == "CAM0005", query
