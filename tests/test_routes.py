"""Every route declares who may call it, and every role gets exactly what the table says.

The table is the routes' own ``@allow(...)`` rules (:mod:`web.auth`). The first test walks the
app's URL map and fails on a route without a rule; the second calls every route with every
method as every role — anonymous, and each role's demo account by its API token — and checks
allowed against refused: 401 for nobody signed in, 403 for a role the route does not allow.
Routes added later join these tests by being routes. What a role may read *inside* a route
(the register, another worker's grid) is checked after that, against the data policy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gridmap import store
from gridmap.access.roles import ALL_ROLES, ANONYMOUS, openable_layers
from gridmap.service import accounts
from tests.conftest import ROLE_USERS, client_for
from web.app import create_app
from web.auth import route_roles

#: A value for each URL variable, so that a route can be called (what it names may not exist:
#: a 404 is an answer of the route, not a refusal).
SAMPLE_ARGS = {
    "name": "grids",
    "cid": "grids",
    "layer": "grids",
    "fid_text": "1",
    "fid": "1",
    "filename": "css/map.css",
}
VENDOR_FILE = "leaflet/dist/leaflet.js"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: The messages of the route check itself (web.auth.check_route).
ROUTE_REFUSALS = ("Sign in first.", "may not do this.")


@pytest.fixture(scope="module")
def routes_app(demo_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An app over a copy of the demo whose non-personal layers are open to anonymous readers
    (so that a route anyone may call has something to answer them with)."""
    copy = tmp_path_factory.mktemp("routes") / "demo.gpkg"
    store.GeoPackageWorkspace(demo_path, read_only=True).backup(copy)
    ws = store.GeoPackageWorkspace(copy)
    accounts.set_public_layers(ws, openable_layers())
    return create_app({"WORKSPACE": ws, "TESTING": True})


def _url(adapter: Any, rule: Any, method: str) -> str:
    """Return a URL of ``rule`` built with the sample arguments (ints where it takes ints)."""
    args: dict[str, Any] = {a: SAMPLE_ARGS.get(a, "1") for a in rule.arguments}
    if rule.endpoint == "pages.vendor":
        args["filename"] = VENDOR_FILE
    for name, converter in rule._converters.items():
        if type(converter).__name__ in ("IntegerConverter", "NumberConverter"):
            args[name] = 1
    return str(adapter.build(rule.endpoint, args, method=method))


def _calls(app: Any) -> list[tuple[str, str, str]]:
    adapter = app.url_map.bind("localhost")
    out = []
    for rule in app.url_map.iter_rules():
        for method in METHODS:
            if method in (rule.methods or ()):
                out.append((rule.endpoint, method, _url(adapter, rule, method)))
    return out


def test_every_route_declares_its_roles(app):
    missing = [
        rule.rule for rule in app.url_map.iter_rules() if route_roles(app, rule.endpoint) is None
    ]
    assert not missing, f"routes without @allow(...): {missing}"
    assert len(list(app.url_map.iter_rules())) >= 20


def _refused_by_route(resp: Any) -> bool:
    if resp.status_code not in (401, 403) or not resp.is_json:
        return False
    doc = resp.get_json()
    message = (doc.get("error") or {}).get("message") or doc.get("description") or ""
    return any(message.endswith(text) for text in ROUTE_REFUSALS)


def test_every_route_as_every_role(routes_app):
    """Allowed roles are never refused by the route; the others get 401 (nobody) or 403."""
    calls = _calls(routes_app)
    wrong: list[str] = []
    for role in ALL_ROLES:
        client = client_for(routes_app, None if role == ANONYMOUS else role)
        for endpoint, method, url in calls:
            allowed = role in (route_roles(routes_app, endpoint) or ())
            body = json.dumps({}) if method in ("POST", "PUT", "PATCH") else None
            resp = client.open(url, method=method, data=body, content_type="application/json")
            resp.close()
            if allowed and (_refused_by_route(resp) or resp.status_code >= 500):
                wrong.append(f"{role} {method} {url}: {resp.status_code} (allowed)")
            if not allowed:
                expected = 401 if role == ANONYMOUS else 403
                if resp.status_code != expected:
                    wrong.append(f"{role} {method} {url}: {resp.status_code}, not {expected}")
    assert not wrong, "\n".join(wrong)


def _cookie_session(app: Any, name: str, password: str) -> Any:
    client = app.test_client()
    token = client.get("/api/session").get_json()["csrf_token"]
    body = {"name": name, "password": password}
    resp = client.post("/api/session", json=body, headers={"X-CSRFToken": token})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return client


def test_no_state_changes_from_a_cookie_without_the_csrf_token(routes_app):
    """Every state-changing route, called by a signed-in browser session without the page's
    CSRF token, is refused before it runs (400 csrf_failed) — admin routes included."""
    from tests.conftest import ADMIN_PASSWORD

    admin = _cookie_session(routes_app, "admin", ADMIN_PASSWORD)
    wrong = []
    for endpoint, method, url in _calls(routes_app):
        if method == "GET":
            continue
        resp = admin.open(url, method=method, json={})
        code = (resp.get_json(silent=True) or {}).get("error", {}).get("code")
        if resp.status_code != 400 or code != "csrf_failed":
            wrong.append(f"{method} {url} ({endpoint}): {resp.status_code} {code}")
        resp.close()
    assert not wrong, "\n".join(wrong)
    assert admin.get("/api/session").get_json()["user"] == "admin"  # still signed in


#: Who may call what, written down: a rule changed by mistake in the code fails here.
PINNED = {
    "pages.map_page": "everyone",
    "login.login_page": "everyone",
    "api.layer": "everyone",
    "api.export": "signed in",
    "api.figures": "signed in",
    "ogc.items": "everyone",
    "admin.admin_page": {"admin"},
    "edit.create": {"admin", "planner", "patrol_lead", "grid_worker"},
    "table.rows": "everyone",
    "table.values": "everyone",
    "clusters.clusters": "everyone",
    "find.search": "everyone",
    "find.building_register": "everyone",
    "print.start": "signed in",
    "print.download": "signed in",
    "planning.edit": {"admin", "planner"},
    "planning.undo": {"admin", "planner"},
    "planning.redo": {"admin", "planner"},
    "planning.restore": {"admin", "planner"},
    "planning.versions": "signed in",
    "planning.version": "signed in",
    "planning.blocks": "signed in",
    "planning.plan": "signed in",
    "planning.rebalance_proposal": {"admin", "planner"},
    "planning.rebalance_apply": {"admin", "planner"},
    "planning.partition": {"admin", "planner"},
    "planning.partition_accept": {"admin", "planner"},
    "planning.checks": "signed in",
}


def test_the_pinned_rules(app):
    names = {"everyone": frozenset(ALL_ROLES), "signed in": frozenset(ALL_ROLES) - {ANONYMOUS}}
    for endpoint, rule in PINNED.items():
        expected = names[rule] if isinstance(rule, str) else frozenset(rule)
        assert route_roles(app, endpoint) == expected, endpoint
    # every write and admin route is closed to nobody signed in
    for rule in app.url_map.iter_rules():
        changes = set(rule.methods or ()) & {"POST", "PUT", "PATCH", "DELETE"}
        public = rule.endpoint.startswith("login.")  # signing in and out
        if changes and not public:
            assert ANONYMOUS not in (route_roles(app, rule.endpoint) or ()), rule.rule
        if rule.rule.startswith(("/api/admin", "/admin")):
            assert route_roles(app, rule.endpoint) == {"admin"}, rule.rule


def test_the_table_says_who_may_call_the_pages_and_apis(app):
    assert route_roles(app, "pages.map_page") == frozenset(ALL_ROLES)
    assert route_roles(app, "api.export") == frozenset(ALL_ROLES) - {ANONYMOUS}
    assert route_roles(app, "ogc.items") == frozenset(ALL_ROLES)


# -- inside the routes: the data policy -------------------------------------------------------


def _ids(doc: dict[str, Any]) -> set[int]:
    return {f["id"] for f in doc["features"]}


def test_a_grid_worker_gets_nothing_of_other_grids(client_as, demo_workspace):
    worker = demo_workspace.get_user(ROLE_USERS["grid_worker"])
    assert worker is not None and len(worker.grids) == 2
    mine = set(worker.grids)
    client = client_as("grid_worker")
    households = demo_workspace.read("households", columns=("grid_code",))
    own = households[households.grid_code.isin(mine)]
    other = households[~households.grid_code.isin(mine)]
    assert len(own) > 300 and len(other) > 10_000
    got = client.get("/api/layers/households").get_json()
    assert _ids(got) == set(own.index) and got["numberMatched"] == len(own)
    ogc = client.get("/ogc/collections/households/items?limit=10000").get_json()
    assert _ids(ogc) == set(own.index)
    # another grid's household is not there at all: 404, not 403, not masked
    stranger = int(other.index[0])
    resp = client.get(f"/ogc/collections/households/items/{stranger}")
    assert resp.status_code == 404
    assert client.get(f"/ogc/collections/households/items/{int(own.index[0])}").status_code == 200
    # filters cannot widen the scope
    code = other.grid_code.iloc[0]
    assert (
        client.get(f"/ogc/collections/households/items?grid_code={code}").get_json()[
            "numberMatched"
        ]
        == 0
    )
    # people through their household; visits and incidents by grid
    people = demo_workspace.read("people", columns=("household_id",))
    own_people = people[
        people.household_id.isin(set(demo_workspace.read("households").loc[own.index].household_id))
    ]
    got_people = client.get("/api/layers/people").get_json()
    assert got_people["numberMatched"] == len(own_people) > 0
    for layer in ("visits", "incidents"):
        rows = demo_workspace.read(layer, columns=("grid_code",))
        served = client.get(f"/api/layers/{layer}").get_json()
        assert served["numberMatched"] == int(rows.grid_code.isin(mine).sum())
        assert {f["properties"]["grid_code"] for f in served["features"]} <= mine
    # the base layers are the whole area's
    assert client.get("/api/layers/buildings").get_json()["numberMatched"] == 851
    # the workspace document counts only their rows
    doc = client.get("/api/workspace").get_json()
    counts = {layer["name"]: (layer["count"], layer["read"]) for layer in doc["layers"]}
    assert counts["households"] == (len(own), "own")
    assert counts["buildings"][1] == "masked"  # the area's residents per building are not theirs


def test_nobody_signed_in_reads_only_what_an_admin_opened(anon_client, writable_demo):
    assert anon_client.get("/api/layers/grids").status_code == 401
    assert anon_client.get("/api/layers/households").status_code == 401
    refused = anon_client.get("/ogc/collections")  # GDAL and QGIS are told to sign in
    assert refused.status_code == 401 and "API token" in refused.get_json()["description"]
    assert anon_client.get("/api/workspace").get_json()["layers"] == []
    with pytest.raises(Exception, match="cannot be opened"):
        accounts.set_public_layers(writable_demo, ["grids", "households"])
    accounts.set_public_layers(writable_demo, ["grids"])
    anon = client_for(create_app({"WORKSPACE": writable_demo, "TESTING": True}), None)
    assert anon.get("/api/layers/grids").status_code == 200
    assert anon.get("/api/layers/buildings").status_code == 401
    assert [c["id"] for c in anon.get("/ogc/collections").get_json()["collections"]] == ["grids"]
    assert anon.get("/api/layers/grids/export?format=csv").status_code == 401  # sign in to export


@pytest.mark.parametrize("role", ["planner", "patrol_lead", "analyst"])
def test_masked_roles_get_the_register_masked_and_unaudited(client_as, app, role):
    ws = app.extensions["gridmap.workspace"]
    before = len(ws.read_log(limit=None))
    doc = client_as(role).get("/api/layers/households?limit=50").get_json()
    assert doc["numberMatched"] == 21686
    props = doc["features"][0]["properties"]
    assert not props.get("head_name") or "*" in props["head_name"]
    assert len(ws.read_log(limit=None)) == before  # nothing unmasked, nothing to record


def test_unmasked_reads_are_recorded(client_as, app):
    ws = app.extensions["gridmap.workspace"]
    client_as("admin").get("/api/layers/people?limit=7")
    client_as("grid_worker").get("/api/layers/households")
    log = ws.read_log(limit=2)
    worker, admin = log.iloc[0], log.iloc[1]
    assert (admin.user, admin.role, admin.layer, admin.rows) == ("admin", "admin", "people", 7)
    assert json.loads(admin["filter"]) == {"limit": 7}
    assert (worker.user, worker.layer) == ("demo-worker", "households")
    assert len(json.loads(worker["filter"])["grids"]) == 2


def test_figures_replace_people_rows_for_masked_roles(client, client_as, demo_workspace):
    doc = client.get("/api/figures/register").get_json()
    assert doc["kind"] == "register" and doc["suppressed_below"] == 5
    assert len(doc["rows"]) == demo_workspace.count("grids")
    total = sum(r["residents"] for r in doc["rows"] if r["residents"] is not None)
    assert total <= 59_377 and total > 50_000
    categories = client.get("/api/figures/categories").get_json()
    assert categories["rows"] and "households" in categories["columns"]
    csv = client.get("/api/figures/register?format=csv")
    assert csv.mimetype == "text/csv" and csv.data.startswith(b"grid_code,")
    mine = client_as("grid_worker").get("/api/figures/register").get_json()
    assert len(mine["rows"]) == 2  # a grid worker: their own grids
    assert client_as("grid_worker").get("/api/figures/categories").status_code == 403
    assert client.get("/api/figures/nothing").status_code == 400
