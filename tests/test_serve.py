"""``gridmap serve``: it answers, serves in WAL, and leaves one portable file after Ctrl+C."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

from gridmap.service import accounts
from gridmap.store import GeoPackageWorkspace

from .conftest import make_tiny_workspace


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _journal(path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()


def test_served_in_wal_then_sealed(tmp_path):
    path = tmp_path / "tiny.gpkg"
    make_tiny_workspace(path).close()
    assert _journal(path) == "delete"
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridmap.cli", "serve", str(path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                    assert json.load(r)["status"] == "ok"
                    break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.3)
        assert _journal(path) == "wal"  # readers never block a commit while served
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert r.url.endswith("/login?next=/")  # nobody signed in: the sign-in page
            assert "登录" in r.read().decode()
        accounts.set_public_layers(GeoPackageWorkspace(path), ["cameras", "grids", "buildings"])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert b"leaflet" in r.read()  # the map page, its browser libraries served locally
        for layer in ("cameras", "grids", "buildings"):  # server threads open connections
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/layers/{layer}") as r:
                assert r.status == 200
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl+C
        out, _ = proc.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/" in out
    assert _journal(path) == "delete", out
    assert not path.with_name("tiny.gpkg-wal").exists()
