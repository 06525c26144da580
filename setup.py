"""Build step that puts the browser libraries into the wheel (the metadata is in pyproject.toml).

The map page uses Leaflet and Leaflet-Geoman, npm packages pinned by ``web/package-lock.json``.
A wheel must carry them, since an installed gridmap has no checkout and no ``node_modules``:

- ``build_py`` copies the files listed in ``web/assets.py`` (``VENDOR_FILES``) into the wheel's
  ``web/vendor/``, with a gzipped copy of each JavaScript and CSS file beside it (served to
  browsers that accept gzip), from ``web/node_modules`` (running ``npm ci`` first when it is missing or holds
  other versions than the lock file) or, when building from an sdist, from its ``web/vendor/``.
- ``sdist`` puts that same ``web/vendor/`` into the source archive, so that a wheel builds from
  the sdist without npm or a network.

Editable installs (``pip install -e .``) copy nothing: the checkout serves ``web/node_modules``.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.errors import SetupError

HERE = Path(__file__).resolve().parent
WEB = HERE / "web"


def _assets() -> ModuleType:
    """Load web/assets.py by path (it needs only the standard library; web/ may not import)."""
    spec = importlib.util.spec_from_file_location("_gridmap_web_assets", HERE / "web" / "assets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _npm_ci(web: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise SetupError(
            "Building gridmap needs npm (Node.js) to fetch the browser libraries Leaflet and "
            "Leaflet-Geoman pinned by web/package-lock.json: install it (Debian: apt-get install "
            "npm) or run scripts/setup, or build from an sdist, which carries them."
        )
    print("gridmap build: running npm ci in web/ for the browser libraries", flush=True)
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=web, check=False
    )
    if done.returncode != 0:
        raise SetupError(f"npm ci in {web} failed (exit {done.returncode}); see its output above.")


def vendor_source(web: Path = WEB) -> Path:
    """Return the folder to copy the browser libraries from, running ``npm ci`` if needed.

    ``web/node_modules`` when it holds the versions ``web/package-lock.json`` pins, else the
    ``web/vendor`` of an unpacked sdist when it does, else ``web/node_modules`` after ``npm ci``.
    """
    assets = _assets()
    wanted = assets.locked_versions(web / "package-lock.json")

    def complete(root: Path) -> bool:
        return assets.installed_versions(root) == wanted and not assets.missing_vendor(root)

    node_modules, prebuilt = web / "node_modules", web / "vendor"
    if complete(node_modules):
        return node_modules
    if complete(prebuilt):
        return prebuilt
    _npm_ci(web)
    if not complete(node_modules):
        raise SetupError(
            f"After npm ci, {node_modules} still lacks files gridmap serves "
            f"({', '.join(assets.missing_vendor(node_modules)) or 'other versions than the lock file'};"
            " see VENDOR_FILES in web/assets.py)."
        )
    return node_modules


def copy_vendor(target: Path, web: Path = WEB) -> list[str]:
    """Copy the served browser-library files into ``target`` and gzip its JavaScript and CSS
    (``web.assets.precompress``); return the paths written."""
    source = vendor_source(web)
    assets = _assets()
    written = []
    for rel in assets.vendor_paths():
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, dest)
        written.append(str(dest))
    written += [str(p) for p in assets.precompress(target)]
    return written


class BuildPyWithVendor(build_py):
    """``build_py`` that also copies the browser libraries into ``web/vendor``."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            self._vendor = copy_vendor(Path(self.build_lib) / "web" / "vendor")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), *getattr(self, "_vendor", [])]


class SdistWithVendor(sdist):
    """``sdist`` whose archive carries ``web/vendor``, so its wheel builds without npm."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        copy_vendor(Path(base_dir) / "web" / "vendor")


if __name__ == "__main__":  # setuptools runs this file as __main__; tests import its functions
    setup(cmdclass={"build_py": BuildPyWithVendor, "sdist": SdistWithVendor})
