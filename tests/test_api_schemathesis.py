"""The OpenAPI description of the JSON API (/api/openapi.json): complete, valid, and true.

Complete: every ``/api`` route of the app (and each of its methods) is in it, with the roles
of its ``@allow`` rule. True: schemathesis calls every operation, the write routes included,
as the admin (token) against this module's own copy of the real demo, and checks that no
reply is a server error and that each conforms to its status, headers and schema; replies of
real writes are checked against their schemas too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import jsonschema
import pytest

from gridmap import store
from gridmap.access.roles import EDITABLE_LAYERS, WRITERS
from tests.conftest import as_served
from web.auth import route_roles, workspace_of
from web.openapi import api_rules, document, methods, path_of, undocumented

schemathesis = pytest.importorskip("schemathesis")

#: A box of about 200 m in the demo (degrees): exports are made of it, not of the whole area.
SMALL_BOX = "118.7836,32.0478,118.7860,32.0499"
#: Pages read through /api/layers/{name} hold at most this many features (people: 59,377).
MAX_PAGE = 50
#: The account schemathesis calls the API as (with its token).
FUZZ_ADMIN = "admin"
_CONFIG = """
[checks.missing_required_header]
expected-statuses = [400, 401, 403, 406, 415, 422, 428]
"""
#: The coverage phase (every boundary and missing value of every property: some 500 calls
#: per write operation) runs for the writes of grids (polygons) and people (no geometry,
#: personal data, dates) and for every read; the writes of the other layers, which take
#: the same path through the same code, get the fuzzing phase only. So do the register's
#: figures per grid: each call reads the whole register (59,377 people, 1.5 to 2.5 s) before
#: it looks at ?grids=, and the coverage phase's 15 or so calls took a quarter of the run; the
#: fuzzing phase calls it with both parameters, test_what_the_description_found each format.
COVERAGE_ONLY_OF = """
[[operations]]
include-name-regex = "^(POST|PATCH) /api/layers/(facilities|cameras|households|visits|incidents)/"
phases.coverage.enabled = false

[[operations]]
include-name-regex = "^GET /api/figures/register$"
phases.coverage.enabled = false
"""


@pytest.fixture(scope="module")
def sapp(demo_path, tmp_path_factory) -> Iterator[Any]:
    """The app over this module's own writable copy of the demo.

    New passwords (accounts the fuzz adds, passwords it sets) are hashed with Argon2id at a
    low cost here: at the real cost (about 0.3 s a hash) they took most of the run's time, and
    what is checked is the replies, not the hash (tests/test_accounts.py checks that).
    """
    from argon2 import PasswordHasher

    from gridmap.access import accounts as secrets
    from web.app import create_app

    folder = tmp_path_factory.mktemp("schemathesis")
    copy = store.GeoPackageWorkspace(demo_path, read_only=True).backup(folder / "demo.gpkg")
    ws = store.GeoPackageWorkspace(copy)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(secrets, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        yield create_app({"WORKSPACE": ws, "TESTING": True})
    ws.close()


# -- complete ---------------------------------------------------------------------------------


def test_every_api_route_is_described(app):
    """A route added under /api without a description fails here: describe it next to its view
    (web.openapi.describe) or, for a module you cannot change, with web.openapi.register."""
    assert undocumented(app) == []
    doc = app.test_client().get("/api/openapi.json").get_json()
    for rule in api_rules(app):
        template, _ = path_of(rule)
        for method in methods(rule):
            ops = [
                ops[method.lower()]
                for path, ops in doc["paths"].items()
                if _matches(template, path) and method.lower() in ops
            ]
            assert ops, f"{method} {rule.rule} is not in the description"
            roles = route_roles(app, rule.endpoint)
            assert roles is not None, rule.rule  # every route carries @allow
            for op in ops:  # an operation's roles are within its route's rule
                assert set(op["x-roles"]) <= roles, (rule.rule, op["x-roles"])
                assert "401" in op["responses"]


def _matches(template: str, path: str) -> bool:
    """Whether ``path`` is ``template`` or ``template`` with some {parameters} filled in."""
    a, b = template.strip("/").split("/"), path.strip("/").split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b, strict=True))


def test_write_operations_carry_each_layers_roles_and_errors(app):
    doc = document(app)
    for layer in EDITABLE_LAYERS:
        post = doc["paths"][f"/api/layers/{layer}/features"]["post"]
        assert post["x-roles"] == sorted(WRITERS[layer])
        assert {"201", "400", "401", "403", "404", "413", "415"} <= set(post["responses"])
        patch = doc["paths"][f"/api/layers/{layer}/features/{{fid}}"]["patch"]
        assert {"200", "409", "412", "428"} <= set(patch["responses"])
        assert {"session": [], "csrf": []} in patch["security"] and {} not in patch["security"]
        header = next(p for p in patch["parameters"] if p["name"] == "If-Match")
        assert header["in"] == "header" and header["required"] is True
    assert "post" not in doc["paths"].get("/api/layers/buildings/features", {})
    assert {} in doc["paths"]["/api/layers/{name}"]["get"]["security"]  # public layers


def test_the_description_is_valid_openapi_31(app):
    """Every schema in it is a valid JSON Schema (2020-12, OpenAPI 3.1's dialect)."""
    doc = app.test_client().get("/api/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    for name, schema in doc["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert name


def _validator(doc: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    root = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())


def test_replies_of_real_writes_conform_to_their_schemas(sapp, role_tokens):
    """A created feature, a changed one, a conflict and a masked read, validated against the
    schemas of the description (schemathesis' random bodies rarely make valid features)."""
    doc = document(sapp)
    admin = sapp.test_client()
    admin.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {role_tokens['admin']}"
    analyst = sapp.test_client()
    analyst.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {role_tokens['analyst']}"
    household = admin.get("/api/layers/households?limit=1").get_json()["features"][0]
    hid = household["properties"]["household_id"]
    point = household["geometry"]
    square = [[118.7840, 32.0480], [118.7844, 32.0480], [118.7844, 32.0484], [118.7840, 32.0480]]
    bodies = {
        "grids": {"geometry": {"type": "Polygon", "coordinates": [square]}, "properties": {"code": "320102009999001", "name": "样例网格"}},
        "facilities": {"geometry": point, "properties": {"name": "社区卫生站", "kind": "clinic"}},
        "cameras": {"geometry": point, "properties": {"code": "CAM-SCHEMA-1", "kind": "fixed"}},
        "households": {"geometry": point, "properties": {"household_id": "H-SCHEMA-1", "head_name": "赵六", "members": 1}},
        "people": {"properties": {"person_id": "P-SCHEMA-1", "household_id": hid, "name": "赵六", "birth_date": "1960-05-04"}},
        "visits": {"geometry": point, "properties": {"visit_id": "V-SCHEMA-1", "household_id": hid, "visited_at": "2026-11-01T09:00:00+08:00", "category": "hardship"}},
        "incidents": {"geometry": point, "properties": {"incident_id": "E-SCHEMA-1", "occurred_at": "2026-11-02T21:00:00+08:00", "kind": "theft", "description": "电动车被盗"}},
    }  # fmt: skip
    assert set(bodies) == set(EDITABLE_LAYERS)
    for layer, body in bodies.items():
        made = admin.post(f"/api/layers/{layer}/features", json=body)
        assert made.status_code == 201, made.get_json()
        _validator(doc, f"{layer}_feature").validate(made.get_json())
        url = made.headers["Location"]
        # the analyst names it by the opaque id they are served (people: figures for the
        # analyst, a 403 in the error shape)
        theirs = as_served(workspace_of(sapp), layer, "analyst", made.get_json()["id"])
        masked = analyst.get(f"/api/layers/{layer}/features/{theirs}")
        kind = "Error" if layer == "people" else f"{layer}_feature"
        assert masked.status_code == (403 if layer == "people" else 200)
        _validator(doc, kind).validate(masked.get_json())
        key, value = next(iter(body["properties"].items()))
        changed = admin.patch(
            url, json={"properties": {key: value + "2"}}, headers={"If-Match": '"1"'}
        )
        assert changed.status_code == 200, changed.get_json()
        _validator(doc, f"{layer}_feature").validate(changed.get_json())
        stale = admin.patch(
            url, json={"properties": {key: value + "3"}}, headers={"If-Match": '"1"'}
        )
        assert stale.status_code == 409
        _validator(doc, f"{layer}_conflict").validate(stale.get_json())
    refused = admin.post("/api/layers/cameras/features", json={"properties": {}})
    _validator(doc, "Error").validate(refused.get_json())


def test_what_the_description_found(sapp, role_tokens):
    """Defects schemathesis found once these routes were described: a token request whose body
    is JSON but not an object was a server error (500), and figures in a format other than
    json or csv came as JSON instead of being refused."""
    admin = sapp.test_client()
    admin.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {role_tokens['admin']}"
    url = "/api/admin/users/demo-analyst/tokens"
    before = admin.get(url).get_json()["tokens"]
    for body in ([None, None], "label", 3):
        refused = admin.post(url, json=body)
        assert refused.status_code == 400, body
        assert refused.get_json()["error"]["code"] == "invalid_input"
    assert admin.get(url).get_json()["tokens"] == before  # no token made
    assert admin.post(url).status_code == 201  # no body at all: a token without a label
    for kind in ("register", "categories"):
        wrong = admin.get(f"/api/figures/{kind}?format=xlsx")
        assert wrong.status_code == 400, kind
        assert "csv" in wrong.get_json()["error"]["message"]
        assert admin.get(f"/api/figures/{kind}?format=json").get_json()["kind"] == kind
        assert admin.get(f"/api/figures/{kind}?format=csv").mimetype == "text/csv"


# -- true: schemathesis over every operation ------------------------------------------------


@pytest.fixture(scope="module")
def api_schema(sapp) -> Any:
    """The JSON API's description, loaded by schemathesis from the app (WSGI).

    A change without If-Match is refused with 428 Precondition Required (RFC 6585), which
    schemathesis does not expect of a missing header unless told.
    """
    from schemathesis.config import SchemathesisConfig

    config = SchemathesisConfig.from_str(COVERAGE_ONLY_OF + _CONFIG)
    return schemathesis.openapi.from_wsgi("/api/openapi.json", sapp, config=config)


_schema = schemathesis.pytest.from_fixture("api_schema")


def _bounded(case: Any) -> None:
    """Keep generated reads of whole layers small: a page of at most MAX_PAGE features, an
    export of SMALL_BOX (people as XLSX takes 17 s). Values that are not valid stay as made."""
    query = dict(case.query or {})
    if case.path == "/api/layers/{name}":
        limit = query.get("limit")
        if limit is None or (isinstance(limit, int) and limit > MAX_PAGE):
            query["limit"] = MAX_PAGE
    elif case.path == "/api/layers/{name}/export":
        bbox = query.get("bbox")
        try:
            ok = bbox is None or len([float(x) for x in str(bbox).split(",")]) == 4
        except ValueError:
            ok = False
        if ok:
            query["bbox"] = SMALL_BOX
    case.query = query
    if case.path == "/api/jobs" and isinstance(case.body, dict):
        bbox = case.body.get("bbox")  # a job exports SMALL_BOX unless its bbox is not valid
        if bbox is None or (isinstance(bbox, list) and len(bbox) == 4):
            case.body = {**case.body, "bbox": SMALL_BOX}
    params = case.path_parameters or {}
    if case.path.endswith("/tokens/{token_id}") and params.get("name") == FUZZ_ADMIN:
        # revoking the token the run signs in with would leave the rest of it at 401
        case.path_parameters = {**params, "name": "demo-planner"}


def _end_jobs(app: Any, owner: str) -> None:
    """Cancel and discard ``owner``'s jobs, so that the next job-making case finds the runner
    free (one job running, three waiting per user: the rest would be 429)."""
    from web.jobs import runner_of

    runner = runner_of(app)
    for job in runner.jobs(owner):
        runner.cancel(owner, job.id)
        runner.wait(job, 30)
        if any(j.id == job.id for j in runner.jobs(owner)):
            runner.cancel(owner, job.id)  # finished now: discard it with its file
    assert runner.jobs(owner) == []


@_schema.parametrize()
@hypothesis.settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_schemathesis(case, role_tokens, sapp):
    """Every operation of /api, with generated parameters and bodies, answers as described.

    Left out, on purpose:

    - ``positive_data_acceptance``: JSON Schema cannot state what a write also needs (a key
      not taken, a household that exists, a geometry valid and within 5 km of the area), so
      schema-valid bodies are refused with 400 by design (tests/test_write_api.py checks
      those rules case by case);
    - ``ignored_auth``: it sends the request without the token, and the routes open to
      everyone (the workspace, health, public layers) rightly answer.
    """
    from schemathesis.checks import ignored_auth, positive_data_acceptance

    _bounded(case)
    try:
        case.call_and_validate(
            headers={
                "Authorization": f"Bearer {role_tokens[FUZZ_ADMIN]}",
                "Accept-Encoding": "identity",  # the WSGI transport does not un-gzip
            },
            excluded_checks=[positive_data_acceptance, ignored_auth],
        )
    finally:
        if case.path.startswith(("/api/jobs", "/api/grids/partition")):
            _end_jobs(sapp, FUZZ_ADMIN)
