"""Accounts: users and tokens in the workspace, signing in and out, CSRF, rate limits, the CLI.

Unit tests on the tiny workspace (a user, a password, a token one can follow by hand), then
the web flow as a browser does it (cookies, the form's CSRF token), then GDAL as an API client
with a token, then ``gridmap users`` / ``gridmap audit``.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gridmap import store
from gridmap.access import accounts as secrets
from gridmap.errors import (
    AccountDisabledError,
    BadTokenError,
    InputError,
    WrongPasswordError,
)
from gridmap.service import accounts
from gridmap.store.gpkg import ddl
from tests.conftest import ADMIN_PASSWORD, DEMO_PASSWORD, ROLE_TOKENS, gdal_env
from web.app import create_app

PASSWORD = "correct horse battery"


def test_a_user_signs_in_with_the_password_and_nothing_else(tiny_workspace):
    ws = tiny_workspace
    made = accounts.add_user(ws, "zhang", "planner", password=PASSWORD, display_name="张规划")
    assert made.role == "planner" and made.epoch >= 1 and not made.disabled
    stored = sqlite3.connect(ws.path).execute("SELECT password_hash FROM gridmap_users").fetchone()
    assert stored[0].startswith("$argon2id$") and PASSWORD not in stored[0]
    assert accounts.authenticate(ws, "zhang", PASSWORD).name == "zhang"
    with pytest.raises(WrongPasswordError):
        accounts.authenticate(ws, "zhang", PASSWORD + "!")
    with pytest.raises(WrongPasswordError) as unknown:
        accounts.authenticate(ws, "nobody", PASSWORD)
    assert unknown.value.message == accounts.WRONG_PASSWORD  # names are not told apart
    assert ws.get_user("zhang").last_login is not None
    # the change is in the audit log, the password nowhere
    audit = ws.audit_log()
    assert "users add" in set(audit.action)
    assert PASSWORD not in audit.to_string()


def test_names_passwords_roles_and_grids_are_checked(tiny_workspace):
    ws = tiny_workspace
    for name in ("a", "x" * 41, "bad name", "a/b", ""):
        with pytest.raises(InputError, match="cannot name a user"):
            accounts.add_user(ws, name, "planner", password=PASSWORD)
    with pytest.raises(InputError, match="at least 10"):
        accounts.add_user(ws, "li", "planner", password="short")
    with pytest.raises(InputError, match="Unknown role"):
        accounts.add_user(ws, "li", "mayor", password=PASSWORD)
    with pytest.raises(InputError, match="needs the grids"):
        accounts.add_user(ws, "li", "grid_worker", password=PASSWORD)
    with pytest.raises(InputError, match="No grid has the code 999"):
        accounts.add_user(ws, "li", "grid_worker", password=PASSWORD, grids=["999"])
    with pytest.raises(InputError, match="Only a grid worker"):
        accounts.add_user(ws, "li", "analyst", password=PASSWORD, grids=["320102001001001"])
    accounts.add_user(ws, "网格员小李", "grid_worker", password=PASSWORD, grids=["320102001001001"])
    with pytest.raises(InputError, match="already"):
        accounts.add_user(ws, "网格员小李", "analyst", password=PASSWORD)
    assert [u.name for u in ws.users()] == ["网格员小李"]


def test_disabling_or_a_new_password_ends_sessions_and_tokens(tiny_workspace):
    ws = tiny_workspace
    accounts.add_user(ws, "wang", "analyst", password=PASSWORD)
    token = accounts.issue_token(ws, "wang", "QGIS")
    assert token.startswith("gmt_") and len(token) > 40
    assert [t.digest for t in ws.tokens("wang")] == [secrets.token_digest(token)]  # digest only
    assert accounts.token_user(ws, token).name == "wang"
    first = ws.get_user("wang").epoch
    accounts.set_password(ws, "wang", "another long one")
    assert ws.get_user("wang").epoch == first + 1
    accounts.set_disabled(ws, "wang", True)
    assert ws.get_user("wang").epoch == first + 2
    with pytest.raises(AccountDisabledError):
        accounts.authenticate(ws, "wang", "another long one")
    with pytest.raises(AccountDisabledError):
        accounts.token_user(ws, token)
    accounts.set_disabled(ws, "wang", False)
    assert accounts.token_user(ws, token).name == "wang"
    assert accounts.revoke_tokens(ws, "wang") == 1
    with pytest.raises(BadTokenError):
        accounts.token_user(ws, token)
    with pytest.raises(BadTokenError):
        accounts.token_user(ws, "gmt_made_up")
    accounts.remove_user(ws, "wang")
    assert ws.get_user("wang") is None and ws.tokens("wang") == []


def test_demo_accounts(tiny_workspace):
    made = accounts.create_demo_accounts(tiny_workspace)
    users = {u.name: u for u in tiny_workspace.users()}
    assert (
        set(made)
        == set(users)
        == {
            "admin",
            "demo-planner",
            "demo-patrol",
            "demo-worker",
            "demo-analyst",
        }
    )
    assert users["demo-worker"].grids == ("320102001001001",)
    assert users["demo-planner"].demo and not users["admin"].demo
    assert made["admin"] != made["demo-planner"] and len(made["admin"]) >= 16


def test_a_format_2_workspace_is_upgraded_in_place(tiny_workspace, tmp_path):
    path = tiny_workspace.path
    with tiny_workspace.transaction(action="an edit before") as tx:
        fid = int(tx.read("cameras").index[0])
        tx.update("cameras", fid, {"name": "东门"})
    tiny_workspace.close()
    with sqlite3.connect(path) as conn:  # what gridmap 0.1 of storage format 2 wrote
        for table in (ddl.READS_TABLE, ddl.TOKENS_TABLE, ddl.USERS_TABLE):
            conn.execute(f"DROP TABLE {table}")
            conn.execute("DELETE FROM gpkg_contents WHERE table_name = ?", (table,))
        conn.execute("UPDATE gridmap_meta SET value = '2' WHERE key = 'schema_version'")
    with pytest.raises(Exception, match="older gridmap"):
        store.GeoPackageWorkspace(path)
    kept = store.upgrade(path)
    assert kept.name == "tiny.format2.gpkg" and kept.exists()
    ws = store.GeoPackageWorkspace(path)
    assert ws.users() == [] and ws.get_meta("schema_version") == ddl.FORMAT_VERSION
    assert int(ws.feature("cameras", fid)["version"].iloc[0]) == 2  # versions kept
    assert len(ws.history(layer="cameras", fid=fid)) == 2  # ... and history
    accounts.add_user(ws, "admin", "admin", password=PASSWORD)


# -- the web flow -------------------------------------------------------------------------------


@pytest.fixture
def web(writable_demo) -> Any:
    """A browser-like client (cookies) of an app of its own over a writable demo copy."""
    return create_app({"WORKSPACE": writable_demo, "TESTING": True}).test_client()


def _csrf(client: Any, url: str = "/login") -> str:
    html = client.get(url).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def _sign_in(client: Any, name: str, password: str, **extra: str) -> Any:
    form = {"name": name, "password": password, "csrf_token": _csrf(client), **extra}
    return client.post("/login", data=form)


def test_sign_in_and_out_in_a_browser(web):
    page = web.get("/", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=/")
    login = web.get("/login", headers={"Accept-Language": "zh-CN"})
    html = login.get_data(as_text=True)
    assert login.status_code == 200 and 'lang="zh-CN"' in html and "用户名" in html
    assert "demo-planner" in html  # the demo's accounts are listed (not their passwords)
    assert DEMO_PASSWORD not in html
    # a wrong password: the page again, saying so in Chinese first, the name kept
    wrong = _sign_in(web, "demo-planner", "not the password", lang="zh-CN")
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 401 and "用户名或密码错误" in text
    assert text.index("用户名或密码错误") < text.lower().index("wrong user name or password")
    assert 'value="demo-planner"' in text
    # the right one: a session cookie (HttpOnly, SameSite), on to the page asked for
    ok = _sign_in(web, "demo-planner", DEMO_PASSWORD, next="/?lang=en")
    assert ok.status_code == 303 and ok.headers["Location"] == "/?lang=en"
    cookie = ok.headers["Set-Cookie"]
    assert "gridmap_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    me = web.get("/api/session").get_json()
    assert (me["user"], me["role"], me["signed_in"]) == ("demo-planner", "planner", True)
    assert me["role_title"]["zh-CN"] == "网格规划员"
    assert web.get("/").status_code == 200
    # signing out needs the page's CSRF token too
    assert web.post("/logout").status_code == 400
    copied = web.get_cookie("gridmap_session").value  # a cookie copied before signing out
    out = web.post("/logout", data={"csrf_token": me["csrf_token"]})
    assert out.status_code == 303
    assert web.get("/api/session").get_json()["signed_in"] is False
    web.set_cookie("gridmap_session", copied)
    assert web.get("/api/session").get_json()["signed_in"] is False  # over on the server too


def test_no_sign_in_without_the_forms_csrf_token(web):
    refused = web.post("/login", data={"name": "admin", "password": ADMIN_PASSWORD})
    assert refused.status_code == 400
    assert web.get("/api/session").get_json()["signed_in"] is False
    # JSON sign-in from a script: the token from GET /api/session, sent as X-CSRFToken
    token = web.get("/api/session").get_json()["csrf_token"]
    body = {"name": "admin", "password": ADMIN_PASSWORD}
    assert web.post("/api/session", json=body).status_code == 400
    doc = web.post("/api/session", json=body, headers={"X-CSRFToken": token}).get_json()
    assert doc["user"] == "admin" and doc["role"] == "admin"
    # a session begins anew on signing in: the token before it is void, the reply has the new
    assert web.delete("/api/session", headers={"X-CSRFToken": token}).status_code == 400
    fresh = doc["csrf_token"]
    assert web.delete("/api/session", headers={"X-CSRFToken": fresh}).status_code == 204


def test_a_disabled_account_and_a_changed_password(web, writable_demo):
    assert _sign_in(web, "demo-analyst", DEMO_PASSWORD).status_code == 303
    assert web.get("/api/layers/grids").status_code == 200
    accounts.set_password(writable_demo, "demo-analyst", "a brand new password")
    assert web.get("/api/layers/grids").status_code == 401  # the old session is over
    accounts.set_disabled(writable_demo, "demo-analyst", True)
    refused = _sign_in(web, "demo-analyst", "a brand new password", lang="zh-CN")
    assert refused.status_code == 401 and "该账号已停用" in refused.get_data(as_text=True)


def test_wrong_passwords_are_rate_limited(web):
    for _ in range(5):
        assert _sign_in(web, "admin", "guess guess guess").status_code == 401
    limited = _sign_in(web, "admin", ADMIN_PASSWORD)  # even the right one waits now
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 60
    assert "尝试次数过多" in limited.get_data(as_text=True) or "wait" in limited.get_data(
        as_text=True
    )
    assert _sign_in(web, "demo-planner", DEMO_PASSWORD).status_code == 303  # others are not


def test_next_never_leads_to_another_site(web):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        resp = _sign_in(web, "demo-planner", DEMO_PASSWORD, next=target)
        assert resp.headers["Location"] == "/", target


def test_tokens_for_programs(client_as, anon_client):
    assert anon_client.get("/api/layers/people").status_code == 401
    bad = anon_client.get("/api/layers/grids", headers={"Authorization": "Bearer gmt_nope"})
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == "bad_token"
    assert bad.headers["WWW-Authenticate"].startswith("Bearer")
    basic = anon_client.get("/api/layers/grids", headers={"Authorization": "Basic YTpi"})
    assert basic.status_code == 401
    # a token needs no CSRF token: it is not a cookie a page could ride on
    who = client_as("admin").get("/api/session").get_json()
    assert who["user"] == "admin" and who["by_token"] is True


@pytest.mark.gdal
def test_gdal_reads_people_with_a_token(live_server, demo_workspace):
    """ogrinfo through OAPIF with GDAL_HTTP_HEADERS: unmasked as admin, households masked as
    analyst (who gets people as figures per grid, not rows), refused without a token."""
    if not shutil.which("ogrinfo"):
        pytest.skip("gdal-bin is not installed")
    url = f"OAPIF:{live_server}/ogc"
    one = demo_workspace.read("people", limit=1)
    fid, name = int(one.index[0]), str(one.name.iloc[0])
    where = ["-where", f"person_id = '{one.person_id.iloc[0]}'"]

    def ogrinfo(role: str | None, layer: str = "people") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ogrinfo", "-ro", "-al", "-q", *(where if layer == "people" else []), url, layer],
            capture_output=True,
            text=True,
            timeout=120,
            env=gdal_env(role),
        )

    admin = ogrinfo("admin")
    assert admin.returncode == 0, admin.stderr
    assert f"OGRFeature(people):{fid}" in admin.stdout and name in admin.stdout
    assert ogrinfo("analyst").returncode != 0  # no people rows for the analyst
    households = ogrinfo("analyst", "households")
    assert households.returncode == 0, households.stderr
    head = str(demo_workspace.read("households", limit=1).head_name.iloc[0])
    assert households.stdout.count("OGRFeature(households)") == 21686
    assert "head_name" not in households.stdout and head not in households.stdout
    nobody = ogrinfo(None, "households")
    assert nobody.returncode != 0 and "OGRFeature" not in nobody.stdout


# -- the CLI ----------------------------------------------------------------------------------


def gridmap(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gridmap.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_gridmap_users_and_audit(tiny_workspace, tmp_path: Path):
    ws = str(tiny_workspace.path)
    no_tty = gridmap("users", "add", ws, "li", "--role", "analyst", stdin="")
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr
    added = gridmap(
        "users", "add", ws, "li", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert added.returncode == 0, added.stderr
    assert PASSWORD not in added.stdout + added.stderr
    listed = json.loads(gridmap("users", "list", ws, "--json").stdout)
    assert [(u["name"], u["role"]) for u in listed] == [("li", "admin")]
    made = gridmap("users", "token", ws, "li", "--label", "QGIS")
    token = made.stdout.strip()
    assert made.returncode == 0 and token.startswith("gmt_") and "shown once" in made.stderr
    assert accounts.token_user(store.GeoPackageWorkspace(ws), token).name == "li"
    assert "QGIS" in gridmap("users", "token", ws, "li", "--list").stdout
    assert "Revoked 1" in gridmap("users", "token", ws, "li", "--revoke").stdout
    assert gridmap("users", "remove", ws, "li").returncode == 2  # asks for --yes
    last = gridmap("users", "disable", ws, "li")  # the only administrator stays
    assert last.returncode == 2 and "last administrator" in last.stderr
    added = gridmap(
        "users", "add", ws, "ma", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert added.returncode == 0
    assert gridmap("users", "disable", ws, "li").returncode == 0
    assert json.loads(gridmap("users", "list", ws, "--json").stdout)[0]["disabled"] is True
    assert gridmap("users", "disable", ws, "ma").returncode == 2  # now ma is the last one
    # public layers: never the register
    assert gridmap("users", "public", ws, "households").returncode == 2
    assert "grids" in gridmap("users", "public", ws, "grids", "buildings").stdout
    # exports of personal data unmasked are recorded, masked ones are not
    out = tmp_path / "people.csv"
    assert gridmap("export", ws, "households", "-o", str(out)).returncode == 0  # masked
    assert gridmap("export", ws, "people", "-o", str(out)).returncode == 2  # figures, not rows
    assert "No reads" in gridmap("audit", ws).stdout
    assert gridmap("export", ws, "people", "-o", str(out), "--personal").returncode == 0
    log = json.loads(gridmap("audit", ws, "--json").stdout)
    assert len(log) == 1 and log[0]["layer"] == "people" and log[0]["action"] == "cli export"
    assert log[0]["rows"] == 2 and log[0]["user"].endswith("(cli)")


def test_the_served_tokens_are_the_tests(role_tokens):
    assert (
        set(role_tokens)
        == set(ROLE_TOKENS)
        == {
            "admin",
            "planner",
            "patrol_lead",
            "grid_worker",
            "analyst",
        }
    )


def test_a_reused_name_does_not_revive_an_old_session(web, writable_demo):
    assert _sign_in(web, "demo-worker", DEMO_PASSWORD).status_code == 303
    accounts.remove_user(writable_demo, "demo-worker")
    accounts.add_user(writable_demo, "demo-worker", "admin", password="a new admin password")
    assert web.get("/api/session").get_json()["signed_in"] is False


def test_sign_in_attempts_at_the_same_moment_are_all_counted():
    import threading

    from web.throttle import LoginThrottle

    throttle = LoginThrottle()
    passed: list[bool] = []

    def attempt() -> None:
        try:
            throttle.check("admin", "10.0.0.9")
            passed.append(True)
        except Exception:
            passed.append(False)

    threads = [threading.Thread(target=attempt) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert passed.count(True) == 5  # the limit, however many arrive at once
