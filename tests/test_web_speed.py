"""What the map page costs a browser: the editor not loaded at start, the browser libraries
gzipped ahead of time, one set of cache rules (web/headers.py)."""

from __future__ import annotations

import gzip
import re
import shutil

from web import assets

LEAFLET = "leaflet/dist/leaflet.js"


def fetch(client, url: str, **headers: str):
    """GET ``url``, read the body and close the reply (files are streamed)."""
    resp = client.get(url, headers=headers)
    resp.get_data()
    resp.close()
    return resp


def test_the_map_page_names_the_editor_but_does_not_load_it(client):
    html = client.get("/").get_data(as_text=True)
    head = html.split("</head>")[0]
    assert "geoman" not in " ".join(re.findall(r"<(?:script|link)\b[^>]*>", head))
    found = dict(re.findall(r'<meta name="(gridmap-editor-(?:js|css))" content="([^"]+)"', head))
    assert found["gridmap-editor-js"].startswith(
        "/vendor/@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.min.js?v="
    )
    assert found["gridmap-editor-css"].endswith(tuple("0123456789abcdef"))
    for url in found.values():  # and both are served
        assert fetch(client, url).status_code == 200
    # every module of the map is asked for at once (not the admin page's)
    preloaded = re.findall(r'<link rel="modulepreload" href="/static/js/(\w+)\.js\?v=', head)
    assert "map" in preloaded and "loader" in preloaded and "admin" not in preloaded


def test_vendor_javascript_goes_gzipped_to_browsers_that_take_it(client):
    plain = (assets.NODE_MODULES / LEAFLET).read_bytes()
    url = "/vendor/" + LEAFLET + "?v=1"
    zipped = fetch(client, url, **{"Accept-Encoding": "gzip, deflate"})
    assert zipped.status_code == 200 and zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain and len(zipped.data) < len(plain) / 2
    assert zipped.mimetype == "text/javascript" and "Accept-Encoding" in zipped.headers["Vary"]
    assert zipped.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    same = fetch(
        client, url, **{"If-None-Match": zipped.headers["ETag"], "Accept-Encoding": "gzip"}
    )
    assert same.status_code == 304
    raw = fetch(client, url, **{"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in raw.headers and raw.data == plain
    assert raw.headers["ETag"] != zipped.headers["ETag"]
    png = fetch(client, "/vendor/leaflet/dist/images/layers.png", **{"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in png.headers  # images are compressed already


def test_a_stale_gzipped_copy_is_never_sent(tmp_path, monkeypatch):
    root = tmp_path / "node_modules"
    for rel in assets.vendor_paths():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(assets.NODE_MODULES / rel, root / rel)
    written = assets.precompress(root)
    assert sorted(p.name for p in written) == sorted(
        f"{p.rsplit('/', 1)[1]}.gz" for p in assets.vendor_paths() if p.endswith((".js", ".css"))
    )
    assert assets.precompressed(root, LEAFLET) == assets.gz_path(root / LEAFLET)
    (root / LEAFLET).write_bytes(b"/* a newer leaflet */")  # npm put another version there
    assert assets.precompressed(root, LEAFLET) is None
    assets.gz_path(root / LEAFLET).unlink()
    assert assets.precompressed(root, LEAFLET) is None
    assert assets.precompressed(root, "leaflet/dist/images/layers.png") is None


def test_cache_rules_hashed_files_immutable_api_replies_revalidated(client, client_as):
    static = fetch(client, "/static/js/loader.js?v=abc")
    assert static.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    unhashed = fetch(client, "/static/js/loader.js")
    assert "immutable" not in (unhashed.headers.get("Cache-Control") or "")
    grids = client.get("/api/layers/grids")
    assert grids.headers["Cache-Control"] == "private, no-cache" and grids.headers["ETag"]
    again = client.get("/api/layers/grids", headers={"If-None-Match": grids.headers["ETag"]})
    assert again.status_code == 304
    register = client_as("admin").get("/api/layers/households?limit=1")
    assert register.headers["Cache-Control"] == "private, no-store"  # personal: kept nowhere
