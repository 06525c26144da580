"""HTTP tests of every route, through Flask's test client, on the demo workspace."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gridmap.access import privacy
from gridmap.access.roles import Access
from gridmap.schema import LAYER_ORDER, LAYERS
from gridmap.service import accounts
from tests.conftest import gdal_env
from web.app import create_app
from web.tiles import parse_tiles

ANALYST = Access.of("demo-analyst", "analyst")


def test_map_page_language_and_assets(client):
    zh = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert zh.status_code == 200
    html = zh.get_data(as_text=True)
    assert 'lang="zh-CN"' in html
    assert "/vendor/leaflet/dist/leaflet.js?v=" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing from another host
    en = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert 'lang="en"' in en.get_data(as_text=True)
    assert 'lang="en"' in client.get("/?lang=en").get_data(as_text=True)
    assert 'lang="zh-CN"' in client.get("/").get_data(as_text=True)  # no preference: Chinese


def test_static_and_vendor_files(client):
    html = client.get("/").get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="(/(?:static|vendor)/[^"]+)"', html)
    assert urls
    for url in urls:
        resp = client.get(url)
        assert resp.status_code == 200, url
        resp.close()
    assert client.get("/vendor/../pyproject.toml").status_code == 404
    assert client.get("/vendor/lodash/index.js").status_code == 404


def test_every_imported_module_is_in_the_import_map_and_served(client):
    """Each browser module another imports (``from "./x.js"``) is mapped by the map page's
    import map to its hashed URL (cache-busted; the CSP allows it as 'self') and served as
    JavaScript: a new module needs no list to be kept."""
    html = client.get("/").get_data(as_text=True)
    found = re.search(r'<script type="importmap">(.*?)</script>', html, re.S)
    assert found
    imports = json.loads(found.group(1))["imports"]
    js = Path(__file__).resolve().parents[1] / "web" / "static" / "js"
    wanted = {"map.js"} | {
        name
        for path in js.glob("*.js")
        for name in re.findall(r'from "\./(\w+\.js)"', path.read_text(encoding="utf-8"))
    }
    assert {"dom.js", "export_choices.js", "map_button.js", "table_view.js"} <= wanted
    for name in sorted(wanted):
        plain = f"/static/js/{name}"
        assert imports.get(plain, "").startswith(f"{plain}?v="), name
        resp = client.get(imports[plain])
        assert resp.status_code == 200, name
        assert resp.mimetype in ("text/javascript", "application/javascript"), resp.mimetype
        resp.close()


def json_twin_of(resp) -> str | None:
    """Return the URL a reply's ``Link`` header names as its JSON alternate, if any."""
    for url, params in re.findall(r"<([^>]+)>\s*((?:;[^,;]+)*)", resp.headers.get("Link", "")):
        if 'rel="alternate"' in params and 'type="application/json"' in params:
            return url
    return None


def test_every_html_page_names_its_json_twin(app, client_as):
    """Each GET route that answers HTML links to a JSON twin that answers JSON (datasette-style).

    As the admin, whom every page lets in."""
    from web.pages import JSON_TWINS

    client = client_as("admin")

    pages = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments:
            continue
        resp = client.get(rule.rule, headers={"Accept": "text/html"})
        if resp.mimetype != "text/html":
            continue
        pages.append(rule.endpoint)
        twin = json_twin_of(resp)
        assert twin, f"{rule.rule} names no JSON twin in its Link header"
        doc = client.get(twin, headers={"Accept": "application/json"})
        assert doc.status_code == 200 and doc.is_json, twin
        if rule.endpoint in JSON_TWINS:  # our pages say it in the page as well
            html = resp.get_data(as_text=True)
            assert f'<link rel="alternate" type="application/json" href="{twin}">' in html
    assert "pages.map_page" in pages
    # the map page's twin is the workspace document its browser code draws from
    assert JSON_TWINS["pages.map_page"] == "api.workspace_doc"
    assert json_twin_of(client.get("/?lang=en")) == "/api/workspace"


def test_routes_live_in_blueprints(app):
    """pages and api are blueprints; only Flask's static files (and OGC, until it moves) are not."""
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    loose = {e for e in endpoints if "." not in e and e != "static" and not e.startswith("ogc_")}
    assert loose == set()
    assert {"pages.map_page", "pages.vendor", "api.workspace_doc", "api.layer"} <= endpoints
    assert {"api.export", "api.health"} <= endpoints
    prefixes = {
        rule.rule.split("/")[1] for rule in app.url_map.iter_rules() if "api." in rule.endpoint
    }
    assert prefixes == {"api"}


def test_web_modules_do_no_work_at_import_time():
    """Importing the app opens nothing and builds no app: create_app(config) does that."""
    code = (
        "import sqlite3\n"
        "def refuse(*a, **k): raise SystemExit('opened a database at import time')\n"
        "sqlite3.connect = refuse\n"
        "import flask, web.app, web.api, web.pages, web.errors, web.common\n"
        "mods = (web.app, web.api, web.pages, web.errors, web.common)\n"
        "apps = [n for m in mods for n, v in vars(m).items() if isinstance(v, flask.Flask)]\n"
        "assert apps == [], apps\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def test_a_workspace_given_by_path_is_closed_with_the_app(tmp_path, monkeypatch):
    from gridmap.store import GeoPackageWorkspace
    from web.app import close_app

    from .conftest import make_tiny_workspace

    ws = make_tiny_workspace(tmp_path / "tiny.gpkg")
    closed = []
    real_close = GeoPackageWorkspace.close

    def close(self):
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(GeoPackageWorkspace, "close", close)
    app = create_app({"WORKSPACE": ws.path})
    assert app.test_client().get("/api/workspace").status_code == 200
    owned = app.extensions["gridmap.workspace"]
    assert owned is not ws and closed == []
    close_app(app)
    close_app(app)  # once only
    assert closed == [owned]
    # a Workspace object stays its caller's: the app does not close it
    shared = create_app({"WORKSPACE": ws})
    close_app(shared)
    del shared
    assert closed == [owned]
    # an app dropped without close_app closes its workspace when it is collected
    import gc

    dropped = create_app({"WORKSPACE": ws.path})
    other = dropped.extensions["gridmap.workspace"]
    del dropped
    gc.collect()
    assert closed == [owned, other]


def test_api_workspace(client, client_as):
    doc = client.get("/api/workspace").get_json()
    # the analyst: every layer but people, whose rows become figures per grid
    assert [layer["name"] for layer in doc["layers"]] == [n for n in LAYER_ORDER if n != "people"]
    counts = {layer["name"]: layer["count"] for layer in doc["layers"]}
    assert counts["buildings"] == 851 and counts["grids"] > 40
    assert doc["attribution"] == "© OpenStreetMap contributors"
    assert doc["tiles"] == [] and doc["synthetic"] is True
    assert doc["role"] == "analyst" and doc["personal_visible"] is False
    assert doc["timezone"] == "Asia/Shanghai" and doc["masked_value"] == "***"
    minx, miny, maxx, maxy = doc["bounds"]
    assert 118.77 < minx < maxx < 118.80 and 32.03 < miny < maxy < 32.06
    admin = client_as("admin").get("/api/workspace").get_json()
    assert [layer["name"] for layer in admin["layers"]] == list(LAYER_ORDER)
    people = next(layer for layer in admin["layers"] if layer["name"] == "people")
    assert people["geometry"] is None and people["read"] == "full"
    assert {c["name"] for c in people["columns"] if c["personal"]} >= {"name", "id_number", "phone"}


@pytest.mark.parametrize("name", LAYER_ORDER)
def test_api_every_layer(client, client_as, name):
    if name == "people":  # the analyst gets figures instead; the admin gets the rows
        client = client_as("admin")
    access = Access.of("admin", "admin") if name == "people" else ANALYST
    resp = client.get(f"/api/layers/{name}?limit=5")
    assert resp.status_code == 200
    assert resp.mimetype == "application/geo+json"
    doc = json.loads(resp.get_data(as_text=True))
    assert doc["type"] == "FeatureCollection"
    assert doc["numberReturned"] == len(doc["features"]) <= 5
    assert doc["numberMatched"] >= doc["numberReturned"]
    served = privacy.served_layer(name, access)
    for f in doc["features"]:
        assert set(f["properties"]) == set(served.column_names)
        assert (f["geometry"] is None) == (served.geometry is None)  # masked visits: no place


def test_api_bbox_and_etag(client, demo_workspace):
    whole = client.get("/api/layers/buildings").get_json()
    assert whole["numberMatched"] == 851 == len(whole["features"])
    bbox = "118.785,32.040,118.790,32.044"
    part = client.get(f"/api/layers/buildings?bbox={bbox}")
    doc = part.get_json()
    assert 0 < doc["numberReturned"] < 851
    assert doc["numberReturned"] == demo_workspace.count(
        "buildings", bbox=(118.785, 32.040, 118.790, 32.044)
    )
    again = client.get(
        f"/api/layers/buildings?bbox={bbox}", headers={"If-None-Match": part.headers["ETag"]}
    )
    assert again.status_code == 304


def test_etag_changes_with_the_workspace(tmp_path):
    import sqlite3

    from .conftest import make_tiny_workspace

    a = make_tiny_workspace(tmp_path / "a.gpkg")
    b = make_tiny_workspace(tmp_path / "b.gpkg")
    for ws in (a, b):  # read by nobody signed in: the layers are open to the public
        accounts.set_public_layers(ws, ["buildings", "grids"])
    tag_a = (
        create_app({"WORKSPACE": a.path}).test_client().get("/api/layers/buildings").headers["ETag"]
    )
    client_b = create_app({"WORKSPACE": b.path}).test_client()
    first = client_b.get("/api/layers/buildings")
    assert first.headers["ETag"] != tag_a  # same layer, same version, another workspace
    # an edit made by another program (QGIS, ogr2ogr) changes the tag
    from gridmap.store.gpkg import encoding as geopackage

    with sqlite3.connect(b.path) as conn:
        geopackage.register_functions(conn)  # GDAL provides these to its triggers as well
        conn.execute("UPDATE buildings SET name = 'QGIS改名' WHERE fid = 1")
    again = client_b.get("/api/layers/buildings", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    names = {f["properties"]["name"] for f in again.get_json()["features"]}
    assert "QGIS改名" in names  # (nobody signed in gets the buildings in opaque-id order)
    assert client_b.get('/api/layers/grids?x="').status_code == 200  # odd queries are fine


def test_audited_reads_keep_the_tags_of_the_layers(client_as):
    """An admin's unmasked read writes the access log; the layers' tags stay, so 304s do."""
    planner, admin = client_as("planner"), client_as("admin")
    tag = planner.get("/api/layers/grids").headers["ETag"]
    assert admin.get("/api/layers/people/rows?limit=5").status_code == 200  # audited
    again = planner.get("/api/layers/grids", headers={"If-None-Match": tag})
    assert again.status_code == 304


def test_big_replies_are_gzipped_and_assets_cached(client):
    import gzip

    plain = client.get("/api/layers/buildings")
    assert "Content-Encoding" not in plain.headers
    packed = client.get("/api/layers/buildings", headers={"Accept-Encoding": "gzip"})
    assert (
        packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    )
    assert len(packed.data) < len(plain.data) / 4
    assert json.loads(gzip.decompress(packed.data)) == plain.get_json()
    again = client.get(
        "/api/layers/buildings",
        headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]},
    )
    assert again.status_code == 304
    small = client.get("/api/layers/community?limit=1", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers
    html = client.get("/").get_data(as_text=True)
    css = re.search(r'href="(/static/[^"]+\?v=[^"]+)"', html).group(1)
    resp = client.get(css)
    resp.close()
    assert resp.cache_control.max_age == 31536000


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "geojson", "gpkg", "shp"])
def test_export_download(client, fmt, tmp_path, demo_workspace):
    n = demo_workspace.count("grids")
    resp = client.get(f"/api/layers/grids/export?format={fmt}&lang=zh-CN")
    assert resp.status_code == 200
    ext = "zip" if fmt == "shp" else fmt
    assert re.search(
        rf'filename="grids_all_\d{{4}}-\d{{2}}-\d{{2}}_zh-CN\.{ext}"',
        resp.headers["Content-Disposition"],
    )
    path = tmp_path / f"grids.{ext}"
    path.write_bytes(resp.data)
    if fmt == "xlsx":
        import openpyxl

        sheet = openpyxl.load_workbook(path)["网格"]
        assert sheet.cell(1, 1).value == "网格编码（15位）" and sheet.max_row == n + 1
    elif fmt == "csv":
        assert resp.data.decode("utf-8-sig").splitlines()[0].startswith("网格编码")
    else:
        import geopandas as gpd

        target = f"zip://{path}" if fmt == "shp" else path
        assert len(gpd.read_file(target, engine="pyogrio")) == n


def test_export_download_of_people(client, client_as, demo_workspace):
    refused = client.get("/api/layers/people/export?format=csv&lang=en")
    assert refused.status_code == 403 and "figures" in refused.get_json()["error"]["message"]
    admin = client_as("admin")
    text = admin.get("/api/layers/people/export?format=csv&lang=en").data.decode("utf-8-sig")
    header, first = text.splitlines()[:2]
    assert (
        "id_number" in header and demo_workspace.read("people", limit=1).id_number.iloc[0] in first
    )
    assert client.get("/api/layers/people/export?format=doc").status_code == 400
    no_geometry = admin.get("/api/layers/people/export?format=geojson")
    assert no_geometry.status_code == 400
    assert no_geometry.get_json()["error"]["code"] == "invalid_input"


def test_people_are_placed_by_their_household(client_as, demo_workspace):
    client = client_as("admin")
    bbox = (118.785, 32.040, 118.790, 32.044)
    query = ",".join(map(str, bbox))
    people = client.get(f"/api/layers/people?bbox={query}").get_json()
    households = demo_workspace.read("households", bbox=bbox)
    inside = set(households["household_id"])
    assert people["numberMatched"] > 0
    assert {f["properties"]["household_id"] for f in people["features"]} == inside
    assert people["numberMatched"] < demo_workspace.count("people")
    assert client.get("/api/layers/people?bbox=0,0,1,1").get_json()["numberMatched"] == 0


def test_api_masks_personal_data(client):
    assert client.get("/api/layers/people?limit=50").status_code == 403  # figures instead
    hh = client.get("/api/layers/households?limit=5").get_json()
    for f in hh["features"]:
        p = f["properties"]
        assert not {"head_name", "phone", "hardship", "members", "household_id"} & set(p)
        assert "室" not in (p["address"] or "") and p["grid_code"]


def test_visit_categories_do_not_reveal_status(client):
    doc = client.get("/api/layers/visits?limit=5000").get_json()
    seen = {f["properties"]["category"] for f in doc["features"]}
    # all six categories look alike (a visible 'migrant' would single out the other five)
    assert seen == {"***", "routine"}
    assert all(
        f["geometry"] is None and "household_id" not in f["properties"] for f in doc["features"]
    )
    # without their place, masked visits cannot be picked by a box either
    assert client.get("/api/layers/visits?bbox=118.78,32.04,118.79,32.05").status_code == 400
    assert client.get("/ogc/collections/visits/items/1").status_code == 403


def test_ogc_items_mask_personal_data(client):
    items = client.get("/ogc/collections/households/items?limit=20").get_json()["features"]
    assert items and all("head_name" not in f["properties"] for f in items)
    assert all("hardship" not in f["properties"] for f in items)
    one = client.get(f"/ogc/collections/households/items/{items[0]['id']}").get_json()
    assert "phone" not in one["properties"] and one["geometry"]["type"] == "Point"


@pytest.mark.parametrize(
    ("url", "status", "code", "phrase"),
    [
        ("/api/layers/roads", 404, "layer_not_found", "no layer 'roads'"),
        ("/api/layers/roads/export?format=csv", 404, "layer_not_found", "no layer 'roads'"),
        ("/api/layers/buildings?bbox=1,2,3", 400, "invalid_input", "four numbers"),
        ("/api/layers/buildings?bbox=a,b,c,d", 400, "invalid_input", "four numbers"),
        ("/api/layers/buildings?bbox=2,2,1,1", 400, "invalid_input", "min <= max"),
        ("/api/layers/buildings?limit=x", 400, "invalid_input", "whole number"),
        ("/api/layers/buildings?limit=-1", 400, "invalid_input", "limit"),
        ("/api/layers/buildings?offset=99999999999999999999999", 400, "invalid_input", "offset"),
        ("/api/layers/people/export?format=doc", 400, "invalid_input", "format must be one of"),
        ("/api/nothing", 404, "not_found", "not found"),
    ],
)
def test_errors_have_one_json_shape(client, url, status, code, phrase):
    resp = client.get(url)
    assert resp.status_code == status
    assert resp.mimetype == "application/json"
    doc = resp.get_json()
    assert list(doc) == ["error"]
    error = doc["error"]
    assert {k: error[k] for k in ("code", "status")} == {"code": code, "status": status}
    assert phrase in error["message"].lower()


@pytest.mark.parametrize(
    ("url", "status", "phrase"),
    [
        ("/ogc/collections/roads/items", 404, "no collection"),
        ("/ogc/collections/cameras/items/999999", 404, "no feature"),
    ],
)
def test_ogc_errors_keep_their_status(client, url, status, phrase):
    """Whatever shape the OGC routes answer in (tests/test_ogc.py checks it), the status holds."""
    resp = client.get(url)
    assert resp.status_code == status
    assert phrase in resp.get_data(as_text=True).lower()


def test_health(client):
    assert client.get("/api/health").get_json() == {"status": "ok", "missing_vendor": []}


def test_ogc_landing_conformance_collections(client):
    landing = client.get("/ogc/").get_json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "conformance", "data"} <= rels
    conf = client.get("/ogc/conformance").get_json()
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf["conformsTo"]
    cols = client.get("/ogc/collections").get_json()["collections"]
    # the analyst's: masked visits have no place, people come as figures
    assert [c["id"] for c in cols] == [
        n for n in LAYER_ORDER if LAYERS[n].geometry and n != "visits"
    ]
    one = client.get("/ogc/collections/buildings").get_json()
    assert one["extent"]["spatial"]["bbox"][0][0] < 118.79


def test_ogc_openapi_describes_every_path(client):
    landing = client.get("/ogc/").get_json()
    desc = next(link["href"] for link in landing["links"] if link["rel"] == "service-desc")
    doc = client.get(desc.replace("http://localhost", "")).get_json()
    assert doc["openapi"].startswith("3.0")
    offered = [n for n in LAYER_ORDER if LAYERS[n].geometry and n != "visits"]  # the analyst's
    assert [p.split("/")[2] for p in doc["paths"] if p.endswith("/items")] == offered
    # every path it lists answers
    for path in ("/", "/conformance", "/collections", "/collections/grids/items"):
        assert (
            client.get("/ogc" + path.rstrip("/") + ("/" if path == "/" else "")).status_code == 200
        )


def test_ogc_items_paging(client):
    first = client.get("/ogc/collections/buildings/items?limit=100").get_json()
    assert first["numberMatched"] == 851 and first["numberReturned"] == 100
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    assert "offset=100" in nxt
    second = client.get(nxt.replace("http://localhost", "")).get_json()
    # an analyst's buildings come in opaque-id order, page after page
    assert second["features"][0]["id"] > first["features"][-1]["id"]
    assert any(link["rel"] == "prev" for link in second["links"])
    last = client.get("/ogc/collections/buildings/items?limit=100&offset=800").get_json()
    assert last["numberReturned"] == 51 and not any(link["rel"] == "next" for link in last["links"])
    token = first["features"][0]["id"]
    item = client.get(f"/ogc/collections/buildings/items/{token}")
    assert item.status_code == 200 and item.get_json()["id"] == token


def test_tiles_are_opt_in(tmp_path, writable_demo):
    assert parse_tiles("") == []
    tiles = parse_tiles("osm,tianditu:abc,amap")
    assert [t["id"] for t in tiles] == ["osm", "tianditu", "amap"]
    assert "tk=abc" in tiles[1]["url"] and tiles[2]["gcj02"] is True
    with pytest.raises(Exception, match="needs a key"):
        parse_tiles("tianditu")
    with pytest.raises(Exception, match="Unknown tile layer"):
        parse_tiles("google")
    app = create_app({"WORKSPACE": writable_demo, "TILES": "osm"})
    assert app.test_client().get("/api/workspace").get_json()["tiles"][0]["id"] == "osm"


@pytest.mark.gdal
def test_gdal_reads_ogc_api(live_server):
    if not shutil.which("ogrinfo"):
        pytest.skip("gdal-bin is not installed")
    url = f"OAPIF:{live_server}/ogc"
    listing = subprocess.run(
        ["ogrinfo", "-ro", "-q", url],
        capture_output=True,
        text=True,
        timeout=60,
        env=gdal_env(),
        check=True,
    )
    for name in ("grids", "buildings", "cameras", "streets"):
        assert f": {name}" in listing.stdout
    cams = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-q", url, "cameras"],
        capture_output=True,
        text=True,
        timeout=60,
        env=gdal_env(),
        check=True,
    )
    assert cams.stdout.count("OGRFeature(cameras)") >= 20
    assert "bearing_deg (Real)" in cams.stdout and "POINT (118." in cams.stdout
    spatial = subprocess.run(
        [
            "ogrinfo",
            "-ro",
            "-so",
            "-spat",
            "118.785",
            "32.040",
            "118.790",
            "32.044",
            url,
            "buildings",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=gdal_env(),
        check=True,
    )
    assert "Feature Count:" in spatial.stdout
    n = int(spatial.stdout.split("Feature Count:")[1].split()[0])
    assert 0 < n < 851


@pytest.mark.parametrize("name", ["community", "grids", "buildings"])
def test_served_polygons_are_valid(client, name):
    import shapely.geometry

    doc = client.get(f"/api/layers/{name}").get_json()
    bad = [f["id"] for f in doc["features"] if not shapely.geometry.shape(f["geometry"]).is_valid]
    assert bad == []
