"""The administrator's page and API: accounts, tokens, public layers, the access log.

Unit tests of the rules in :mod:`gridmap.service.accounts` run on the tiny hand-made
workspace (one grid, ``320102001001001``); the HTTP tests run on a copy of the real demo of
their own (they change accounts), through the test client, with the admin's API token or a
browser-like session that signs in and sends the CSRF token.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from gridmap.errors import InputError
from gridmap.service import accounts
from tests.conftest import ADMIN_PASSWORD, DEMO_PASSWORD, ROLE_TOKENS

GRID = "320102001001001"
PASSWORD = "a-long-password-1"


# -- the rules, on the tiny workspace ----------------------------------------------------------


@pytest.fixture
def ws(tiny_workspace):
    """The tiny workspace with one administrator (``boss``), a planner and a grid worker."""
    accounts.add_user(tiny_workspace, "boss", "admin", password=PASSWORD)
    accounts.add_user(tiny_workspace, "plan", "planner", password=PASSWORD)
    accounts.add_user(tiny_workspace, "walk", "grid_worker", password=PASSWORD, grids=[GRID])
    return tiny_workspace


def test_an_admin_may_not_lock_themselves_out(ws):
    for change in ({"disable": True}, {"remove": True}, {"role": "planner"}):
        with pytest.raises(InputError, match="your own account") as info:
            accounts.check_admin_change(ws, "boss", actor="boss", **change)
        assert "自己的账号" in info.value.message
    with pytest.raises(InputError, match="your own account"):
        accounts.update_account(ws, "boss", actor="boss", disabled=True)
    with pytest.raises(InputError, match="your own account"):
        accounts.remove_account(ws, "boss", actor="boss", confirm="boss")
    assert not ws.get_user("boss").disabled
    # changes that keep them an administrator are fine
    assert accounts.update_account(ws, "boss", actor="boss", display_name="主任").display_name
    assert accounts.update_account(ws, "boss", actor="boss", role="admin").role == "admin"


def test_the_last_admin_keeps_the_role(ws):
    # even a program (the CLI's actor) may not take the last administrator away
    for change in ({"disable": True}, {"remove": True}, {"role": "analyst"}):
        with pytest.raises(InputError, match="last administrator") as info:
            accounts.check_admin_change(ws, "boss", actor="system", **change)
        assert "最后一位管理员" in info.value.message
    # a second administrator makes it possible; a disabled one does not count
    accounts.add_user(ws, "deputy", "admin", password=PASSWORD)
    accounts.update_account(ws, "deputy", actor="boss", disabled=True)
    with pytest.raises(InputError, match="last administrator"):
        accounts.update_account(ws, "boss", actor="system", role="analyst")
    accounts.update_account(ws, "deputy", actor="boss", disabled=False)
    assert accounts.enabled_admins(ws) == ["boss", "deputy"]
    assert accounts.update_account(ws, "boss", actor="deputy", role="analyst").role == "analyst"
    with pytest.raises(InputError, match="your own account"):
        accounts.update_account(ws, "deputy", actor="deputy", disabled=True)
    with pytest.raises(InputError, match="last administrator"):
        accounts.update_account(ws, "deputy", actor="boss", disabled=True)


def test_update_account_in_one_change(ws):
    before = ws.get_user("plan")
    # a display name alone leaves the sessions alone
    named = accounts.update_account(ws, "plan", actor="boss", display_name="  李规划 ")
    assert named.display_name == "李规划" and named.epoch == before.epoch
    # a new role ends them; a grid worker needs grids, which must exist
    with pytest.raises(InputError, match="needs the grids"):
        accounts.update_account(ws, "plan", actor="boss", role="grid_worker")
    with pytest.raises(InputError, match="No grid has the code 999"):
        accounts.update_account(ws, "plan", actor="boss", role="grid_worker", grids=["999"])
    assert ws.get_user("plan").role == "planner"  # a refused change changes nothing
    worker = accounts.update_account(ws, "plan", actor="boss", role="grid_worker", grids=[GRID])
    assert (worker.role, worker.grids, worker.epoch) == ("grid_worker", (GRID,), before.epoch + 1)
    # another role drops the grids; grids for a planner are refused
    planner = accounts.update_account(ws, "plan", actor="boss", role="planner")
    assert planner.grids == ()
    with pytest.raises(InputError, match="Only a grid worker"):
        accounts.update_account(ws, "plan", actor="boss", grids=[GRID])
    # disabling ends the sessions, enabling does not start them again
    off = accounts.update_account(ws, "walk", actor="boss", disabled=True)
    assert off.disabled and off.epoch == ws.get_user("walk").epoch
    on = accounts.update_account(ws, "walk", actor="boss", disabled=False)
    assert not on.disabled and on.epoch == off.epoch
    with pytest.raises(InputError, match="at most 60"):
        accounts.update_account(ws, "walk", actor="boss", display_name="长" * 61)
    with pytest.raises(InputError, match="no user called 'nobody'"):
        accounts.update_account(ws, "nobody", actor="boss", display_name="x")


def test_remove_needs_the_name_again(ws):
    with pytest.raises(InputError, match="confirm with the account's name"):
        accounts.remove_account(ws, "plan", actor="boss", confirm=None)
    with pytest.raises(InputError, match="confirm with the account's name"):
        accounts.remove_account(ws, "plan", actor="boss", confirm="Plan")
    assert ws.get_user("plan") is not None
    accounts.remove_account(ws, "plan", actor="boss", confirm="plan")
    assert ws.get_user("plan") is None


def test_since_is_a_date_of_the_workspace_time_zone():
    # midnight in Nanjing (UTC+8) is 16:00 UTC the day before
    assert accounts.since_utc("2026-12-01") == "2026-11-30T16:00:00.000Z"
    assert accounts.since_utc("2026-12-01", "UTC") == "2026-12-01T00:00:00.000Z"
    assert accounts.since_utc("2026-12-01T09:30") == "2026-12-01T01:30:00.000Z"
    assert accounts.since_utc("2026-12-01T01:30:00Z") == "2026-12-01T01:30:00.000Z"
    assert accounts.since_utc("") is None and accounts.since_utc(None) is None
    with pytest.raises(InputError, match="not a date") as info:
        accounts.since_utc("1.12.2026")
    assert "2026-12-01" in info.value.message


def test_read_log_pages_newest_first(ws):
    for i in range(7):
        ws.log_read(
            user="walk" if i % 2 else "boss",
            role="grid_worker" if i % 2 else "admin",
            action="read",
            layer="households",
            rows=i + 1,
            filter={"bbox": [1, 2, 3, 4]} if i == 6 else {},
        )
    first, more = accounts.read_log_page(ws, limit=3)
    assert [r["rows"] for r in first] == [7, 6, 5] and more
    assert first[0]["filter"] == {"bbox": [1, 2, 3, 4]}
    second, more = accounts.read_log_page(ws, limit=3, offset=3)
    assert [r["rows"] for r in second] == [4, 3, 2] and more
    last, more = accounts.read_log_page(ws, limit=3, offset=6)
    assert [r["rows"] for r in last] == [1] and not more
    walk, more = accounts.read_log_page(ws, user_name="walk")
    assert [r["rows"] for r in walk] == [6, 4, 2] and not more
    assert {r["user"] for r in walk} == {"walk"}
    assert accounts.read_log_page(ws, since="2999-01-01") == ([], False)
    assert len(accounts.read_log_page(ws, since="2000-01-01")[0]) == 7
    with pytest.raises(InputError, match="limit"):
        accounts.read_log_page(ws, limit=0)
    with pytest.raises(InputError, match="limit"):
        accounts.read_log_page(ws, limit=accounts.READ_LOG_MAX_PAGE + 1)


def test_tokens_of_and_issue_token_record(ws):
    token, record = accounts.issue_token_record(ws, "walk", " QGIS ", actor="boss")
    assert token.startswith("gmt_") and record.label == "QGIS" and record.active
    assert accounts.token_user(ws, token).name == "walk"
    assert [t.id for t in accounts.tokens_of(ws, "walk")] == [record.id]
    accounts.revoke_tokens(ws, "walk", record.id, actor="boss")
    assert not accounts.tokens_of(ws, "walk")[0].active
    with pytest.raises(InputError, match="at most 80"):
        accounts.issue_token_record(ws, "walk", "x" * 81)


# -- over HTTP, on a demo of the test's own ----------------------------------------------------


@pytest.fixture
def admin_app(writable_demo):
    from web.app import create_app

    return create_app({"WORKSPACE": writable_demo, "TESTING": True})


def token_client(app, role: str):
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {ROLE_TOKENS[role]}"
    return c


@pytest.fixture
def api(admin_app):
    """The admin, by API token."""
    return token_client(admin_app, "admin")


def browser(app, name: str, password: str):
    """A client that signs in like the page does; returns it and its CSRF token."""
    c = app.test_client()
    csrf = c.get("/api/session").get_json()["csrf_token"]
    resp = c.post(
        "/api/session",
        json={"name": name, "password": password},
        headers={"X-CSRFToken": csrf},
    )
    assert resp.status_code == 200, resp.get_json()
    return c, resp.get_json()["csrf_token"]


def error_of(resp) -> dict[str, Any]:
    assert resp.is_json, resp.get_data(as_text=True)[:200]
    return resp.get_json()["error"]


ROUTES = [
    ("GET", "/admin"),
    ("GET", "/api/admin"),
    ("GET", "/api/admin/users"),
    ("POST", "/api/admin/users"),
    ("GET", "/api/admin/users/demo-worker"),
    ("PATCH", "/api/admin/users/demo-worker"),
    ("POST", "/api/admin/users/demo-worker/password"),
    ("DELETE", "/api/admin/users/demo-worker"),
    ("GET", "/api/admin/users/demo-worker/tokens"),
    ("POST", "/api/admin/users/demo-worker/tokens"),
    ("DELETE", "/api/admin/users/demo-worker/tokens/1"),
    ("GET", "/api/admin/public-layers"),
    ("PUT", "/api/admin/public-layers"),
    ("GET", "/api/admin/reads"),
]


def test_only_the_admin_may_call_the_admin_routes(admin_app):
    from web.auth import route_roles

    admin_rules = {
        r.endpoint for r in admin_app.url_map.iter_rules() if r.endpoint.startswith("admin.")
    }
    assert admin_rules and all(route_roles(admin_app, e) == {"admin"} for e in admin_rules)
    nobody = admin_app.test_client()
    for method, url in ROUTES:
        resp = nobody.open(url, method=method, json={}, headers={"Accept": "application/json"})
        # nobody signed in: 401 before anything else (CSRF is checked for signed-in sessions)
        assert resp.status_code == 401, (method, url, resp.status_code)
        assert error_of(resp)["code"] == "unauthenticated"
        for role in ("planner", "patrol_lead", "grid_worker", "analyst"):
            resp = token_client(admin_app, role).open(url, method=method, json={})
            assert resp.status_code == 403, (role, method, url)
            assert error_of(resp)["code"] == "permission_denied"
    assert admin_app.extensions  # nothing above changed an account
    assert admin_app.test_client().get("/api/session").status_code == 200


def test_the_admin_page_and_its_twin(admin_app, api):
    # a browser that is not signed in goes to the sign-in page, and back here after it
    resp = admin_app.test_client().get("/admin", headers={"Accept": "text/html"})
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/login?next=/admin"
    page, _ = browser(admin_app, "admin", ADMIN_PASSWORD)
    resp = page.get("/admin", headers={"Accept": "text/html", "Accept-Language": "zh-CN"})
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "账号管理" in html
    assert resp.headers["Link"] == '</api/admin>; rel="alternate"; type="application/json"'
    assert '<link rel="alternate" type="application/json" href="/api/admin">' in html
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', html)
    assert "<script>" not in html and "style=" not in html  # the CSP allows neither
    assert resp.headers["Cache-Control"] == "private, no-store"
    english = page.get("/admin?lang=en", headers={"Accept": "text/html"})
    assert '<html lang="en">' in english.get_data(as_text=True)

    doc = api.get("/api/admin").get_json()
    assert doc["me"] == "admin"
    names = [u["name"] for u in doc["users"]]
    assert names == sorted(names) and {"admin", "demo-worker", "demo-planner"} <= set(names)
    worker = next(u for u in doc["users"] if u["name"] == "demo-worker")
    assert worker["role"] == "grid_worker" and len(worker["grids"]) == 2
    assert worker["role_title"] == {"en": "Grid worker", "zh-CN": "网格员"}
    assert worker["active_tokens"] == 1 and worker["demo"] is True
    assert not any("password" in k or "hash" in k for u in doc["users"] for k in u)
    assert [r["role"] for r in doc["roles"]] == [
        "admin",
        "planner",
        "patrol_lead",
        "grid_worker",
        "analyst",
    ]
    assert len(doc["grids"]) == 52 and all(len(g["code"]) == 15 for g in doc["grids"])
    openable = {layer["name"] for layer in doc["layers"]["openable"]}
    assert "grids" in openable and not openable & {"households", "people", "visits", "incidents"}
    assert doc["layers"]["public"] == []
    assert doc["timezone"] == "Asia/Shanghai"


def test_add_a_user_then_change_it(admin_app, api, writable_demo):
    codes = [g["code"] for g in api.get("/api/admin").get_json()["grids"]][5:7]
    body = {
        "name": "zhang-wei",
        "role": "grid_worker",
        "grids": codes,
        "display_name": "张伟",
        "password": PASSWORD,
    }
    resp = api.post("/api/admin/users", json=body)
    assert resp.status_code == 201, resp.get_json()
    assert resp.headers["Location"] == "/api/admin/users/zhang-wei"
    made = resp.get_json()
    assert (made["name"], made["display_name"], made["grids"]) == ("zhang-wei", "张伟", codes)
    # the new account signs in with its first password and sees its own grids only
    c, _ = browser(admin_app, "zhang-wei", PASSWORD)
    assert c.get("/api/session").get_json()["grids"] == sorted(codes)
    # the same name twice, a short password, an unknown role, missing keys: clear errors
    for bad, phrase in [
        (body, "already"),
        ({**body, "name": "li", "password": "short"}, "at least 10"),
        ({**body, "name": "li-na", "role": "mayor"}, "Unknown role"),
        ({"name": "li-na", "role": "planner"}, "'password' is missing"),
        ({**body, "name": "li-na", "grids": [1, 2]}, "list of grid codes"),
        ({**body, "name": "a b"}, "cannot name a user"),
    ]:
        resp = api.post("/api/admin/users", json=bad)
        assert resp.status_code == 400, bad
        assert phrase in error_of(resp)["message"], (phrase, error_of(resp))
    assert writable_demo.get_user("li-na") is None and writable_demo.get_user("li") is None
    assert error_of(api.post("/api/admin/users", data="x"))["code"] == "invalid_input"

    # change the grids, then the role: the open session ends with the change of role
    resp = api.patch("/api/admin/users/zhang-wei", json={"grids": codes[:1]})
    assert resp.get_json()["grids"] == codes[:1]
    resp = api.patch("/api/admin/users/zhang-wei", json={"role": "analyst"})
    assert (resp.get_json()["role"], resp.get_json()["grids"]) == ("analyst", [])
    assert c.get("/api/session").get_json()["signed_in"] is False
    resp = api.patch("/api/admin/users/zhang-wei", json={"password": PASSWORD})
    assert "cannot be changed here: password" in error_of(resp)["message"]
    resp = api.patch("/api/admin/users/zhang-wei", json={"disabled": "yes"})
    assert "true or false" in error_of(resp)["message"]
    assert api.patch("/api/admin/users/nobody", json={"role": "analyst"}).status_code == 400

    # reset the password: the old one stops working
    resp = api.post("/api/admin/users/zhang-wei/password", json={"password": "another-pass-2"})
    assert resp.status_code == 200
    with pytest.raises(AssertionError):
        browser(admin_app, "zhang-wei", PASSWORD)
    browser(admin_app, "zhang-wei", "another-pass-2")

    # remove: only with the name given again
    resp = api.delete("/api/admin/users/zhang-wei")
    assert resp.status_code == 400 and "confirm" in error_of(resp)["message"]
    assert api.delete("/api/admin/users/zhang-wei?confirm=zhang-wei").status_code == 204
    assert writable_demo.get_user("zhang-wei") is None
    log = writable_demo.audit_log(limit=20)
    mine = log[log["detail"].fillna("").str.contains("zhang-wei")]
    assert set(mine["action"]) == {"users add", "users change", "users passwd", "users remove"}
    assert set(mine["user"]) == {"admin"}  # every change names the administrator who made it


def test_tokens_are_shown_once_and_revocable(admin_app, api):
    resp = api.post("/api/admin/users/demo-analyst/tokens", json={"label": "QGIS 办公室"})
    assert resp.status_code == 201
    made = resp.get_json()
    token = made["token"]
    assert token.startswith("gmt_") and made["label"] == "QGIS 办公室" and made["active"]
    assert resp.headers["Cache-Control"] == "private, no-store"
    # the token opens the API as its owner; the list never shows it again
    reader = admin_app.test_client()
    reader.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    assert reader.get("/api/session").get_json()["user"] == "demo-analyst"
    listed = api.get("/api/admin/users/demo-analyst/tokens").get_json()["tokens"]
    assert [t["label"] for t in listed] == ["tests", "QGIS 办公室"]
    assert token not in api.get("/api/admin/users/demo-analyst/tokens").get_data(as_text=True)
    assert all("digest" not in t and "token" not in t for t in listed)
    assert api.get("/api/admin/users/demo-analyst").get_json()["active_tokens"] == 2

    resp = api.delete(f"/api/admin/users/demo-analyst/tokens/{made['id']}")
    assert resp.status_code == 200
    assert [t["active"] for t in resp.get_json()["tokens"]] == [True, False]
    assert error_of(reader.get("/api/session"))["code"] == "bad_token"
    # revoked already, or another user's: refused, nothing changes
    again = api.delete(f"/api/admin/users/demo-analyst/tokens/{made['id']}")
    assert again.status_code == 400 and "no active token" in error_of(again)["message"]
    worker_tokens = api.get("/api/admin/users/demo-worker/tokens").get_json()["tokens"]
    other = api.delete(f"/api/admin/users/demo-analyst/tokens/{worker_tokens[0]['id']}")
    assert other.status_code == 400
    assert token_client(admin_app, "grid_worker").get("/api/session").get_json()["signed_in"]


def test_disable_and_enable(admin_app, api):
    worker, _ = browser(admin_app, "demo-worker", DEMO_PASSWORD)
    resp = api.patch("/api/admin/users/demo-worker", json={"disabled": True})
    assert resp.status_code == 200 and resp.get_json()["disabled"] is True
    # its session ends, its token stops working, its password is refused with its own message
    assert worker.get("/api/session").get_json()["signed_in"] is False
    refused = token_client(admin_app, "grid_worker").get("/api/workspace")
    assert refused.status_code == 401 and error_of(refused)["code"] == "account_disabled"
    c = admin_app.test_client()
    csrf = c.get("/api/session").get_json()["csrf_token"]
    resp = c.post(
        "/api/session",
        json={"name": "demo-worker", "password": DEMO_PASSWORD},
        headers={"X-CSRFToken": csrf},
    )
    assert error_of(resp)["code"] == "account_disabled"
    api.patch("/api/admin/users/demo-worker", json={"disabled": False})
    assert token_client(admin_app, "grid_worker").get("/api/workspace").status_code == 200


def test_the_admin_cannot_lock_themselves_out_over_http(admin_app, writable_demo):
    page, csrf = browser(admin_app, "admin", ADMIN_PASSWORD)
    headers = {"X-CSRFToken": csrf}
    for method, url, body in [
        ("PATCH", "/api/admin/users/admin", {"disabled": True}),
        ("PATCH", "/api/admin/users/admin", {"role": "planner"}),
        ("DELETE", "/api/admin/users/admin?confirm=admin", None),
    ]:
        resp = page.open(url, method=method, json=body, headers=headers)
        assert resp.status_code == 400, (method, url)
        assert "your own account" in error_of(resp)["message"]
    record = writable_demo.get_user("admin")
    assert record.role == "admin" and not record.disabled
    # without the CSRF token the browser's change is refused before it is looked at
    resp = page.patch("/api/admin/users/demo-planner", json={"display_name": "X"})
    assert resp.status_code == 400 and error_of(resp)["code"] == "csrf_failed"
    assert writable_demo.get_user("demo-planner").display_name != "X"
    # with it, it goes through
    resp = page.patch("/api/admin/users/demo-planner", json={"display_name": "X"}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["display_name"] == "X"
    # a new password of one's own keeps this browser signed in (and the old one is gone)
    resp = page.post(
        "/api/admin/users/admin/password", json={"password": "brand-new-pass"}, headers=headers
    )
    assert resp.status_code == 200
    assert page.get("/api/session").get_json()["user"] == "admin"
    assert page.get("/api/admin").status_code == 200


def test_public_layers(admin_app, api):
    nobody = admin_app.test_client()
    assert nobody.get("/api/layers/grids").status_code == 401
    assert nobody.get("/", headers={"Accept": "text/html"}).status_code == 302
    resp = api.put("/api/admin/public-layers", json={"layers": ["grids", "community"]})
    assert resp.status_code == 200 and resp.get_json()["public"] == ["grids", "community"]
    assert nobody.get("/api/layers/grids").status_code == 200
    assert nobody.get("/", headers={"Accept": "text/html"}).status_code == 200
    served = [layer["name"] for layer in nobody.get("/api/workspace").get_json()["layers"]]
    assert sorted(served) == ["community", "grids"]
    # the register never, nor anything unknown; a refused change keeps the old list
    for layers in (["grids", "households"], ["people"], ["nowhere"]):
        resp = api.put("/api/admin/public-layers", json={"layers": layers})
        assert resp.status_code == 400, layers
    assert error_of(api.put("/api/admin/public-layers", json={"layers": "grids"}))
    assert api.get("/api/admin/public-layers").get_json()["public"] == ["grids", "community"]
    api.put("/api/admin/public-layers", json={"layers": []})
    assert nobody.get("/api/layers/grids").status_code == 401


def test_the_access_log(admin_app, api):
    worker = token_client(admin_app, "grid_worker")
    assert api.get("/api/admin/reads?user=demo-worker").get_json()["reads"] == []
    # a grid worker reads households (their own grids'), twice; a planner's masked read is no row
    for _ in range(2):
        assert worker.get("/api/layers/households").status_code == 200
    assert token_client(admin_app, "planner").get("/api/layers/households").status_code == 200
    doc = api.get("/api/admin/reads?user=demo-worker").get_json()
    assert len(doc["reads"]) == 2 and doc["more"] is False
    row = doc["reads"][0]
    assert (row["user"], row["role"], row["layer"]) == ("demo-worker", "grid_worker", "households")
    assert row["rows"] > 300 and len(row["filter"]["grids"]) == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row["at"])
    assert api.get("/api/admin/reads?user=demo-planner").get_json()["reads"] == []
    # paging and the date filter
    page = api.get("/api/admin/reads?user=demo-worker&limit=1").get_json()
    assert len(page["reads"]) == 1 and page["more"] is True
    assert page["next"] == "/api/admin/reads?user=demo-worker&limit=1&offset=1"
    rest = api.get(page["next"]).get_json()
    assert rest["reads"][0]["id"] < page["reads"][0]["id"] and rest["more"] is False
    assert api.get("/api/admin/reads?since=2999-01-01").get_json()["reads"] == []
    bad = api.get("/api/admin/reads?since=yesterday")
    assert bad.status_code == 400 and "2026-12-01" in error_of(bad)["message"]
    assert api.get("/api/admin/reads?limit=5000").status_code == 400
