"""Packaging: the wheel carries what an installed gridmap needs, and works without a checkout.

The slow test builds the sdist and, from it, the wheel (``python -m build --no-isolation``, with the
build requirements that ``scripts/setup`` puts in ``.venv``), installs the wheel with
``pip --no-index`` into a fresh virtual environment whose dependencies come from the project's
``.venv`` (a folder of links to its site-packages, without gridmap, added by a ``.pth`` file: no
download, and gridmap itself only from the wheel), then runs ``gridmap demo --no-serve`` and
``gridmap serve`` from a folder outside the checkout and fetches the map page and every file it
loads.

The fast tests check the build step of ``setup.py`` (``npm ci`` when ``web/node_modules`` is
missing or stale, a clear error without npm) with a stand-in ``npm`` that copies the checkout's
packages, and the metadata in pyproject.toml.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import tarfile
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from setuptools.errors import SetupError

from web import assets

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _load_setup() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gridmap_setup_py", ROOT / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # not __main__: defines the build step, runs nothing
    return module


# -- metadata ----------------------------------------------------------------------------------


def test_licence_metadata_is_read_by_the_setuptools_it_requires():
    """A PEP 639 licence string (``license = "MIT"``) needs setuptools 77 or newer to build."""
    (req,) = [r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    minimum = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", req)
    assert minimum, req
    if isinstance(PYPROJECT["project"]["license"], str):
        assert int(minimum.group(1)) >= 77, (
            f"{req} cannot read license = {PYPROJECT['project']['license']!r}"
        )
        classifiers = PYPROJECT["project"].get("classifiers", [])
        assert not [c for c in classifiers if c.startswith("License ::")]  # PEP 639 forbids both
    for pattern in PYPROJECT["project"].get("license-files", []):
        assert list(ROOT.glob(pattern)), f"license-files {pattern!r} matches no file"


def test_package_data_names_only_files_that_exist():
    for package, patterns in PYPROJECT["tool"]["setuptools"]["package-data"].items():
        folder = ROOT / package.replace(".", "/")
        for pattern in patterns:
            files = [p for p in folder.glob(pattern) if p.is_file()]
            assert files, f"package-data {package}: {pattern!r} matches no file"


# -- where the browser libraries come from (web/assets.py) --------------------------------------


def test_checkout_holds_every_served_file_at_the_locked_version():
    assert assets.missing_vendor(assets.CHECKOUT_NODE_MODULES) == []
    assert assets.installed_versions(assets.CHECKOUT_NODE_MODULES) == assets.locked_versions()


def test_every_vendor_file_a_template_loads_is_served_and_shipped():
    used = set()
    for template in (assets.WEB / "templates").rglob("*.html"):
        used |= set(re.findall(r"vendor\(\s*['\"]([^'\"]+)['\"]\s*\)", template.read_text("utf-8")))
    assert used, "no template loads a browser library?"
    assert sorted(p for p in used if not assets.vendor_allowed(p)) == []


def test_vendor_root_is_the_packaged_copy_when_installed(tmp_path, monkeypatch):
    checkout, packaged = tmp_path / "node_modules", tmp_path / "vendor"
    monkeypatch.setattr(assets, "CHECKOUT_NODE_MODULES", checkout)
    monkeypatch.setattr(assets, "PACKAGED_VENDOR", packaged)
    assert assets.vendor_root() == checkout  # a checkout: served from npm's folder
    assert assets.missing_vendor() == list(assets.VENDOR_FILES)
    for rel in assets.vendor_paths():
        (packaged / rel).parent.mkdir(parents=True, exist_ok=True)
        (packaged / rel).write_text("x")
    assert assets.vendor_root() == packaged  # an installed wheel: served from its copy
    assert assets.missing_vendor() == []
    (packaged / "leaflet/dist/leaflet.css").unlink()
    assert assets.missing_vendor() == ["leaflet"]


def test_only_the_listed_files_are_served():
    assert assets.vendor_allowed("leaflet/dist/leaflet.js")
    assert assets.vendor_allowed("@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.min.js")
    assert not assets.vendor_allowed("leaflet/dist/leaflet-src.js")  # not in the wheel
    assert not assets.vendor_allowed("leaflet/../../pyproject.toml")
    assert not assets.vendor_allowed("lodash/lodash.js")


# -- the build step of setup.py ----------------------------------------------------------------


def _web_without_node_modules(tmp_path: Path) -> Path:
    web = tmp_path / "web"
    web.mkdir()
    shutil.copy(ROOT / "web" / "package.json", web)
    shutil.copy(ROOT / "web" / "package-lock.json", web)
    return web


def _fake_npm(tmp_path: Path) -> tuple[Path, Path]:
    """An ``npm`` that logs its arguments and working folder and copies the checkout's packages."""
    bin_dir, log = tmp_path / "bin", tmp_path / "npm.log"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(
        "#!/bin/sh\n"
        f'echo "$PWD $*" >> "{log}"\n'
        f'rm -rf node_modules && cp -r "{ROOT / "web" / "node_modules"}" node_modules\n'
    )
    npm.chmod(0o755)
    return bin_dir, log


def test_build_runs_npm_ci_when_node_modules_is_missing(tmp_path, monkeypatch):
    setup_py = _load_setup()
    web = _web_without_node_modules(tmp_path)
    bin_dir, log = _fake_npm(tmp_path)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    written = setup_py.copy_vendor(tmp_path / "wheel" / "web" / "vendor", web)
    assert log.read_text().split()[:2] == [str(web), "ci"]
    gzipped = [p for p in assets.vendor_paths() if p.endswith(assets.PRECOMPRESSED_SUFFIXES)]
    assert len(written) == len(assets.vendor_paths()) + len(gzipped)
    for rel in assets.vendor_paths():
        copied = tmp_path / "wheel" / "web" / "vendor" / rel
        assert copied.read_bytes() == (ROOT / "web" / "node_modules" / rel).read_bytes()
    for rel in gzipped:  # each JavaScript and CSS file gzipped beside it, the same bytes
        gz = assets.gz_path(tmp_path / "wheel" / "web" / "vendor" / rel)
        assert (
            gzip.decompress(gz.read_bytes()) == (ROOT / "web" / "node_modules" / rel).read_bytes()
        )
    log.unlink()
    setup_py.copy_vendor(tmp_path / "again", web)  # now installed: no second npm ci
    assert not log.exists()


def test_build_reinstalls_node_modules_of_other_versions(tmp_path, monkeypatch):
    setup_py = _load_setup()
    web = _web_without_node_modules(tmp_path)
    shutil.copytree(ROOT / "web" / "node_modules", web / "node_modules")
    manifest = web / "node_modules" / "leaflet" / "package.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "version": "1.7.1"}))
    bin_dir, log = _fake_npm(tmp_path)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert setup_py.vendor_source(web) == web / "node_modules"
    assert log.read_text().split()[1] == "ci"


def test_build_from_an_sdist_uses_its_copy_without_npm(tmp_path, monkeypatch):
    setup_py = _load_setup()
    web = _web_without_node_modules(tmp_path)
    for rel in assets.vendor_paths():
        (web / "vendor" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "web" / "node_modules" / rel, web / "vendor" / rel)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert setup_py.vendor_source(web) == web / "vendor"


def test_build_without_npm_says_what_to_install(tmp_path, monkeypatch):
    setup_py = _load_setup()
    web = _web_without_node_modules(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(SetupError, match=r"needs npm .*apt-get install npm"):
        setup_py.vendor_source(web)


# -- the wheel, built and installed for real ---------------------------------------------------


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """Build the sdist, then the wheel from that sdist, as ``python -m build`` does."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        cwd=out,
    )
    (sdist,) = out.glob("gridmap-*.tar.gz")
    (wheel,) = out.glob("gridmap-*.whl")
    return {"sdist": sdist, "wheel": wheel}


@pytest.mark.slow
def test_sdist_carries_what_a_wheel_build_needs(dist):
    with tarfile.open(dist["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"setup.py", "pyproject.toml", "web/package.json", "web/package-lock.json"} <= names
    assert {f"web/vendor/{p}" for p in assets.vendor_paths()} <= names
    assert not [n for n in names if "node_modules" in n]


@pytest.mark.slow
def test_wheel_holds_the_code_its_data_and_the_browser_libraries(dist):
    with zipfile.ZipFile(dist["wheel"]) as whl:
        names = set(whl.namelist())
        metadata = whl.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    tracked = subprocess.run(
        ["git", "ls-files", "gridmap", "web"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    shipped = [f for f in tracked if not f.endswith(("package.json", "package-lock.json"))]
    assert sorted(set(shipped) - names) == []
    assert "gridmap/py.typed" in names
    assert "gridmap/build/data/nanjing_changjianglu_core_2021.osm.bz2" in names
    assert {f"web/vendor/{p}" for p in assets.vendor_paths()} <= names
    assert "web/vendor/leaflet/dist/leaflet.js.gz" in names  # gzipped ahead of time
    assert not [n for n in names if "node_modules" in n or n.startswith("tests/")]
    assert "License-Expression: MIT" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def _dependency_links(target: Path) -> Path:
    """A folder of links to the project .venv's installed packages, without gridmap itself."""
    target.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    skip = re.compile(r"(gridmap|web)([-_.]|$)|__editable__|.*\.pth$|__pycache__$", re.IGNORECASE)
    for entry in site.iterdir():
        if not skip.match(entry.name):
            (target / entry.name).symlink_to(entry)
    return target


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 10, token: str | None = None) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with opener.open(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
        return resp.status, resp.read()


@pytest.mark.slow
def test_installed_wheel_builds_and_serves_the_demo_without_a_checkout(dist, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    deps = _dependency_links(tmp_path / "deps")
    (purelib / "_gridmap_test_dependencies.pth").write_text(f"{deps}\n")
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def run(*args: str | Path, timeout: float = 120) -> str:
        done = subprocess.run(
            [str(a) for a in args],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    # Offline: every dependency must already be there; gridmap comes only from the wheel.
    run(python, "-m", "pip", "install", "--no-index", "--no-cache-dir", dist["wheel"])
    where = json.loads(
        run(
            python,
            "-c",
            "import json, gridmap, web; print(json.dumps([gridmap.__file__, web.__file__]))",
        )
    )
    for path in where:
        assert Path(path).is_relative_to(purelib), where
        assert not Path(path).resolve().is_relative_to(ROOT), where

    out = run(venv / "bin" / "gridmap", "-q", "demo", "--no-serve")
    assert "Demo workspace built" in out
    workspace = elsewhere / "workspaces" / "demo.gpkg"
    assert workspace.stat().st_size > 1_000_000
    # its accounts: printed once, kept beside it for its owner only
    kept = elsewhere / "workspaces" / "demo.accounts.txt"
    assert "admin" in out and kept.stat().st_mode & 0o777 == 0o600
    assert re.search(r"^admin\s+\S{16}\s+admin", kept.read_text(), re.M)
    token = run(venv / "bin" / "gridmap", "users", "token", "workspaces/demo.gpkg", "admin").strip()

    port = _free_port()
    server = subprocess.Popen(
        [venv / "bin" / "gridmap", "serve", "workspaces/demo.gpkg", "--port", str(port)],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.communicate()[0]
            try:
                status, body = _get(f"{base}/api/health", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "gridmap serve did not answer within 30 s"
                time.sleep(0.2)
        assert json.loads(body) == {"status": "ok", "missing_vendor": []}
        status, login = _get(f"{base}/")  # nobody signed in: the sign-in page
        assert "/login" in login.decode()
        status, page = _get(f"{base}/", token=token)
        html = page.decode()
        # Everything the page names (scripts, styles, the module import map, the dictionaries),
        # and every file of the browser libraries (leaflet.css loads its images by itself).
        urls = set(re.findall(r'"(/(?:static|vendor)/[^"?]+)(?:\?[^"]*)?"', html))
        assert {u for u in urls if u.startswith("/vendor/")} == {
            "/vendor/leaflet/dist/leaflet.js",
            "/vendor/leaflet/dist/leaflet.css",
            "/vendor/@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.min.js",
            "/vendor/@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css",
        }
        static = sorted(u for u in urls if u.startswith("/static/"))
        assert "/static/js/map.js" in static and "/static/i18n/zh-CN.json" in static, static
        for url in static:
            status, body = _get(base + url)
            assert status == 200 and body == (ROOT / "web" / url[1:]).read_bytes(), url
        for rel in assets.vendor_paths():  # the very bytes npm installed from the lock file
            status, body = _get(f"{base}/vendor/{rel}")
            assert status == 200 and body == (ROOT / "web" / "node_modules" / rel).read_bytes(), rel
        status, body = _get(f"{base}/api/layers/grids", token=token)
        assert len(json.loads(body)["features"]) > 0
        assert (purelib / "web" / "vendor" / "leaflet" / "dist" / "leaflet.js").is_file()
    finally:
        server.terminate()
        server.communicate(timeout=20)


# -- scripts/bundle, on a toy payload (the real bundle is 77 MB: made by hand, not in CI) --------


def _toy_wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """Write a minimal pure-Python wheel ``name`` with one module ``<name>_toy``."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}_toy/__init__.py": f"VERSION = {version!r}\n",
        f"{dist_info}/METADATA": "Metadata-Version: 2.1\n"
        f"Name: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = [
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},{len(text.encode())}"
        for path, text in files.items()
    ]
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


def test_bundle_installs_with_no_index_and_refuses_damage_or_another_python(tmp_path):
    deps = tmp_path / "index"
    _toy_wheel(deps, "gridmapdep", "1.0")
    wheel = _toy_wheel(tmp_path / "built", "gridmap", "9.1", requires=("gridmapdep>=1",))
    out = tmp_path / "out"
    pip_args = ["--no-index", "--find-links", str(deps)]  # the toy index instead of PyPI
    made = subprocess.run(
        [ROOT / "scripts" / "bundle", "--out", out, "--wheel", wheel, "--", *pip_args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    pyver = "{}.{}".format(*sys.version_info[:2])
    (tarball,) = out.glob("gridmap-9.1-py*.tar")
    assert tarball.name.startswith(f"gridmap-9.1-py{pyver}-")
    target = tmp_path / "intranet"
    with tarfile.open(tarball) as tar:
        tar.extractall(target, filter="data")
    (bundle,) = target.iterdir()
    wheels = sorted(p.name for p in (bundle / "wheelhouse").iterdir())
    assert wheels == ["gridmap-9.1-py3-none-any.whl", "gridmapdep-1.0-py3-none-any.whl"]
    install = bundle / "install.sh"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}

    def run_install(venv: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [install, venv],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env={**env, "PYTHON": sys.executable},
        )

    done = run_install(tmp_path / "venv")
    assert done.returncode == 0, done.stdout + done.stderr
    probe = subprocess.run(
        [
            tmp_path / "venv" / "bin" / "python",
            "-c",
            "import gridmap_toy, gridmapdep_toy; print(gridmap_toy.VERSION)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "9.1"

    info = bundle / "BUNDLE-INFO"
    info.write_text(info.read_text().replace(f"python_version={pyver}", "python_version=3.99"))
    done = run_install(tmp_path / "venv2")
    assert done.returncode == 1 and "holds wheels for Python 3.99" in done.stderr
    assert not (tmp_path / "venv2").exists()
    info.write_text(info.read_text().replace("python_version=3.99", f"python_version={pyver}"))

    with (bundle / "wheelhouse" / "gridmapdep-1.0-py3-none-any.whl").open("ab") as f:
        f.write(b"\0")  # damaged on the way to the intranet
    done = run_install(tmp_path / "venv3")
    assert done.returncode == 1 and "damaged" in done.stderr
    assert not (tmp_path / "venv3").exists()
