"""Errors raised by gridmap, with messages a planner can act on.

Every error gridmap raises on purpose is a :class:`GridmapError`. Each class also subclasses the
built-in exception it refines, so callers that catch ``ValueError`` or ``KeyError`` keep working.
The web app and the CLI turn them into replies: ``status`` is the HTTP status the web app uses,
``code`` a stable machine name, and :meth:`GridmapError.to_dict` the one JSON error shape::

    {"error": {"code": "invalid_input", "message": "...", "status": 400, "row": 3, "column": "code"}}

``row``/``column`` appear where an :class:`InputError` has them, ``retry_after`` (seconds) on a
:class:`BusyError`. :func:`error_document` builds the same shape for errors that are not
gridmap's (HTTP errors of the web server).
"""

from __future__ import annotations


def error_document(code: str, message: str, status: int, **extra: object) -> dict[str, object]:
    """Return the one JSON error shape: ``{"error": {"code", "message", "status", ...}}``.

    Parameters
    ----------
    code
        Stable, machine-readable name of the error (never translated), e.g. ``"not_found"``.
    message
        What went wrong, in words a planner can act on.
    status
        The HTTP status of the reply.
    **extra
        Further members (``row``, ``column``, ``retry_after`` …); those that are None are left out.
    """
    body: dict[str, object] = {"code": code, "message": message, "status": status}
    body.update({key: value for key, value in extra.items() if value is not None})
    return {"error": body}


class GridmapError(Exception):
    """Base class of every error gridmap raises on purpose."""

    status: int = 500
    #: A stable, machine-readable name of the error (JSON ``error.code``); never translated.
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, object]:
        """Return the members the error adds to the JSON shape (none here; subclasses add some)."""
        return {}

    def to_dict(self) -> dict[str, object]:
        """Return the error as the one JSON shape the web app replies with (see the module)."""
        return error_document(self.code, self.message, self.status, **self.details())


class InputError(GridmapError, ValueError):
    """An input file, row or value is unusable; ``row`` and ``column`` say where (1-based row)."""

    code = "invalid_input"

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
        self.row = None if row is None else int(row)  # a numpy integer would not go to JSON
        self.column = None if column is None else str(column)
        self.source = source

    def details(self) -> dict[str, object]:
        """Return the row (1-based) and column the error points at, where known."""
        return {"row": self.row, "column": self.column}


class UnsupportedFormatError(InputError):
    """The file is of a kind gridmap cannot read."""

    code = "unsupported_format"


class EncodingError(InputError):
    """The file's text encoding could not be detected; name it with ``--encoding``."""

    code = "unknown_encoding"


class CoordinateError(InputError):
    """Coordinates are outside the area, swapped, or in an unknown reference system."""

    code = "bad_coordinates"


class GeometryError(InputError):
    """A geometry is empty, invalid (for example self-intersecting) or of the wrong type."""

    code = "bad_geometry"


class SchemaError(InputError):
    """Required columns are missing or values do not fit a column's type."""

    code = "schema_mismatch"


class LayerNotFoundError(GridmapError, KeyError):
    """No layer of that name exists."""

    code = "layer_not_found"

    status = 404

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class FeatureNotFoundError(GridmapError, KeyError):
    """No feature with that id exists in the layer; for one that did, ``changed_by`` and
    ``changed_at`` (ISO 8601 UTC) say who removed it and when, where known."""

    code = "feature_not_found"

    status = 404

    def __init__(
        self, message: str, *, changed_by: str | None = None, changed_at: str | None = None
    ) -> None:
        super().__init__(message)
        self.changed_by = changed_by
        self.changed_at = changed_at

    def __str__(self) -> str:
        return self.message

    def details(self) -> dict[str, object]:
        """Return who removed the feature and when, where known."""
        return {"changed_by": self.changed_by, "changed_at": self.changed_at}


class WorkspaceError(GridmapError, OSError):
    """The workspace file is missing, unreadable, or not a gridmap workspace."""

    code = "workspace_error"

    status = 500


class WorkspaceExistsError(WorkspaceError, FileExistsError):
    """A workspace already exists where a new one was to be created."""

    code = "workspace_exists"

    status = 409


class OsmError(InputError):
    """An OpenStreetMap extract could not be read or holds no usable streets."""

    code = "bad_osm_extract"


class ConstraintError(InputError):
    """A write breaks a rule of the layer: a repeated key, a missing required value, a value
    outside a column's choices, a row that others still refer to."""

    code = "constraint_violated"


class ConflictError(GridmapError):
    """The feature changed since it was read: its version is not the one the edit expected."""

    status = 409
    code = "edit_conflict"

    def __init__(
        self,
        message: str,
        *,
        layer: str | None = None,
        fid: int | None = None,
        expected: int | None = None,
        actual: int | None = None,
        changed_by: str | None = None,
        changed_at: str | None = None,
    ) -> None:
        super().__init__(message)
        self.layer = layer
        self.fid = fid
        self.expected = expected
        self.actual = actual
        self.changed_by = changed_by
        self.changed_at = changed_at

    def details(self) -> dict[str, object]:
        """Return the layer, feature id, the expected and actual versions and who changed it
        when (ISO 8601 UTC), where known."""
        out: dict[str, object] = {
            "layer": self.layer,
            "fid": self.fid,
            "expected_version": self.expected,
            "actual_version": self.actual,
        }
        if self.changed_by is not None:
            out["changed_by"], out["changed_at"] = self.changed_by, self.changed_at
        return out


class BlocksChangedError(ConflictError):
    """The street blocks changed since the caller read them (streets or a community boundary
    were edited): a block id of that reading may name other ground now, so the paint is
    refused. Read the blocks again (``GET /api/grids/blocks``) and paint again."""

    code = "blocks_changed"


class NothingToUndoError(InputError):
    """An undo or redo with nothing of the caller's to take back (the page's buttons are
    disabled then): not a conflict with anyone's change."""

    code = "nothing_to_undo"


class BusyError(WorkspaceError):
    """Another program holds the workspace's write lock for too long; try again shortly."""

    status = 503
    code = "workspace_busy"
    #: Seconds a client should wait before it tries again (HTTP ``Retry-After``).
    retry_after = 2

    def details(self) -> dict[str, object]:
        """Return how many seconds a client should wait before it tries again."""
        return {"retry_after": self.retry_after}


class SolveError(GridmapError, RuntimeError):
    """A solve produced a result that is not what it claims (a bug, never bad input)."""

    code = "solve_inconsistent"
    status = 500


class GridsExistError(ConflictError):
    """The workspace has grids already where new ones were to be drawn."""

    code = "grids_exist"


class ArchiveError(InputError):
    """A zip archive (zipped shapefile, spreadsheet) is damaged, unsafe or too large to unpack."""

    code = "bad_archive"


class AuthenticationError(GridmapError):
    """Nobody is signed in (or the password, token or session is not valid): sign in first."""

    status = 401
    code = "unauthenticated"
    #: Seconds before another attempt is worth it, where a rate limit applies (else None).
    retry_after: int | None = None


class WrongPasswordError(AuthenticationError):
    """The user name or the password is wrong (one error for both: names are not told)."""

    code = "wrong_password"


class BadTokenError(AuthenticationError):
    """The API token is not valid: revoked, mistyped, or its account removed."""

    code = "bad_token"


class AccountDisabledError(AuthenticationError):
    """The account exists but an administrator disabled it."""

    code = "account_disabled"


class PermissionDeniedError(GridmapError, PermissionError):
    """The signed-in user's role may not do this."""

    status = 403
    code = "permission_denied"


class TooManyRequestsError(GridmapError):
    """Too many attempts or jobs at once (sign-ins, exports): wait, then try again."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def details(self) -> dict[str, object]:
        """Return how many seconds a client should wait before it tries again."""
        return {"retry_after": self.retry_after}


class CsrfError(InputError):
    """A browser's state-changing request lacks its page's CSRF token (reload the page)."""

    code = "csrf_failed"


class PrintUnavailableError(GridmapError):
    """This machine cannot print: a library or the Chinese fonts are missing (server fault)."""

    code = "print_unavailable"
    status = 500
