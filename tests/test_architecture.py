"""The house rules of shared/architecture.md, checked: import contracts, module size, docs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: No module of gridmap or web, no browser module (web/static/**/*.js) and no style sheet
#: (web/static/**/*.css) is longer than this (split it by concern instead).
MAX_LINES = 500


def _modules() -> list[Path]:
    return sorted(
        p
        for base in ("gridmap", "web")
        for p in (ROOT / base).rglob("*.py")
        if "node_modules" not in p.parts and "vendor" not in p.parts
    )


def _browser_files() -> list[Path]:
    """The browser code and style sheets of web/static (not the npm libraries)."""
    static = ROOT / "web" / "static"
    return sorted(
        p
        for suffix in ("*.js", "*.css")
        for p in static.rglob(suffix)
        if "node_modules" not in p.parts and "vendor" not in p.parts
    )


def test_import_contracts_hold():
    """Algorithms never reach storage, only gridmap.store opens SQLite, no Flask in gridmap."""
    exe = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "broken" in done.stdout and " 0 broken" in done.stdout


def test_no_module_is_too_long():
    files = [*_modules(), *_browser_files()]
    long = {
        str(p.relative_to(ROOT)): n
        for p in files
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them by concern): {long}"


def test_the_line_limit_sees_the_browser_code():
    """The limit reads web/static/js and web/static/css (and css/tools): a moved folder would
    otherwise leave it checking nothing."""
    names = {p.relative_to(ROOT / "web" / "static").as_posix() for p in _browser_files()}
    assert {"js/map.js", "js/dom.js", "css/map.css", "css/tools/export.css"} <= names, names


def test_the_docs_picture_names_every_package():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = sorted(
        p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "gridmap").rglob("__init__.py")
    )
    missing = [p for p in packages[1:] if f"{p.rsplit('/', 1)[-1]}/" not in text]
    assert not missing, f"docs/architecture.md does not show {missing}"
    web = sorted(p.stem for p in (ROOT / "web").glob("*.py") if p.stem != "__init__")
    assert not [m for m in web if f"{m}.py" not in text], "docs/architecture.md misses web modules"
