"""Export what you selected: grids, filters, selections — over HTTP, as jobs and on the CLI.

Every export is compared with the workspace itself (``ws.read`` with the same grid, condition
or ids), on the real demo (52 grids, 21,686 households, 59,377 people). The checks of the
layer pages hold for exports too: a masked reader cannot filter by what their view hides
(400, no file, no job), a grid worker's export stays in their grids, and the access log says
what was asked.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import openpyxl
import pytest

from gridmap.cli.common import cli_user
from gridmap.cli.main import main
from gridmap.store import GeoPackageWorkspace, open_workspace
from gridmap.store.conditions import Compare
from tests.conftest import ROLE_TOKENS
from web.app import create_app
from web.jobs import runner_of


def rows_of(resp) -> list[dict[str, str]]:
    assert resp.status_code == 200, resp.get_json() if resp.is_json else resp.status
    return list(csv.DictReader(io.StringIO(resp.get_data().decode("utf-8-sig"))))


def sheets(source) -> dict[str, list[tuple]]:
    """Every sheet of a workbook as rows of values (read-only, and closed after)."""
    book = openpyxl.load_workbook(source, read_only=True)
    try:
        return {name: list(book[name].values) for name in book.sheetnames}
    finally:
        book.close()


def codes_of(ws, n: int) -> list[str]:
    return sorted(ws.read("grids", columns=("code",))["code"])[:n]


@pytest.fixture(scope="module")
def served(demo_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """An app of this module's own over a copy of the demo (it takes the access log)."""
    copy = tmp_path_factory.mktemp("sel") / "demo.gpkg"
    GeoPackageWorkspace(demo_path, read_only=True).backup(copy)
    ws = GeoPackageWorkspace(copy)
    folder = tmp_path_factory.mktemp("jobs")
    app = create_app({"WORKSPACE": ws, "TESTING": True, "JOBS_FOLDER": str(folder)})
    yield app, ws
    runner_of(app).close()


def client(app, role: str):
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {ROLE_TOKENS[role]}"
    return c


def test_one_grid_holds_exactly_that_grids_rows(served):
    app, ws = served
    code = codes_of(ws, 4)[3]
    got = rows_of(
        client(app, "analyst").get(f"/api/layers/households/export?format=csv&lang=en&grids={code}")
    )
    stored = ws.read("households", where={"grid_code": code})
    assert len(got) == len(stored) > 300
    assert {r["grid_code"] for r in got} == {code}
    assert sorted(int(r["building_osm_id"]) for r in got) == sorted(stored["building_osm_id"])
    # the view of a grid held 1,650 households of 8 grids; the grid itself holds its own only
    assert len(got) < ws.count("households") / 40


def test_several_grids_people_and_streets(served):
    app, ws = served
    codes = codes_of(ws, 2)
    admin = client(app, "admin")
    got = rows_of(
        admin.get(f"/api/layers/people/export?format=csv&lang=en&grids={','.join(codes)}")
    )
    households = ws.read("households", where={"grid_code": codes}, columns=("household_id",))
    stored = ws.read("people", where={"household_id": list(households["household_id"])})
    assert sorted(r["person_id"] for r in got) == sorted(stored["person_id"])
    # streets have no grid code: chosen by the grids' area, as /api/layers does
    streets = rows_of(admin.get(f"/api/layers/streets/export?format=csv&lang=en&grids={codes[0]}"))
    page = admin.get(f"/api/layers/streets?grids={codes[0]}&limit=0").get_json()
    assert 0 < len(streets) == page["numberMatched"] < ws.count("streets")


def test_a_filter_holds_exactly_the_filtered_rows(served):
    app, ws = served
    query = "where=kind=burglary&where=occurred_at>=2026-06-01"
    got = rows_of(
        client(app, "patrol_lead").get(f"/api/layers/incidents/export?format=csv&lang=en&{query}")
    )
    stored = ws.read(
        "incidents",
        where={"kind": "burglary", "occurred_at": Compare(">=", "2026-05-31T16:00:00.000Z")},
    )
    assert 0 < len(got) == len(stored) < ws.count("incidents")
    assert sorted(r["incident_id"] for r in got) == sorted(stored["incident_id"])
    assert {r["kind"] for r in got} == {"Burglary"}  # coded values by their titles


def test_a_selection_holds_exactly_those_features(served):
    app, ws = served
    cameras = ws.read("cameras", columns=("code",))
    ids = list(cameras.index[[1, 5, 7]])
    resp = client(app, "planner").get(
        f"/api/layers/cameras/export?format=xlsx&lang=zh-CN&ids={','.join(map(str, ids))}"
    )
    assert resp.status_code == 200
    assert "%E9%80%89%E4%B8%AD3%E9%A1%B9" in resp.headers["Content-Disposition"]  # 选中3项
    book = sheets(io.BytesIO(resp.get_data()))
    rows = next(iter(book.values()))
    assert sorted(r[0] for r in rows[1:]) == sorted(cameras.loc[ids, "code"])
    assert dict(book["说明"])["范围"] == "选中的 3 个要素"


def test_a_grid_workers_my_register_is_their_grids_rows(served):
    app, ws = served
    mine = sorted(ws.get_user("demo-worker").grids)
    worker = client(app, "grid_worker")
    before = len(ws.read_log(user="demo-worker", limit=None))
    got = rows_of(
        worker.get(f"/api/layers/households/export?format=csv&lang=en&grids={','.join(mine)}")
    )
    stored = ws.read("households", where={"grid_code": mine})
    assert sorted(r["household_id"] for r in got) == sorted(stored["household_id"])
    assert "head_name" in got[0]  # their own register, unmasked
    # the access log says what was asked
    log = ws.read_log(user="demo-worker", limit=None)
    assert len(log) == before + 1
    shown = json.loads(log.iloc[0]["filter"])
    assert shown["grids"] == mine and log.iloc[0]["rows"] == len(stored)
    # another grid's register: nothing of it, whatever is asked
    other = next(c for c in codes_of(ws, 10) if c not in mine)
    assert rows_of(worker.get(f"/api/layers/households/export?format=csv&grids={other}")) == []
    everything = rows_of(worker.get("/api/layers/households/export?format=csv&lang=en"))
    assert {r["grid_code"] for r in everything} == set(mine)


def test_a_filter_on_a_hidden_column_is_refused_and_writes_nothing(served):
    app, _ = served
    planner = client(app, "planner")
    runner = runner_of(app)
    for url in (
        "/api/layers/households/export?format=csv&where=elderly_alone=true",
        "/api/layers/households/export?format=xlsx&where=head_name~王",
        "/api/layers/visits/export?format=csv&where=household_id=H1",
    ):
        resp = planner.get(url)
        assert resp.status_code == 400, url
        assert "your view leaves it out" in resp.get_json()["error"]["message"]
        assert planner.head(url).status_code == 400
    resp = planner.post("/api/jobs", json={"layer": "households", "where": ["members>=1"]})
    assert (
        resp.status_code == 400 and "your view leaves it out" in resp.get_json()["error"]["message"]
    )
    assert planner.get("/api/jobs").get_json()["jobs"] == []
    assert [p for p in runner.folder.rglob("*") if p.is_file()] == []


def follow(c, doc: dict, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while doc["state"] not in ("done", "failed", "cancelled"):
        assert time.monotonic() < deadline, doc
        time.sleep(0.05)
        doc = c.get(doc["url"]).get_json()
    return doc


def test_a_job_takes_the_filter_and_names_the_file(served):
    app, ws = served
    code = codes_of(ws, 1)[0]
    analyst = client(app, "analyst")
    body = {
        "layer": "buildings",
        "format": "csv",
        "lang": "zh-CN",
        "grids": [code],
        "where": "households>=10",
    }
    doc = analyst.post("/api/jobs", json=body).get_json()
    assert doc["grids"] == [code] and doc["where"] == ["households>=10"]
    doc = follow(analyst, doc)
    assert doc["state"] == "done" and doc["filename"].startswith(f"楼栋_{code}_筛选_")
    got = analyst.get(doc["result"])
    try:
        disposition = got.headers["Content-Disposition"]
        text = got.get_data().decode("utf-8-sig")
    finally:
        got.close()
    assert (
        f'filename="buildings_{code}_filtered_' in disposition
        and "filename*=UTF-8''" in disposition
    )
    table = list(csv.DictReader(io.StringIO(text)))
    stored = ws.read("buildings", where={"grid_code": code, "households": Compare(">=", 10)})
    assert sorted(int(r["OSM 编号"]) for r in table) == sorted(stored["osm_id"])
    analyst.delete(doc["url"])
    bad = analyst.post("/api/jobs", json={"layer": "buildings", "grids": {"a": 1}})
    assert bad.status_code == 400


def test_cli_grids_where_and_as(demo_path, tmp_path, capsys):
    ws = open_workspace(demo_path)
    code = codes_of(ws, 2)[1]
    out = tmp_path / "h.csv"
    assert (
        main(["-q", "export", str(demo_path), "households", "--grids", code, "-o", str(out)]) == 0
    )
    got = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(got) == ws.count("households", where={"grid_code": code})
    assert "personal data masked" in capsys.readouterr().out
    out = tmp_path / "b.xlsx"
    args = [
        "-q",
        "export",
        str(demo_path),
        "buildings",
        "--grids",
        code,
        "--where",
        "households>=10",
    ]
    assert main([*args, "--where", "levels>=2", "-o", str(out), "--lang", "zh-CN"]) == 0
    rows = next(iter(sheets(out).values()))
    stored = ws.read(
        "buildings",
        where={"grid_code": code, "households": Compare(">=", 10), "levels": Compare(">=", 2)},
    )
    assert sorted(r[0] for r in rows[1:]) == sorted(stored["osm_id"])
    # --as: the account's role and grids; unmasked rows only with --personal
    mine = sorted(ws.get_user("demo-worker").grids)
    out = tmp_path / "mine.csv"
    worker = ["-q", "export", str(demo_path), "households", "--as", "demo-worker", "-o", str(out)]
    assert main(worker) == 2 and not out.exists()
    assert "add --personal" in capsys.readouterr().err
    assert main([*worker, "--personal"]) == 0
    got = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert {r["grid_code"] for r in got} == set(mine) and "head_name" in got[0]
    assert len(got) == ws.count("households", where={"grid_code": mine})
    # a masked reader's filter on a hidden column: refused, no file
    out = tmp_path / "refused.csv"
    args = [
        "export",
        str(demo_path),
        "households",
        "--as",
        "demo-planner",
        "--where",
        "hardship=是",
    ]
    assert main([*args, "-o", str(out)]) == 2
    assert "your view leaves it out" in capsys.readouterr().err and not out.exists()
    assert main(["export", str(demo_path), "households", "--as", "nobody", "-o", str(out)]) == 2
    planner = ["export", str(demo_path), "households", "--role", "planner", "-o", str(out)]
    assert main([*planner, "--personal"]) == 2 and not out.exists()
    assert "sees it masked" in capsys.readouterr().err
    both = ["export", str(demo_path), "cameras", "--as", "admin", "--role", "admin"]
    assert main([*both, "-o", str(out)]) == 2 and "not both" in capsys.readouterr().err


def test_cli_export_as_an_account_records_who_acted(writable_demo, tmp_path, capsys):
    """--as USER reads as that account, but the access log names the operating-system user
    who ran the command, for that account."""
    out = tmp_path / "h.csv"
    args = ["-q", "export", str(writable_demo.path), "households", "-o", str(out)]
    assert main([*args, "--as", "admin"]) == 2  # unmasked: only with --personal
    assert "add --personal" in capsys.readouterr().err and not out.exists()
    before = len(writable_demo.read_log())
    assert main([*args, "--as", "admin", "--personal"]) == 0
    log = writable_demo.read_log(limit=1).iloc[0]
    assert len(writable_demo.read_log()) == before + 1
    assert log["user"] == f"{cli_user()} as admin" and log["role"] == "admin"
    assert main([*args, "--role", "grid_worker"]) == 2  # a worker by role names the grids
    assert "--grids" in capsys.readouterr().err


def test_cli_export_is_recorded_with_what_was_asked(writable_demo, tmp_path):
    code = codes_of(writable_demo, 1)[0]
    out = tmp_path / "p.csv"
    args = ["-q", "export", str(writable_demo.path), "people", "--personal", "--grids", code]
    assert main([*args, "--where", "gender=F", "-o", str(out)]) == 0
    log = writable_demo.read_log(limit=1).iloc[0]
    shown = json.loads(log["filter"])
    assert log["action"] == "cli export" and shown["grids"] == [code]
    assert shown["where"] == ["gender=F"] and shown["file"] == str(out)
    got = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert log["rows"] == len(got) > 0 and {r["gender"] for r in got} == {"Female"}
