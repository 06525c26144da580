"""Shared fixtures: no network, tiny hand-made workspaces, the real demo workspace, the app.

The demo workspace is built once per run from the real OSM extract in ``gridmap/build/data/`` with a fixed
date and seed, so its figures are stable. Unit tests use :func:`tiny_workspace`, whose few
features can be checked by hand.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from werkzeug.serving import make_server

from gridmap import store
from gridmap.access.roles import Access
from gridmap.build.demo import build_demo

DEMO_TODAY = date(2026, 11, 27)

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # unix socket
        return True
    host = address[0] if isinstance(address, tuple) else None
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except (TypeError, ValueError):
        return False


def _guard(real):
    def connect(self, address):
        if not _is_local(address):
            raise ConnectionRefusedError(f"tests may not reach the network: {address!r}")
        return real(self, address)

    return connect


@pytest.fixture(autouse=True, scope="session")
def no_network() -> Iterator[None]:
    """Refuse every connection that is not to this machine, for the whole run."""
    socket.socket.connect = _guard(_real_connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = _guard(_real_connect_ex)  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


# -- tiny hand-made workspaces ---------------------------------------------------------------

#: A 200 m x 200 m square near Changjiang Road, Nanjing (lon/lat).
TINY_BOX = (118.7850, 32.0400, 118.7871, 32.0418)


def tiny_layers() -> dict[str, pd.DataFrame]:
    """Return a few features one can check by hand: 2 buildings, 1 grid, 3 streets, 2 cameras."""
    minx, miny, maxx, maxy = TINY_BOX
    midx = (minx + maxx) / 2
    b1 = shapely.box(minx + 0.0002, miny + 0.0002, minx + 0.0006, miny + 0.0005)
    b2 = shapely.box(midx + 0.0002, miny + 0.0002, midx + 0.0006, miny + 0.0005)
    buildings = gpd.GeoDataFrame(
        {
            "osm_id": [101, 102],
            "name": ["一号楼", "二号楼"],
            "building": ["residential", "yes"],
            "levels": [6, None],
            "residential": [True, None],
            "households": [24, 0],
            "grid_code": ["320102001001001", "320102001001001"],
            "source": ["osm", "osm"],
        },
        geometry=[b1, b2],
        crs=4326,
    )
    grids = gpd.GeoDataFrame(
        {"code": ["320102001001001"], "name": ["第1网格"], "households": [24], "source": ["user"]},
        geometry=[shapely.box(*TINY_BOX)],
        crs=4326,
    )
    # a T junction: 1 -- 2 -- 3 along the south edge, 2 -- 4 going north; 2-3 one-way
    n = {1: (minx, miny), 2: (midx, miny), 3: (maxx, miny), 4: (midx, maxy)}
    edges = [(1, 2, False), (2, 1, False), (2, 3, True), (2, 4, False), (4, 2, False)]
    streets = gpd.GeoDataFrame(
        {
            "u": [e[0] for e in edges],
            "v": [e[1] for e in edges],
            "key": [0] * len(edges),
            "name": ["长江路", "长江路", "长江路", "二条巷", "二条巷"],
            "highway": ["primary", "primary", "primary", "residential", "residential"],
            "oneway": [e[2] for e in edges],
            "length_m": [99.0, 99.0, 99.0, 200.0, 200.0],
            "walk": [True] * len(edges),
            "drive": [True] * len(edges),
            "source": ["osm"] * len(edges),
        },
        geometry=[shapely.LineString([n[u], n[v]]) for u, v, _ in edges],
        crs=4326,
    )
    nodes = gpd.GeoDataFrame(
        {"osmid": list(n), "street_count": [1, 3, 1, 1], "source": ["osm"] * 4},
        geometry=[shapely.Point(*xy) for xy in n.values()],
        crs=4326,
    )
    cameras = gpd.GeoDataFrame(
        {
            "code": ["CAM1", "CAM2"],
            "kind": ["fixed", "dome"],
            "bearing_deg": [90.0, 0.0],
            "fov_deg": [60.0, 360.0],
            "range_m": [50.0, 30.0],
            "source": ["synthetic"] * 2,
        },
        geometry=[shapely.Point(midx, miny), shapely.Point(minx, miny)],
        crs=4326,
    )
    households = gpd.GeoDataFrame(
        {
            "household_id": ["H1", "H2"],
            "head_name": ["王小明", "李华"],
            "phone": ["13912345678", "13800001111"],
            "members": [3, 1],
            "elderly_alone": [False, True],
            "source": ["synthetic"] * 2,
        },
        geometry=[b1.centroid, b1.centroid],
        crs=4326,
    )
    people = pd.DataFrame(
        {
            "person_id": ["P1", "P2"],
            "household_id": ["H1", "H2"],
            "name": ["王小明", "李华"],
            "id_number": ["32010219500102123X", "320102194001011234"],
            "birth_date": [pd.Timestamp("1950-01-02"), pd.Timestamp("1940-01-01")],
            "disabled": [True, False],
            "source": ["synthetic"] * 2,
        }
    )
    return {
        "buildings": buildings,
        "grids": grids,
        "streets": streets,
        "street_nodes": nodes,
        "cameras": cameras,
        "households": households,
        "people": people,
    }


def make_tiny_workspace(path: Path) -> store.GeoPackageWorkspace:
    """Build the tiny workspace at ``path`` and open it."""
    with store.building(path) as ws, ws.transaction(action="tiny fixture") as tx:
        for name, frame in tiny_layers().items():
            tx.replace(name, frame)
        tx.set_meta("title", "tiny")
    return store.GeoPackageWorkspace(path)


@pytest.fixture
def tiny_workspace(tmp_path: Path) -> store.GeoPackageWorkspace:
    """A fresh tiny workspace for each test."""
    return make_tiny_workspace(tmp_path / "tiny.gpkg")


# -- the real demo ---------------------------------------------------------------------------


#: The password of the demo accounts in tests (demo-planner, demo-patrol, demo-worker,
#: demo-analyst) and of its admin.
DEMO_PASSWORD = "demo-password-2026"
ADMIN_PASSWORD = "admin-password-2026"
#: The demo account of each role (admin: the workspace's administrator).
ROLE_USERS = {
    "admin": "admin",
    "planner": "demo-planner",
    "patrol_lead": "demo-patrol",
    "grid_worker": "demo-worker",
    "analyst": "demo-analyst",
}
#: API tokens of the demo accounts, by role: made once per run when the demo is built.
ROLE_TOKENS: dict[str, str] = {}


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo workspace built once from gridmap/build/data/ (real OSM) with a fixed date,
    with its accounts (passwords :data:`DEMO_PASSWORD`, :data:`ADMIN_PASSWORD`) and a token
    per role (:data:`ROLE_TOKENS`)."""
    from gridmap.service import accounts

    path = tmp_path_factory.mktemp("demo") / "demo.gpkg"
    build_demo(path, today=DEMO_TODAY)
    with store.GeoPackageWorkspace(path) as ws:
        accounts.create_demo_accounts(ws, password=DEMO_PASSWORD, admin_password=ADMIN_PASSWORD)
        for role, name in ROLE_USERS.items():
            ROLE_TOKENS[role] = accounts.issue_token(ws, name, "tests")
    return path


@pytest.fixture(scope="session")
def role_tokens(demo_path: Path) -> dict[str, str]:
    """The API token of each role's demo account."""
    return dict(ROLE_TOKENS)


@pytest.fixture(scope="session")
def demo_workspace(demo_path: Path) -> Iterator[store.GeoPackageWorkspace]:
    """The demo workspace shared by the whole run, opened read-only: a test that writes to it
    fails. A test that writes takes :func:`writable_demo`."""
    ws = store.GeoPackageWorkspace(demo_path, read_only=True)
    yield ws
    ws.close()


@pytest.fixture
def writable_demo(demo_path: Path, tmp_path: Path) -> Iterator[store.GeoPackageWorkspace]:
    """A copy of the demo workspace of this test's own, to write to."""
    copy = store.GeoPackageWorkspace(demo_path, read_only=True).backup(tmp_path / "demo.gpkg")
    ws = store.GeoPackageWorkspace(copy)
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def app(demo_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """The Flask app over a copy of the demo workspace, shared by the run.

    The copy takes the access log of unmasked reads (and the session key); a test that
    edits features makes its own app over :func:`writable_demo`.
    """
    from web.app import create_app

    copy = tmp_path_factory.mktemp("served") / "demo.gpkg"
    store.GeoPackageWorkspace(demo_path, read_only=True).backup(copy)
    return create_app({"WORKSPACE": store.GeoPackageWorkspace(copy), "TESTING": True})


def client_for(app, role: str | None):
    """Return a test client of ``app`` that sends the API token of ``role`` (None: nobody)."""
    c = app.test_client()
    if role is not None:
        c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {ROLE_TOKENS[role]}"
    return c


def as_stored(ws: store.Workspace, layer: str, role: str, served: Iterable[Any]) -> list[int]:
    """Return the stored ids of features ``role`` was served as ``served`` (their ids in a
    reply: a masked reader's opaque ids; the demo and its served copies share one key)."""
    from gridmap.service import feature_ids

    who = Access.of(f"test-{role}", role)
    given = [str(i) for i in served]
    out: list[int] = []
    for at in range(0, len(given), feature_ids.MAX_IDS):  # as many as a request may send
        found = feature_ids.stored_ids(ws, layer, who, given[at : at + feature_ids.MAX_IDS])
        out += [int(i) for i in found or ()]
    return out


def as_served(ws: store.Workspace, layer: str, role: str | None, fid: int) -> int | str:
    """Return the id ``role`` is served for stored feature ``fid`` (a masked reader's opaque id;
    nobody signed in reads no register: the stored id, which a 401 answers anyway)."""
    from gridmap.service import feature_ids

    if role is None:
        return int(fid)
    return feature_ids.served_ids(ws, layer, Access.of(f"test-{role}", role), [fid])[0]


@pytest.fixture(scope="module")
def papp(demo_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The Flask app over a writable copy of the demo of this test module's own: the planning
    tests of a module share it, in order (tests/planning_kit.py has their checks)."""
    from web.app import create_app

    folder = tmp_path_factory.mktemp("planning")
    copy = store.GeoPackageWorkspace(demo_path, read_only=True).backup(folder / "demo.gpkg")
    ws = store.GeoPackageWorkspace(copy)
    yield create_app({"WORKSPACE": ws, "TESTING": True})
    ws.close()


@pytest.fixture
def planner(papp, role_tokens):
    """A test client of :func:`papp` with the demo planner's API token."""
    return client_for(papp, "planner")


@pytest.fixture
def client(app):
    """A test client of the demo app, signed in as the analyst (personal data masked)."""
    return client_for(app, "analyst")


@pytest.fixture
def anon_client(app):
    """A test client of the demo app that nobody signed in to."""
    return client_for(app, None)


@pytest.fixture
def client_as(app):
    """``client_as(role)``: a test client of the demo app with the API token of ``role``."""
    return lambda role: client_for(app, role)


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    """The demo app served over HTTP on a free localhost port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def gdal_env(role: str | None = "analyst") -> dict[str, str]:
    """Return the environment for a GDAL command that reads the served API as ``role``."""
    import os

    env = dict(os.environ)
    env.pop("GDAL_HTTP_HEADERS", None)
    if role is not None:
        env["GDAL_HTTP_HEADERS"] = f"Authorization: Bearer {ROLE_TOKENS[role]}"
    return env
