"""The bad-query corpus of the read routes (tests/bad_input/read_queries.json) on the demo app.

Each bad query string gets the status its case names in the one error shape, with a message
that names what is wrong — never a 500 — and a 400 says it in English and in a whole Chinese
clause too (tests/bilingual.py). New read routes add their cases to the corpus in the same
commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bilingual import says_en, says_zh

CORPUS = json.loads(
    (Path(__file__).with_name("bad_input") / "read_queries.json").read_text(encoding="utf-8")
)
#: Placeholders of the corpus' paths: a list longer than a route takes.
LONG = {"<501 codes>": ",".join(f"320102001{n:06d}" for n in range(501))}


@pytest.mark.parametrize("case", CORPUS["cases"], ids=[c["case"] for c in CORPUS["cases"]])
def test_a_bad_query_gets_a_clear_error(client_as, anon_client, case):
    role = case.get("role", "analyst")
    client = anon_client if role is None else client_as(role)
    path = case["path"]
    for key, value in LONG.items():
        path = path.replace(key, value)
    resp = client.get(path)
    assert resp.status_code == case["status"], (case["path"], resp.get_data(as_text=True))
    error = resp.get_json()["error"]
    assert error["code"] == case["code"] and error["status"] == case["status"]
    assert case["says"].lower() in error["message"].lower(), error["message"]
    if case["status"] == 400:  # said in English and in a whole Chinese clause
        assert says_en(error["message"]), error["message"]
        assert says_zh(error["message"]), error["message"]
