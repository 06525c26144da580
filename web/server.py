"""Serve a workspace with waitress, a production WSGI server in pure Python."""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from pathlib import Path

from gridmap.errors import GridmapError
from gridmap.store import GeoPackageWorkspace, Workspace, open_workspace
from web import assets
from web.app import create_app
from web.tiles import parse_tiles


def _check_port(host: str, port: int) -> None:
    """Raise a clear error when ``host:port`` cannot be listened on (busy, or not ours)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise GridmapError(
                f"Cannot listen on {host}:{port} ({exc.strerror}). Is gridmap already running "
                f"there? Stop it, or choose another port: --port {port + 1}."
            ) from exc


def lan_warning(host: str, *, proxy: bool) -> str | None:
    """Return the warning for serving beyond this machine without HTTPS in front, if any."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback or proxy:
        return None
    return (
        f"gridmap: warning: serving {host} to other machines over plain HTTP: passwords, "
        "sessions and personal data cross the network unencrypted. Put an HTTPS reverse proxy "
        "(nginx, Caddy) in front and start gridmap with --proxy; see docs/admin.md. "
        "(警告：以明文 HTTP 向局域网提供服务，密码与个人信息未加密；请在前面部署 HTTPS 反向代理并使用 --proxy。)"
    )


def serve(
    workspace: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    tiles: str = "",
    proxy: bool = False,
) -> None:
    """Serve ``workspace`` on ``host:port`` until interrupted.

    ``proxy``: an HTTPS reverse proxy is in front, on this machine; trust its
    ``X-Forwarded-Proto`` / ``-Host`` / ``-For`` (one hop) and send session cookies only over
    HTTPS.
    """
    import waitress

    missing = assets.missing_vendor()
    if missing:
        raise GridmapError(
            f"Browser libraries are missing ({', '.join(missing)}): run `npm ci` in web/ (scripts/setup does it)."
        )
    _check_port(host, port)
    ws = open_workspace(Path(workspace))
    if isinstance(ws, GeoPackageWorkspace):  # readers (server threads, QGIS) never block a commit
        ws.journal_mode("wal")
    config: dict[str, object] = {"WORKSPACE": ws, "TILES": parse_tiles(tiles)}
    if proxy:
        config["SESSION_COOKIE_SECURE"] = True
    app = create_app(config)
    if proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    warning = lan_warning(host, proxy=proxy)
    if warning:
        print(warning, flush=True)
    server = waitress.create_server(app, host=host, port=port, threads=8, ident="gridmap")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(
        f"gridmap: serving {workspace} at http://{shown}:{port}/  (OGC API: http://{shown}:{port}/ogc)",
        flush=True,
    )
    print("Press Ctrl+C to stop.", flush=True)
    try:
        server.run()
    finally:
        server.close()
        _seal(ws)


def _seal(ws: Workspace) -> None:
    """Leave a GeoPackage as one portable file again, when no other program has it open.

    The server's worker threads may still finish a request for a moment after it stops: try
    for up to two seconds, closing their connections each time.
    """
    if not isinstance(ws, GeoPackageWorkspace):
        return
    try:
        for attempt in range(10):
            ws.close()  # every connection of ours first: switching needs the file to itself
            try:
                ws.journal_mode("delete")
                return
            except GridmapError:
                if attempt == 9:
                    print(
                        f"gridmap: {ws.path.name} stays in WAL mode (another program has it "
                        "open); its -wal and -shm files belong with it until that program "
                        "closes it.",
                        flush=True,
                    )
                else:
                    time.sleep(0.2)
    finally:
        ws.close()
