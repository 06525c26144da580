"""The write API (/api/layers/<name>/features): create, read, change, delete, as each role.

End-to-end on a copy of the real demo (OSM of central Nanjing with the synthetic register):
the bad-input corpus of tests/bad_input (each case a clear JSON error, the workspace
unchanged), versions and conflicts (two clients, one grid: sequentially and as two threads
against a live server), route x role for every editable layer, and the masking rules. Unit
tests of the body parser use hand-made bodies.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import shapely
from werkzeug.serving import make_server

from gridmap import store
from gridmap.access.roles import EDITABLE_LAYERS, WRITERS
from gridmap.errors import CoordinateError, GeometryError, InputError, SchemaError
from gridmap.service import feature_body, feature_schema
from tests.conftest import as_served

CORPUS = Path(__file__).with_name("bad_input")
MANIFEST = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
#: The demo grid worker's grids (the first two codes) and a grid that is not theirs.
OWN_GRID, FOREIGN_GRID = "320102001001001", "320102001001003"
#: A point inside the demo worker's first grid (lon, lat).
INSIDE = [118.7846, 32.0487]
ROLES = ("admin", "planner", "patrol_lead", "grid_worker", "analyst", None)


def _copy(demo_path: Path, folder: Path) -> store.GeoPackageWorkspace:
    copy = store.GeoPackageWorkspace(demo_path, read_only=True).backup(folder / "demo.gpkg")
    return store.GeoPackageWorkspace(copy)


@pytest.fixture(scope="module")
def wapp(demo_path, tmp_path_factory) -> Iterator[Any]:
    """An app over this module's own writable copy of the demo."""
    from web.app import create_app

    ws = _copy(demo_path, tmp_path_factory.mktemp("write"))
    yield create_app({"WORKSPACE": ws, "TESTING": True})
    ws.close()


def client_of(app: Any, tokens: dict[str, str], role: str | None) -> Any:
    """A client with the API token of ``role``; None: a browser nobody signed in to, which
    sends its session's CSRF token (so that its writes reach the route's rule)."""
    c = app.test_client()
    if role is not None:
        c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens[role]}"
    else:
        c.environ_base["HTTP_X_CSRFTOKEN"] = c.get("/api/session").get_json()["csrf_token"]
    return c


def ws_of(app: Any) -> store.GeoPackageWorkspace:
    from web.common import WORKSPACE_KEY

    return app.extensions[WORKSPACE_KEY]


def state(ws: store.Workspace) -> tuple[Any, ...]:
    """What must not change when a write is refused: every layer's count, extent and version,
    and the newest audit row."""
    layers = tuple((li.name, li.count, li.bounds, li.version) for li in ws.layers())
    return layers, int(ws.audit_log(limit=1)["fid"].iloc[0])


def etag(version: int) -> str:
    return f'"{version}"'


def point_feature(props: dict[str, Any], lonlat: list[float] = INSIDE) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": lonlat},
        "properties": props,
    }


def square(lon: float, lat: float, d: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


# -- the body parser, on bodies one can read -------------------------------------------------


def test_parse_feature_takes_a_point_and_json_types():
    change = feature_body.parse_feature(
        "cameras",
        point_feature({"code": "C1", "kind": "dome", "fov_deg": 360, "height_m": 6.5}),
    )
    assert change.values == {"code": "C1", "kind": "dome", "fov_deg": 360, "height_m": 6.5}
    assert change.geometry.equals(shapely.Point(*INSIDE))


def test_parse_feature_drops_heights_and_takes_polygons_for_grids():
    body = {"type": "Feature", "geometry": square(118.784, 32.048, 0.001), "properties": {}}
    body["geometry"]["coordinates"][0][0] = [118.784, 32.048, 12.0]
    body["geometry"]["coordinates"][0][-1] = [118.784, 32.048, 12.0]
    geom = feature_body.parse_feature("grids", body, partial=True).geometry
    assert geom.geom_type == "Polygon" and not geom.has_z
    assert geom.area == pytest.approx(1e-6)


@pytest.mark.parametrize(
    ("body", "error", "says"),
    [
        ({"properties": {"members": True}}, SchemaError, "takes a whole number"),
        ({"properties": {"members": 2.0}}, None, None),  # an integral number is an integer
        ({"properties": {"rented": 1}}, SchemaError, "true or false"),
        ({"properties": {"head_name": "李*"}}, SchemaError, "masked"),
        ({"properties": {"updated_by": "me"}}, SchemaError, "if-match"),
        ({"geometry": {"type": "Point", "coordinates": [1, True]}}, GeometryError, "position"),
        ({"geometry": {"type": "Point", "coordinates": [1e400, 2]}}, CoordinateError, "finite"),
        ({"geometry": {"type": "MultiPoint", "coordinates": [INSIDE]}}, GeometryError, "point"),
        ({"crs": {"type": "name", "properties": "EPSG:3857"}}, CoordinateError, "wgs 84"),
        ({"type": "Feature"}, InputError, "nothing to change"),
        ([], InputError, "an array"),
    ],
)
def test_parse_feature_refuses_what_the_body_alone_shows(body, error, says):
    if error is None:
        feature_body.parse_feature("households", body, partial=True)
        return
    with pytest.raises(error) as caught:
        feature_body.parse_feature("households", body, partial=True)
    assert says in caught.value.message.lower()


def test_parse_json_refuses_what_is_not_json():
    assert feature_body.parse_json(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}  # a BOM is fine
    for data, says in [
        (b"", "no body"),
        (b"{", "not valid json"),
        (b'{"a": Infinity}', "not valid json"),
        ("{}".encode("utf-16"), "utf-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
    ]:
        with pytest.raises(InputError) as caught:
            feature_body.parse_json(data)
        assert says in caught.value.message.lower(), data[:20]


def test_body_schemas_agree_with_the_parser():
    """The JSON Schema of each layer's body states its required columns, types and codes."""
    new = feature_schema.body_schema("cameras")
    props = new["properties"]["properties"]
    assert props["required"] == ["code", "kind"] and props["additionalProperties"] is False
    assert props["properties"]["kind"]["enum"] == ["fixed", "ptz", "dome"]
    assert props["properties"]["fov_deg"]["type"] == ["number", "null"]
    assert new["required"] == ["geometry", "properties"]
    people = feature_schema.body_schema("people")
    assert people["properties"]["geometry"] == {
        "type": "null",
        "description": "people have no geometry",
    }
    assert people["properties"]["properties"]["properties"]["name"]["pattern"] == r"^[^*]*\S[^*]*$"
    change = feature_schema.body_schema("grids", partial=True)
    assert "required" not in change["properties"]["properties"]
    assert [
        g["properties"]["type"]["const"] for g in change["properties"]["geometry"]["oneOf"]
    ] == [
        "Polygon",
        "MultiPolygon",
    ]


# -- the bad-input corpus --------------------------------------------------------------------


@pytest.fixture(scope="module")
def targets(wapp) -> dict[str, Any]:
    """Rows of the demo the corpus aims at (the tests here never delete demo rows)."""
    return _targets(ws_of(wapp))


def _targets(ws: store.Workspace) -> dict[str, Any]:
    visited = set(ws.read("visits", columns=("household_id",), system=False)["household_id"])
    households = ws.read("households", columns=("household_id", "grid_code"), system=False)
    own = households[households["grid_code"] == OWN_GRID]
    foreign = households[households["grid_code"] == FOREIGN_GRID]
    return {
        "with_visits": int(households[households["household_id"].isin(visited)].index[0]),
        "own": int(own.index[0]),
        "foreign": int(foreign.index[0]),
        "placeholders": {
            "{{household_id}}": own["household_id"].iloc[0],
            "{{other_household_id}}": households["household_id"].iloc[1],
            "{{foreign_grid}}": FOREIGN_GRID,
        },
    }


def _body(case: dict[str, Any], placeholders: dict[str, str]) -> bytes | None:
    name = case["body"]
    if name is None:
        return None
    if name == "<nested>":
        return b"[" * 10_000 + b"]" * 10_000
    if name == "<oversize>":
        ring = [[118.784 + i * 1e-7, 32.048] for i in range(60_000)]
        body = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}}
        data = json.dumps(body).encode()
        assert len(data) > feature_body.MAX_FEATURE_BYTES
        return data
    data = (CORPUS / name).read_bytes()
    for key, value in placeholders.items():
        data = data.replace(key.encode(), value.encode())
    return data


def test_the_manifest_names_existing_files_and_distinct_cases():
    cases = MANIFEST["cases"]
    assert len({c["case"] for c in cases}) == len(cases)
    named = {c["body"] for c in cases if c["body"] and not c["body"].startswith("<")}
    files = {p.name for p in CORPUS.iterdir() if p.name != "manifest.json"}
    assert named <= files
    # sent by test_formula_strings_are_text; the read routes' queries: tests/test_bad_queries.py;
    # planning edits: tests/test_planning_api.py; partition proposals: tests/test_plan_partition.py
    assert files - named == {
        "formula_name.json",
        "read_queries.json",
        "plan_edits.json",
        "partition_requests.json",
        "plan_restores.json",
        "plan_rebalances.json",
    }


@pytest.mark.parametrize("case", MANIFEST["cases"], ids=[c["case"] for c in MANIFEST["cases"]])
def test_bad_input_gets_a_clear_error_and_changes_nothing(wapp, role_tokens, targets, case):
    ws = ws_of(wapp)
    found = targets
    role = case.get("role", "admin")
    c = client_of(wapp, role_tokens, role)
    url = f"/api/layers/{case['layer']}/features"
    headers: dict[str, str] = {}
    if case["method"] != "POST":
        where = case["target"]
        layer = case["layer"]
        if where in ("first", "second"):
            fid = int(ws.read(layer, limit=2, system=False).index[1 if where == "second" else 0])
        else:
            fid = found[where]
        url += f"/{fid}"
        if_match = case.get("if_match", "current")
        if if_match == "current":
            if_match = etag(int(ws.feature(layer, fid)["version"].iloc[0]))
        if if_match is not None:
            headers["If-Match"] = if_match
    content_type = case.get("content_type", "application/json")
    if content_type is not None:
        headers["Content-Type"] = content_type
    before = state(ws)
    resp = c.open(
        url, method=case["method"], data=_body(case, found["placeholders"]), headers=headers
    )
    assert resp.status_code == case["status"], resp.get_data(as_text=True)[:500]
    assert resp.mimetype == "application/json"
    error = resp.get_json()["error"]
    assert error["code"] == case["code"] and error["status"] == case["status"]
    assert case["says"].lower() in error["message"].lower(), error["message"]
    assert "Traceback" not in error["message"] and ".py" not in error["message"]
    assert state(ws) == before, "a refused write changed the workspace"
    if case["status"] == 409:  # the current feature comes with the refusal
        current = resp.get_json()["current"]
        assert current["id"] == fid and resp.headers["ETag"] == etag(current["version"])


def test_a_write_without_token_or_session_is_401(wapp):
    resp = wapp.test_client().post("/api/layers/cameras/features", json=point_feature({}))
    assert resp.status_code == 401


def test_formula_strings_are_stored_as_text(wapp, role_tokens):
    """A name such as =HYPERLINK(...) is a name: stored as sent (exports neutralise it)."""
    c = client_of(wapp, role_tokens, "admin")
    body = (CORPUS / "formula_name.json").read_bytes()
    resp = c.post("/api/layers/cameras/features", data=body, content_type="application/json")
    assert resp.status_code == 201
    sent = json.loads(body)["properties"]["name"]
    assert resp.get_json()["properties"]["name"] == sent
    stored = ws_of(wapp).feature("cameras", resp.get_json()["id"])
    assert stored["name"].iloc[0] == sent


# -- create, read, change, delete -------------------------------------------------------------


def test_a_camera_round_trip_keeps_ids_versions_and_history(wapp, role_tokens):
    ws = ws_of(wapp)
    c = client_of(wapp, role_tokens, "planner")
    audit_before = int(ws.audit_log(limit=1)["fid"].iloc[0])
    made = c.post(
        "/api/layers/cameras/features",
        json=point_feature({"code": "CAM-RT-1", "kind": "ptz", "range_m": 80}),
    )
    assert made.status_code == 201 and made.headers["ETag"] == '"1"'
    doc = made.get_json()
    fid = doc["id"]
    assert made.headers["Location"] == f"/api/layers/cameras/features/{fid}"
    assert doc["version"] == 1 and doc["updated_by"] == "demo-planner"
    assert doc["properties"]["source"] == "user" and doc["geometry"]["coordinates"] == INSIDE
    # one transaction: one audit row naming the user, with its history row
    audit = ws.audit_log(limit=1).iloc[0]
    assert int(audit["fid"]) == audit_before + 1
    assert audit["user"] == "demo-planner" and audit["action"] == "edit cameras"
    history = ws.history(tx=int(audit["fid"]))
    assert history[["layer", "fid", "op"]].values.tolist() == [["cameras", fid, "insert"]]

    got = c.get(made.headers["Location"])
    assert got.status_code == 200 and got.get_json() == doc
    assert c.get(made.headers["Location"], headers={"If-None-Match": '"1"'}).status_code == 304

    moved = c.patch(
        made.headers["Location"],
        json={
            "geometry": {"type": "Point", "coordinates": [118.7850, 32.0490]},
            "properties": {"range_m": None},
        },
        headers={"If-Match": '"1"'},
    )
    assert moved.status_code == 200 and moved.headers["ETag"] == '"2"'
    after = moved.get_json()
    assert after["geometry"]["coordinates"] == [118.785, 32.049]
    assert after["properties"]["range_m"] is None and after["properties"]["kind"] == "ptz"
    # the same change again changes nothing: the version stays
    same = c.patch(
        made.headers["Location"], json={"properties": {"kind": "ptz"}}, headers={"If-Match": '"2"'}
    )
    assert same.status_code == 200 and same.get_json()["version"] == 2

    gone = c.delete(made.headers["Location"], headers={"If-Match": '"2"'})
    assert gone.status_code == 204
    assert c.get(made.headers["Location"]).status_code == 404
    ops = ws.history(layer="cameras", fid=fid)["op"].tolist()
    assert ops == ["delete", "update", "insert"]


def test_a_grid_worker_logs_a_visit_in_their_grid(wapp, role_tokens):
    """The visit names the worker and takes the household's grid; it is theirs to read back."""
    ws = ws_of(wapp)
    household = ws.read("households", where={"grid_code": OWN_GRID}, limit=1)
    c = client_of(wapp, role_tokens, "grid_worker")
    resp = c.post(
        "/api/layers/visits/features",
        json=point_feature(
            {
                "visit_id": "V-WORKER-1",
                "household_id": household["household_id"].iloc[0],
                "visited_at": "2026-11-27T10:30:00+08:00",
                "category": "elderly_alone",
                "outcome": "met",
                "note": "身体状况良好",
            },
            list(household.geometry.iloc[0].coords[0]),
        ),
    )
    assert resp.status_code == 201, resp.get_json()
    props = resp.get_json()["properties"]
    assert props["worker"] == "网格员（演示）" and props["grid_code"] == OWN_GRID
    assert props["visited_at"] == "2026-11-27T10:30:00+08:00" and props["note"] == "身体状况良好"
    assert resp.headers["Cache-Control"] == "private, no-store"
    # the reply showed personal data unmasked: recorded in the access log
    log = ws.read_log(user="demo-worker", limit=1).iloc[0]
    assert log["layer"] == "visits" and log["action"] == "edit"
    # an analyst reads it masked, by its opaque id: the stored id names nothing for them
    analyst = client_of(wapp, role_tokens, "analyst")
    assert analyst.get(resp.headers["Location"]).status_code == 404
    token = as_served(ws, "visits", "analyst", resp.get_json()["id"])
    masked = analyst.get(f"/api/layers/visits/features/{token}").get_json()
    assert masked["id"] == token and masked["properties"]["category"] == "***"
    assert "note" not in masked["properties"] and "household_id" not in masked["properties"]


def test_people_are_written_as_properties(wapp, role_tokens):
    ws = ws_of(wapp)
    household = ws.read("households", where={"grid_code": OWN_GRID}, limit=1)["household_id"].iloc[
        0
    ]
    c = client_of(wapp, role_tokens, "grid_worker")
    resp = c.post(
        "/api/layers/people/features",
        json={
            "properties": {
                "person_id": "P-NEW-1",
                "household_id": household,
                "name": "张三",
                "birth_date": "1950-01-02",
                "gender": "M",
            }
        },
    )
    assert resp.status_code == 201, resp.get_json()
    doc = resp.get_json()
    assert doc["geometry"] is None and doc["properties"]["birth_date"] == "1950-01-02"
    analyst = client_of(wapp, role_tokens, "analyst").get(resp.headers["Location"])
    assert analyst.status_code == 403  # figures per grid, not rows


def test_a_masked_reader_who_writes_keeps_what_it_cannot_see(wapp, role_tokens):
    """A patrol lead reads incidents without their description and may change them: sending
    back what they were shown leaves the description as it was; a masked value is refused."""
    ws = ws_of(wapp)
    admin = client_of(wapp, role_tokens, "admin")
    fid = int(ws.read("incidents", limit=1).index[0])
    version = int(ws.feature("incidents", fid)["version"].iloc[0])
    url = f"/api/layers/incidents/features/{fid}"
    resp = admin.patch(
        url,
        json={"properties": {"description": "王某与邻居争吵"}},
        headers={"If-Match": etag(version)},
    )
    assert resp.status_code == 200
    lead = client_of(wapp, role_tokens, "patrol_lead")
    assert lead.get(url).status_code == 404  # they name incidents by their opaque ids
    url = f"/api/layers/incidents/features/{as_served(ws, 'incidents', 'patrol_lead', fid)}"
    shown = lead.get(url).get_json()
    assert "description" not in shown["properties"]
    back = lead.patch(
        url,
        json={"properties": {**shown["properties"], "status": "closed"}},
        headers={"If-Match": etag(shown["version"])},
    )
    assert back.status_code == 200, back.get_json()
    assert ws.feature("incidents", fid)["description"].iloc[0] == "王某与邻居争吵"
    assert ws.feature("incidents", fid)["status"].iloc[0] == "closed"
    now = back.get_json()["version"]
    before = state(ws)
    starred = lead.patch(
        url, json={"properties": {"description": "王**"}}, headers={"If-Match": etag(now)}
    )
    assert starred.status_code == 400 and starred.get_json()["error"]["column"] == "description"
    assert state(ws) == before
    # a new description of their own is theirs to write
    fresh = lead.patch(
        url, json={"properties": {"description": "已调解"}}, headers={"If-Match": etag(now)}
    )
    assert fresh.status_code == 200


# -- two clients, one grid ----------------------------------------------------------------------


def _grid(ws: store.Workspace) -> tuple[int, int]:
    fid = int(ws.read("grids", where={"code": "320102001002001"}).index[0])
    return fid, int(ws.feature("grids", fid)["version"].iloc[0])


def test_two_clients_one_grid_in_turn(wapp, role_tokens):
    ws = ws_of(wapp)
    fid, v = _grid(ws)
    url = f"/api/layers/grids/features/{fid}"
    a, b = client_of(wapp, role_tokens, "planner"), client_of(wapp, role_tokens, "admin")
    assert a.get(url).headers["ETag"] == b.get(url).headers["ETag"] == etag(v)
    first = a.patch(url, json={"properties": {"name": "甲改的名"}}, headers={"If-Match": etag(v)})
    assert first.status_code == 200 and first.get_json()["version"] == v + 1
    second = b.patch(url, json={"properties": {"name": "乙改的名"}}, headers={"If-Match": etag(v)})
    assert second.status_code == 409
    doc = second.get_json()
    assert doc["error"]["code"] == "edit_conflict" and doc["error"]["actual_version"] == v + 1
    assert doc["current"]["properties"]["name"] == "甲改的名" and doc["current"]["version"] == v + 1
    assert second.headers["ETag"] == etag(v + 1)
    assert ws.feature("grids", fid)["name"].iloc[0] == "甲改的名"


@pytest.fixture
def live_write(demo_path, tmp_path) -> Iterator[tuple[str, store.GeoPackageWorkspace]]:
    """A threaded HTTP server over this test's own copy of the demo."""
    from web.app import create_app

    ws = _copy(demo_path, tmp_path)
    server = make_server(
        "127.0.0.1", 0, create_app({"WORKSPACE": ws, "TESTING": True}), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", ws
    server.shutdown()
    thread.join(timeout=5)
    ws.close()


def test_an_oversize_body_without_length_is_413(live_write, role_tokens):
    """A chunked body (no Content-Length) over the limit is refused as too large, not cut
    short and then refused as broken JSON."""
    base, ws = live_write
    before = state(ws)

    def chunks() -> Iterator[bytes]:
        yield b'{"type": "Feature", "properties": {"code": "CAM-BIG", "kind": "fixed", "name": "'
        for _ in range(1100):
            yield b"x" * 1024
        yield b'"}}'

    resp = requests.post(
        f"{base}/api/layers/cameras/features",
        data=chunks(),
        headers={
            "Authorization": f"Bearer {role_tokens['admin']}",
            "Content-Type": "application/json",
        },
    )
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "payload_too_large"
    assert state(ws) == before


def test_two_clients_one_grid_at_once(live_write, role_tokens):
    """Two threads PATCH the same grid from the same version at the same moment: one wins."""
    base, ws = live_write
    fid, v = _grid(ws)
    url = f"{base}/api/layers/grids/features/{fid}"
    barrier = threading.Barrier(2)
    replies: dict[str, requests.Response] = {}

    def edit(who: str, role: str) -> None:
        with requests.Session() as s:
            s.headers["Authorization"] = f"Bearer {role_tokens[role]}"
            assert s.get(url).headers["ETag"] == etag(v)
            barrier.wait()
            replies[who] = s.patch(
                url, json={"properties": {"name": f"{who}的名"}}, headers={"If-Match": etag(v)}
            )

    threads = [
        threading.Thread(target=edit, args=(w, r)) for w, r in (("甲", "planner"), ("乙", "admin"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    statuses = sorted(r.status_code for r in replies.values())
    assert statuses == [200, 409], {w: r.text[:300] for w, r in replies.items()}
    winner = next(w for w, r in replies.items() if r.status_code == 200)
    loser = replies["乙" if winner == "甲" else "甲"].json()
    assert replies[winner].json()["version"] == v + 1
    assert loser["current"]["version"] == v + 1
    assert loser["current"]["properties"]["name"] == f"{winner}的名"
    assert ws.feature("grids", fid)["name"].iloc[0] == f"{winner}的名"
    edits = ws.history(layer="grids", fid=fid)
    assert (edits["op"] == "update").sum() == 1


# -- route x role ------------------------------------------------------------------------------


def _new(layer: str, n: str, household: str, grid: str) -> dict[str, Any]:
    """A valid new feature of ``layer`` in ``grid`` (people and visits: of ``household``)."""
    props: dict[str, Any] = {
        "grids": {"code": f"320102009{n:0>6}", "name": f"新网格{n}"},
        "facilities": {"kind": "police_post", "name": f"警务室{n}", "grid_code": grid},
        "cameras": {"code": f"CAM-RR-{n}", "kind": "dome", "grid_code": grid},
        "households": {"household_id": f"H-RR-{n}", "grid_code": grid, "members": 2},
        "people": {"person_id": f"P-RR-{n}", "household_id": household, "name": "李四"},
        "visits": {
            "visit_id": f"V-RR-{n}",
            "household_id": household,
            "visited_at": "2026-11-20 09:00",
        },
        "incidents": {
            "incident_id": f"E-RR-{n}",
            "occurred_at": "2026-11-20T22:10:00+08:00",
            "kind": "dispute",
            "grid_code": grid,
        },
    }[layer]
    if layer == "people":
        return {"properties": props}
    if layer == "grids":
        return {
            "type": "Feature",
            "geometry": square(118.7840, 32.0480, 0.0004),
            "properties": props,
        }
    return point_feature(props)


_CHANGE = {
    "grids": {"worker": "王网格"},
    "facilities": {"address": "长江路1号"},
    "cameras": {"height_m": 5.0},
    "households": {"members": 5},
    "people": {"relation": "子女"},
    "visits": {"outcome": "not_home"},
    "incidents": {"status": "closed"},
}
_REGISTER = ("households", "people", "visits", "incidents")
_OK = {"create": 201, "read": 200, "update": 200, "delete": 204}


def _expected(role: str | None, layer: str, op: str, row: str) -> int:
    """What ``role`` gets for ``op`` on a row of the worker's grid (own) or another (foreign)."""
    if role is None:
        return 401
    foreign = row == "foreign" and layer in _REGISTER
    if op == "read":
        if layer == "people" and role in ("planner", "patrol_lead", "analyst"):
            return 403  # people come to masked roles as figures per grid, not rows
        return 404 if role == "grid_worker" and foreign else 200
    if role not in WRITERS[layer]:
        return 403
    return 404 if role == "grid_worker" and foreign else _OK[op]


@pytest.mark.parametrize("layer", EDITABLE_LAYERS)
def test_every_role_gets_its_answer_on_every_editable_layer(wapp, role_tokens, targets, layer):
    """Create, read, update and delete as each role (and nobody): allowed, 401, 403, or 404 for
    a register row of another worker's grid, as roles.WRITERS and the grid scope say."""
    ws = ws_of(wapp)
    admin = client_of(wapp, role_tokens, "admin")
    found = targets
    households = {
        "own": found["placeholders"]["{{household_id}}"],
        "foreign": ws.feature("households", found["foreign"])["household_id"].iloc[0],
    }
    grids = {"own": OWN_GRID, "foreign": FOREIGN_GRID}
    url = f"/api/layers/{layer}/features"
    seen: dict[tuple[str | None, str, str], int] = {}
    expected: dict[tuple[str | None, str, str], int] = {}
    for i, role in enumerate(ROLES):
        c = client_of(wapp, role_tokens, role)
        made = c.post(url, json=_new(layer, f"{i}{layer[:3]}", households["own"], OWN_GRID))
        seen[role, "create", "own"] = made.status_code
        expected[role, "create", "own"] = _expected(role, layer, "create", "own")
        for row in ("own", "foreign"):
            n = f"{i}{row[:1]}{layer[:3]}x"
            created = admin.post(url, json=_new(layer, n, households[row], grids[row]))
            assert created.status_code == 201, created.get_json()
            fid = created.get_json()["id"]
            rid = as_served(ws, layer, role, fid)  # the id this role is served
            seen[role, "read", row] = c.get(f"{url}/{rid}").status_code
            seen[role, "update", row] = c.patch(
                f"{url}/{rid}", json={"properties": _CHANGE[layer]}, headers={"If-Match": '"1"'}
            ).status_code
            version = int(ws.feature(layer, fid)["version"].iloc[0])
            seen[role, "delete", row] = c.delete(
                f"{url}/{rid}", headers={"If-Match": etag(version)}
            ).status_code
            for op in ("read", "update", "delete"):
                expected[role, op, row] = _expected(role, layer, op, row)
    assert seen == expected


def test_a_feature_id_beyond_64_bits_is_not_found(wapp, role_tokens):
    """Found by schemathesis: such an id was a 405 (and a SQLite overflow without the check)."""
    c = client_of(wapp, role_tokens, "admin")
    url = f"/api/layers/cameras/features/{2**63}"
    assert c.get(url).status_code == 404
    resp = c.patch(url, json={"properties": {"name": "x"}}, headers={"If-Match": '"1"'})
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "feature_not_found"
    assert c.delete(url, headers={"If-Match": '"1"'}).status_code == 404
