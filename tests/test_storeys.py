"""Storeys from OSM tags, households that follow them, and where each number comes from.

Unit tests on hand-made OSM-like rows (values one can check by hand: 135 m ÷ 3 m = 45 storeys;
2,000 m² × 0.8 × 45 ÷ 90 m² = 800 households), a tiny OSM file read end to end, then the demo.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.access import privacy
from gridmap.access.roles import Access
from gridmap.build.synthetic import register
from gridmap.geo.crs import utm_crs
from gridmap.io.osm import read_osm
from gridmap.io.osm_buildings import (
    DEFAULT_HOME_LEVELS,
    DEFAULT_OTHER_LEVELS,
    default_levels,
    parse_height_m,
    parse_levels,
    storeys,
)
from gridmap.schema import choice_titles, get_layer

# -- reading tag values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "metres"),
    [
        ("45", 45.0),
        ("45 m", 45.0),
        ("45m", 45.0),
        (" 45 M ", 45.0),
        ("45 米", 45.0),
        ("45.5", 45.5),
        ("45,5", 45.5),  # decimal comma
        ("45;50", 50.0),  # two parts: the taller
        ("100 ft", 30.48),
        ("100'", 30.48),
        ("10'6\"", 3.2),
        (45, 45.0),
        ("0", None),  # no building is 0 m tall
        ("1.5", None),
        ("-12", None),
        ("1200", None),  # taller than any building
        ("tall", None),
        ("45 floors", None),  # a storey count in the wrong tag is no height
        ("", None),
        (None, None),
        (math.nan, None),
    ],
)
def test_height_values(text, metres):
    assert parse_height_m(text) == metres


@pytest.mark.parametrize(
    ("text", "levels"),
    [
        ("6", 6.0),
        ("6.5", 6.5),
        ("12层", 12.0),
        ("6;8", 8.0),
        ("6-8", 8.0),
        ("0", 0.0),  # a roof or a canopy: mapped, but no storey (the rule counts it as 1)
        (7, 7.0),
        ("-1", None),
        ("300", None),
        ("六", None),
        ("45 m", None),  # a height in the storeys tag
        (None, None),
    ],
)
def test_levels_values(text, levels):
    assert parse_levels(text) == levels


# -- the storey rule ---------------------------------------------------------------------------


def _tags(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns, index=pd.RangeIndex(len(next(iter(columns.values())))))


def test_levels_given_win_over_height():
    out = storeys(
        _tags(
            building=["residential", "apartments"],
            **{"building:levels": ["6", "30"]},
            height=[None, "135 m"],
        )
    )
    assert out["levels"].tolist() == [6, 30] and out["levels_source"].tolist() == ["osm", "osm"]
    assert out["height_m"].iloc[0] != out["height_m"].iloc[0]  # NaN: no height tag
    assert out["height_m"].iloc[1] == 135.0  # kept as OSM says, though the storeys come from levels


def test_height_only_gives_storeys_of_3_m():
    out = storeys(
        _tags(
            building=["apartments", "yes", "yes", "yes"],
            height=["135 m", None, None, "2.9"],
            **{
                "building:height": [None, "45m", None, None],
                "est_height": [None, "99", "20", None],
            },
        )
    )
    assert out["levels"].tolist() == [45, 15, 7, 1]  # 135/3, 45/3 (before est_height), 20/3, min 1
    assert out["levels_source"].tolist() == ["height"] * 4
    assert out["height_m"].tolist() == [135.0, 45.0, 20.0, 2.9]


def test_neither_gives_the_default_of_the_type_and_says_so():
    types = ["residential", "house", "school", "kindergarten", "shed", "office", "yes", None]
    out = storeys(_tags(building=types))
    assert out["levels"].tolist() == [6, 2, 4, 3, 1, 3, 6, 6]
    assert set(out["levels_source"]) == {"default"}
    assert out["height_m"].isna().all()  # never made up from the storeys
    # what the caller knows of a building=yes beyond its tag decides its default
    known = storeys(_tags(building=["yes", "yes", "house"]), residential=[True, False, False])
    assert known["levels"].tolist() == [DEFAULT_HOME_LEVELS, DEFAULT_OTHER_LEVELS, 2]


def test_nonsense_values_fall_through_to_the_next_rule():
    out = storeys(
        _tags(
            building=["yes", "yes", "residential", "yes", "commercial"],
            **{"building:levels": ["abc", "-2", "999", None, "0"]},
            height=["30", "0", "tall", "-5 m", None],
        )
    )
    assert out["levels"].tolist() == [10, DEFAULT_HOME_LEVELS, DEFAULT_HOME_LEVELS, 6, 1]
    assert out["levels_source"].tolist() == ["height", "default", "default", "default", "osm"]
    assert out["height_m"].iloc[0] == 30.0 and out["height_m"].iloc[1:].isna().all()


def test_default_levels_of_unknown_types():
    assert default_levels("yes") == DEFAULT_HOME_LEVELS  # unknown: most buildings are homes
    assert default_levels("yes", False) == DEFAULT_OTHER_LEVELS
    assert default_levels("hospital") == DEFAULT_OTHER_LEVELS
    assert default_levels("school", True) == 4  # the type's own default stands


# -- households follow storeys -----------------------------------------------------------------


def _buildings(rows: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=[shapely.Point(0, 0)] * len(rows), crs=32650)


def test_a_135_m_tower_holds_hundreds_of_households():
    tags = _tags(building=["apartments"], height=["135 m"])
    b = _buildings([{"building": "apartments", "residential": True, **storeys(tags).iloc[0]}])
    est = register.estimate_households(b, np.array([2000.0]))
    assert est["levels"].iloc[0] == 45
    # 2,000 m² footprint × 0.8 home share × 45 storeys ÷ 90 m² a household
    assert est["households"].iloc[0] == 800
    assert est["households_source"].iloc[0] == "synthetic"
    # the same footprint as a six-storey walk-up: 2,000 × 0.8 × 6 ÷ 90
    walk_up = b.assign(levels=6, levels_source="osm")
    assert register.estimate_households(walk_up, np.array([2000.0]))["households"].iloc[0] == 107


def test_households_only_where_homes_are():
    rows = [
        {"building": "office", "residential": False, "levels": 30, "levels_source": "osm"},
        {"building": "yes", "residential": None, "levels": 6, "levels_source": "default"},
        {"building": "yes", "residential": None, "levels": 6, "levels_source": "default"},
        {"building": "yes", "residential": False, "levels": 6, "levels_source": "default"},
        {"building": "house", "residential": True, "levels": 2, "levels_source": "default"},
    ]
    est = register.estimate_households(_buildings(rows), np.array([900.0, 450, 5000, 450, 120]))
    assert est["residential"].tolist() == [False, True, False, False, True]
    assert est["households"].tolist() == [0, 24, 0, 0, 2]  # 450 × 0.8 × 6 ÷ 90 = 24
    # a default is the default of what the building turned out to be: not a home, 3 storeys
    assert est["levels"].tolist() == [30, 6, 3, 3, 2]
    assert est["levels_source"].tolist() == ["osm", "default", "default", "default", "default"]


# -- end to end: a tiny OSM file ----------------------------------------------------------------


def _osm_file(path: Path, buildings: list[dict[str, str]]) -> Path:
    """An OSM file with one street and a 20 m × 20 m building per tag set, in a row."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<osm version="0.6"><bounds minlat="32.0390" minlon="118.7800" maxlat="32.0410" '
        'maxlon="118.7840"/>',
        '<node id="1" lat="32.0395" lon="118.7800"/><node id="2" lat="32.0395" lon="118.7840"/>',
        '<way id="100"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way>',
    ]
    d = 0.0002
    for i, tags in enumerate(buildings):
        x, y, n = 118.7805 + 3 * d * i, 32.0400, 10 + 4 * i
        corners = [(x, y), (x + d, y), (x + d, y + d), (x, y + d)]
        for k, (lon, lat) in enumerate(corners):
            lines.append(f'<node id="{n + k}" lat="{lat:.7f}" lon="{lon:.7f}"/>')
        refs = "".join(f'<nd ref="{n + k}"/>' for k in (0, 1, 2, 3, 0))
        tag_xml = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append(f'<way id="{200 + i}">{refs}{tag_xml}</way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_read_osm_says_where_storeys_come_from(tmp_path: Path):
    osm = _osm_file(
        tmp_path / "four.osm",
        [
            {"building": "apartments", "building:levels": "18"},
            {"building": "apartments", "height": "45 m"},
            {"building": "yes", "building:levels": "5", "height": "17"},
            {"building": "school"},
            {"building": "yes", "height": "0", "building:levels": "many"},
        ],
    )
    b = read_osm(osm).buildings.set_index("osm_id").sort_index()
    assert b["levels"].tolist() == [18, 15, 5, 4, 6]
    assert b["levels_source"].tolist() == ["osm", "height", "osm", "default", "default"]
    assert b["height_m"].tolist()[1:3] == [45.0, 17.0] and b["height_m"].isna().sum() == 3


# -- the schema says it in both languages --------------------------------------------------------


def test_provenance_columns_and_titles():
    layer = get_layer("buildings")
    assert layer.column("levels_source").choices == ("osm", "height", "default", "import", "user")
    assert set(layer.column("households_source").choices or ()) >= {"synthetic", "register", "user"}
    for column in ("levels_source", "households_source"):
        titles = choice_titles("buildings", column)
        assert set(titles) == set(layer.column(column).choices or ())
        assert all(en and zh and en != zh for en, zh in titles.values())
    assert "3" in choice_titles("buildings", "levels_source")["height"][1]  # 每层约3米


def test_masked_readers_see_where_a_buildings_numbers_come_from():
    served = privacy.served_layer("buildings", Access(user="p", role="planner"))
    names = served.column_names
    assert {"levels", "levels_source", "height_m", "households", "households_source"} <= set(names)
    assert "residents" not in names  # still masked: it tells a household's size


# -- end to end: the demo ----------------------------------------------------------------------


def test_demo_storeys_and_households_follow_the_data(demo_workspace):
    b = demo_workspace.read("buildings")
    counts = b["levels_source"].value_counts().to_dict()
    assert counts == {"osm": 93, "height": 19, "default": 739}  # of 851 buildings
    assert (b["households_source"] == "synthetic").all()
    homes = b[b["residential"].astype(bool)]
    tall = homes[(homes["levels"] * 3 > 60) | (homes["height_m"] > 60)]
    assert len(tall) >= 4 and (tall["households"] >= 100).all(), tall[["name", "households"]]
    tower = b[b["name"] == "长发中心C座"].iloc[0]  # 135 m, apartments, no building:levels
    assert (tower["levels"], tower["levels_source"], tower["height_m"]) == (45, "height", 135.0)
    assert 300 <= tower["households"] <= 400
    # every home's households are its floor area over 90 m² (UTM 50N metres)
    area = homes.to_crs(utm_crs(118.79, 32.04)).geometry.area
    expected = np.maximum(1, np.round(area * 0.8 * homes["levels"] / 90))
    assert (homes["households"] - expected).abs().max() <= 1  # stored to 1e-7°: areas move a bit
    assert (homes["households"] == expected).mean() > 0.95
    assert (b.loc[~b["residential"].astype(bool), "households"] == 0).all()
    # and the register holds as many households per building as the buildings say
    per = demo_workspace.read("households").groupby("building_osm_id").size()
    assert (b.set_index("osm_id")["households"].loc[per.index] == per).all()


# -- a value written without its source --------------------------------------------------------


def test_an_imported_value_without_a_source_is_the_imports(tmp_path: Path):
    from gridmap.io.importer import load_file

    square = "POLYGON ((118.785 32.040, 118.786 32.040, 118.786 32.041, 118.785 32.040))"
    path = tmp_path / "b.csv"
    path.write_text(
        "osm_id,levels,levels_source,households,wkt\n"
        f'1,12,,80,"{square}"\n'  # storeys and households counted by the street office
        f'2,6,osm,,"{square}"\n'  # the source given stays; no households, no source
        f'3,,,,"{square}"\n',
        encoding="utf-8",
    )
    frame = load_file(path, "buildings").frame.set_index("osm_id").sort_index()
    assert frame["levels_source"].tolist()[:2] == ["import", "osm"]
    assert pd.isna(frame["levels_source"].iloc[2])
    assert frame["households_source"].tolist()[0] == "import"
    assert frame["households_source"].iloc[1:].isna().all()


def test_a_new_feature_with_numbers_is_the_users(tiny_workspace):
    b = tiny_workspace.read("buildings", system=False).iloc[:1].assign(osm_id=999, households=12)
    with tiny_workspace.transaction(user="planner") as tx:
        [fid] = tx.append("buildings", b.drop(columns=["levels_source", "households_source"]))
    row = tiny_workspace.feature("buildings", fid).iloc[0]
    assert (row["levels_source"], row["households_source"]) == ("user", "user")


def test_an_edit_that_changes_a_number_makes_it_the_users():
    from gridmap.schema.provenance import sources_after_edit

    stored = {
        "levels": 6,
        "levels_source": "osm",
        "households": 24,
        "households_source": "synthetic",
    }
    # a form sends every column back: only what changed becomes the user's
    sent = {**stored, "levels": 7}
    assert sources_after_edit("buildings", stored, sent) == {**sent, "levels_source": "user"}
    # a change of the number alone, or with a source the editor chose
    assert sources_after_edit("buildings", stored, {"households": 30}) == {
        "households": 30,
        "households_source": "user",
    }
    chosen = {"households": 31, "households_source": "register"}
    assert sources_after_edit("buildings", stored, chosen) == chosen
    # nothing changed, nothing claimed (6.0 is 6)
    assert sources_after_edit("buildings", stored, {"levels": 6.0}) == {"levels": 6.0}
    assert sources_after_edit("grids", {"households": 1}, {"households": 2}) == {"households": 2}


def test_a_towers_households_are_numbered_up_its_storeys():
    from datetime import date

    tower = _buildings(
        [{"osm_id": 7, "name": "长发中心C座", "address": None, "levels": 45, "households": 329}]
    )
    households, _people = register.make_register(tower, np.random.default_rng(1), date(2026, 1, 1))
    assert len(households) == 329 and households["household_id"].is_unique
    # about four homes a landing (一梯四户) over two units: 1单元101室 up to 2单元4504室
    rooms = households["address"].str.extract(r"(\d)单元(\d+)(\d\d)室").astype(int)
    assert set(rooms[0]) == {1, 2} and rooms[1].max() == 45 and rooms[2].max() == 4
    assert households["address"].iloc[0] == "长发中心C座1单元101室"


def test_a_stored_edit_of_storeys_or_households_credits_the_user(tiny_workspace):
    fid = int(tiny_workspace.read("buildings", columns=["levels"]).index[0])
    with tiny_workspace.transaction(user="planner") as tx:
        tx.update("buildings", fid, {"levels": 30, "households": 200})
    row = tiny_workspace.feature("buildings", fid).iloc[0]
    assert (row["levels"], row["households"]) == (30, 200)
    assert (row["levels_source"], row["households_source"]) == ("user", "user")
