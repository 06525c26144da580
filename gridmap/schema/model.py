"""What a layer and a column are: the building blocks of :mod:`gridmap.schema.layers`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["int", "float", "str", "bool", "date", "datetime"]
GeometryType = Literal["POINT", "LINESTRING", "MULTIPOLYGON"]


@dataclass(frozen=True)
class Column:
    """One attribute column of a layer.

    ``en`` and ``zh`` are the column's titles (table headers, popups). ``required`` columns must
    be present (and non-empty) in an imported file. ``personal`` columns hold personal data:
    they are masked unless the reader's role may see them.
    """

    name: str
    type: ColumnType
    en: str
    zh: str
    unit: str | None = None
    required: bool = False
    personal: bool = False
    choices: tuple[str, ...] | None = None
    doc: str | None = None  # a longer explanation where the title is not enough
    #: Values of a coded column that reveal a personal status: masked like personal columns.
    personal_values: tuple[str, ...] | None = None
    #: A foreign key: (layer, key column) this column refers to. A row may only name a key the
    #: other layer holds; see ``on_delete`` for what deleting the referred row does.
    references: tuple[str, str] | None = None
    #: ``"cascade"``: deleting the referred row deletes this one too (people of a household);
    #: ``"restrict"``: the referred row cannot be deleted while this one names it (visit log).
    on_delete: Literal["cascade", "restrict"] = "restrict"
    #: A text format every write is checked against: ``"phone"`` (:mod:`gridmap.schema.phones`).
    format: Literal["phone"] | None = None

    @property
    def zh_name(self) -> str:
        """The Chinese title without its note in brackets, for a sentence: 网格编码（15位）→ 网格编码."""
        return re.sub(r"\s*[(（][^()（）]{1,12}[)）]\s*$", "", self.zh)


@dataclass(frozen=True)
class Layer:
    """A layer: its table name, geometry type (None for an attribute table) and columns."""

    name: str
    geometry: GeometryType | None
    en: str
    zh: str
    description: str
    columns: tuple[Column, ...] = field(default_factory=tuple)
    #: For an attribute table: (layer, key column) whose geometry places its rows on the map.
    located_by: tuple[str, str] | None = None
    #: The column that identifies a row: unique within the layer where it is filled.
    key: str | None = None

    @property
    def column_names(self) -> list[str]:
        """Return the attribute column names in schema order."""
        return [c.name for c in self.columns]

    @property
    def personal_columns(self) -> list[str]:
        """Return the names of the columns that hold personal data."""
        return [c.name for c in self.columns if c.personal]

    @property
    def has_personal_data(self) -> bool:
        """Return whether any column holds personal data or values that reveal it."""
        return any(c.personal or c.personal_values for c in self.columns)

    @property
    def references(self) -> list[Column]:
        """Return the columns that refer to another layer's key (foreign keys)."""
        return [c for c in self.columns if c.references]

    @property
    def required_columns(self) -> list[str]:
        """Return the names of the columns an imported file must provide."""
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)
