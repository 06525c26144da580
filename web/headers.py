"""Security headers on every reply, and ``Cache-Control: private, no-store`` on personal ones.

Every reply gets ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``,
``X-Frame-Options: DENY`` and a Content-Security-Policy (:func:`content_security_policy`)
that allows no inline script: scripts, styles, fonts and fetches come from this server only,
images also from ``data:``/``blob:`` URLs and the hosts of the online tile layers the admin
turned on (``app.config["TILES"]``), and nothing may frame a page, load plugins, change the base
URL or post a form elsewhere.

Two inline blocks are the templates' own and allowed by their SHA-256 hash, computed from the
page as it was rendered: the map page's ``<script type="importmap">`` (it maps each module to
its content-hashed URL, so it changes with the files) and the error page's ``<style>`` (that
page loads nothing, so that it draws even when static files are what failed). Only blocks in
the page's ``<head>`` count, and never a classic inline script.

A view (or a service through its view) marks a reply that carries personal data with
:func:`mark_personal` (``g.personal = True``): register layers, exports of them, and the
files of jobs that hold them. Such replies, and those of routes only an admin may call, get
``Cache-Control: private, no-store``: no browser or proxy keeps a copy.

The cache rules live here too, in one place: files whose URL carries their content hash
(``?v=``, :mod:`web.assets`) are :data:`IMMUTABLE`; API replies carry an ETag (the
workspace's stamp, who asks and the query) and :data:`REVALIDATE`, so that a browser asks each
time and gets a 304 when its copy is current (:func:`etag_current`, :func:`revalidated`);
personal replies are kept nowhere (above).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request

from gridmap.access.roles import ADMIN, REGISTER_LAYERS
from gridmap.errors import LayerNotFoundError
from gridmap.schema import get_layer
from web.auth import route_roles

#: The Cache-Control of a reply that carries personal data.
PERSONAL_CACHE_CONTROL = "private, no-store"
#: The Cache-Control of a file whose URL names its content hash (``?v=``): it never changes.
IMMUTABLE = "public, max-age=31536000, immutable"
#: The Cache-Control of an API reply with an ETag: the browser keeps it and asks each time (a
#: 304); no shared cache keeps it, since what a reply holds depends on who asks.
REVALIDATE = "private, no-cache"
#: URL prefixes of the files served under content-hashed URLs.
HASHED_PREFIXES = ("/static/", "/vendor/")

_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.IGNORECASE | re.DOTALL)
_IMPORTMAP = re.compile(r"""\btype\s*=\s*["']?importmap["']?""", re.IGNORECASE)
_SRC = re.compile(r"\bsrc\s*=", re.IGNORECASE)


def init_app(app: Flask) -> None:
    """Add the security headers to every reply of ``app``."""
    app.after_request(add_headers)


def mark_personal() -> None:
    """Mark this request's reply as carrying personal data (``private, no-store``)."""
    g.personal = True


def is_personal_layer(name: str) -> bool:
    """Return whether replies with rows of layer ``name`` carry personal data (unknown: no)."""
    try:
        return name in REGISTER_LAYERS or get_layer(name).has_personal_data
    except LayerNotFoundError:
        return False


def add_headers(resp: Response) -> Response:
    """Set the security headers on ``resp`` (an ``after_request`` hook)."""
    hashes = inline_hashes(resp) if resp.mimetype == "text/html" else ([], [])
    tiles: list[Mapping[str, Any]] = current_app.config.get("TILES") or []
    resp.headers["Content-Security-Policy"] = content_security_policy(
        scripts=hashes[0], styles=hashes[1], image_hosts=tile_hosts(tiles)
    )
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers["X-Frame-Options"] = "DENY"
    if personal_reply():
        resp.headers["Cache-Control"] = PERSONAL_CACHE_CONTROL
    elif hashed_file(resp):
        resp.headers["Cache-Control"] = IMMUTABLE
    return resp


def hashed_file(resp: Response) -> bool:
    """Return whether ``resp`` is a file served under a content-hashed URL (``?v=``)."""
    return (
        resp.status_code in (200, 304)
        and request.path.startswith(HASHED_PREFIXES)
        and bool(request.args.get("v"))
    )


def etag_current(etag: str) -> bool:
    """Return whether the request's If-None-Match names ``etag`` (or its gzipped twin): the
    caller's copy is current and the reply is a 304."""
    match = request.if_none_match
    return etag in match or f"{etag}-gz" in match


def revalidated(resp: Response, etag: str) -> Response:
    """Give an API reply its ETag and :data:`REVALIDATE` (personal replies: no-store, above)."""
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = REVALIDATE
    return resp


def personal_reply() -> bool:
    """Return whether this request's reply carries personal data (or is an admin route's)."""
    if g.get("personal"):
        return True
    if request.endpoint is None:
        return False
    roles = route_roles(current_app, request.endpoint)
    return roles is not None and roles <= {ADMIN}


def content_security_policy(
    *, scripts: Iterable[str] = (), styles: Iterable[str] = (), image_hosts: Iterable[str] = ()
) -> str:
    """Return the Content-Security-Policy of a reply.

    Parameters
    ----------
    scripts, styles
        ``sha256-…`` sources of the page's own inline import map and style blocks.
    image_hosts
        Origins (``https://host``) images may also come from: the online tile layers.
    """
    script_src = " ".join(["'self'", *(f"'{h}'" for h in scripts)])
    style_src = " ".join(["'self'", *(f"'{h}'" for h in styles)])
    img_src = " ".join(["'self'", "data:", "blob:", *image_hosts])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {script_src}",
            f"style-src {style_src}",
            f"img-src {img_src}",
            "font-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )


def tile_hosts(tiles: Iterable[Mapping[str, Any]]) -> list[str]:
    """Return the origins of the tile layers' URL templates (``{s}`` becomes ``*``)."""
    found: list[str] = []
    for tile in tiles:
        parts = urlsplit(str(tile.get("url", "")))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            continue
        host = re.sub(r"\{[^}]*\}", "*", parts.netloc)
        origin = f"{parts.scheme}://{host}"
        if origin not in found:
            found.append(origin)
    return found


def inline_hashes(resp: Response) -> tuple[list[str], list[str]]:
    """Return the CSP sources of the import maps and style blocks in the ``<head>`` of a page."""
    if resp.direct_passthrough:
        return [], []
    body = resp.get_data()
    if resp.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return _hashes(body.decode("utf-8", errors="replace"))


def _hashes(page: str) -> tuple[list[str], list[str]]:
    found = _HEAD_END.search(page)
    if found is None:
        return [], []
    head = page[: found.start()]
    scripts = [
        _sha256(text)
        for attrs, text in _SCRIPT.findall(head)
        if _IMPORTMAP.search(attrs) and not _SRC.search(attrs)
    ]
    styles = [_sha256(text) for text in _STYLE.findall(head)]
    return scripts, styles


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")
