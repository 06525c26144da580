"""Personal data: what each reader sees of a layer, and the masked view for everyone else.

Readers whose :func:`gridmap.access.roles.read_level` is FULL or OWN see a layer as it is
stored. Readers at level MASKED (planners, patrol leads and analysts on the register) get the
*masked view* of :data:`VIEWS`: not the stored row with its personal columns starred out, but a
short list of columns chosen so that nothing masked can be rebuilt from what stays (docs/privacy.md
has the measurements). :func:`served_layer` says which columns a reader gets and their served
types; :func:`present` turns stored rows into exactly those columns. Masking happens before data
leaves gridmap: in the web API, the OGC API, exports and printed sheets.

The masked views, in short:

``households``
    Building, grid and the building's address (no unit, no room), at the building's point.
    No household id (it numbers the rooms), head, phone, members, rented home or category.
``people``
    No rows at all: per-grid figures (:mod:`gridmap.service.figures`) answer what rows would.
``visits``
    Grid, worker, time and outcome; the category only as routine or ``***``. No household, no
    place on the map (a visit at a building would tell which building holds a household of
    the six categories), no visit id, no note.
``incidents``
    Everything but the description.

Each view is an allow-list: a column added to a layer later stays out of the masked view until
it is named here. Every masked view also serves opaque feature ids instead of the stored ones,
and its rows in their order (:func:`opaque_ids`, :mod:`gridmap.access.ids`): the stored ids run
in the order the register was written, household by household. :func:`masked_text` and
:func:`logged_value` keep what users type (filters, searches) masked in the access log.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd

from gridmap.access.counts import SMALL_COUNT, SMALL_TEXT, shown_count
from gridmap.access.roles import Access, Level, may_write, read_level
from gridmap.errors import PermissionDeniedError
from gridmap.schema import Column, Layer, get_layer

MASK = "***"

#: Stored columns a masked view keeps besides its own: the feature version, for readers who
#: may write the layer (a patrol lead edits incidents and sends it back as If-Match). The edit
#: time and editor are left out: they would tie a household's edit to a worker's visit.
VERSION_COLUMN = "version"


def mask_text(value: Any, column: str) -> Any:
    """Return a masked form of one personal text value (None stays None).

    ID numbers keep the province (2 digits) and the check character only
    (``32***************X``): region, birth date and sequence digits together narrow a person
    down to a few dozen candidates. Phones keep 3 + 4 digits, names the surname.
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value)
    if column == "id_number" and len(text) >= 10:
        return text[:2] + "*" * (len(text) - 3) + text[-1:]
    if "phone" in column and len(text) >= 7:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    if column.endswith("name") and text:
        return text[0] + "*" * max(1, len(text) - 1)
    return MASK


#: ID numbers (17 digits and a check digit or X) and phone numbers (a mobile, with or without
#: +86; a landline with its area code) standing on their own in any text (not inside a code
#: such as H0265043743-008), and runs of 16 digits or more (longer than any code of gridmap's:
#: grid codes have 15).
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_LONG_DIGITS = re.compile(r"(?<!\d)\d{16,}(?!\d)")
_MOBILE = re.compile(r"(?<![0-9A-Za-z+])(?:\+?86[-\s]?)?1[3-9]\d{9}(?![0-9A-Za-z])")
_LANDLINE = re.compile(r"(?<![0-9A-Za-z])0\d{2,3}[-\s]?\d{7,8}(?![0-9A-Za-z])")


def masked_text(text: str) -> str:
    """Return ``text`` with every ID number and phone number in it masked by :func:`mask_text`.

    For what users type that is kept (the access log's search queries and filter values):
    ``身份证 32010219500102123X`` becomes ``身份证 32***************X``, ``13812345678``
    ``138****5678``. Grid and community codes (15 and 12 digits) stay as they are.
    """
    text = _ID_NUMBER.sub(lambda m: mask_text(m.group(0), "id_number"), text)
    text = _LONG_DIGITS.sub(lambda m: mask_text(m.group(0), "id_number"), text)
    text = _MOBILE.sub(lambda m: mask_text(m.group(0), "phone"), text)
    return _LANDLINE.sub(lambda m: mask_text(m.group(0), "phone"), text)


def logged_value(layer: str | Layer, column: str, value: str) -> str:
    """Return a value typed for ``column`` of ``layer`` as the access log keeps it.

    On a personal column (names, ID numbers, phones, the six flags, free text) the value is
    masked as :func:`mask_text` masks it (an ID number keeps its province and check
    character, a name its surname, anything else becomes ``***``); on any other column ID and
    phone numbers inside it are masked (:func:`masked_text`) and the rest is kept.
    """
    schema = layer if isinstance(layer, Layer) else get_layer(layer)
    found = {c.name: c for c in schema.columns}.get(column)
    if found is not None and (found.personal or found.personal_values):
        return str(mask_text(value, column)) if value else value
    return masked_text(value)


#: Where the unit or room part of an address starts: "1单元", "502室", "3层", "12户", "Room 5",
#: or a "2-3-502" building-unit-room triple.
_UNIT_OR_ROOM = re.compile(
    r"\d+\s*(?:单元|楼层|层|室|户|号房|房)|(?:room|unit|flat|apt)\b|\d+\s*[-－—]\s*\d+",
    re.IGNORECASE,
)
_TRAILING = re.compile(r"[\s\d\-－—_/#,，.。]+$")


def building_address(value: Any) -> str | None:
    """Return an address cut to its building: unit, floor and room removed.

    ``凯润金城6栋1单元101室`` becomes ``凯润金城6栋``. Whatever follows the first unit, floor or
    room marker goes, and so do digits left at the end (``长江路23号502`` → ``长江路23号``): an
    address the rules cannot read comes out coarser, never finer. None or nothing left → None.
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    found = _UNIT_OR_ROOM.search(text)
    if found:
        text = text[: found.start()]
    text = _TRAILING.sub("", text).strip()
    return text or None


def visit_category(value: Any) -> str | None:
    """Return a visit category as the masked view serves it: ``routine`` or ``***``."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return "routine" if value == "routine" else MASK


@dataclass(frozen=True)
class Coarsened:
    """A column the masked view serves coarsened: its served values and what they mean."""

    values: Callable[[Any], Any]
    doc: str
    choices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class MaskedView:
    """What the masked view of one layer serves, and why each other column is left out.

    ``keep`` columns are served as stored, ``coarsen`` ones through their function (as text,
    marked personal so that nothing filters or sorts on them); every other column is dropped,
    ``dropped`` says why for the columns of today's schema. ``rows`` False: the view has no
    rows. ``geometry`` False: the rows have no place on the map. Every masked view serves
    opaque ids instead of the stored feature ids, and its rows in their order
    (:mod:`gridmap.access.ids`).
    """

    keep: tuple[str, ...]
    coarsen: dict[str, Coarsened] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    rows: bool = True
    geometry: bool = True
    note: str = ""
    #: Columns of register counts (households per building): for a reader who may not count
    #: every grid's register (:func:`gridmap.access.counts.exact_counts`: a grid worker, an
    #: anonymous reader) served as text, 1 to 4 as ``<5`` outside the reader's own grids
    #: (the row's ``grid_code``), as the blocks' and the checks' counts are.
    small_counts: tuple[str, ...] = ()


_FLAGS = "one of the six visit categories: hidden, and migrant/veteran too, else a hidden one shows by elimination"

#: The masked view of every register layer (see the module docstring and docs/privacy.md).
VIEWS: dict[str, MaskedView] = {
    "households": MaskedView(
        keep=("building_osm_id", "grid_code", "source"),
        coarsen={
            "address": Coarsened(
                building_address, "the building only: unit, floor and room removed"
            )
        },
        dropped={
            "household_id": "numbers the households of a building in room order: the room",
            "head_name": "a name",
            "phone": "a phone number",
            "members": "members = 1 and an old head is an elderly person living alone",
            "rented": "rented homes are migrants' homes, never an elderly person's alone (AUC 0.62)",
            "rental_score": "given only for rented homes: the same as rented",
            "hardship": _FLAGS,
            "elderly_alone": _FLAGS,
            "disabled": _FLAGS,
            "migrant": _FLAGS,
            "veteran_party_member": _FLAGS,
            "assisted": _FLAGS,
        },
        note="Masked view: one row per household at its building; no household details.",
    ),
    "people": MaskedView(
        keep=(),
        rows=False,
        dropped={
            "person_id": "no rows",
            "household_id": "no rows",
            "name": "no rows",
            "id_number": "no rows",
            "gender": "no rows",
            "birth_date": "no rows",
            "phone": "no rows",
            "relation": "no rows",
            "registered_here": "no rows",
            "arrived": "no rows",
            "hardship": "no rows",
            "elderly_alone": "no rows",
            "disabled": "no rows",
            "migrant": "no rows",
            "veteran_party_member": "no rows",
            "assisted": "no rows",
            "source": "no rows",
        },
        note="Masked view: no rows. Per-grid figures (people by age band and gender, "
        "migrants, the six categories) come from the register figures instead.",
    ),
    "visits": MaskedView(
        keep=("grid_code", "worker", "visited_at", "outcome", "source"),
        coarsen={
            "category": Coarsened(
                visit_category,
                "routine, or *** for a visit of one of the six categories",
                choices=("routine", MASK),
            )
        },
        dropped={
            "visit_id": "numbered in the order of the households: would place the visit",
            "household_id": "ties a visit of the six categories to its household",
            "note": "free text about the household",
        },
        geometry=False,
        note="Masked view: when, where (grid) and how visits went; not which household.",
    ),
    "buildings": MaskedView(
        keep=(
            "osm_id",
            "name",
            "building",
            "levels",
            "levels_source",
            "height_m",
            "residential",
            "households",
            "households_source",
            "grid_code",
            "address",
            "source",
        ),
        dropped={
            "residents": "residents of a one-household building tell its size: with an old "
            "head, an elderly person living alone (AUC 0.56)",
        },
        small_counts=("households",),
        note="Masked view: residents per building are left out (households stay; 1 to 4 "
        "are '<5' for a reader who may not count the register there).",
    ),
    "incidents": MaskedView(
        keep=("incident_id", "occurred_at", "kind", "grid_code", "status", "source"),
        dropped={"description": "free text that may name the people involved"},
        note="Masked view: the description is left out.",
    ),
}


def _small_counts(view: MaskedView, access: Access) -> tuple[str, ...]:
    """The columns of ``view`` whose small counts ``access`` may not see in every grid."""
    if not view.small_counts or read_level(access, "households") in (Level.FULL, Level.MASKED):
        return ()
    return view.small_counts


def _shown_counts(rows: pd.DataFrame, columns: tuple[str, ...], access: Access) -> pd.DataFrame:
    """Return ``rows`` with the counts of ``columns`` as text, small ones ``<5`` where
    ``access`` may not count the register of the row's grid (no ``grid_code``: nowhere)."""
    grids = rows["grid_code"].tolist() if "grid_code" in rows.columns else [None] * len(rows)
    out = rows.copy()
    for name in columns:
        if name not in rows.columns:
            continue
        shown: list[str | None] = []
        for value, grid in zip(rows[name].tolist(), grids, strict=True):
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                shown.append(None)
                continue
            grid = None if grid is None or (not isinstance(grid, str) and pd.isna(grid)) else grid
            value = shown_count(value, access, [grid])
            shown.append(value if isinstance(value, str) else f"{float(value):g}")
        out[name] = pd.Series(shown, index=rows.index, dtype=object)
    return out


def _level(layer: Layer, access: Access) -> Level:
    level = read_level(access, layer.name)
    if level is Level.NONE:
        raise PermissionDeniedError(f"Your role ({access.role}) may not read layer '{layer.name}'.")
    return level


def _view(layer: Layer) -> MaskedView:
    """Return the masked view of ``layer``: its own, else one without any personal column."""
    if layer.name in VIEWS:
        return VIEWS[layer.name]
    return MaskedView(
        keep=tuple(
            c.name for c in layer.columns if not (c.personal or c.personal_values or c.references)
        )
    )


def _masked(layer: Layer, access: Access) -> MaskedView | None:
    """Return the masked view ``access`` gets of ``layer``, or None if it sees the layer as is."""
    if _level(layer, access) is not Level.MASKED:
        return None
    if not layer.has_personal_data and layer.name not in VIEWS:
        return None
    return _view(layer)


def opaque_ids(layer: str | Layer, access: Access) -> bool:
    """Return whether ``access`` is served opaque ids of ``layer`` instead of its feature ids.

    True for every masked view (households, people, visits, incidents, buildings, and the view
    of any layer with personal data added later): a stored id counts rows in the order they
    were written, which for the register is the order of the households (a visit's id names
    its household within a few ranks, a household's its room), and for any layer may follow a
    column the view hides. Those readers also get the rows in token order
    (:mod:`gridmap.access.ids`), and nothing they send names a feature by its stored id. Level
    NONE raises PermissionDeniedError.
    """
    schema = layer if isinstance(layer, Layer) else get_layer(layer)
    return _masked(schema, access) is not None


def has_opaque_ids(layer: str | Layer) -> bool:
    """Return whether some reader (a masked one) is served opaque ids of ``layer``."""
    schema = layer if isinstance(layer, Layer) else get_layer(layer)
    return schema.has_personal_data or schema.name in VIEWS


def served_layer(layer: str | Layer, access: Access) -> Layer:
    """Return ``layer`` as served to ``access``: its columns, with the types they are served in.

    Readers at level FULL or OWN get the layer as it is. The masked view keeps only the columns
    of its :class:`MaskedView`, in schema order; a coarsened column keeps its name, is served as
    text and stays ``personal=True`` so that nothing filters on it (its stored values would
    answer a filter the served ones cannot). A view without a place on the map has
    ``geometry=None`` (and ``located_by=None``): its rows are served without geometry, and a
    bounding box must not select them. Level NONE raises PermissionDeniedError.
    """
    schema = layer if isinstance(layer, Layer) else get_layer(layer)
    view = _masked(schema, access)
    if view is None:
        return schema
    columns: list[Column] = []
    small = _small_counts(view, access)
    for c in schema.columns:
        if c.name in small:
            columns.append(
                dataclasses.replace(
                    c,
                    type="str",
                    personal=True,
                    unit=None,
                    doc=f"a count; 1 to {SMALL_COUNT - 1} is '{SMALL_TEXT}' outside your grids",
                )
            )
        elif c.name in view.coarsen:
            how = view.coarsen[c.name]
            columns.append(
                dataclasses.replace(
                    c,
                    type="str",
                    personal=True,
                    personal_values=None,
                    choices=how.choices,
                    unit=None,
                    required=False,
                    references=None,
                    doc=how.doc,
                )
            )
        elif c.name in view.keep:
            columns.append(c)
    note = f"{schema.description} {view.note}".strip()
    return dataclasses.replace(
        schema,
        columns=tuple(columns),
        geometry=schema.geometry if view.geometry else None,
        located_by=schema.located_by if view.geometry and view.rows else None,
        description=note,
        key=schema.key if schema.key in view.keep else None,
    )


def serves_rows(layer: str | Layer, access: Access) -> bool:
    """Return whether ``access`` gets any rows of ``layer`` (False: the masked people view).

    A service may skip reading a layer whose served view has no rows. Level NONE raises
    PermissionDeniedError.
    """
    schema = layer if isinstance(layer, Layer) else get_layer(layer)
    view = _masked(schema, access)
    return view is None or view.rows


def present(frame: pd.DataFrame, layer: str | Layer, access: Access) -> pd.DataFrame:
    """Return stored rows of ``layer`` as ``access`` may see them (the columns of :func:`served_layer`).

    Parameters
    ----------
    frame
        Rows as read from the workspace: any subset of the layer's columns, the geometry (if
        any) in EPSG:4326, indexed by feature id. It is not changed.
    layer
        The layer (name or schema) the rows are of.
    access
        Who reads.

    Returns
    -------
    DataFrame
        For FULL and OWN, ``frame`` itself. For the masked view: exactly the served columns
        that ``frame`` holds (coarsened ones coarsened), plus ``version`` where ``access`` may
        write the layer, plus the geometry if the view has one (a GeoDataFrame in EPSG:4326);
        no rows at all if the view has none. The index (feature id) is kept.
    """
    schema = layer if isinstance(layer, Layer) else get_layer(layer)
    view = _masked(schema, access)
    if view is None:
        return frame
    served = [c.name for c in served_layer(schema, access).columns]
    names = [c for c in served if c in frame.columns]
    if VERSION_COLUMN in frame.columns and may_write(access, schema.name):
        names.append(VERSION_COLUMN)
    rows = frame if view.rows else frame.iloc[0:0]
    small = _small_counts(view, access)
    if small and any(c in rows.columns for c in small):
        rows = _shown_counts(rows, small, access)
    out = pd.DataFrame(
        {
            name: (
                pd.Series(
                    [view.coarsen[name].values(v) for v in rows[name].tolist()],
                    index=rows.index,
                    dtype=object,
                )
                if name in view.coarsen
                else rows[name]
            )
            for name in names
        },
        index=rows.index,
    )
    geometry = getattr(rows, "_geometry_column_name", None)
    if view.geometry and schema.geometry and geometry in rows.columns:
        return gpd.GeoDataFrame(out, geometry=rows[geometry], crs=rows.crs)
    return out
