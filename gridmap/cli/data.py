"""``gridmap import`` and ``gridmap export``: files in and out of one layer."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gridmap.cli.common import Progress, Subparsers, add_reader_options, parse_bbox, reader
from gridmap.errors import InputError


def cmd_import(args: argparse.Namespace) -> None:
    """Import a file into one layer, in one transaction."""
    from gridmap.io.importer import erased_personal_columns, load_file
    from gridmap.service.metric import metric_crs
    from gridmap.service.relocate import PLACED_LAYERS, refigure
    from gridmap.store import open_workspace

    PLACING_LAYERS = ("grids", *PLACED_LAYERS)

    ws = open_workspace(args.workspace)
    reference = None
    if args.detect:
        streets = ws.read("streets")
        reference = streets.geometry if len(streets) else ws.read("buildings").geometry
    area = ws.area() if ws.count("buildings") or ws.count("community") else None
    result = load_file(
        args.file,
        args.layer,
        crs=args.crs,
        encoding=args.encoding,
        area=area,
        reference=reference,
        file_layer=args.file_layer,
    )
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.replace and not args.force:
        erased = erased_personal_columns(ws.read(args.layer), result.frame, args.layer)
        if erased:
            raise InputError(
                f"--replace would erase the personal data in {', '.join(erased)}: the file has none "
                "there. Import a file that has them, or add --force if erasing is intended."
            )
    action = f"import {Path(args.file).name} ({'replace' if args.replace else 'append'})"
    with ws.transaction(user=args.user, action=action) as tx:
        if args.replace:
            n = tx.replace(args.layer, result.frame)
        else:
            n = len(tx.append(args.layer, result.frame))
        moved = None
        if args.layer in PLACING_LAYERS:  # grid codes and figures follow, in the same commit
            moved = refigure(tx, metric_crs=metric_crs(ws), region=None)
    print(
        f"{'Replaced' if args.replace else 'Appended'} {n} row(s) in '{args.layer}' "
        f"(format {result.format}, encoding {result.encoding_used or '-'}, coordinates {result.crs_used or '-'})."
    )
    if moved is not None:
        codes = ", ".join(f"{k} {v}" for k, v in moved.codes.items() if v) or "none"
        print(f"Grid codes recomputed (changed: {codes}); figures of {len(moved.figures)} grid(s).")


def cmd_export(args: argparse.Namespace) -> None:
    """Export one layer (or the part of it asked for) to a file."""
    from gridmap.errors import PermissionDeniedError
    from gridmap.io.export_notes import left_out
    from gridmap.schema import get_layer
    from gridmap.service import scope
    from gridmap.service.filters import parse_grids
    from gridmap.service.jobs import Selection, export_file
    from gridmap.store import open_workspace

    ws = open_workspace(args.workspace)
    get_layer(args.layer)  # an unknown layer first
    access = reader(ws, args, shows=[args.layer], grids=parse_grids(args.grids), what="export")
    try:
        scope.require(access, args.layer)
    except PermissionDeniedError as exc:
        if args.as_user or args.role:
            raise
        raise PermissionDeniedError(
            f"Without --personal, '{args.layer}' is exported as masked readers see it: {exc} "
            f"Export the rows with --personal (recorded in the access log)."
        ) from exc
    progress = Progress(getattr(args, "quiet", False))
    path = export_file(
        ws,
        args.layer,
        args.output,
        fmt=args.format,
        lang=args.lang,
        bbox=parse_bbox(args.bbox),
        selection=Selection.of(args.where or (), args.grids, args.ids),
        access=access,
        progress=lambda fraction, en, zh: progress(
            f"{zh if args.lang == 'zh-CN' else en} ({fraction:.0%})"
        ),
    )
    masked = bool(left_out(args.layer, access))
    note = ", personal data masked" if masked else ""
    print(f"Exported '{args.layer}' to {path} ({path.stat().st_size:,} bytes{note}).")


def add_commands(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``import`` and ``export`` to the ``gridmap`` command."""
    p = sub.add_parser(
        "import",
        parents=parents,
        help="import a file into a layer (GeoJSON, GPKG, SHP/zip, KML, CSV, XLSX)",
    )
    p.add_argument("workspace")
    p.add_argument("layer")
    p.add_argument("file")
    p.add_argument(
        "--crs",
        help="coordinates of the file: EPSG:n, wgs84, cgcs2000, gcj02 or bd09 (default: detect)",
    )
    p.add_argument("--encoding", help="text encoding: utf-8 or gbk (default: detect)")
    p.add_argument("--replace", action="store_true", help="replace the layer instead of appending")
    p.add_argument(
        "--force", action="store_true", help="replace even if personal data would be erased"
    )
    p.add_argument("--file-layer", help="layer inside a multi-layer file (GeoPackage)")
    p.add_argument(
        "--no-detect",
        dest="detect",
        action="store_false",
        help="do not test for GCJ-02/BD-09 shifted coordinates",
    )
    p.add_argument("--user", default="cli", help="name recorded in the audit log")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "export", parents=parents, help="export a layer (GeoJSON, GeoPackage, CSV, XLSX, Shapefile)"
    )
    p.add_argument("workspace")
    p.add_argument("layer")
    p.add_argument(
        "-f",
        "--format",
        choices=["geojson", "gpkg", "csv", "xlsx", "shp"],
        help="default: from the file extension",
    )
    p.add_argument("-o", "--output", required=True)
    p.add_argument(
        "--lang", choices=["en", "zh-CN"], default="en", help="column titles of CSV/XLSX"
    )
    p.add_argument("--bbox", help="only features meeting minlon,minlat,maxlon,maxlat")
    p.add_argument("--grids", help="only what belongs to these grids: CODE[,CODE…]")
    p.add_argument(
        "--where",
        action="append",
        metavar="COLUMN=VALUE",
        help="only rows meeting a condition (=, !=, <, <=, >, >=, ~ contains); repeatable",
    )
    p.add_argument("--ids", help="only these feature ids, as the reader is served them: ID[,ID…]")
    add_reader_options(p, "export", personal=True)
    p.set_defaults(func=cmd_export)
