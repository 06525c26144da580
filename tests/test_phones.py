"""Phone columns (gridmap.schema.phones): what every write stores, and what it refuses."""

from __future__ import annotations

import pandas as pd
import pytest

from gridmap.errors import SchemaError
from gridmap.schema import get_layer
from gridmap.schema.phones import check_phones
from tests.test_write_api import client_of, etag, state, wapp, ws_of  # noqa: F401

PHONE = next(c for c in get_layer("grids").columns if c.name == "worker_phone")


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("13912345678", "13912345678"),
        ("139 1234 5678", "139 1234 5678"),
        ("025-8451 2345", "025-8451 2345"),
        ("(025) 84512345", "(025) 84512345"),
        ("+86 25 8451 2345; +86 158 5067 7746", "+86 25 8451 2345; +86 158 5067 7746"),
        ("110", "110"),
        ("１３９１２３４５６７８", "13912345678"),  # full-width digits typed in Chinese
        ("（０２５）８４５１２３４５", "(025)84512345"),
    ],
)
def test_phone_numbers_are_kept_in_plain_characters(given, stored):
    assert check_phones(pd.Series([given]), PHONE, source=None).iloc[0] == stored


@pytest.mark.parametrize(
    "given", ["139abcd1234", "1", "12", "电话", "+", "139 1234 5678 9012 3456", ";"]
)
def test_what_is_no_phone_number_is_refused_naming_the_row(given):
    with pytest.raises(SchemaError, match="not a phone number") as err:
        check_phones(pd.Series(["13912345678", given], index=[4, 7]), PHONE, source=None)
    assert err.value.row == 7 and err.value.column == "worker_phone"
    assert "不是有效的电话号码" in str(err.value)


@pytest.mark.parametrize("given", ["无", "暂无", " - ", "—", "N/A"])
def test_no_phone_in_words_is_stored_empty(given):
    out = check_phones(pd.Series(["110", given]), PHONE, source=None)
    assert out.iloc[0] == "110" and pd.isna(out.iloc[1])


def test_empty_values_stay_empty():
    out = check_phones(pd.Series([None, "110"]), PHONE, source=None)
    assert pd.isna(out.iloc[0]) and out.iloc[1] == "110"


def test_the_planning_card_s_edits_of_a_grid_are_checked(wapp, role_tokens):  # noqa: F811
    """What a planner types in the card: a bad phone or an empty name is a 400 in both
    languages (an empty name was a 500: the error's row was a numpy integer), nothing saved."""
    ws = ws_of(wapp)
    planner = client_of(wapp, role_tokens, "planner")
    fid = int(ws.read("grids", limit=1).index[0])
    url = f"/api/layers/grids/features/{fid}"
    version = int(ws.feature("grids", fid)["version"].iloc[0])
    before = state(ws)
    for props, says in (({"name": ""}, "不能为空"), ({"worker_phone": "139abcd1234"}, "电话号码")):
        resp = planner.patch(url, json={"properties": props}, headers={"If-Match": etag(version)})
        assert resp.status_code == 400, resp.get_data(as_text=True)
        assert says in resp.get_json()["error"]["message"]
        assert resp.get_json()["error"]["row"] == 1
    assert state(ws) == before
    resp = planner.patch(
        url,
        json={"properties": {"worker_phone": "１３９１２３４５６７８"}},
        headers={"If-Match": etag(version)},
    )
    assert resp.status_code == 200
    assert ws.feature("grids", fid)["worker_phone"].iloc[0] == "13912345678"
