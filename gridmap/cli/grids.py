"""``gridmap grids ...``: grids drawn automatically (``auto``), checked (``validate``),
rebalanced, renumbered, and their codes traced (``lineage``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from gridmap.cli.common import Progress, Subparsers

if TYPE_CHECKING:
    from gridmap.service.grids import AutoGrids

#: Households a grid may hold by default, in ``auto``, ``validate`` and ``rebalance``: the range
#: of the checks and the planning page (:data:`gridmap.service.grid_checks.DEFAULT_RANGE`, which
#: a test keeps equal; not imported, so that ``gridmap --help`` does not load geopandas).
DEFAULT_RANGE = (300, 500)
#: ``rebalance`` takes the range as its middle and the share off it: 400 ± 25 %.
DEFAULT_HOUSEHOLDS = (DEFAULT_RANGE[0] + DEFAULT_RANGE[1]) / 2
DEFAULT_TOLERANCE = (DEFAULT_RANGE[1] - DEFAULT_RANGE[0]) / (DEFAULT_RANGE[1] + DEFAULT_RANGE[0])

#: Random restarts by default: on the demo and Xinjiekou extracts 10 of them cut the
#: households off target by a third to a half for about one more second
#: (scripts/bench_partition.py).
DEFAULT_RESTARTS = 10


def _figures(outcome: AutoGrids) -> list[str]:
    """Return the lines that report a partition: grids, households, objective, bound, status."""
    r = outcome.result
    f = r.figures()
    lo, hi = r.problem.bounds
    lines = [
        f"{f['grids']} grids in {f['communities']} {'community' if f['communities'] == 1 else 'communities'}: "
        f"{f['weight']} {f['min']}-{f['max']} "
        f"per grid, {f['outside_bounds']} outside {lo:g}-{hi:g} (target {r.problem.target:g}, "
        f"largest deviation {f['max_deviation']:g})",
        f"objective {r.objective:g} {f['weight']} off target (+{r.problem.penalty:g}x outside "
        f"the range), bound {r.bound:g}, gap {r.gap:.1%}; status {r.status}, method {r.method}, "
        f"{r.seconds:.1f} s",
    ]
    lines += [f"note: {n}" for n in r.notes]
    return lines


def cmd_auto(args: argparse.Namespace) -> None:
    """Draw the grids of a workspace automatically, from street blocks and households."""
    from gridmap.errors import GridsExistError
    from gridmap.service.grids import auto_grids, write_preview
    from gridmap.store import open_workspace

    ws = open_workspace(args.workspace)
    say = Progress(args.quiet)

    def draw(dry_run: bool) -> AutoGrids:
        return auto_grids(
            ws,
            community=args.community,
            target=args.target,
            bounds=(args.min, args.max),
            time_limit=args.time_limit,
            seed=args.seed,
            method=args.method,
            restarts=args.restarts,
            replace=args.replace,
            dry_run=dry_run,
            user=args.user,
            progress=say,
        )

    preview_only = False
    try:
        outcome = draw(args.dry_run)
    except GridsExistError:
        if not args.output:
            raise
        # -o without --replace where grids are: a preview of the new grids, the old ones kept
        preview_only = True
        outcome = draw(True)
    for line in _figures(outcome):
        print(line)
    if args.output:
        path = write_preview(outcome, args.output)
        print(f"Preview written to {path}")
    changed = ", ".join(f"{n} {layer}" for layer, n in outcome.changed.items() if n) or "none"
    if preview_only:
        where = f"Community {args.community}" if args.community else "The workspace"
        print(
            f"Preview only: {where} has {outcome.replaced} grid(s) already and they stay as "
            f"they are; nothing written (grid codes that would change: {changed}). Add "
            "--replace to write the new grids."
        )
    elif outcome.written:
        replaced = f", replacing {outcome.replaced}" if outcome.replaced else ""
        print(f"Wrote {len(outcome.grids)} grids{replaced}; grid codes changed: {changed}.")
        print(
            "Visits and incidents keep the grid code they were recorded with (they are records "
            "of the past); `gridmap history` lists this change and `gridmap undo` takes it back."
        )
    else:
        print(f"Dry run: nothing written (grid codes that would change: {changed}).")


def _lang(args: argparse.Namespace) -> str:
    """Return the language of the report: --lang, else zh when the locale ($LANG) is Chinese."""
    import os

    if args.lang:
        return str(args.lang)
    return "zh" if os.environ.get("LANG", "").lower().startswith("zh") else "en"


def cmd_validate(args: argparse.Namespace) -> None:
    """Check the grids of a workspace; exit 1 when something is found."""
    import json
    import sys

    from gridmap.grids.findings import KIND_TITLES
    from gridmap.service.grid_checks import validate
    from gridmap.store import open_workspace

    ws = open_workspace(args.workspace)
    found = validate(ws, bounds=(args.min, args.max), community=args.community)
    findings = found.findings_json()
    if args.json:
        doc = {"findings": findings, "figures": found.figures_json()}
        print(json.dumps(doc, ensure_ascii=False, indent=1))
    else:
        zh = _lang(args) == "zh"
        for f in findings:
            where = f"  ({f['at'][0]:.6f}, {f['at'][1]:.6f})" if f["at"] else ""
            en, zh_title = KIND_TITLES.get(f["kind"], (f["kind"], f["kind"]))
            if zh:
                print(f"{zh_title}：{f['message_zh']}{where}")
            else:
                print(f"{en}: {f['message_en']}{where}")
        n, grids = len(findings), len(found.figures)
        in_range = int(found.figures["in_range"].sum()) if grids else 0
        if zh:
            print(
                f"共 {grids} 个网格，{in_range} 个在 {args.min:g}–{args.max:g} 户范围内；发现问题 {n} 项。"
            )
        else:
            print(
                f"{grids} grids, {in_range} within {args.min:g}-{args.max:g} households; "
                f"{n} finding(s)."
            )
    sys.exit(1 if findings else 0)


def cmd_renumber(args: argparse.Namespace) -> None:
    """Renumber grids in reading order (and code form); print the old → new codes."""
    import json

    from gridmap.service.renumber import renumber
    from gridmap.store import open_workspace

    ws = open_workspace(args.workspace)
    done = renumber(
        ws,
        form=args.form,
        community=args.community,
        object_code=args.object,
        dry_run=args.dry_run,
        user=args.user,
    )
    if args.json:
        doc = {
            "form": done.form,
            "dry_run": args.dry_run,
            "tx": done.tx,
            "changes": [{"from": o, "to": n, "community": c} for o, n, c in done.changes],
            "moved": done.moved,
        }
        print(json.dumps(doc, ensure_ascii=False, indent=1))
        return
    zh = _lang(args) == "zh"
    print("原编码 -> 新编码 (社区)" if zh else "old code -> new code (community)")
    for old, new, community in done.changes:
        print(f"{old} -> {new} ({community or '-'})")
    n = len(done.changes)
    if args.dry_run:
        print(
            f"试运行：{n} 个网格将改编码，未写入。"
            if zh
            else f"Dry run: {n} grid code(s) would change; nothing written."
        )
    elif not n:
        print(
            f"网格已按顺序编号（{done.form}），未作修改。"
            if zh
            else f"Grids are already numbered in order ({done.form}); nothing written."
        )
    else:
        rows = ", ".join(f"{k} {v}" for k, v in done.moved.items())
        print(
            f"已重新编号 {n} 个网格（{done.form}，版本 {done.tx}）：{rows}。"
            if zh
            else f"Renumbered {n} grid(s) ({done.form}, version {done.tx}): {rows}."
        )


def cmd_rebalance(args: argparse.Namespace) -> None:
    """Propose (and with --apply, paint) the fewest block moves that bring grids into range."""
    import json

    from gridmap.access.roles import PLANNER, Access
    from gridmap.service import rebalance
    from gridmap.store import open_workspace

    ws = open_workspace(args.workspace)
    plan = rebalance.propose(
        ws, target=args.households, tolerance=args.tolerance, community=args.community
    )
    if args.apply and plan.moves:
        rebalance.apply(ws, plan, access=Access.of(args.user, PLANNER))
    if args.output:
        rebalance.write_proposal(plan, args.output)
    if args.json:
        print(json.dumps(plan.to_json(), ensure_ascii=False, indent=1))
        return
    zh = _lang(args) == "zh"
    lo, hi = plan.bounds
    before, after, n = plan.outside("before"), plan.outside("after"), len(plan.grids)
    share = f"{plan.target:g} ± {args.tolerance:.0%}"
    print(
        f"户数范围：{lo:g}–{hi:g}（{share}）" if zh else f"household range: {lo:g}-{hi:g} ({share})"
    )
    for m in plan.moves:
        if zh:
            print(f"街区 {m['block']}：{m['from']} → {m['to']}（{m['households']} 户）")
        else:
            print(f"block {m['block']}: {m['from']} -> {m['to']} ({m['households']} households)")
    changed = {m["from"] for m in plan.moves} | {m["to"] for m in plan.moves}
    for g in plan.grids:
        if g["code"] in changed or not lo <= g["after"] <= hi:
            print(f"  {g['code']}: {g['before']} -> {g['after']}")
    towers = ", ".join(plan.towers)
    if zh:
        print(
            f"共 {n} 个网格：调整前 {before} 个、调整后 {after} 个不在 {lo:g}–{hi:g} 户范围内；"
            f"移动街区 {len(plan.moves)} 个（方法 {plan.method}）。"
        )
        if towers:
            print(f"以下网格含有超过上限的单个街区，无法通过移动街区调整：{towers}")
        if plan.note:
            print(rebalance.NO_GAIN_ZH)
        if args.output:
            print(f"方案已写入 {args.output}")
        print(
            "已应用（可用 gridmap undo 撤销）。" if plan.applied else "未写入（加 --apply 应用）。"
        )
    else:
        print(
            f"{n} grids: {before} outside {lo:g}-{hi:g} households before, {after} after; "
            f"{len(plan.moves)} block move(s) (method {plan.method})."
        )
        if towers:
            print(f"These grids hold a block above the range that no move can fix: {towers}")
        if plan.note:
            print(rebalance.NO_GAIN_EN)
        if args.output:
            print(f"Proposal written to {args.output}")
        print(
            f"Applied in one transaction ({plan.applied[0]}; `gridmap undo` takes it back)."
            if plan.applied
            else "Nothing written (add --apply to paint the moves)."
        )


#: The Chinese of the lineage's operations.
_LINEAGE_ZH = {"split": "拆分", "merge": "合并", "partition": "自动划分", "renumber": "重新编号"}


def cmd_lineage(args: argparse.Namespace) -> None:
    """Print which grid codes became which, as in effect now (undone edits left out)."""
    import json

    from gridmap.service.plan_history import lineage
    from gridmap.store import open_workspace

    ws = open_workspace(args.workspace)
    entries = lineage(ws)
    if args.code:
        entries = [e for e in entries if args.code in (*e.get("from", []), *e.get("to", []))]
    if args.json:
        print(json.dumps({"lineage": entries}, ensure_ascii=False, indent=1))
        return
    zh = _lang(args) == "zh"
    for e in entries:
        op = str(e.get("op", "?"))
        at = str(e.get("at") or "")[:16].replace("T", " ")
        sep = "、" if zh else ", "
        what = f"{sep.join(e.get('from', []))} -> {sep.join(e.get('to', []))}"
        by = e.get("user") or "?"
        version = e.get("tx")
        if zh:
            tail = f"（版本 {version}）" if version else ""
            print(f"{at} {by} {_LINEAGE_ZH.get(op, op)}：{what}{tail}")
        else:
            tail = f" (version {version})" if version else ""
            print(f"{at} {by} {op}: {what}{tail}")
    n = len(entries)
    about = f" of {args.code}" if args.code else ""
    about_zh = f"涉及 {args.code} 的" if args.code else ""
    print(
        f"共 {n} 条{about_zh}编码变更记录。"
        if zh
        else f"{n} lineage entr{'y' if n == 1 else 'ies'}{about}."
    )


def add_commands(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``grids auto``, ``validate``, ``renumber``, ``rebalance`` and ``lineage`` to the
    ``gridmap`` command."""
    group = sub.add_parser(
        "grids",
        help="grids: draw them automatically (auto), check them (validate), fix their households "
        "(rebalance), renumber them, trace their codes (lineage)",
    )
    actions = group.add_subparsers(dest="grids_command", required=True, metavar="ACTION")
    p = actions.add_parser(
        "auto",
        parents=parents,
        help="draw grids of about --target households from street blocks, community by community",
    )
    p.add_argument("workspace")
    p.add_argument("--community", help="draw only this community's grids (its 12-digit code)")
    p.add_argument("--target", type=float, default=400, help="households per grid (default 400)")
    p.add_argument(
        "--min",
        type=float,
        default=DEFAULT_RANGE[0],
        help=f"fewest households (default {DEFAULT_RANGE[0]})",
    )
    p.add_argument(
        "--max",
        type=float,
        default=DEFAULT_RANGE[1],
        help=f"most households (default {DEFAULT_RANGE[1]})",
    )
    p.add_argument(
        "--time-limit", type=float, help="seconds for the search (default: until it finishes)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random restarts (default 0)")
    p.add_argument(
        "--restarts",
        type=int,
        default=DEFAULT_RESTARTS,
        help=f"extra random starts per grid count (default {DEFAULT_RESTARTS}; 0: deterministic"
        " construction only)",
    )
    p.add_argument(
        "--method",
        choices=["heuristic", "exact"],
        default="heuristic",
        help="heuristic (default) or exact (MILP, small communities only)",
    )
    p.add_argument("--replace", action="store_true", help="replace the grids there already")
    p.add_argument("--dry-run", action="store_true", help="solve and report, write nothing")
    p.add_argument(
        "-o",
        "--output",
        help="also write the new grids to this GeoJSON file; without --replace where there are "
        "grids already, only this preview is written",
    )
    p.add_argument("--user", default="cli", help="name recorded in the audit log")
    p.set_defaults(func=cmd_auto)
    v = actions.add_parser(
        "validate",
        parents=parents,
        help="check the grids: overlaps, gaps, parts outside, pieces, cut and orphan buildings, "
        "household range, communities (exit 1 when anything is found)",
    )
    v.add_argument("workspace")
    v.add_argument("--json", action="store_true", help="print findings and figures as JSON")
    v.add_argument(
        "--min",
        type=float,
        default=DEFAULT_RANGE[0],
        help=f"fewest households (default {DEFAULT_RANGE[0]})",
    )
    v.add_argument(
        "--max",
        type=float,
        default=DEFAULT_RANGE[1],
        help=f"most households (default {DEFAULT_RANGE[1]})",
    )
    v.add_argument("--community", help="check only this community's grids (its 12-digit code)")
    v.add_argument("--lang", choices=["zh", "en"], help="language (default: from $LANG)")
    v.set_defaults(func=cmd_validate)
    r = actions.add_parser(
        "renumber",
        parents=parents,
        help="renumber grids west to east, north to south (optionally in another code form), "
        "rewriting every layer's grid_code in one undoable version",
    )
    r.add_argument("workspace")
    r.add_argument(
        "--form", choices=["db11", "cjt349"], help="code form (default: the workspace's, db11)"
    )
    r.add_argument("--community", help="renumber only this community's grids (its 12-digit code)")
    r.add_argument(
        "--object",
        help="cjt349: the 6-digit management/service object code (CJ/T 348) the codes start "
        "with (kept as the workspace's setting; default 000000)",
    )
    r.add_argument("--dry-run", action="store_true", help="print the changes, write nothing")
    r.add_argument("--json", action="store_true", help="print the changes as JSON")
    r.add_argument("--lang", choices=["zh", "en"], help="language (default: from $LANG)")
    r.add_argument("--user", default="cli", help="name recorded in the audit log")
    r.set_defaults(func=cmd_renumber)
    r = actions.add_parser(
        "rebalance",
        parents=parents,
        help="propose the fewest street-block moves that bring every grid into range "
        "(--apply paints them)",
    )
    r.add_argument("workspace")
    r.add_argument(
        "--households",
        type=float,
        default=DEFAULT_HOUSEHOLDS,
        help=f"households per grid, the middle of the range ({DEFAULT_HOUSEHOLDS:g})",
    )
    r.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help=f"allowed share off --households ({DEFAULT_TOLERANCE:g}: "
        f"{DEFAULT_HOUSEHOLDS * (1 - DEFAULT_TOLERANCE):g}-"
        f"{DEFAULT_HOUSEHOLDS * (1 + DEFAULT_TOLERANCE):g}, the range of validate and the "
        "planning page)",
    )
    r.add_argument("--community", help="only this community's grids (its 12-digit code)")
    r.add_argument("-o", "--output", help="write the moved blocks to this GeoJSON file")
    r.add_argument("--json", action="store_true", help="print moves and figures as JSON")
    r.add_argument("--apply", action="store_true", help="paint the moves (undo-able)")
    r.add_argument("--user", default="cli", help="name recorded in the history")
    r.add_argument("--lang", choices=["zh", "en"], help="language (default: from $LANG)")
    r.set_defaults(func=cmd_rebalance)
    li = actions.add_parser(
        "lineage",
        parents=parents,
        help="which grid codes became which (split, merge, partition, renumber), as in effect "
        "after undo, redo and restore",
    )
    li.add_argument("workspace")
    li.add_argument("--code", help="only the entries that name this grid code")
    li.add_argument("--json", action="store_true", help="print the entries as JSON")
    li.add_argument("--lang", choices=["zh", "en"], help="language (default: from $LANG)")
    li.set_defaults(func=cmd_lineage)
