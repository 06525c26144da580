#!/usr/bin/python3
"""Load the served OGC API layers in QGIS, headless, and check that 64-bit ids arrive whole.

Run by hand with Debian's Python, which has QGIS (``apt-get install python3-qgis``), not in CI
(QGIS is a large install):

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 scripts/check_qgis_oapif.py WORKSPACE.gpkg

It serves the workspace with this checkout's venv on a free port, opens streets and facilities
through QGIS's own OAPIF provider and through its "ogr" provider (GDAL's OAPIF driver), and
compares u, v and osm_id with the values in the file.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVE = """
import logging, sys, waitress
from web.app import create_app
logging.getLogger("waitress.queue").setLevel(logging.ERROR)
waitress.serve(create_app({"WORKSPACE": sys.argv[1]}), host="127.0.0.1", port=int(sys.argv[2]))
"""
CHECKS = (("streets", "u"), ("streets", "v"), ("facilities", "osm_id"))


def main() -> None:
    from qgis.core import QgsApplication, QgsDataSourceUri, QgsVectorLayer

    workspace = sys.argv[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/python"), "-c", SERVE, workspace, str(port)], cwd=ROOT
    )
    base = f"http://127.0.0.1:{port}/ogc"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/conformance", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        app = QgsApplication([], False)
        app.initQgis()
        db = sqlite3.connect(workspace)
        for layer, column in CHECKS:
            truth = sorted(
                r[0]
                for r in db.execute(f'SELECT "{column}" FROM "{layer}" WHERE "{column}" NOT NULL')
            )
            big = sum(v > 2**31 - 1 for v in truth)
            uri = QgsDataSourceUri()
            uri.setParam("url", base)
            uri.setParam("typename", layer)
            for provider, source in (
                ("OAPIF", uri.uri()),
                ("ogr", f"OAPIF:{base}|layername={layer}"),
            ):
                lyr = QgsVectorLayer(source, layer, provider)
                if not lyr.isValid():
                    print(f"{provider:5} {layer}.{column}: layer not valid")
                    continue
                field = lyr.fields().field(column)
                got = sorted(int(v) for f in lyr.getFeatures() if not _null(v := f[column]))
                wrong = sum(a != b for a, b in zip(got, truth, strict=False))
                print(
                    f"{provider:5} {layer}.{column}: QGIS type {field.typeName()}, "
                    f"{len(got)} values ({big} above 2^31 in the file), whole: {got == truth}, "
                    f"{wrong} differ, {sum(v < 0 for v in got)} negative"
                )
        app.exitQgis()
    finally:
        server.terminate()
        server.wait(timeout=10)


def _null(value: object) -> bool:
    return value is None or (hasattr(value, "isNull") and value.isNull())  # QVariant NULL


if __name__ == "__main__":
    main()
