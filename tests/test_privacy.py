"""Personal data that cannot be read back: the masked views, and attacks that try to read it back.

Unit tests on tiny frames one can check by hand, then the proof on the demo register (59,377
people, 21,686 households, 32,744 visits): a cross-validated classifier trained on what a
masked role sees guesses every hidden flag no better than chance — while the same attack on
the column-by-column masking gridmap served before (a copy of it is kept below) reads the
flags back. docs/privacy.md records the figures.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap import store
from gridmap.access import disclosure, privacy
from gridmap.access.roles import DERIVED_LAYERS, REGISTER_LAYERS, Access
from gridmap.errors import FeatureNotFoundError, PermissionDeniedError
from gridmap.io.xlsx import neutralise_formulas, write_xlsx
from gridmap.schema import LAYERS, VISIT_CATEGORIES, get_layer
from gridmap.service import privacy_check
from gridmap.service.figures import (
    AGE_GENDER_COLUMNS,
    CATEGORY_COLUMNS,
    COLUMNS,
    category_figures,
    register_figures,
)
from tests.conftest import DEMO_TODAY

ADMIN = Access.of("root", "admin")
PLANNER = Access.of("ping", "planner")
PATROL_LEAD = Access.of("lei", "patrol_lead")
ANALYST = Access.of("ann", "analyst")
WORKER = Access.of("wang", "grid_worker", grids=["320102001001001"])
MASKED_ROLES = (PLANNER, PATROL_LEAD, ANALYST)
EVERYONE = (ADMIN, *MASKED_ROLES, WORKER, Access.anonymous())


# -- the masking gridmap served before this change (git show 0f93e51~1:gridmap/access/privacy.py)


def old_mask_text(value: Any, column: str) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value)
    if column == "id_number" and len(text) >= 10:
        return text[:6] + "*" * (len(text) - 10) + text[-4:]
    if "phone" in column and len(text) >= 7:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    if column.endswith("name") and text:
        return text[0] + "*" * max(1, len(text) - 1)
    return privacy.MASK


def old_mask_frame(frame: pd.DataFrame, layer: str) -> pd.DataFrame:
    """Column-by-column masking: names to a surname, IDs to region + last 4, dates to the year,
    flags to null, the six visit categories to ***; everything else as stored."""
    schema = get_layer(layer)
    out = frame.copy()
    for column in schema.columns:
        if column.personal_values and column.name in out.columns:
            hidden = set(column.personal_values)
            out[column.name] = [
                privacy.MASK if v in hidden else v for v in out[column.name].tolist()
            ]
    for name in schema.personal_columns:
        if name not in out.columns:
            continue
        kind = schema.column(name).type
        if kind == "str":
            out[name] = [old_mask_text(v, name) for v in out[name].tolist()]
        elif kind in ("date", "datetime"):
            out[name] = [
                None if pd.isna(v) else f"{pd.Timestamp(v).year}-**-**" for v in out[name].tolist()
            ]
        else:
            out[name] = pd.Series([None] * len(out), index=out.index, dtype=object)
    return out


# -- unit tests on tiny frames ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "building"),
    [
        ("凯润金城6栋1单元101室", "凯润金城6栋"),
        ("265043743号楼2单元1203室", "265043743号楼"),
        ("长江路23号2幢3单元502室", "长江路23号2幢"),
        ("长江路23号502", "长江路23号"),  # digits after the building: cut, not kept
        ("中山路1-2-301", "中山路"),  # building-unit-room triple
        ("洪武北路5号3层", "洪武北路5号"),
        ("Room 5, 12 Zhongshan Rd", None),  # nothing before the room: nothing left
        ("长江路23号", "长江路23号"),
        ("", None),
        (None, None),
    ],
)
def test_building_address_keeps_no_unit_or_room(address, building):
    assert privacy.building_address(address) == building


def test_visit_category_is_routine_or_masked():
    served = [privacy.visit_category(c) for c in (*VISIT_CATEGORIES, "routine", None)]
    assert served == ["***"] * 6 + ["routine", None]


def tiny_register() -> dict[str, pd.DataFrame]:
    """Two households in one building, their three people, two visits, one incident."""
    here = shapely.Point(118.786, 32.041)
    households = gpd.GeoDataFrame(
        {
            "household_id": ["H1-001", "H1-002"],
            "building_osm_id": [101, 101],
            "grid_code": ["320102001001001"] * 2,
            "address": ["一号楼1单元101室", "一号楼1单元102室"],
            "head_name": ["王小明", "李华"],
            "phone": ["13912345678", "13800001111"],
            "members": [2, 1],
            "rented": [True, False],
            "rental_score": [7, None],
            "hardship": [False, True],
            "elderly_alone": [False, True],
            "disabled": [True, False],
            "migrant": [True, False],
            "veteran_party_member": [False, False],
            "assisted": [False, False],
            "source": ["synthetic"] * 2,
            "version": [3, 1],
            "updated_by": ["wang", "wang"],
        },
        geometry=[here, here],
        crs=4326,
        index=pd.Index([11, 12], name="fid"),
    )
    people = pd.DataFrame(
        {
            "person_id": ["P1", "P2", "P3"],
            "household_id": ["H1-001", "H1-001", "H1-002"],
            "name": ["王小明", "张丽", "李华"],
            "id_number": ["34010419761017597X", "340104197801011234", "320102194001011234"],
            "gender": ["M", "F", "F"],
            "birth_date": pd.to_datetime(["1976-10-17", "1978-01-01", "1940-01-01"]),
        },
        index=pd.Index([1, 2, 3], name="fid"),
    )
    visits = gpd.GeoDataFrame(
        {
            "visit_id": ["V1", "V2"],
            "household_id": ["H1-002", "H1-001"],
            "grid_code": ["320102001001001"] * 2,
            "worker": ["谭雪艳"] * 2,
            "visited_at": pd.to_datetime(["2026-10-08T02:00Z", "2026-10-09T03:00Z"]),
            "category": ["hardship", "routine"],
            "outcome": ["met", "not_home"],
            "note": ["家中有困难", None],
            "source": ["synthetic"] * 2,
        },
        geometry=[here, here],
        crs=4326,
        index=pd.Index([5, 6], name="fid"),
    )
    incidents = gpd.GeoDataFrame(
        {
            "incident_id": ["E2026100001"],
            "occurred_at": pd.to_datetime(["2026-10-01T12:00Z"]),
            "kind": ["dispute"],
            "description": ["王小明与邻居争吵"],
            "grid_code": ["320102001001001"],
            "status": ["open"],
            "source": ["synthetic"],
            "version": [2],
            "updated_at": pd.to_datetime(["2026-10-02T12:00Z"]),
        },
        geometry=[here],
        crs=4326,
        index=pd.Index([9], name="fid"),
    )
    return {"households": households, "people": people, "visits": visits, "incidents": incidents}


def test_masked_households_are_a_building_and_a_grid():
    stored = tiny_register()["households"]
    before = stored.copy()
    served = privacy.present(stored, "households", ANALYST)
    assert isinstance(served, gpd.GeoDataFrame) and served.crs == stored.crs
    assert list(served.columns) == ["building_osm_id", "grid_code", "address", "source", "geometry"]
    assert list(served.index) == [11, 12]  # feature ids kept
    assert list(served["address"]) == ["一号楼", "一号楼"]  # the two look alike
    assert served.geometry.equals(stored.geometry)
    pd.testing.assert_frame_equal(stored, before)  # the input is not changed


def test_masked_people_have_no_rows():
    stored = tiny_register()["people"]
    for access in MASKED_ROLES:
        served = privacy.present(stored, "people", access)
        assert len(served) == 0 and list(served.columns) == []
        assert not privacy.serves_rows("people", access)
    assert privacy.serves_rows("people", ADMIN) and privacy.serves_rows("households", ANALYST)
    assert len(stored) == 3


def test_masked_visits_say_when_and_how_not_whom():
    stored = tiny_register()["visits"]
    served = privacy.present(stored, "visits", ANALYST)
    assert not isinstance(served, gpd.GeoDataFrame)  # no place on the map
    assert list(served.columns) == [
        "grid_code",
        "worker",
        "visited_at",
        "category",
        "outcome",
        "source",
    ]
    assert list(served["category"]) == ["***", "routine"]
    assert list(served["outcome"]) == ["met", "not_home"]
    layer = privacy.served_layer("visits", ANALYST)
    assert layer.geometry is None and layer.key is None


def test_masked_incidents_lose_the_description_and_keep_a_version_for_writers():
    stored = tiny_register()["incidents"]
    for_analyst = privacy.present(stored, "incidents", ANALYST)
    assert "description" not in for_analyst and "version" not in for_analyst
    for_lead = privacy.present(stored, "incidents", PATROL_LEAD)  # may edit incidents
    assert list(for_lead["version"]) == [2]
    assert "updated_at" not in for_lead and "description" not in for_lead
    assert isinstance(for_lead, gpd.GeoDataFrame)


def test_readers_with_personal_access_see_rows_as_stored():
    for layer, frame in tiny_register().items():
        assert privacy.present(frame, layer, ADMIN) is frame
        assert privacy.present(frame, layer, WORKER) is frame  # rows of own grids: the caller's
        assert privacy.served_layer(layer, ADMIN) is get_layer(layer)


def test_nobody_reads_the_register_anonymously():
    for layer, frame in tiny_register().items():
        with pytest.raises(PermissionDeniedError):
            privacy.present(frame, layer, Access.anonymous(public_layers=[layer]))
        with pytest.raises(PermissionDeniedError):
            privacy.served_layer(layer, Access.anonymous())


def test_coarsened_columns_stay_personal_so_nothing_filters_on_them():
    for layer in ("households", "visits"):
        served = privacy.served_layer(layer, PLANNER)
        for c in served.columns:
            if c.name in privacy.VIEWS[layer].coarsen:
                assert c.personal and c.type == "str" and c.personal_values is None
            else:  # kept as stored: nothing personal left to filter on
                assert not (c.personal or c.personal_values)
    assert privacy.served_layer("visits", ANALYST).column("category").choices == ("routine", "***")


def test_every_column_of_the_register_has_a_decision():
    """A column added to a register layer must be kept, coarsened or dropped here on purpose."""
    for name in sorted(REGISTER_LAYERS):
        view = privacy.VIEWS[name]
        decided = [*view.keep, *view.coarsen, *view.dropped]
        assert sorted(decided) == sorted(get_layer(name).column_names), name
        assert len(decided) == len(set(decided)), name


def test_other_layers_are_served_as_they_are():
    for name, layer in LAYERS.items():
        if name not in REGISTER_LAYERS | DERIVED_LAYERS:
            assert privacy.served_layer(name, ANALYST) is layer
    buildings = privacy.served_layer("buildings", ANALYST)  # a sum over the register: masked
    assert set(LAYERS["buildings"].column_names) - set(buildings.column_names) == {"residents"}


def test_mask_text_keeps_few_id_digits():
    assert privacy.mask_text("32010219500102123X", "id_number") == "32***************X"


# -- disclosure measures on tiny inputs --------------------------------------------------------


def test_auc_by_hand():
    assert disclosure.auc([0.1, 0.2, 0.8, 0.9], [False, False, True, True]) == 1.0
    assert disclosure.auc([0.9, 0.8, 0.2, 0.1], [False, False, True, True]) == 0.0
    assert disclosure.auc([0.5, 0.5, 0.5, 0.5], [False, True, False, True]) == 0.5
    # one positive above both negatives, one between them: 3 of 4 pairs in order
    assert disclosure.auc([0.1, 0.5, 0.3, 0.9], [False, False, True, True]) == 0.75
    assert np.isnan(disclosure.auc([0.1, 0.2], [False, False]))


def test_anonymity_by_hand():
    frame = pd.DataFrame({"a": [1, 1, 2, 3, 3, 3], "b": ["x", "x", "y", "z", "z", None]})
    assert disclosure.anonymity(frame, ["a"]) == disclosure.Anonymity(6, 1, 1 / 6, 3)
    assert disclosure.anonymity(frame, ["a", "b"]) == disclosure.Anonymity(6, 1, 2 / 6, 4)
    assert disclosure.anonymity(frame, []).k == 6


def test_attack_finds_a_clue_and_not_noise():
    rng = np.random.default_rng(1)
    n = 4000
    y = pd.Series(rng.random(n) < 0.1)
    clue = np.where(y, rng.random(n) < 0.8, rng.random(n) < 0.1)  # 80 % vs 10 %
    features = pd.DataFrame({"clue": clue.astype(str), "noise": rng.integers(0, 5, n).astype(str)})
    found = disclosure.attack(features, y, flag="f")
    assert found.auc > 0.8 and found.best == "group rate on clue"
    assert found.accuracy > found.majority  # 80 % of clued rows are flagged: guessed right
    nothing = disclosure.attack(features[["noise"]], y)
    assert abs(nothing.auc - 0.5) < 4 * nothing.null_sd
    assert nothing.accuracy == nothing.majority


# -- register figures on a small workspace -----------------------------------------------------


def figures_workspace(path: Path) -> store.GeoPackageWorkspace:
    """Grid A: 5 households, 13 people; grid B: 1 household of 1."""
    a, b = "320102001001001", "320102001001002"
    p = shapely.Point(118.786, 32.041)
    grids = gpd.GeoDataFrame(
        {
            "code": [a, b],
            "name": ["A", "B"],
            "community_code": ["320102001001"] * 2,
            "source": ["user"] * 2,
        },
        geometry=[shapely.MultiPolygon([shapely.box(118.785, 32.040, 118.787, 32.042)])] * 2,
        crs=4326,
    )
    households = gpd.GeoDataFrame(
        {
            "household_id": ["HA1", "HA2", "HA3", "HA4", "HA5", "HB1"],
            "grid_code": [a] * 5 + [b],
            "rented": [True, False, None, True, False, False],
            "elderly_alone": [False, False, True, False, False, True],
            "source": ["synthetic"] * 6,
        },
        geometry=[p] * 6,
        crs=4326,
    )
    # grid A: 8 women aged 30, 4 men aged 20 (one a migrant), 1 man of 85 living alone;
    # grid B: a woman of 86 living alone
    births = ["1996-01-01"] * 8 + ["2006-01-01"] * 4 + ["1941-06-01", "1940-01-01"]
    people = pd.DataFrame(
        {
            "person_id": [f"P{i}" for i in range(14)],
            "household_id": ["HA1"] * 6 + ["HA4", "HA5"] + ["HA2"] * 4 + ["HA3", "HB1"],
            "name": ["某"] * 14,
            "gender": ["F"] * 8 + ["M"] * 5 + ["F"],
            "birth_date": pd.to_datetime(births),
            "migrant": [False] * 11 + [True, False, False],
            "source": ["synthetic"] * 14,
        }
    )
    with store.building(path) as ws, ws.transaction(action="figures fixture") as tx:
        tx.replace("grids", grids)
        tx.replace("households", households)
        tx.replace("people", people)
    return store.GeoPackageWorkspace(path)


def test_register_figures_by_hand(tmp_path):
    ws = figures_workspace(tmp_path / "figures.gpkg")
    table = register_figures(ws, ANALYST, today=date(2026, 11, 27))
    assert list(table.columns) == list(COLUMNS)
    a, b = table.to_dict("records")
    assert a["grid_code"] == "320102001001001" and a["households"] == 5 and a["residents"] == 13
    assert a["female_15_59"] == 8 and a["registered_here"] == 0
    # 4 men aged 20 and 1 of 85 are small counts (two cells: neither follows from the total)
    assert pd.isna(a["male_15_59"]) and pd.isna(a["male_80_plus"])
    assert a["female_0_14"] == 0 and a["female_80_plus"] == 0  # zero is shown
    assert pd.isna(a["migrants"]) and pd.isna(a["rented_homes"])  # 1 and 2
    # grid B: one woman of 86; her cell is small, and so is the smallest other (a zero), else
    # her count would follow from the residents
    assert pd.isna(b["households"]) and pd.isna(b["residents"]) and pd.isna(b["female_80_plus"])
    cells = table[list(AGE_GENDER_COLUMNS)]
    assert (cells.isna().sum(axis=1) != 1).all()
    assert cells.iloc[1].isna().sum() == 2


def test_category_figures_by_hand(tmp_path):
    ws = figures_workspace(tmp_path / "figures.gpkg")
    (row,) = category_figures(ws, ANALYST).to_dict("records")
    assert list(category_figures(ws, ADMIN).columns) == list(CATEGORY_COLUMNS)
    assert row["community_code"] == "320102001001" and row["households"] == 6
    assert pd.isna(row["elderly_alone_households"])  # 2: a small count
    assert row["hardship_households"] == 0
    with pytest.raises(FeatureNotFoundError, match="community '320102001002'"):
        category_figures(ws, ANALYST, ["320102001002"])
    with pytest.raises(PermissionDeniedError):  # a whole community is more than own grids
        category_figures(ws, WORKER)


def test_register_figures_follow_the_role(tmp_path):
    ws = figures_workspace(tmp_path / "figures.gpkg")
    mine = register_figures(ws, WORKER, today=date(2026, 11, 27))
    assert list(mine["grid_code"]) == ["320102001001001"]
    with pytest.raises(FeatureNotFoundError, match="among your grids"):
        register_figures(ws, WORKER, ["320102001001002"])
    with pytest.raises(FeatureNotFoundError, match="no grid '999'"):
        register_figures(ws, PLANNER, ["999"])
    with pytest.raises(PermissionDeniedError):
        register_figures(ws, Access.anonymous())
    one = register_figures(ws, ADMIN, ["320102001001002"], today=date(2026, 11, 27))
    assert list(one["grid_code"]) == ["320102001001002"]


# -- the proof on the demo register ------------------------------------------------------------

# The attacker's inputs are built by gridmap.service.privacy_check, which `gridmap privacy` runs
# on a real register. The bound (AttackResult.bound) is 0.5 + max(4 null sd, 0.03): about 80
# classifier-flag pairs are tried, and the largest of 80 null AUCs stays below 4 sd with
# probability above 99.7 %. The floor is what figures over whole grids may give: a count over
# ~400 households includes the household guessed, so the per-grid migrant share ranks
# households with migrant visits higher 52 times in 100 (4.3 sd of that large class). A clue on
# the household's own row does far more: rented homes give 0.62 for elderly_alone, the old
# masking 0.79 to 1.0.
#: How much better than always guessing "no" a held-out guess may be (43 of 21,686 households).
ACCURACY_MARGIN = disclosure.ACCURACY_MARGIN


def bound(r: disclosure.AttackResult) -> float:
    return r.bound


def test_the_bound_is_four_null_sd_and_never_below_0_03():
    def result(positives: int, rows: int) -> disclosure.AttackResult:
        sd = disclosure.null_auc_sd(positives, rows - positives)
        return disclosure.AttackResult("f", positives, rows, 0.5, 0.9, 0.9, "x", sd)

    few = result(72, 20_913)  # sd 0.0341: 4 sd is above the floor
    assert few.bound == pytest.approx(0.5 + 4 * 0.03408, abs=1e-5)
    assert result(5_075, 20_913).bound == 0.53  # 4 sd = 0.0186: the floor
    assert not few.read_back
    assert disclosure.AttackResult("f", 72, 20_913, 0.5, 0.903, 0.9, "x", few.null_sd).read_back
    assert disclosure.AttackResult("f", 72, 20_913, few.bound, 0.9, 0.9, "x", few.null_sd).read_back


@pytest.fixture(scope="module")
def stored(demo_workspace) -> dict[str, pd.DataFrame]:
    layers = privacy_check.read_register(demo_workspace)
    return {**layers, "incidents": demo_workspace.read("incidents", system=False)}


@pytest.fixture(scope="module")
def flags(stored) -> dict[str, pd.Series]:
    """Every hidden flag, per household: the four personal ones, and a visit of each category."""
    return privacy_check.hidden_flags(stored["households"], stored["visits"])


def attack_all(stored, flags, served: dict[str, pd.DataFrame], **kw) -> list:
    buildings = privacy.present(stored["buildings"], "buildings", PLANNER)  # as masked roles get it
    inputs = privacy_check.Served(
        served["households"], served["people"], served["visits"], buildings, **kw
    )
    return privacy_check.attack_flags(inputs, flags, today=DEMO_TODAY)


def test_the_old_masking_gives_the_flags_away(stored, flags):
    """The proof can fail: on column-by-column masking the same attack reads every flag back."""
    served = {n: old_mask_frame(stored[n], n) for n in ("households", "people", "visits")}
    for r in attack_all(stored, flags, served):
        assert r.z > 10 and r.auc > bound(r) + 0.15, r  # far beyond chance, every flag
    h, p = served["households"], served["people"]
    # the review's attack: one member, a head born 65 or more years ago
    head_year = p[p["relation"] == "户主"].set_index("household_id")["birth_date"].str[:4]
    old = h["household_id"].map(head_year).astype(float) <= DEMO_TODAY.year - 65
    guess = (h["members"] == 1) & old
    hit = int((guess & stored["households"]["elderly_alone"].astype(bool)).sum())
    assert hit >= 950 and hit / guess.sum() > 0.9  # of 1,032 elderly people living alone
    # a *** visit to a household visibly neither migrant nor veteran: one of the four flags
    starred = set(served["visits"].loc[served["visits"]["category"] == "***", "household_id"])
    plain = ~h["migrant"].astype(bool) & ~h["veteran_party_member"].astype(bool)
    given_away = h["household_id"].isin(starred) & plain
    assert given_away.sum() > 1700
    four = stored["households"][["hardship", "elderly_alone", "disabled", "assisted"]]
    assert four[given_away].astype(bool).any(axis=1).all()


def test_masked_roles_see_the_same_register(stored, demo_workspace):
    """Planners, patrol leads and analysts get one masked view (the proof below covers all)."""
    for name in ("households", "people", "visits"):
        seen = privacy.present(stored[name], name, ANALYST)
        for access in (PLANNER, PATROL_LEAD):
            pd.testing.assert_frame_equal(privacy.present(stored[name], name, access), seen)
    for access in (PLANNER, PATROL_LEAD):
        pd.testing.assert_frame_equal(
            register_figures(demo_workspace, access, today=DEMO_TODAY),
            register_figures(demo_workspace, ANALYST, today=DEMO_TODAY),
        )


def test_no_masked_flag_is_guessed_better_than_chance(stored, flags, demo_workspace):
    """What an analyst is served: the masked views, the masked buildings, grid and community
    figures (the same for planners and patrol leads, above)."""
    served = privacy_check.served_register(demo_workspace, stored, ANALYST, today=DEMO_TODAY)
    assert set(served.figures) == {"grid_code", "community_code"}
    assert "residents" not in served.buildings and len(served.people) == 0
    results = privacy_check.attack_flags(served, flags, today=DEMO_TODAY)
    assert len(results) == 10
    for r in results:
        assert r.positives >= 70, r
        assert r.auc < bound(r), r
        assert r.accuracy <= r.majority + ACCURACY_MARGIN, r


def test_masked_views_have_no_small_groups(stored):
    h, p, v = stored["households"], stored["people"], stored["visits"]
    # before: almost everyone alone on surname, gender, birth year and room
    old_h = old_mask_frame(h, "households").set_index("household_id")
    old_p = old_mask_frame(p, "people")
    qi = pd.DataFrame(
        {
            "surname": old_p["name"].str[0],
            "gender": old_p["gender"],
            "year": old_p["birth_date"].str[:4],
            "room": old_p["household_id"].map(old_h["address"]),
        }
    )
    assert disclosure.anonymity(qi, list(qi.columns)).unique_share > 0.99
    # after: households look like the others of their building; no person rows; a visit
    # could be any household of its grid
    served = privacy.present(h, "households", ANALYST)
    shown = [c for c in served.columns if c != "geometry"]
    assert disclosure.anonymity(served, shown).k >= 2
    assert disclosure.anonymity(served, shown).unique_share == 0
    assert len(privacy.present(p, "people", ANALYST)) == 0
    visits = privacy.present(v, "visits", ANALYST)
    per_grid = h.groupby("grid_code").size()
    assert per_grid.loc[visits["grid_code"].unique()].min() >= 300


def test_present_serves_exactly_the_served_layer(stored):
    """Schema, queryables and export columns are built from served_layer: it must be the truth."""
    for name, frame in stored.items():
        for access in (ADMIN, *MASKED_ROLES):
            layer = privacy.served_layer(name, access)
            out = privacy.present(frame, name, access)
            columns = [c for c in out.columns if c not in ("geometry", "version")]
            assert columns == [c.name for c in layer.columns], (name, access.role)
            assert isinstance(out, gpd.GeoDataFrame) == (layer.geometry is not None), name
            for c in layer.columns:
                if c.type == "str":
                    values = out[c.name].dropna()
                    assert values.map(lambda x: isinstance(x, str)).all(), (name, c.name)
                if c.choices:
                    assert set(out[c.name].dropna()) <= set(c.choices), (name, c.name)


# -- exports that cannot attack their reader ---------------------------------------------------

FORMULA = '=HYPERLINK("http://x","y")'
STARTS = [FORMULA, "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1"]


def test_csv_cells_that_would_run_are_text():
    table = pd.DataFrame(
        {"text": [*STARTS, "王小明", None], "n": [-5, 3, -1, 0, 2, 1, -7, 4], "x": [-0.5] * 8}
    )
    before = table.copy()
    safe = neutralise_formulas(table)
    assert list(safe["text"][:-1]) == [*(f"'{v}" for v in STARTS), "王小明"]
    assert pd.isna(safe["text"].iloc[-1])
    assert safe["n"].tolist() == table["n"].tolist() and safe["n"].dtype == table["n"].dtype
    assert safe["x"].dtype == float  # negative numbers stay numbers
    pd.testing.assert_frame_equal(table, before)


def test_xlsx_cells_that_would_run_are_text(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    table = pd.DataFrame({"text": [*STARTS, "http://x.example/"], "n": [-5, 3, -1, 0, 2, 1, -7]})
    out = tmp_path / "t.xlsx"
    write_xlsx(out, table, "t", ["about"])
    sheet = openpyxl.load_workbook(out)["t"]
    cells = [(sheet.cell(i, 1), sheet.cell(i, 2)) for i in range(2, 2 + len(table))]
    from openpyxl.utils.escape import unescape  # xlsx writes a CR as _x000D_

    assert [unescape(c.value) for c, _ in cells] == table["text"].tolist()  # text, no formula
    assert all(c.data_type == "s" and c.hyperlink is None for c, _ in cells)
    assert [(n.value, n.data_type) for _, n in cells] == [(v, "n") for v in table["n"]]


def formula_household(tmp_path: Path) -> store.GeoPackageWorkspace:
    """A tiny workspace into which a household named ``=HYPERLINK(…)`` was imported."""
    from gridmap.io.importer import load_file
    from tests.conftest import make_tiny_workspace

    ws = make_tiny_workspace(tmp_path / "tiny.gpkg")
    path = tmp_path / "households.csv"
    path.write_text(
        "household_id,head_name,members,lon,lat\n"
        f'H9,"{FORMULA.replace(chr(34), chr(34) * 2)}",-1,118.7855,32.0403\n',
        encoding="utf-8",
    )
    result = load_file(path, "households")
    ws.append("households", result.frame)
    return ws


def test_an_imported_formula_name_is_exported_as_text(tmp_path):
    """Import to export: the cells the export writes hold the name as text in both formats."""
    openpyxl = pytest.importorskip("openpyxl")
    from gridmap.io import export

    ws = formula_household(tmp_path)
    frame = ws.read("households", system=False, where={"household_id": "H9"})
    table = export._headers(export._tabular(frame, "POINT", "Asia/Shanghai"), "households", "en")
    csv = tmp_path / "h.csv"
    neutralise_formulas(table).to_csv(csv, index=False, encoding="utf-8-sig")
    back = pd.read_csv(csv, encoding="utf-8-sig")
    assert back["head_name"].tolist() == [f"'{FORMULA}"]
    xlsx = tmp_path / "h.xlsx"
    write_xlsx(xlsx, table, "households", [])
    sheet = openpyxl.load_workbook(xlsx)["households"]
    header = [c.value for c in sheet[1]]
    name = sheet.cell(2, header.index("head_name") + 1)
    assert name.value == FORMULA and name.data_type == "s"


def test_export_layer_writes_formula_names_as_text(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    from gridmap.io.export import export_layer

    ws = formula_household(tmp_path)
    xlsx = export_layer(ws, "households", tmp_path / "h.xlsx", access=ADMIN)
    sheet = openpyxl.load_workbook(xlsx)["households"]
    header = [c.value for c in sheet[1]]
    names = [sheet.cell(i, header.index("head_name") + 1) for i in range(2, sheet.max_row + 1)]
    assert any(c.value == FORMULA and c.data_type == "s" for c in names)
    csv = export_layer(ws, "households", tmp_path / "h.csv", access=ADMIN)
    assert f"'{FORMULA}" in pd.read_csv(csv, encoding="utf-8-sig")["head_name"].tolist()
