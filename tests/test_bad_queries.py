"""The bad-query corpus (tests/bad_input/queries.json) against the demo app's read routes.

Each bad query string gets a 400 (or the status its case names) in the one error shape whose message names what is wrong, in
English and Chinese, for a planner and for the admin (whose view holds every column) alike —
never a 500. New read routes add their cases to the corpus in the same commit.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

CORPUS = json.loads(
    (Path(__file__).with_name("bad_input") / "queries.json").read_text(encoding="utf-8")
)
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("role", ["planner", "admin"])
@pytest.mark.parametrize("case", CORPUS["cases"], ids=[c["url"] for c in CORPUS["cases"]])
def test_a_bad_query_is_a_clear_400(client_as, role, case):
    resp = client_as(role).get(case["url"])
    status = case.get("status", 400)
    assert resp.status_code == status, (case["url"], resp.status_code, resp.get_data(as_text=True))
    error = resp.get_json()["error"]
    assert error["code"] and error["status"] == status
    assert case["says"].lower() in error["message"].lower(), error["message"]
    assert HAN.search(error["message"]), f"no Chinese in: {error['message']}"
