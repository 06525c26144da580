"""``gridmap history``, ``undo``, ``backup`` and ``upgrade`` on a tiny workspace."""

from __future__ import annotations

import sqlite3

from gridmap.cli import main
from gridmap.store import open_workspace

from .conftest import make_tiny_workspace


def test_history_undo_backup(tmp_path, capsys):
    path = tmp_path / "t.gpkg"
    ws = make_tiny_workspace(path)
    fid = int(ws.read("cameras", where={"code": "CAM1"}).index[0])
    with ws.transaction(user="planner", action="move camera") as tx:
        tx.update("cameras", fid, {"range_m": 77.0})
    ws.close()
    assert main(["history", str(path)]) == 0
    out = capsys.readouterr().out
    assert "planner" in out and "move camera" in out and "tiny fixture" in out
    assert main(["history", str(path), "--layer", "cameras", "--fid", str(fid)]) == 0
    out = capsys.readouterr().out
    assert '{"range_m": 50.0} -> {"range_m": 77.0}' in out and "insert cameras 1-2" in out
    assert main(["undo", str(path), "2"]) == 0
    assert open_workspace(path).feature("cameras", fid)["range_m"].iloc[0] == 50
    assert main(["undo", str(path), "2"]) == 2
    assert "undone already" in capsys.readouterr().err
    assert main(["backup", str(path), str(tmp_path / "copy.gpkg")]) == 0
    assert open_workspace(tmp_path / "copy.gpkg").count("cameras") == 2


def test_upgrade_an_old_workspace(tmp_path, capsys):
    path = tmp_path / "old.gpkg"
    make_tiny_workspace(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE gridmap_meta SET value = '1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    assert main(["info", str(path)]) == 2
    assert "gridmap upgrade" in capsys.readouterr().err
    assert main(["upgrade", str(path)]) == 0
    assert "old.format1.gpkg" in capsys.readouterr().out
    assert main(["info", str(path)]) == 0


def test_a_large_undo_asks_for_yes(demo_path, tmp_path, capsys):
    copy = tmp_path / "demo.gpkg"
    copy.write_bytes(demo_path.read_bytes())
    assert main(["undo", str(copy), "1"]) == 2
    assert "is large" in capsys.readouterr().err and open_workspace(copy).count("grids") == 52
    assert main(["undo", str(copy), "1", "--yes"]) == 0
    assert open_workspace(copy).count("grids") == 0
    undo_tx = int(open_workspace(copy).audit_log(limit=1)["fid"].iloc[0])
    assert main(["undo", str(copy), str(undo_tx), "--yes"]) == 0  # and back, ids and all
    assert open_workspace(copy).count("people") == 59_377
    assert main(["undo", str(copy), "99"]) == 2
    assert "There is no transaction 99" in capsys.readouterr().err
    assert main(["backup", str(copy), str(copy)]) == 2
    assert main(["backup", str(copy), str(tmp_path / "b.gpkg")]) == 0
    assert main(["backup", str(copy), str(tmp_path / "b.gpkg")]) == 2
    assert "--overwrite" in capsys.readouterr().err
