"""``gridmap privacy``: can a masked role read a hidden flag back from the register it is served?

Runs :func:`gridmap.service.privacy_check.check` on the workspace and prints one line per
hidden flag (English, with Chinese titles) and per order the ids could give away (a visit's
household, a household's room), or the report as JSON with ``--json``. Exit status 0 when
everything passes, 1 when a flag or an order can be read back (the line names the clue to look
at), 2 on errors.
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from datetime import date
from typing import TYPE_CHECKING

from gridmap.cli.common import Progress, Subparsers
from gridmap.errors import InputError

if TYPE_CHECKING:
    from gridmap.service.privacy_check import PrivacyReport

#: Exit status when a masked view gives a flag away.
FLAG_READ_BACK = 1

_VERDICTS = {"pass": "pass 通过", "fail": "FAIL 不通过", "not enough rows to judge": "—"}


def _pad(text: str, width: int) -> str:
    """Return ``text`` padded to ``width`` terminal columns (Chinese characters take two)."""
    wide = sum(unicodedata.east_asian_width(ch) in "WF" for ch in text)
    return text + " " * max(0, width - len(text) - wide)


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render(report: PrivacyReport) -> str:
    """Return the report of :func:`gridmap.service.privacy_check.check` as a text table."""
    from gridmap.service.privacy_check import FAIL, MIN_ROWS, NOT_JUDGED

    lines = [
        f"Privacy check 隐私检查: {report.workspace}, read on {report.today.isoformat()}",
        f"Register 登记: {report.households:,} households 户, {report.people:,} people 人, "
        f"{report.visits:,} visits 走访",
    ]
    for c in report.checks:
        lines += [
            "",
            f"What {', '.join(c.roles)} are served (masked view 脱敏视图):",
            "",
            f"  {_pad('flag 标志', 44)} {'flagged':>7} {'AUC':>6} {'bound':>6}  "
            f"{'accuracy / always no':<21} verdict 结论",
        ]
        for f in c.flags:
            title = f"{f.en} {f.zh}"
            accuracy = (
                "—"
                if f.accuracy is None
                else f"{_number(f.accuracy, 4)} / {_number(f.majority, 4)}"
            )
            lines.append(
                f"  {_pad(title, 44)} {f.positives:>7,} {_number(f.auc):>6} {_number(f.bound):>6}  "
                f"{accuracy:<21} {_VERDICTS.get(f.verdict, f.verdict)}"
            )
            if f.verdict == NOT_JUDGED:
                lines.append(
                    f"      not enough rows to judge 数据不足，无法判断 "
                    f"({f.positives} of {f.rows} households have it)"
                )
            elif f.verdict == FAIL:
                lines.append(
                    f"      read back by {f.best}; the strongest single clue 最强线索: {f.clue} "
                    f"(AUC {_number(f.clue_auc)} alone) from {f.clue_source}"
                )
        lines += ["", "  Group sizes 分组大小 (k-anonymity):"]
        for g in c.groups:
            if g.view == "visits":
                text = (
                    f"each could be any of at least {g.k:,} households (linked by "
                    f"{', '.join(g.by) or 'nothing'})"
                    if g.rows
                    else "no visits"
                )
            elif g.rows == 0:
                text = "no rows served"
            else:
                text = (
                    f"k = {g.k:,}, {g.unique_share:.1%} unique, {g.groups:,} groups on "
                    f"{', '.join(g.by)}"
                )
            lines.append(f"    {g.view:<11} {text}")
        if c.orders:
            lines += ["", "  Id order 编号顺序 (the ids served, and the order of the rows):"]
        for o in c.orders:
            what = f"{o.view} → {o.hidden}, within {o.within}"
            verdict = _VERDICTS.get(o.verdict, o.verdict)
            if o.rho is None or o.closeness is None:
                lines.append(f"    {_pad(what, 50)} {verdict}")
                continue
            lines.append(
                f"    {_pad(what, 50)} rho {o.rho:+.3f} (bound {_number(o.rho_bound)}), "
                f"neighbours {o.closeness:+.3f} (bound {_number(o.closeness_bound)}), "
                f"{o.gap:,.0f} ranks apart (chance {o.chance_gap:,.0f}), by {o.by}  {verdict}"
            )
    lines.append("")
    failed = report.failed
    orders = [o for c in report.checks for o in c.failed_orders]
    if orders:
        names = ", ".join(sorted({f"{o.view} → {o.hidden}" for o in orders}))
        lines.append(
            f"FAIL 不通过: the ids masked roles are served, or the order of their rows, give "
            f"away {names}: every masked view must serve opaque ids in their own order "
            "(gridmap/access/ids.py). See docs/privacy.md, 'Feature ids'."
        )
    if failed:
        names = ", ".join(sorted({f.flag for _, f in failed}))
        lines.append(
            f"FAIL 不通过: a masked role can read back {names}. Look at the clues named above: "
            "the masked view (or the figures) must drop or coarsen them. See docs/privacy.md, "
            "'Check your own register'."
        )
    elif not orders:
        unjudged = sum(f.verdict == NOT_JUDGED for c in report.checks for f in c.flags)
        judged = sum(len(c.flags) for c in report.checks) - unjudged
        if judged:
            lines.append(
                "PASS 通过: no hidden flag is guessed better than chance from what masked roles "
                f"see ({report.seconds:.0f} s)."
            )
        if unjudged:
            lines.append(
                f"Not judged 未判断: {unjudged} flag(s) with fewer than {MIN_ROWS} households "
                "on one side; run the check again when the register holds more."
            )
    return "\n".join(lines)


def cmd_privacy(args: argparse.Namespace) -> int:
    """Run the privacy check; exit status 1 when a flag (or an order) can be read back."""
    from gridmap.service.privacy_check import check
    from gridmap.store import open_workspace

    today = None
    if args.today:
        try:
            today = date.fromisoformat(args.today)
        except ValueError as exc:
            raise InputError(f"--today takes a date as YYYY-MM-DD, not '{args.today}'.") from exc
    ws = open_workspace(args.workspace, read_only=True)
    report = check(ws, today=today, progress=Progress(args.quiet or args.json))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(render(report))
    return 0 if report.passed else FLAG_READ_BACK


def add_commands(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``privacy`` to the ``gridmap`` command."""
    p = sub.add_parser(
        "privacy",
        parents=parents,
        help="check that masked roles cannot read hidden flags back from your own register",
        description="Serve the register as each masked role gets it, attack it with "
        "cross-validated classifiers and report, per hidden flag, whether it can be guessed "
        "better than chance. Exit status 0: every flag passes; 1: a flag can be read back; "
        "2: an error.",
    )
    p.add_argument("workspace")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--today", help="the day ages are counted on, YYYY-MM-DD (default: today; a demo: its day)"
    )
    p.set_defaults(func=cmd_privacy)
