"""Static files with content-hash URLs, and the npm packages the browser code uses.

Browser libraries (Leaflet, Leaflet-Geoman) are npm packages pinned by ``web/package-lock.json``;
nothing is loaded from a CDN. In a checkout they are served from ``web/node_modules`` (installed by
``npm ci``, which ``scripts/setup`` runs); an installed wheel carries a copy of just the files in
:data:`VENDOR_FILES` under ``web/vendor`` (the build copies them: see ``setup.py``), and serves
that. Both serve the same files, so a page that works in a checkout works when installed.

URLs carry a short content hash so that browsers may cache them for long and still see a new
version at once.

The JavaScript and CSS of the libraries are also gzipped ahead of time (:func:`precompress`:
``scripts/setup`` after ``npm ci``, and the wheel's build step), a ``.gz`` beside each file;
``/vendor/`` sends that to a browser that accepts gzip (:func:`precompressed`), checked once
per process against the file it stands for, so that a stale one is never sent.

This module imports nothing outside the standard library: ``setup.py`` loads it by path to learn
which files to put in the wheel.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from functools import lru_cache
from pathlib import Path

WEB = Path(__file__).resolve().parent
STATIC = WEB / "static"
#: Where ``npm ci`` installs the browser libraries in a checkout.
CHECKOUT_NODE_MODULES = WEB / "node_modules"
#: Where a built wheel carries its copy of :data:`VENDOR_FILES` (absent in a checkout).
PACKAGED_VENDOR = WEB / "vendor"
#: npm package → the files of it the app serves under /vendor/ and the wheel carries, relative to
#: the package's folder. Each package's LICENSE travels with its code.
VENDOR_FILES: dict[str, tuple[str, ...]] = {
    "leaflet": (
        "package.json",
        "LICENSE",
        "dist/leaflet.js",
        "dist/leaflet.css",
        "dist/images/layers.png",
        "dist/images/layers-2x.png",
        "dist/images/marker-icon.png",
        "dist/images/marker-icon-2x.png",
        "dist/images/marker-shadow.png",
    ),
    "@geoman-io/leaflet-geoman-free": (
        "package.json",
        "LICENSE",
        "dist/leaflet-geoman.min.js",
        "dist/leaflet-geoman.css",
    ),
}
#: npm packages whose files the app serves under /vendor/.
VENDOR_PACKAGES = tuple(VENDOR_FILES)


def vendor_root() -> Path:
    """Return the folder the browser libraries are served from.

    Returns
    -------
    Path
        ``web/vendor`` when this is an installed wheel (the build put the copy there), else the
        checkout's ``web/node_modules``.
    """
    return PACKAGED_VENDOR if PACKAGED_VENDOR.is_dir() else CHECKOUT_NODE_MODULES


#: The folder /vendor/ is served from (the name web/app.py uses; see :func:`vendor_root`).
NODE_MODULES = vendor_root()


def vendor_paths() -> list[str]:
    """Return every served file as a path relative to the vendor folder (``leaflet/dist/…``)."""
    return [f"{pkg}/{rel}" for pkg, files in VENDOR_FILES.items() for rel in files]


@lru_cache(maxsize=512)
def _digest(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


def content_hash(path: Path) -> str:
    """Return a short hash of a file's bytes (cached until the file changes)."""
    return _digest(path, path.stat().st_mtime_ns)


_SERVED = frozenset(vendor_paths())


def vendor_allowed(filename: str) -> bool:
    """Return whether ``filename`` (relative to the vendor folder) is one of the served files."""
    return filename in _SERVED


#: Served files of these kinds are gzipped ahead of time (images are compressed already).
PRECOMPRESSED_SUFFIXES = (".js", ".css")


def gz_path(path: Path) -> Path:
    """Return where the gzipped copy of ``path`` lives (``leaflet.js`` → ``leaflet.js.gz``)."""
    return path.with_name(path.name + ".gz")


def precompress(root: Path | None = None) -> list[Path]:
    """Write the gzipped copy of every served JavaScript and CSS file under ``root``.

    Parameters
    ----------
    root
        The vendor folder (default :func:`vendor_root`). Files it lacks are skipped.

    Returns
    -------
    list of Path
        The ``.gz`` files written (level 9, no timestamp: the same bytes every time).
    """
    root = vendor_root() if root is None else root
    written = []
    for rel in vendor_paths():
        src = root / rel
        if src.suffix not in PRECOMPRESSED_SUFFIXES or not src.is_file():
            continue
        gz = gz_path(src)
        gz.write_bytes(gzip.compress(src.read_bytes(), compresslevel=9, mtime=0))
        written.append(gz)
    return written


@lru_cache(maxsize=64)
def _same_content(src: Path, gz: Path, stamp: tuple[int, int, int, int]) -> bool:
    try:
        return gzip.decompress(gz.read_bytes()) == src.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile):
        return False


def precompressed(root: Path, rel: str) -> Path | None:
    """Return the gzipped copy of served file ``rel`` under ``root``, if one holds its bytes.

    The check (decompress and compare) runs once per file and version (its size and mtime).
    """
    src = root / rel
    if src.suffix not in PRECOMPRESSED_SUFFIXES:
        return None
    gz = gz_path(src)
    try:
        a, b = src.stat(), gz.stat()
    except OSError:
        return None
    return (
        gz if _same_content(src, gz, (a.st_size, a.st_mtime_ns, b.st_size, b.st_mtime_ns)) else None
    )


def missing_vendor(root: Path | None = None) -> list[str]:
    """Return the served npm packages that lack a file of :data:`VENDOR_FILES` under ``root``.

    Parameters
    ----------
    root
        The vendor folder to check; default :func:`vendor_root`.
    """
    root = vendor_root() if root is None else root
    return [
        pkg
        for pkg, files in VENDOR_FILES.items()
        if not all((root / pkg / rel).is_file() for rel in files)
    ]


def locked_versions(lock_file: Path = WEB / "package-lock.json") -> dict[str, str]:
    """Return the version ``package-lock.json`` pins for each served npm package."""
    packages = json.loads(lock_file.read_text(encoding="utf-8"))["packages"]
    return {pkg: packages[f"node_modules/{pkg}"]["version"] for pkg in VENDOR_FILES}


def installed_versions(root: Path) -> dict[str, str | None]:
    """Return the version of each served npm package found under ``root`` (None when absent)."""
    found: dict[str, str | None] = {}
    for pkg in VENDOR_FILES:
        manifest = root / pkg / "package.json"
        try:
            found[pkg] = json.loads(manifest.read_text(encoding="utf-8")).get("version")
        except (OSError, ValueError):
            found[pkg] = None
    return found


if __name__ == "__main__":  # scripts/setup: python web/assets.py --precompress [FOLDER]
    import sys

    if sys.argv[1:2] != ["--precompress"]:
        sys.exit("usage: python web/assets.py --precompress [FOLDER]")
    done = precompress(Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    print(f"gzipped {len(done)} browser-library files")
