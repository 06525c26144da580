"""The write rules: the fast path for clean program-made frames agrees with the import's path."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridmap.errors import SchemaError
from gridmap.schema import Column, get_layer
from gridmap.schema import validate as v
from gridmap.schema.rules import _fast, coerce

CAMERAS = get_layer("cameras")
COLUMNS = {
    "int": Column("n", "int", "n", "n"),
    "float": Column("x", "float", "x", "x"),
    "bool": Column("b", "bool", "b", "b"),
    "str": Column("s", "str", "s", "s"),
    "choice": Column("kind", "str", "k", "k", choices=("fixed", "dome", "ptz")),
    "date": Column("d", "date", "d", "d"),
    "datetime": Column("t", "datetime", "t", "t"),
}
VALUES = {
    "int": st.one_of(st.none(), st.integers(-(10**12), 10**12)),
    "float": st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=64)),
    "bool": st.one_of(st.none(), st.booleans()),
    "str": st.one_of(st.none(), st.text(max_size=6)),
    "choice": st.one_of(st.none(), st.sampled_from(["fixed", "dome", "ptz", "Dome", " ptz", "x"])),
    "date": st.one_of(
        st.none(), st.dates(dt.date(1900, 1, 1), dt.date(2200, 1, 1)).map(pd.Timestamp)
    ),
    "datetime": st.one_of(
        st.none(),
        st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2200, 1, 1)).map(
            lambda d: pd.Timestamp(d, tz="UTC")
        ),
    ),
}
DTYPES = {
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
    "date": "datetime64[ns]",
    "datetime": "datetime64[ns, UTC]",
}


@pytest.mark.parametrize("kind", sorted(COLUMNS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_fast_path_agrees_with_the_import_path(kind, data):
    values = data.draw(st.lists(VALUES[kind], max_size=8))
    series = pd.Series(values, dtype=DTYPES.get(kind, object))
    column = COLUMNS[kind]
    try:
        slow = v.coerce_column(series, column, source="t")
    except SchemaError:
        slow = None
    fast = _fast(series, column)
    if fast is None:
        return  # the fast path stood aside: the import path decides
    assert slow is not None, f"the fast path took values the import path refuses: {values}"
    a = fast.astype(object).where(fast.notna(), None).tolist()
    b = slow.astype(object).where(slow.notna(), None).tolist()
    assert a == b


def test_dirty_text_takes_the_import_path():
    column = CAMERAS.column("kind")
    assert _fast(pd.Series([" dome", None], dtype=object), column) is None
    got = coerce(
        pd.Series(["球机", "固定枪机"]), column, CAMERAS, source="t"
    )  # titles become codes
    assert list(got) == ["dome", "fixed"]
    with pytest.raises(SchemaError):
        coerce(pd.Series([np.inf]), CAMERAS.column("range_m"), CAMERAS, source="t")
