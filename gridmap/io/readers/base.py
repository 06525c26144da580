"""What every reader shares: :class:`ReadInfo`, the reader signature, choosing a layer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj

from gridmap.errors import InputError
from gridmap.io.readers.archive import ArchiveLimits

__all__ = ["ReadInfo", "Reader", "UncomputedCell", "choose_layer"]


@dataclass(frozen=True)
class UncomputedCell:
    """A spreadsheet cell read as empty: a formula never calculated, or an error value."""

    row: int  # 1-based sheet row, as the frame's index
    cell: str  # "C5"
    formula: str  # "=B5*2" ("" for an error typed in)
    error: str | None = None  # "#DIV/0!" when the cell holds an error value


@dataclass
class ReadInfo:
    """What :func:`gridmap.io.readers.read_table` found out about a file.

    ``encoding`` is the text encoding used (None where the format has none to choose, as XLSX);
    ``crs`` the coordinate system the file declares (None if it declares none: CSV, XLSX,
    GeoJSON without a ``crs`` member, Shapefile without .prj); ``geometry_columns`` the CSV/XLSX
    columns the geometry was built from; ``notes`` things worth telling the user;
    ``missing_parts`` optional parts of the file that are absent (``".prj"``, ``".cpg"`` of a
    shapefile); ``uncomputed`` per column, the spreadsheet cells holding formulas whose value
    was never calculated, or error values (read as empty); ``limits`` the caps an archive (.zip,
    .xlsx) is read under.
    """

    path: Path
    format: str
    encoding: str | None = None
    crs: pyproj.CRS | None = None
    layer: str | None = None
    layers: list[str] = field(default_factory=list)
    geometry_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing_parts: list[str] = field(default_factory=list)
    uncomputed: dict[str, list[UncomputedCell]] = field(default_factory=dict)
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)


#: A format's reader: (path, info, encoding, layer name, preferred layer) -> frame.
Reader = Callable[
    [Path, ReadInfo, str | None, str | None, str | None], gpd.GeoDataFrame | pd.DataFrame
]


def choose_layer(
    names: list[str], layer_name: str | None, prefer: str | None, source: str, what: str
) -> str:
    """Return the layer (sheet, folder, shapefile) to read: the named one, the only one, or
    ``prefer``; raise InputError listing them when the choice is not clear."""
    listed = ", ".join(names)
    if layer_name is not None:
        if layer_name not in names:
            raise InputError(
                f"The file has no {what} '{layer_name}'. Its {what}s: {listed}.", source=source
            )
        return layer_name
    if len(names) == 1:
        return names[0]
    if prefer is not None and prefer in names:
        return prefer
    if not names:
        raise InputError(f"The file holds no {what}s.", source=source)
    raise InputError(
        f"The file holds several {what}s: {listed}. Say which one to import.", source=source
    )
