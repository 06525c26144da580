"""``gridmap upgrade`` from storage format 3 (and 2) to 4: in place, keeping ids, versions and
history, with the provenance columns of buildings added and derived.

The format-3 file is made here: a tiny workspace of today's gridmap whose buildings table is
put back to format 3's DDL (no ``households_source``; ``levels_source`` without ``height``),
as gridmap 0.1 of that format wrote it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridmap import store
from gridmap.errors import WorkspaceError
from gridmap.store.gpkg import ddl, encoding, formats

from .conftest import tiny_layers
from .format3 import to_format3


def _connect(path: Path) -> sqlite3.Connection:
    """A plain SQLite connection with the GeoPackage functions the R-tree triggers call (as
    QGIS and GDAL have them)."""
    conn = sqlite3.connect(path)
    encoding.register_functions(conn)
    return conn


def _columns(path: Path, table: str = "buildings") -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def _old_workspace(path: Path, fmt: int = 3) -> dict[str, int]:
    """A tiny demo-like workspace in storage format ``fmt``: two buildings (one edited) and a
    third added then deleted (its id must not come back). Returns the fids by OSM id."""
    layers = tiny_layers()
    layers["buildings"] = layers["buildings"].assign(
        levels=[6, 3], levels_source=["osm", "default"]
    )
    with store.building(path) as ws, ws.transaction(action="build") as tx:
        for name, frame in layers.items():
            tx.replace(name, frame)
        tx.set_meta("synthetic", True)
    ws = store.GeoPackageWorkspace(path)
    fids = {int(k): int(f) for f, k in ws.read("buildings")["osm_id"].items()}
    with ws.transaction(user="planner", action="an edit before") as tx:
        tx.update("buildings", fids[102], {"households": 30, "levels": 4})
    with ws.transaction(action="add") as tx:
        extra = layers["buildings"].iloc[:1].assign(osm_id=103)
        [third] = tx.append("buildings", extra)
    with ws.transaction(action="remove") as tx:
        tx.delete("buildings", [third])
    fids[103] = third
    ws.close()
    to_format3(path, fmt)
    return fids


@pytest.mark.parametrize("fmt", [3, 2])
def test_an_old_workspace_is_upgraded_in_place(tmp_path: Path, fmt: int):
    path = tmp_path / "old.gpkg"
    fids = _old_workspace(path, fmt)
    assert "households_source" not in _columns(path)
    with _connect(path) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE buildings SET levels_source = 'height'")  # format 3 refuses it
    with pytest.raises(WorkspaceError, match="older gridmap"):
        store.GeoPackageWorkspace(path)

    kept = store.upgrade(path)

    assert kept.name == f"old.format{fmt}.gpkg" and "households_source" not in _columns(kept)
    ws = store.GeoPackageWorkspace(path)
    assert ws.get_meta("schema_version") == ddl.FORMAT_VERSION == 4
    b = ws.read("buildings").sort_values("osm_id")
    assert b.index.tolist() == [fids[101], fids[102]]  # ids kept, the deleted one still gone
    assert b["version"].tolist() == [1, 2]  # versions kept
    assert b["households"].tolist() == [24, 30] and b["levels"].tolist() == [6, 4]
    # the new column, derived: a demo's estimate, unless an edit recorded in the history
    # changed it; and levels edited since the build are the user's
    assert b["households_source"].tolist() == ["synthetic", "user"]
    assert b["levels_source"].tolist() == ["osm", "user"]
    history = ws.history(layer="buildings", fid=fids[102])
    assert len(history) == 2 and set(history["op"]) == {"insert", "update"}  # history kept
    assert len(ws.history(layer="buildings", fid=fids[103])) == 2  # added, deleted
    if fmt == 2:
        assert ws.users() == []

    # the new rules hold, and the table works as one gridmap made
    with ws.transaction(action="after") as tx:
        tx.update(
            "buildings",
            fids[101],
            {"levels": 45, "levels_source": "height", "households_source": "register"},
        )
        moved = shapely.box(118.7852, 32.0410, 118.7855, 32.0413)
        tx.update("buildings", fids[102], {"geometry": moved})
        [new] = tx.append(
            "buildings",
            gpd.GeoDataFrame(
                {"osm_id": [104], "households": [1], "households_source": ["user"]},
                geometry=[shapely.box(118.7862, 32.0402, 118.7864, 32.0404)],
                crs=4326,
            ),
        )
    assert new > fids[103]  # an id once used is not given again
    row = ws.feature("buildings", fids[101]).iloc[0]
    assert (row["levels_source"], row["households_source"], int(row["version"])) == (
        "height",
        "register",
        2,
    )
    # the R-tree follows the moved building (its triggers were made anew)
    near = ws.read("buildings", bbox=(118.7851, 32.0409, 118.7856, 32.0414))
    assert near.index.tolist() == [fids[102]]
    ws.close()
    with _connect(path) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute("UPDATE buildings SET households_source = 'guess'")
        # another program's edit still counts as a version (the version trigger is back)
        conn.execute("UPDATE buildings SET name = '东楼' WHERE fid = ?", (fids[101],))
    ws = store.GeoPackageWorkspace(path)
    row = ws.feature("buildings", fids[101]).iloc[0]
    assert int(row["version"]) == 3 and row["updated_by"] == ddl.EXTERNAL_USER


def test_households_source_of_other_workspaces(tmp_path: Path):
    """Not a demo: households came from an import, or from a user's own building."""
    path = tmp_path / "ws.gpkg"
    b = tiny_layers()["buildings"]
    b = pd.concat([b, b], ignore_index=True).assign(
        osm_id=[1, 2, 3, 4], source=["import", "user", "osm", "user"], households=[24, 3, 12, None]
    )
    with store.building(path) as ws, ws.transaction(action="import") as tx:
        tx.replace("buildings", gpd.GeoDataFrame(b, geometry="geometry", crs=4326))
    to_format3(path)
    store.upgrade(path)
    b = store.GeoPackageWorkspace(path).read("buildings").sort_values("osm_id")
    sources = b["households_source"].astype(object).where(b["households_source"].notna(), None)
    # an OSM outline with households in a workspace that is no demo: they were imported
    assert sources.tolist() == ["import", "user", "import", None]  # no households, no source


def test_a_failed_upgrade_changes_nothing(tmp_path: Path, monkeypatch):
    path = tmp_path / "old.gpkg"
    _old_workspace(path)
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT * FROM buildings ORDER BY fid").fetchall()
    real = formats.STEPS[3]

    def step(conn: sqlite3.Connection) -> None:
        real(conn)  # the table is rebuilt ... then something fails
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setitem(formats.STEPS, 3, step)
    with pytest.raises(WorkspaceError):
        store.upgrade(path)
    assert "households_source" not in _columns(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT * FROM buildings ORDER BY fid").fetchall() == rows
        meta = dict(conn.execute("SELECT key, value FROM gridmap_meta"))
    assert meta["schema_version"] == "3"
    monkeypatch.setitem(formats.STEPS, 3, real)
    store.upgrade(path)  # and it can be run again
    assert "households_source" in _columns(path)


def test_format_1_files_are_rebuilt_with_the_sources(tmp_path: Path):
    path = tmp_path / "one.gpkg"
    _old_workspace(path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE gridmap_meta SET value = '1' WHERE key = 'schema_version'")
    store.upgrade(path)
    b = store.GeoPackageWorkspace(path).read("buildings").sort_values("osm_id")
    # format 1 kept no history to read edits from: both are the demo's
    assert b["households_source"].tolist() == ["synthetic", "synthetic"]
    assert isinstance(b, pd.DataFrame) and b["version"].tolist() == [1, 1]
