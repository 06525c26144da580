"""Measure what per-grid visit figures tell about households (docs/privacy.md), run by hand.

    .venv/bin/python scripts/privacy_visit_figures.py [--workspace demo.gpkg] [--out FILE]

Builds the demo workspace in a temporary folder (or reads ``--workspace``) and runs the attack
of ``gridmap privacy`` (:mod:`gridmap.service.privacy_check`: the masked views, the masked
buildings, the grid and community figures as an analyst or planner is served them, joined
the way an attacker would, ten hidden flags guessed by cross-validated classifiers) with one
more figure at a time:

1. as served (the figures of :mod:`gridmap.service.figures`, ``visit_households`` rounded);
2. ``<category>_households`` per grid, the figure planners are not given: a grid's count of
   one category counts the household guessed (the "58 times in 100" of docs/privacy.md);
3. ``visit_households`` per grid, exact (households in any of the six categories);
4. ``visit_households`` per grid, rounded to 10 (what planners get);
5. per building, what a planner who paints every building into a neighbour and back reads off
   two exact figures (each paint's difference is the building's count), exact and to the
   nearest 10 (roughly what one paint shows of rounded figures; repeated paints near a step
   of 10 show more); and, for comparison, what the same paints read off the register figures
   served today (migrants, residents by age band).

For each it prints, per flag, the best held-out AUC, its bound (0.5 + max(4 null sd, 0.03)),
the verdict and the AUC of the added figure on its own. Prints a Markdown table; ``--out``
also writes it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from gridmap import store  # noqa: E402
from gridmap.access import disclosure  # noqa: E402
from gridmap.access.roles import Access  # noqa: E402
from gridmap.build.demo import build_demo  # noqa: E402
from gridmap.schema import VISIT_CATEGORIES  # noqa: E402
from gridmap.service import figures, privacy_check, visit_figures  # noqa: E402

TODAY = date(2026, 11, 27)  # the date the test suite builds the demo for
ANALYST = Access.of("privacy-measure", "analyst")


def _suppressed(column: pd.Series) -> pd.Series:
    return column.astype("Int64").mask(column.between(1, 4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", type=Path, help="a workspace (default: a demo built now)")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = args.workspace
        if path is None:
            path = Path(folder) / "demo.gpkg"
            build_demo(path, today=TODAY)
        with store.GeoPackageWorkspace(path, read_only=True) as ws:
            text = measure(ws)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


def measure(ws: store.Workspace) -> str:
    """Return the Markdown table of every measurement on ``ws``."""
    stored = privacy_check.read_register(ws)
    flags = privacy_check.hidden_flags(stored["households"], stored["visits"])
    served = privacy_check.served_register(ws, stored, ANALYST, today=TODAY)
    clues = privacy_check.clues(served, today=TODAY)
    h = stored["households"]
    exact = visit_figures.tally(h)
    grid = h["grid_code"]
    shares = {
        "per-grid households of the household's own category": None,  # one clue per category
        "per-grid visit households, exact": exact[visit_figures.VISIT_HOUSEHOLDS],
        "per-grid visit households, rounded to 10": exact[visit_figures.VISIT_HOUSEHOLDS].map(
            visit_figures.rounded
        ),
    }
    per_grid_households = grid.map(h.groupby("grid_code").size())
    building = h["building_osm_id"]
    any_category = pd.concat(
        [h[c].astype("boolean").fillna(False).astype(bool) for c in VISIT_CATEGORIES], axis=1
    ).any(axis=1)
    in_building = any_category.groupby(building).transform("sum")
    building_households = building.map(building.value_counts())
    rows: list[tuple[str, str, disclosure.AttackResult, float | None]] = []
    rows += [("as served", f, r, None) for f, r in zip(flags, _attack(clues, flags), strict=True)]
    for name, column in shares.items():
        table = clues.copy()
        added: list[str] = []
        if column is None:
            for c in VISIT_CATEGORIES:
                count = _suppressed(exact[f"{c}_households"])
                table[f"grid:{c}"] = grid.map(count).astype(float) / per_grid_households
                added.append(f"grid:{c}")
        else:
            share = grid.map(_suppressed(column)).astype(float) / per_grid_households
            table["added"] = share
            added.append("added")
        for f, r in zip(flags, _attack(table, flags), strict=True):
            alone = max(v for k, v in r.features if k in added)
            rows.append((name, f, r, alone))
    people = stored["people"]
    of = people["household_id"].map(h.set_index("household_id")["building_osm_id"])
    residents = building.map(of.value_counts()).astype(float)
    migrants = people["migrant"].astype("boolean").fillna(False).astype(bool).groupby(of).sum()
    ages = figures._ages(people["birth_date"], TODAY)
    old = pd.Series(ages >= 80, index=people.index).groupby(of).sum()
    for name, count, whole in (
        ("per building: visit households, exact (two figures a paint)", in_building, None),
        (
            "per building: visit households, to the nearest 10 (rounded figures)",
            in_building.map(visit_figures.rounded),
            None,
        ),
        ("per building: migrants, exact (the migrants figure, served today)", None, migrants),
        ("per building: residents of 80 and over, exact (age bands, served today)", None, old),
    ):
        share = (
            count.astype(float) / building_households
            if whole is None
            else building.map(whole).astype(float) / residents
        )
        table = clues.assign(added=share)
        for f, r in zip(flags, _attack(table, flags), strict=True):
            rows.append((name, f, r, dict(r.features)["added"]))
    lines = [
        "| served | flag | households | AUC | bound | verdict | the added figure alone |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, flag, r, alone in rows:
        verdict = "FAIL" if r.read_back else "pass"
        alone_text = "" if alone is None else f"{alone:.3f}"
        lines.append(
            f"| {name} | {flag} | {r.positives:,} | {r.auc:.3f} | {r.bound:.3f} | {verdict} "
            f"| {alone_text} |"
        )
    return "\n".join(lines)


def _attack(table: pd.DataFrame, flags: dict[str, pd.Series]) -> list[disclosure.AttackResult]:
    return [disclosure.attack(table, y.loc[table.index], flag=f) for f, y in flags.items()]


if __name__ == "__main__":
    main()
