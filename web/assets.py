"""Static files with content-hash URLs, and the npm packages the browser code uses.

Browser libraries (Leaflet, Leaflet-Geoman) come from ``web/node_modules``, installed by npm from
``web/package-lock.json``; nothing is loaded from a CDN. URLs carry a short content hash so that
browsers may cache them for long and still see a new version at once.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

WEB = Path(__file__).resolve().parent
STATIC = WEB / "static"
NODE_MODULES = WEB / "node_modules"
#: npm packages whose files the app serves under /vendor/.
VENDOR_PACKAGES = ("leaflet", "@geoman-io/leaflet-geoman-free")


@lru_cache(maxsize=512)
def _digest(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


def content_hash(path: Path) -> str:
    """Return a short hash of a file's bytes (cached until the file changes)."""
    return _digest(path, path.stat().st_mtime_ns)


def vendor_allowed(filename: str) -> bool:
    """Return whether ``filename`` (relative to node_modules) belongs to a served package."""
    return any(filename.startswith(pkg + "/") for pkg in VENDOR_PACKAGES) and ".." not in filename


def missing_vendor() -> list[str]:
    """Return the served npm packages that are not installed."""
    return [pkg for pkg in VENDOR_PACKAGES if not (NODE_MODULES / pkg / "package.json").exists()]
