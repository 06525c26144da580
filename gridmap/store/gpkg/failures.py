"""SQLite's failures as gridmap errors: busy, broken rules, damaged files."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from gridmap.errors import BusyError, ConstraintError, GridmapError, WorkspaceError


@contextlib.contextmanager
def sql_errors(path: Path) -> Iterator[None]:
    """Turn SQLite's exceptions into gridmap errors a planner can act on."""
    try:
        yield
    except GridmapError:
        raise
    except sqlite3.IntegrityError as exc:
        raise ConstraintError(_integrity_message(str(exc))) from exc
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            raise BusyError(
                f"The workspace {path.name} is busy: another program (or another editor) is "
                "writing to it. Try again in a moment."
            ) from exc
        if "readonly" in text or "read-only" in text:
            raise WorkspaceError(
                f"The workspace {path.name} is open read-only: it cannot be changed here."
            ) from exc
        raise WorkspaceError(
            f"The workspace {path.name} could not be read or written; the server's log has the "
            "cause."
        ) from exc
    except sqlite3.DatabaseError as exc:
        raise WorkspaceError(f"The workspace {path.name} is damaged or not a GeoPackage.") from exc


def _integrity_message(text: str) -> str:
    """Say which rule a write broke, from SQLite's constraint message."""
    if text.startswith("UNIQUE constraint failed: "):
        where = text.split(": ", 1)[1]
        return f"The value of {where} is already used by another feature: each needs its own."
    if text.startswith("NOT NULL constraint failed: "):
        return f"{text.split(': ', 1)[1]} is required and cannot be empty."
    if text.startswith("FOREIGN KEY"):
        return (
            "The change refers to a row that does not exist, or removes one that others refer to."
        )
    if text.startswith("CHECK constraint failed"):
        return f"A value does not fit its column's rule ({text.split(': ', 1)[-1]})."
    return "The change breaks a rule of the workspace."
