"""Visit figures per grid, per role (gridmap.service.visit_figures).

Who is in which of the six visit categories, per grid, only a reader of that grid's register
gets (the admin; a grid worker, in their own grids). Everyone else gets the visits due — the
households in any category — rounded to 10, and 1 to 4 as ``<5``. On a workspace small enough
to count by hand, then on the demo through the API, then the attack that decided it.
"""

from __future__ import annotations

import io
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridmap import store
from gridmap.access import disclosure
from gridmap.access.counts import SMALL_TEXT, reads_register
from gridmap.access.roles import ROLES, Access
from gridmap.errors import PermissionDeniedError
from gridmap.schema import VISIT_CATEGORIES
from gridmap.service import grid_checks, privacy_check, visit_figures
from gridmap.service.figures import COLUMNS, category_figures, register_figures
from gridmap.service.figures_export import figures_csv
from gridmap.service.visit_figures import CATEGORY_COLUMNS, served_rows, tally
from tests.conftest import DEMO_TODAY
from tests.test_write_api import client_of

A, B, C = "320102001001001", "320102001001002", "320102001001003"
ADMIN = Access.of("a", "admin")
WORKER_A = Access.of("w", "grid_worker", grids=[A])
MASKED = [Access.of("x", r) for r in ("planner", "patrol_lead", "analyst")]


def visits_workspace(path: Path) -> store.GeoPackageWorkspace:
    """Grid A: 12 households, 6 migrant (HA1–HA6), 2 hardship (HA6, HA7), 1 elderly alone
    (HA8): 8 due visits. Grid B: 20 households, 15 migrant. Grid C: 3 households, 1 disabled."""
    p = shapely.Point(118.786, 32.041)
    boxes = [
        shapely.box(118.785 + i * 0.002, 32.040, 118.787 + i * 0.002, 32.042) for i in range(3)
    ]
    grids = gpd.GeoDataFrame(
        {
            "code": [A, B, C],
            "name": ["A", "B", "C"],
            "community_code": ["320102001001"] * 3,
            "source": ["user"] * 3,
        },
        geometry=[shapely.MultiPolygon([b]) for b in boxes],
        crs=4326,
    )
    ids = (
        [f"HA{i}" for i in range(1, 13)] + [f"HB{i}" for i in range(1, 21)] + ["HC1", "HC2", "HC3"]
    )
    flags = {c: [False] * len(ids) for c in VISIT_CATEGORIES}
    for i in range(6):
        flags["migrant"][i] = True  # HA1–HA6
    flags["hardship"][5] = flags["hardship"][6] = True  # HA6, HA7
    flags["elderly_alone"][7] = True  # HA8
    for i in range(12, 27):
        flags["migrant"][i] = True  # HB1–HB15
    flags["disabled"][32] = True  # HC1
    households = gpd.GeoDataFrame(
        {
            "household_id": ids,
            "grid_code": [A] * 12 + [B] * 20 + [C] * 3,
            **flags,
            "source": ["synthetic"] * len(ids),
        },
        geometry=[p] * len(ids),
        crs=4326,
    )
    # people: HA1 has 3 migrants, HA2–HA6 one migrant each (HA6's also in hardship), HA7 two
    # in hardship, HA8 one elderly person alone; HC1 one disabled person
    rows = [("HA1", "migrant")] * 3 + [(f"HA{i}", "migrant") for i in range(2, 7)]
    rows += [("HA6", "hardship"), ("HA7", "hardship"), ("HA7", "hardship")]
    rows += [("HA8", "elderly_alone"), ("HC1", "disabled"), ("HB16", None)]
    people = pd.DataFrame(
        {
            "person_id": [f"P{i}" for i in range(len(rows))],
            "household_id": [h for h, _ in rows],
            "name": ["某"] * len(rows),
            **{c: [flag == c for _, flag in rows] for c in VISIT_CATEGORIES},
            "source": ["synthetic"] * len(rows),
        }
    )
    people.loc[5, "hardship"] = True  # HA6's one person: migrant and in hardship
    people = people.drop(index=8).reset_index(drop=True)  # (that person was listed twice)
    with store.building(path) as ws, ws.transaction(action="visits fixture") as tx:
        tx.replace("grids", grids)
        tx.replace("households", households)
        tx.replace("people", people)
    return store.GeoPackageWorkspace(path)


@pytest.fixture()
def small(tmp_path) -> store.GeoPackageWorkspace:
    ws = visits_workspace(tmp_path / "visits.gpkg")
    yield ws
    ws.close()


def test_the_counts_by_hand(small):
    counts = tally(
        small.read("households", system=False), small.read("people", system=False)
    ).to_dict("index")
    a, b, c = counts[A], counts[B], counts[C]
    assert a["visit_households"] == 8  # HA1–HA8: HA6 is migrant and hardship, counted once
    assert (a["migrant_households"], a["hardship_households"], a["elderly_alone_households"]) == (
        6,
        2,
        1,
    )
    assert (a["migrant_people"], a["hardship_people"], a["elderly_alone_people"]) == (8, 3, 1)
    assert a["disabled_households"] == a["assisted_people"] == 0
    assert b["visit_households"] == b["migrant_households"] == 15 and b["migrant_people"] == 0
    assert c["visit_households"] == c["disabled_households"] == c["disabled_people"] == 1
    assert list(counts[A]) == ["visit_households", *CATEGORY_COLUMNS]


def test_who_reads_a_grids_register():
    assert reads_register(ADMIN, A) and reads_register(None, A)  # the admin, the CLI
    assert reads_register(WORKER_A, A) and not reads_register(WORKER_A, B)
    for who in MASKED:
        assert not reads_register(who, A)  # the masked view counts households, not categories
    assert not reads_register(Access.anonymous(), A)
    assert {r for r in ROLES if reads_register(Access.of("u", r, grids=[A]), A)} == {
        "admin",
        "grid_worker",
    }


@pytest.mark.parametrize(
    "who", [ADMIN, None, WORKER_A, *MASKED], ids=lambda a: getattr(a, "role", "cli")
)
def test_the_figures_beside_the_map_per_role(small, who):
    rows = served_rows(small, who, [A, B, C])
    for code, row in rows.items():
        mine = reads_register(who, code)
        assert row["visit_households_exact"] is mine
        categories = [row[c] for c in CATEGORY_COLUMNS]
        if mine:
            assert all(isinstance(v, int) for v in categories)
        else:  # nothing of who is in which category
            assert categories == [None] * len(CATEGORY_COLUMNS)
    exact = {A: 8, B: 15, C: 1}
    shown = {A: 10, B: 20, C: SMALL_TEXT}  # rounded half up; 1 to 4 is "<5"
    for code in (A, B, C):
        want = exact[code] if reads_register(who, code) else shown[code]
        assert rows[code]["visit_households"] == want, code
    if who is WORKER_A:
        assert rows[A]["hardship_people"] == 3 and rows[B]["migrant_households"] is None


def test_the_checks_reply_holds_them(small):
    found = grid_checks.validate(small, bounds=(0, 100))
    planner = visit_figures.with_visit_figures(small, MASKED[0], found.figures_json(MASKED[0]))
    admin = visit_figures.with_visit_figures(small, ADMIN, found.figures_json(ADMIN))
    assert [r["code"] for r in planner] == [A, B, C]
    assert [r["visit_households"] for r in planner] == [10, 20, SMALL_TEXT]
    assert [r["hardship_households"] for r in admin] == [2, 0, 0]
    assert {k for k in admin[0]} - {k for k in planner[0]} == set()  # one row shape


def test_the_export_follows_the_same_rules(small):
    admin = register_figures(small, ADMIN, today=DEMO_TODAY)
    assert list(admin.columns) == [*COLUMNS, *CATEGORY_COLUMNS] and not admin.attrs
    a, b, c = admin.to_dict("records")
    assert a["visit_households"] == 8 and b["visit_households"] == 15
    assert a["migrant_households"] == 6 and a["migrant_people"] == 8
    # the table's small-count rule, for every reader: 1 to 4 is suppressed
    assert pd.isna(a["hardship_households"]) and pd.isna(c["visit_households"])
    for who in MASKED:
        table = register_figures(small, who, today=DEMO_TODAY)
        assert list(table.columns) == list(COLUMNS)  # no category column at all
        assert table.attrs == {"rounded_to": {"visit_households": 10}}
        shown = table["visit_households"].tolist()
        assert shown[:2] == [10, 20] and pd.isna(shown[2])
    mine = register_figures(small, WORKER_A, today=DEMO_TODAY)
    assert list(mine["grid_code"]) == [A] and mine["visit_households"].iloc[0] == 8
    assert mine["migrant_people"].iloc[0] == 8 and pd.isna(mine["hardship_people"].iloc[0])
    zh = figures_csv(register_figures(small, MASKED[0], today=DEMO_TODAY), "zh-CN").decode(
        "utf-8-sig"
    )
    assert "六必访户数（约数，取整到10）" in zh.splitlines()[0] and "困难群众" not in zh
    en = figures_csv(admin, "en").decode("utf-8")
    head = en.splitlines()[0].split(",")
    assert "visit_households" in head and "hardship_people" in head
    assert pd.read_csv(io.StringIO(en), dtype=str)["visit_households"].tolist() == [
        "8",
        "15",
        "hidden",
    ]


def test_nothing_of_a_category_follows_from_what_a_masked_reader_gets(small):
    """A masked reader gets one number per grid for all six categories together, rounded, and
    per community each category: no per-grid category count to subtract from a community's,
    and no total of the visits due over a community to subtract a suppressed grid's from."""
    for who in MASKED:
        rows = served_rows(small, who, [A, B, C])
        numbers = [r["visit_households"] for r in rows.values()]
        assert all(n == SMALL_TEXT or n % 10 == 0 for n in numbers)
        table = register_figures(small, who, today=DEMO_TODAY)
        assert not [c for c in table.columns if c.endswith("_people")]
        assert not [
            c for c in table.columns if c.endswith("_households") and c != "visit_households"
        ]
        communities = category_figures(small, who)
        assert "visit_households" not in communities.columns
    # a grid worker gets their own grids' categories, and no community total to subtract them
    # from (which would give the other grids' together)
    with pytest.raises(PermissionDeniedError):
        category_figures(small, WORKER_A)


def test_the_admins_figures_add_up(small):
    """Per category, the grids' counts sum to the community's (the same rows, grouped twice)."""
    rows = served_rows(small, ADMIN, [A, B, C])
    (community,) = category_figures(small, ADMIN).to_dict("records")
    for c in VISIT_CATEGORIES:
        total = sum(r[f"{c}_households"] for r in rows.values())
        assert pd.isna(community[f"{c}_households"]) or community[f"{c}_households"] == total
        for r in rows.values():  # a household in several categories is one visit due
            assert r["visit_households"] >= r[f"{c}_households"]
    assert sum(r["visit_households"] for r in rows.values()) == 8 + 15 + 1


# -- the demo, through the API ------------------------------------------------------------------


def test_the_api_serves_each_role_its_visit_figures(demo_path, role_tokens):
    from web.app import create_app

    ws = store.GeoPackageWorkspace(demo_path, read_only=True)
    app = create_app({"WORKSPACE": ws, "TESTING": True})
    theirs = set(ws.get_user("demo-worker").grids)
    for role in ("admin", "planner", "patrol_lead", "analyst", "grid_worker"):
        figures = client_of(app, role_tokens, role).get("/api/grids/checks").get_json()["figures"]
        assert len(figures) == ws.count("grids")
        for r in figures:
            personal = role == "admin" or (role == "grid_worker" and r["code"] in theirs)
            assert r["visit_households_exact"] is personal, (role, r["code"])
            assert (r["hardship_households"] is None) != personal
            if not personal:
                assert r["visit_households"] == SMALL_TEXT or r["visit_households"] % 10 == 0
    planner = client_of(app, role_tokens, "planner")
    doc = planner.get("/api/figures/register").get_json()
    assert doc["rounded_to"] == {"visit_households": 10}
    assert doc["columns"] == list(COLUMNS)
    admin = client_of(app, role_tokens, "admin").get("/api/figures/register").get_json()
    assert admin["rounded_to"] == {} and admin["columns"] == [*COLUMNS, *CATEGORY_COLUMNS]
    ws.close()


# -- the attack that decided it (docs/privacy.md; scripts/privacy_visit_figures.py) ------------


def test_visits_due_per_grid_rank_no_flag_and_a_category_count_does(demo_workspace):
    """On the demo: a grid's count of one category ranks that category's households above
    chance (hardship), the households in any category do not, exact or rounded; the masked
    readers' figures are what `gridmap privacy` attacks (tests/test_privacy.py)."""
    stored = privacy_check.read_register(demo_workspace)
    flags = privacy_check.hidden_flags(stored["households"], stored["visits"])
    served = privacy_check.served_register(demo_workspace, stored, MASKED[0], today=DEMO_TODAY)
    assert "visit_households" in served.figures["grid_code"].columns  # the proof covers it
    clues = privacy_check.clues(served, today=DEMO_TODAY)
    h = stored["households"]
    counts = tally(h)
    per_grid = h["grid_code"].map(h["grid_code"].value_counts())
    share = h["grid_code"].map(counts["visit_households"]) / per_grid
    for flag in ("hardship", "elderly_alone", "disabled", "assisted"):
        r = disclosure.attack(clues.assign(visits=share), flags[flag].loc[clues.index], flag=flag)
        assert r.auc < r.bound, r
        assert dict(r.features)["visits"] < r.bound
    own = h["grid_code"].map(counts["hardship_households"]) / per_grid
    r = disclosure.attack(clues.assign(own=own), flags["hardship"].loc[clues.index])
    assert r.auc > r.bound and r.best == "own itself", r  # the test can fail: this one does
