"""Errors raised by gridmap, with messages a planner can act on.

Every error gridmap raises on purpose is a :class:`GridmapError`. Each class also subclasses the
built-in exception it refines, so callers that catch ``ValueError`` or ``KeyError`` keep working.
The web app and the CLI turn them into replies: ``status`` is the HTTP status the web app uses.
"""

from __future__ import annotations


class GridmapError(Exception):
    """Base class of every error gridmap raises on purpose."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, object]:
        """Return the error as the one JSON shape the web app replies with."""
        return {"error": type(self).__name__, "message": self.message}


class InputError(GridmapError, ValueError):
    """An input file, row or value is unusable; ``row`` and ``column`` say where (1-based row)."""

    status = 400

    def __init__(
        self,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        source: str | None = None,
    ) -> None:
        where = []
        if source:
            where.append(source)
        if row is not None:
            where.append(f"row {row}")
        if column:
            where.append(f"column '{column}'")
        full = f"{', '.join(where)}: {message}" if where else message
        super().__init__(full)
        self.row = row
        self.column = column
        self.source = source

    def to_dict(self) -> dict[str, object]:
        """Return the error with the row and column it points at."""
        out = super().to_dict()
        out.update({"row": self.row, "column": self.column})
        return out


class UnsupportedFormatError(InputError):
    """The file is of a kind gridmap cannot read."""


class EncodingError(InputError):
    """The file's text encoding could not be detected; name it with ``--encoding``."""


class CoordinateError(InputError):
    """Coordinates are outside the area, swapped, or in an unknown reference system."""


class GeometryError(InputError):
    """A geometry is empty, invalid (for example self-intersecting) or of the wrong type."""


class SchemaError(InputError):
    """Required columns are missing or values do not fit a column's type."""


class LayerNotFoundError(GridmapError, KeyError):
    """No layer of that name exists."""

    status = 404

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class FeatureNotFoundError(GridmapError, KeyError):
    """No feature with that id exists in the layer."""

    status = 404

    def __str__(self) -> str:
        return self.message


class WorkspaceError(GridmapError, OSError):
    """The workspace file is missing, unreadable, or not a gridmap workspace."""

    status = 500


class WorkspaceExistsError(WorkspaceError, FileExistsError):
    """A workspace already exists where a new one was to be created."""

    status = 409


class OsmError(InputError):
    """An OpenStreetMap extract could not be read or holds no usable streets."""
