"""GeoJSON encoding and personal-data masking, on values one can check by hand."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.access import privacy
from gridmap.access.roles import Access
from gridmap.errors import InputError, PermissionDeniedError
from gridmap.io import geojson


def test_column_values_are_plain_json():
    frame = pd.DataFrame(
        {
            "n": pd.array([1, None], dtype="Int64"),
            "flag": pd.array([True, None], dtype="boolean"),
            "x": [1.5, np.nan],
            "at": pd.to_datetime(["2026-10-01T01:30:00Z", None], utc=True),
            "day": pd.to_datetime(["1950-01-02", None]),
            "text": ["长江路", None],
        }
    )
    rows = geojson.records(frame, list(frame.columns))
    assert rows[0] == {
        "n": 1,
        "flag": True,
        "x": 1.5,
        "at": "2026-10-01T09:30:00+08:00",  # shown in the workspace's time zone
        "day": "1950-01-02",
        "text": "长江路",
    }
    assert set(rows[1].values()) == {None}
    json.dumps(rows)  # no numpy scalars left


def test_feature_collection_rounds_to_a_centimetre():
    frame = gpd.GeoDataFrame(
        {"a": [1]}, geometry=[shapely.Point(118.123456789, 32.1)], crs=4326, index=[7]
    )
    doc = json.loads(geojson.feature_collection(frame, ["a"], extra={"numberMatched": 1}))
    assert doc["numberMatched"] == 1
    feature = doc["features"][0]
    assert feature["id"] == 7 and feature["properties"] == {"a": 1}
    assert feature["geometry"]["coordinates"] == pytest.approx([118.1234568, 32.1], abs=1e-9)


@pytest.mark.parametrize(
    ("column", "value", "masked"),
    [
        ("name", "王小明", "王**"),
        ("head_name", "李华", "李*"),
        ("id_number", "32010219500102123X", "32***************X"),
        ("phone", "13912345678", "139****5678"),
        ("note", "家中有困难", "***"),
        ("name", None, None),
    ],
)
def test_mask_text(column, value, masked):
    assert privacy.mask_text(value, column) == masked


def test_present_by_role(tiny_workspace):
    people = tiny_workspace.read("people")
    households = tiny_workspace.read("households")
    analyst = Access.of("ann", "analyst")
    assert len(privacy.present(people, "people", analyst)) == 0  # figures, not rows
    served = privacy.present(households, "households", analyst)
    assert "head_name" not in served and "elderly_alone" not in served and "members" not in served
    assert people["name"].iloc[0] == "王小明"  # the input is not changed
    full = privacy.present(people, "people", Access.of("root", "admin"))
    assert full["name"].iloc[0] == "王小明" and bool(full["disabled"].iloc[0]) is True
    with pytest.raises(InputError, match="Unknown role 'mayor'"):
        Access.of("x", "mayor")
    with pytest.raises(PermissionDeniedError):
        privacy.present(people, "people", Access.anonymous())
