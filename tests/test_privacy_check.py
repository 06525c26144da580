"""``gridmap privacy``: the masked-view attack run on a workspace's own register.

Unit tests of the pieces on tiny frames, then the command end to end: on the demo register
every flag passes (exit 0); on a copy whose register was doctored so that a column masked roles
are served gives a flag away, it fails (exit 1) and names that column. tests/test_privacy.py
proves the demo with the same code (gridmap.service.privacy_check).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap import store
from gridmap.access import disclosure, linkage
from gridmap.access.roles import Access
from gridmap.cli import main
from gridmap.cli.privacy import render
from gridmap.errors import InputError
from gridmap.service import feature_ids, privacy_check, privacy_order
from tests.conftest import DEMO_TODAY

# -- the pieces, on tiny frames ------------------------------------------------------------------


def test_attack_names_the_feature_that_tells_most_on_its_own():
    rng = np.random.default_rng(3)
    n = 3000
    y = pd.Series(rng.random(n) < 0.2)
    weak = np.where(y, rng.random(n) < 0.4, rng.random(n) < 0.2)  # 40 % vs 20 %
    strong = np.where(y, rng.random(n) < 0.9, rng.random(n) < 0.1)  # 90 % vs 10 %
    features = pd.DataFrame(
        {"weak": weak.astype(str), "strong": strong.astype(str), "size": rng.integers(1, 9, n)}
    )
    r = disclosure.attack(features, y, flag="f")
    assert [name for name, _ in r.features][:2] == ["strong", "weak"]
    assert r.strongest is not None and r.strongest[0] == "strong" and r.strongest[1] > 0.85
    assert {name for name, _ in r.features} == {"weak", "strong", "size"}
    assert r.read_back and r.auc >= r.bound


def test_attack_with_nothing_visible_is_chance():
    y = pd.Series([True, False] * 50)
    r = disclosure.attack(pd.DataFrame(index=range(100)), y, flag="f")
    assert r.best == "group rate on nothing" and r.strongest is None and not r.read_back


def test_attack_needs_both_answers():
    with pytest.raises(InputError, match=r"'assisted'.*0 of 3"):
        disclosure.attack(
            pd.DataFrame({"a": ["x", "y", "z"]}), pd.Series([False] * 3), flag="assisted"
        )


def test_hidden_flags_count_a_missing_value_as_no():
    """A real register leaves flags blank; the store reads them as nullable booleans."""
    households = pd.DataFrame(
        {
            "household_id": ["H1", "H2", "H3"],
            "hardship": pd.array([True, None, False], dtype="boolean"),
            "elderly_alone": pd.array([None, None, True], dtype="boolean"),
        }
    )
    visits = pd.DataFrame({"household_id": ["H2", "H3"], "category": ["migrant", "routine"]})
    flags = privacy_check.hidden_flags(households, visits)
    assert list(flags) == list(privacy_check.FLAGS)
    assert flags["hardship"].tolist() == [True, False, False]
    assert flags["elderly_alone"].tolist() == [False, False, True]
    assert flags["disabled"].tolist() == [False] * 3  # a column the register lacks
    assert flags["a migrant visit"].tolist() == [False, True, False]


def _households(points: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"building_osm_id": [7, 7, 8], "grid_code": ["G1"] * 3},
        geometry=[shapely.Point(p) for p in points],
        crs=4326,
    )


def test_clues_hold_the_building_and_a_point_finer_than_it():
    empty = pd.DataFrame()
    at_buildings = _households([(118.1, 32.1), (118.1, 32.1), (118.2, 32.1)])
    clues = linkage.household_clues(at_buildings, empty, empty, empty, today=DEMO_TODAY)
    assert clues["building"].tolist() == ["7", "7", "8"] and "place" not in clues
    own_points = _households([(118.1, 32.1), (118.1001, 32.1), (118.2, 32.1)])
    clues = linkage.household_clues(own_points, empty, empty, empty, today=DEMO_TODAY)
    assert clues["place"].nunique() == 3  # each household at its own point: a clue


def test_every_clue_says_where_it_comes_from():
    assert linkage.clue_source("building_households").startswith("buildings.households")
    assert linkage.clue_source("building").startswith("households.building_osm_id")
    assert linkage.clue_source("rented") == "households.rented, served as it is"
    assert linkage.clue_source("grid_code:migrants").startswith("figures per grid: migrants")
    assert linkage.clue_source("community_code:hardship_households").startswith(
        "figures per community"
    )


def test_group_sizes_of_visits_count_the_households_they_could_be():
    households = _households([(118.1, 32.1), (118.1, 32.1), (118.2, 32.1)])
    visits = pd.DataFrame({"grid_code": ["G1", "G1"], "category": ["***", "routine"]})
    served = privacy_check.Served(households, pd.DataFrame(), visits, pd.DataFrame())
    h, p, v = privacy_check.group_sizes(served)
    assert (h.k, h.unique_share, h.groups) == (1, 1 / 3, 2)  # building 8 holds one household
    assert h.by == ("building_osm_id", "grid_code", "point")
    assert (p.rows, p.k) == (0, 0)
    assert (v.by, v.k, v.groups) == (("grid_code",), 3, 1)  # any of the grid's 3 households


def test_a_register_too_small_to_judge_says_so(tiny_workspace):
    report = privacy_check.check(tiny_workspace, today=DEMO_TODAY)
    assert report.households == 2 and report.passed
    (view,) = report.checks
    assert view.roles == ("planner", "patrol_lead", "analyst")
    assert {f.verdict for f in view.flags} == {privacy_check.NOT_JUDGED}
    assert all(f.auc is None for f in view.flags)
    text = render(report)
    assert "Not judged 未判断: 10 flag(s)" in text and "PASS" not in text
    json.dumps(report.to_dict())  # plain data


def test_a_workspace_without_households_is_an_error(tmp_path, capsys):
    from tests.conftest import tiny_layers

    path = tmp_path / "t.gpkg"
    with store.building(path) as ws, ws.transaction(action="no register") as tx:
        for name, frame in tiny_layers().items():
            if name not in ("households", "people"):
                tx.replace(name, frame)
    assert main(["-q", "privacy", str(path)]) == 2
    assert "holds no households" in capsys.readouterr().err
    assert main(["-q", "privacy", str(tmp_path / "none.gpkg")]) == 2
    assert main(["-q", "privacy", str(path), "--today", "27.11.2026"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


# -- end to end on the demo register ---------------------------------------------------------


def test_the_demo_register_passes(demo_path, capsys):
    assert main(["-q", "privacy", str(demo_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is True and report["today"] == DEMO_TODAY.isoformat()
    assert (report["households"], report["people"], report["visits"]) == (21686, 59377, 32744)
    (view,) = report["checks"]  # planners, patrol leads and analysts are served the same
    assert view["roles"] == ["planner", "patrol_lead", "analyst"]
    flags = {f["flag"]: f for f in view["flags"]}
    assert list(flags) == list(privacy_check.FLAGS)
    # the figures of docs/privacy.md ("after")
    assert {f: r["positives"] for f, r in flags.items()} == {
        "hardship": 553,
        "elderly_alone": 1032,
        "disabled": 963,
        "assisted": 140,
        "a hardship visit": 552,
        "a elderly_alone visit": 992,
        "a disabled visit": 897,
        "a migrant visit": 5253,
        "a veteran_party_member visit": 717,
        "a assisted visit": 79,
    }
    for r in flags.values():
        assert r["verdict"] == "pass" and r["auc"] < r["bound"], r
        assert r["accuracy"] <= r["majority"] + disclosure.ACCURACY_MARGIN
    assert flags["elderly_alone"]["auc"] == pytest.approx(0.523, abs=5e-4)
    assert flags["a migrant visit"]["bound"] == 0.53
    groups = {g["view"]: g for g in view["groups"]}
    assert groups["households"]["k"] == 2 and groups["households"]["unique_share"] == 0
    assert groups["people"]["rows"] == 0
    assert groups["visits"]["by"] == ["grid_code"] and groups["visits"]["k"] == 316
    # the ids masked roles are served, and the order of their rows, place nothing
    orders = {(o["view"], o["hidden"]): o for o in view["orders"]}
    assert set(orders) == {(k.view, k.hidden) for k in privacy_order.LINKS}
    for o in orders.values():
        assert o["verdict"] == "pass", o
        assert abs(o["rho"]) < o["rho_bound"] and o["closeness"] < o["closeness_bound"]
    assert orders["visits", "household"]["rows"] == 32744


def test_plain_ids_would_give_the_households_away(demo_workspace, monkeypatch):
    """The id-order attack catches the leak it was made for: served as stored, a masked
    visit's id names its household (a neighbour in the served order is a neighbour in the
    register: 1 rank apart, against about 56 by chance), a household's its room."""
    stored = privacy_check.read_register(demo_workspace)
    analyst = Access.of("ann", "analyst")
    monkeypatch.setattr(feature_ids, "opaque", lambda layer, access: False)
    served = privacy_check.served_register(demo_workspace, stored, analyst, today=DEMO_TODAY)
    orders = {
        (o.view, o.hidden): o
        for o in privacy_order.order_checks(stored, served.frames(), served.ids)
    }
    visits = orders["visits", "household"]
    assert visits.verdict == "fail" and visits.closeness is not None and visits.closeness > 0.9
    assert visits.gap is not None and visits.chance_gap is not None
    assert visits.gap <= 3 < 40 < visits.chance_gap
    rooms = orders["households", "room"]
    assert rooms.verdict == "fail" and rooms.rho is not None and rooms.rho > 0.99
    assert orders["buildings", "residents"].verdict == "fail"  # neighbours on the map


def test_the_check_is_the_proof_of_test_privacy(demo_workspace):
    """The same attack as tests/test_privacy.py: the command and the proof cannot drift."""
    stored = privacy_check.read_register(demo_workspace)
    served = privacy_check.served_register(
        demo_workspace, stored, Access.of("ann", "analyst"), today=DEMO_TODAY
    )
    clues = privacy_check.clues(served, today=DEMO_TODAY)
    assert {"building", "grid", "building_households", "grid_code:migrants"} <= set(clues)
    assert not {"people", "visit_categories", "building_mean_size"} & set(clues)  # no links
    # a register where some buildings hold many hardship households: the building gives it away
    # (a building of social housing, say), and the check names it
    h = stored["households"]
    rng = np.random.default_rng(0)
    chosen = rng.choice(h["building_osm_id"].unique(), 70, replace=False)
    planted = h["hardship"].astype(bool) | (
        h["building_osm_id"].isin(chosen) & (rng.random(len(h)) < 0.3)
    )
    r = disclosure.attack(clues, planted, flag="hardship")
    assert r.read_back and r.strongest is not None and r.strongest[0] == "building", r


@pytest.fixture
def planted(writable_demo) -> Path:
    """A copy of the demo whose register says hardship for every household of the buildings
    with an odd number of households: the buildings' ``households``, served to masked roles,
    gives it away."""
    ws = writable_demo
    buildings = ws.read("buildings", columns=["osm_id", "households"], system=False)
    odd = buildings.loc[buildings["households"] % 2 == 1, "osm_id"]
    h = ws.read("households", columns=["building_osm_id", "hardship"], system=False)
    doctored = h.index[h["building_osm_id"].isin(odd) & ~h["hardship"].astype(bool)]
    with ws.transaction(action="plant a correlation") as tx:
        tx.update_many("households", {int(fid): {"hardship": True} for fid in doctored})
    assert len(doctored) > 9000
    return ws.path


def test_a_planted_correlation_fails_and_names_its_clue(planted):
    done = subprocess.run(
        [sys.executable, "-m", "gridmap.cli", "-q", "privacy", str(planted)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr  # the exit status the shell sees
    out = done.stdout
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "FAIL 不通过" in lines["hardship"] and "0.98" in lines["hardship"]
    assert "strongest single clue 最强线索: building_households" in out
    assert "from buildings.households: households in the household's building" in out
    flag_lines = [line for line in out.splitlines() if line.startswith("  ") and "  " in line[2:]]
    assert sum("pass 通过" in line for line in flag_lines if "→" not in line) == 9  # other flags
    assert "FAIL 不通过: a masked role can read back hardship." in out
    assert out.count("→") == 4 and "the ids masked roles are served" not in out  # ids: pass


def test_the_exit_status_reaches_the_shell(tmp_path):
    """0 and 2 as the ``gridmap`` command exits (1: the planted correlation above)."""
    from tests.conftest import make_tiny_workspace

    ws = make_tiny_workspace(tmp_path / "t.gpkg")
    command = [sys.executable, "-m", "gridmap.cli", "-q", "privacy"]
    ok = subprocess.run([*command, str(ws.path)], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run(
        [*command, str(tmp_path / "none.gpkg")], capture_output=True, text=True, check=False
    )
    assert missing.returncode == 2 and "No workspace at" in missing.stderr
