"""The HTML pages and the files they load: the map page, the browser libraries, asset URLs.

Every HTML page has a JSON twin, the same content for programs: :func:`html_page` registers a
page with the endpoint of its twin, and the page names the twin's URL in a
``Link: <…>; rel="alternate"; type="application/json"`` header and a matching ``<link>``
element (``json_twin`` in the template). :data:`JSON_TWINS` lists them; a test checks each.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Iterable
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    send_from_directory,
    url_for,
)

from web import assets
from web.auth import EVERYONE, access, allow
from web.common import choose_lang

bp = Blueprint("pages", __name__)

#: Endpoint of each HTML page → endpoint of its JSON twin.
JSON_TWINS: dict[str, str] = {}

View = Callable[..., Any]


def html_page(
    rule: str, *, twin: str, roles: Iterable[str], blueprint: Blueprint | None = None
) -> Callable[[View], View]:
    """Register a GET view of an HTML page whose JSON twin is the endpoint ``twin``.

    The view receives the twin's URL as the keyword argument ``json_twin`` and returns the
    page's HTML (or a reply, such as a redirect); the reply gets the ``Link`` header that names
    the twin. ``roles`` may call it (:func:`web.auth.allow`); ``blueprint`` is this module's
    unless given.
    """
    owner = blueprint or bp

    def register(view: View) -> View:
        endpoint = f"{owner.name}.{view.__name__}"
        JSON_TWINS[endpoint] = twin

        def page(**kwargs: Any) -> Response:
            twin_url = url_for(twin)
            resp = make_response(view(json_twin=twin_url, **kwargs))
            resp.headers["Link"] = f'<{twin_url}>; rel="alternate"; type="application/json"'
            return resp

        page.__name__ = view.__name__
        page.__doc__ = view.__doc__
        owner.get(rule)(allow(roles)(page))
        return view

    return register


@html_page("/", twin="api.workspace_doc", roles=EVERYONE)
def map_page(json_twin: str) -> Any:
    """The map: the layers the caller may read, drawn by the browser code from the JSON twin.

    Nobody signed in and no layer opened to the public: the sign-in page instead.
    """
    who = access()
    if not who.signed_in and not who.public_layers:
        return redirect(url_for("login.login_page", next=request.full_path.rstrip("?")))
    return render_template("map.html", lang=choose_lang(), json_twin=json_twin, who=who)


@bp.get("/vendor/<path:filename>")
@allow(EVERYONE)
def vendor(filename: str) -> Response:
    """A file of a browser library installed by npm (web/node_modules); nothing else.

    JavaScript and CSS go gzipped to a browser that accepts it, from the copy gzipped ahead
    of time (:func:`web.assets.precompressed`); their cache rules are those of
    :mod:`web.headers` (immutable under a ``?v=`` URL).
    """
    if not assets.vendor_allowed(filename):
        abort(404)
    gz = None
    if "gzip" in request.accept_encodings:
        gz = assets.precompressed(assets.NODE_MODULES, filename)
    if gz is None:
        resp = send_from_directory(assets.NODE_MODULES, filename, max_age=None)
    else:
        media = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        resp = send_file(gz, mimetype=media, conditional=True, etag=True, max_age=None)
        resp.headers["Content-Encoding"] = "gzip"
    if filename.endswith(assets.PRECOMPRESSED_SUFFIXES):
        resp.vary.add("Accept-Encoding")
    return resp


def asset_url(path: str) -> str:
    """Return the URL of a file under web/static with a content-hash query."""
    return url_for("static", filename=path, v=assets.content_hash(assets.STATIC / path))


def vendor_url(path: str) -> str:
    """Return the URL of a file of an npm package under web/node_modules."""
    return url_for("pages.vendor", filename=path, v=assets.content_hash(assets.NODE_MODULES / path))


def js_modules() -> list[str]:
    """Return the names of the map page's ES modules (``web/static/js/*.js``), for its import map."""
    return sorted(p.stem for p in (assets.STATIC / "js").glob("*.js"))


def tool_files(folder: str, suffix: str) -> list[str]:
    """Return the hashed URLs of the workbench tools' own files in ``web/static/<folder>``
    (``i18n/tools`` strings, ``css/tools`` styles), in name order."""
    return [
        asset_url(f"{folder}/{p.name}") for p in sorted((assets.STATIC / folder).glob(f"*{suffix}"))
    ]


@bp.app_context_processor
def template_helpers() -> dict[str, Any]:
    """Give every template ``asset(path)``, ``vendor(path)``, ``js_modules()`` and ``tool_files()``."""
    return {
        "asset": asset_url,
        "vendor": vendor_url,
        "js_modules": js_modules,
        "tool_files": tool_files,
    }
