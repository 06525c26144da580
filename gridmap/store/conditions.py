"""Conditions on column values that every backend runs in its own query language.

A ``where`` mapping given to :meth:`gridmap.store.Workspace.read` and ``count`` maps a column to
a plain value (equality), a list of values (any of them), or one of the conditions here.
Values are in the column's Python form: numbers, ``bool``, ``str``; dates as ``YYYY-MM-DD``
text and times as UTC ISO 8601 text (``2026-01-31T16:00:00.000Z``), the storage form
(:mod:`gridmap.store.gpkg.values`), so that comparisons are exact on every backend.
:mod:`gridmap.service.filters` builds them from what a user typed, checked against the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

#: Comparison operators a :class:`Compare` may use.
Op = Literal["=", "!=", "<", "<=", ">", ">="]
OPS: tuple[str, ...] = ("=", "!=", "<", "<=", ">", ">=")


@dataclass(frozen=True)
class Compare:
    """``column <op> value``; a row whose value is missing never passes (SQL's NULL rule)."""

    op: Op
    value: Any

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown operator {self.op!r}")


@dataclass(frozen=True)
class NoneOf:
    """The value is none of ``values`` (a missing value passes: it is none of them)."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class Contains:
    """The text contains ``text``, ignoring the case of ASCII letters."""

    text: str


@dataclass(frozen=True)
class Missing:
    """The value is missing (``missing=True``) or present (``missing=False``)."""

    missing: bool = True


@dataclass(frozen=True)
class AllOf:
    """Every one of ``parts`` holds: plain values, lists or conditions on the same column."""

    parts: tuple[Any, ...]


Condition = Compare | NoneOf | Contains | Missing | AllOf


def both(first: Any, second: Any) -> Any:
    """Return a condition that holds where ``first`` and ``second`` both hold (None: no condition)."""
    if first is None:
        return second
    if second is None:
        return first
    return AllOf((first, second))
