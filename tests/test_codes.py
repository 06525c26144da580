"""Grid codes in the db11 and cjt349 forms, and renumbering a workspace in reading order."""

from __future__ import annotations

import json

import pytest
import shapely

from gridmap.cli.main import main
from gridmap.errors import InputError
from gridmap.grids import codes
from gridmap.service.renumber import CODED_LAYERS, new_codes, renumber

COMMUNITY = "320102001005"


def test_make_codes_in_both_forms():
    assert codes.make_code(COMMUNITY, 7) == "320102001005007"
    assert codes.make_code(COMMUNITY, 7, "cjt349", "010100") == "01010032010200100507"
    assert codes.make_code(COMMUNITY, 0, "cjt349") == "00000032010200100500"
    assert codes.make_code(None, 1) == "000000000000001"
    with pytest.raises(InputError, match="at most 99"):
        codes.make_code(COMMUNITY, 100, "cjt349")
    with pytest.raises(InputError, match="at most 999"):
        codes.make_code(COMMUNITY, 0)
    with pytest.raises(InputError, match="12 digits"):
        codes.make_code("32010200100", 1)
    with pytest.raises(InputError, match="未知"):
        codes.make_code(COMMUNITY, 1, "gb")


def test_parse_codes_by_length_and_refuse_others():
    assert codes.parse_code("320102001005007") == codes.GridCode("db11", COMMUNITY, 7)
    assert codes.parse_code("01010032010200100512") == codes.GridCode(
        "cjt349", COMMUNITY, 12, "010100"
    )
    for bad in ("32010200100500", "32010200100500x", "320102001005000", ""):
        with pytest.raises(InputError, match="网格"):
            codes.parse_code(bad)
    with pytest.raises(InputError, match="20 digits"):
        codes.parse_code("320102001005007", "cjt349")


def test_convert_between_forms():
    assert codes.convert_code("320102001005007", "cjt349", "010100") == "01010032010200100507"
    assert codes.convert_code("01010032010200100507", "db11") == "320102001005007"
    assert codes.convert_code("00000032010200100500", "db11") == "320102001005001"
    assert codes.convert_code("320102001005007", "db11") == "320102001005007"
    with pytest.raises(InputError, match="99"):
        codes.convert_code("320102001005100", "cjt349")


def test_next_code_skips_used_codes_of_the_form():
    used = ["320102001005001", "320102001005004", "320102001006009", "00000032010200100509"]
    assert codes.next_code(used, COMMUNITY) == "320102001005005"
    prefix = codes.code_prefix(COMMUNITY, "cjt349")
    assert codes.next_code(used, prefix, "cjt349") == "00000032010200100510"
    assert codes.code_form({}) == ("db11", "000000")
    assert codes.code_form({}, ["01010032010200100507"]) == ("cjt349", "010100")
    assert codes.code_form({codes.FORM_KEY: "cjt349"}, ["320102001005007"])[0] == "db11"
    assert codes.code_form({codes.FORM_KEY: "cjt349", codes.OBJECT_KEY: "010100"}) == (
        "cjt349",
        "010100",
    )


def _coded(ws) -> dict[str, dict[int, str | None]]:
    out = {}
    for layer in CODED_LAYERS:
        rows = ws.read(layer)
        out[layer] = {
            int(f): (None if c is None or c != c else str(c)) for f, c in rows["grid_code"].items()
        }
    return out


def test_renumber_follows_every_layer_is_stable_and_undoable(writable_demo):
    ws = writable_demo
    before = ws.read("grids")
    geom_of = {str(c): g for c, g in zip(before["code"], before.geometry, strict=True)}
    coded = _coded(ws)
    done = renumber(ws, form="cjt349", user="test")
    assert done.tx and len(done.changes) == len(before)
    mapping = {o: n for o, n, _ in done.changes}
    assert all(len(n) == 20 for n in mapping.values())
    after = ws.read("grids")
    assert sorted(after["code"]) == sorted(mapping.values())
    for code, geom in zip(after["code"], after.geometry, strict=True):
        old = next(o for o, n in mapping.items() if n == code)
        assert shapely.equals(geom, geom_of[old])
    now = _coded(ws)
    for layer, rows in coded.items():
        assert {f: (mapping[c] if c else None) for f, c in rows.items()} == now[layer], layer
        assert sum(1 for c in rows.values() if c) == done.moved.get(layer, 0)
    lineage = ws.meta()["grid_lineage"]
    assert [e["from"][0] for e in lineage if e["op"] == "renumber"] == [
        o for o, _, _ in done.changes
    ]
    assert ws.meta()[codes.FORM_KEY] == "cjt349"
    # a second renumber writes nothing
    again = renumber(ws, user="test")
    assert again.changes == () and again.tx is None
    # undo takes the whole renumbering back as one version
    ws.undo(done.tx, user="test")
    assert sorted(ws.read("grids")["code"]) == sorted(geom_of)
    assert _coded(ws) == coded
    # the setting is not versioned, but the grids' codes tell the form: db11 again
    assert codes.code_form(ws.meta(), ws.read("grids")["code"])[0] == "db11"


def test_renumber_orders_west_to_east_and_refuses_collisions(writable_demo):
    ws = writable_demo
    grids = ws.read("grids")
    community = str(grids["community_code"].iloc[0])
    mine = grids[grids["community_code"] == community]
    first, second = sorted(mine["code"])[:2]
    # swap two codes; renumbering puts them back
    fid = {str(c): int(f) for f, c in grids["code"].items()}
    with ws.transaction(action="swap") as tx:
        tx.update_many("grids", {fid[first]: {"code": "tmp"}})
        tx.update_many("grids", {fid[second]: {"code": first}})
        tx.update_many("grids", {fid[first]: {"code": second}})
    done = renumber(ws, community=community, dry_run=True)
    assert sorted((o, n) for o, n, _ in done.changes) == [(first, second), (second, first)]
    assert done.tx is None and sorted(ws.read("grids")["code"]) == sorted(grids["code"])
    # a code another community's grid already has is refused
    other = grids[grids["community_code"] != community].iloc[0]
    with ws.transaction(action="clash") as tx:
        tx.update_many("grids", {fid[second]: {"code": "tmp"}})
        tx.update_many("grids", {int(other.name): {"code": first}})
    with pytest.raises(InputError, match="已被其他网格使用"):
        new_codes(ws.read("grids"), "EPSG:32650", "db11", "", community)
    with pytest.raises(InputError, match="whole workspace"):
        renumber(ws, community=community, form="cjt349")


def test_cli_renumber_prints_a_table(writable_demo, capsys):
    path = str(writable_demo.path)
    main(["grids", "renumber", path, "--form", "cjt349", "--dry-run", "--lang", "en"])
    out = capsys.readouterr().out
    assert out.startswith("old code -> new code") and "would change" in out
    main(["grids", "renumber", path, "--lang", "zh"])
    assert "已按顺序编号" in capsys.readouterr().out
    main(["grids", "renumber", path, "--form", "cjt349", "--object", "010100", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["changes"] and all(c["to"].startswith("010100") for c in doc["changes"])
    assert writable_demo.meta()[codes.OBJECT_KEY] == "010100"
    assert main(["grids", "renumber", path, "--object", "12345"]) != 0
    assert "对象代码应为6位数字" in capsys.readouterr().err


def test_a_grid_is_named_after_its_codes_sequence_number():
    from gridmap.grids.codes import grid_name

    assert grid_name("长江路社区", "320102001001012") == "长江路社区第12网格"
    assert grid_name("长江路社区", "00000032010200100107") == "长江路社区第7网格"
    assert grid_name(None, "320102001001003") == "第3网格"
