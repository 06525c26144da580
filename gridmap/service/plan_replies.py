"""What planning replies carry besides the edit: the ground an edit's re-check covers, and the
grids a refused (409) save names, each with who changed it and when.

``GET /api/grids/checks?grids=…`` re-checks only the grids an edit changed
(:func:`gridmap.service.grid_checks.validate` with ``grids``): :func:`parse_codes` checks the
list, :func:`recheck_scope` gives the box (EPSG:4326 degrees) whose findings without a grid
(a building in no grid) the re-check answers for, so that the page replaces exactly those.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from gridmap.errors import InputError
from gridmap.grids.codes import LENGTHS
from gridmap.grids.findings import KINDS
from gridmap.service.local_time import local_text, zone
from gridmap.store import Workspace

#: The kinds of findings, most serious first: the order of a check's findings.
FINDING_KINDS: tuple[str, ...] = KINDS
#: The most grid codes one re-check takes (an edit changes a few; more is a full check).
MAX_RECHECK = 500
_CODE = re.compile("|".join(f"[0-9]{{{n}}}" for n in sorted(set(LENGTHS.values()))))


def parse_codes(text: str | None) -> list[str] | None:
    """Return the grid codes of a comma-separated ``grids`` parameter (None: not given).

    Each must be a grid code of a known form (15 or 20 digits), at most :data:`MAX_RECHECK`
    of them; anything else is an InputError (400) saying so in English and Chinese.
    """
    if text is None:
        return None
    codes = [c.strip() for c in text.split(",")]
    if not text.strip() or not all(codes):
        raise InputError(
            "grids must list grid codes separated by commas, such as "
            "grids=320102001001001,320102001001002. (grids 应为以逗号分隔的网格编码。)"
        )
    if len(codes) > MAX_RECHECK:
        raise InputError(
            f"grids names {len(codes)} grids; a re-check takes at most {MAX_RECHECK} "
            f"(leave grids out to check the whole plan). "
            f"(grids 最多 {MAX_RECHECK} 个网格，检查全部请省略 grids。)"
        )
    bad = [c for c in codes if not _CODE.fullmatch(c)]
    if bad:
        shown = bad[0][:40]
        raise InputError(
            f"'{shown}' is not a grid code (15 or 20 digits). (“{shown}”不是网格编码，应为 15 或 20 位数字。)"
        )
    return list(dict.fromkeys(codes))


def recheck_scope(ws: Workspace, codes: list[str]) -> list[float] | None:
    """Return the box (minlon, minlat, maxlon, maxlat, EPSG:4326) a re-check of ``codes``
    answers for the findings without a grid: the grids' box, the re-check's margin wider
    (:mod:`gridmap.service.grid_recheck`); None when none of them is there."""
    from gridmap.service.grid_recheck import MARGIN_M, _pad

    mine = ws.read("grids", where={"code": codes}) if codes else ws.read("grids", limit=0)
    mine = mine[~mine.geometry.is_empty & mine.geometry.notna()]
    if not len(mine):
        return None
    return [round(float(v), 7) for v in _pad(tuple(mine.total_bounds), MARGIN_M)]


def conflict_grids(
    ws: Workspace, codes: list[str], sent: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Return the grids of ``codes`` whose version is not the one the caller sent (``sent``:
    code → version; a grid not sent counts as changed): ``code``, ``version`` (now; None when
    it is gone), ``yours``, ``changed_by``, ``changed_at`` (ISO 8601 UTC) and ``when`` (that
    time in the workspace's time zone)."""
    from gridmap.service.planning import removal

    wanted = list(dict.fromkeys(str(c) for c in codes))
    sent = sent if isinstance(sent, dict) else {}
    now = ws.read("grids", where={"code": wanted}) if wanted else ws.read("grids", limit=0)
    rows = {str(r.code): r for r in now.itertuples()}
    tz = zone(ws)
    out = []
    by: str | None
    at: str | None
    for code in wanted:
        yours = sent.get(code)
        row = rows.get(code)
        if row is None:
            gone = removal(ws, code)
            if gone is None:
                continue
            by, at, _ = gone
            version = None
        else:
            version = int(row.version)
            if yours == version:
                continue
            by = None if pd.isna(row.updated_by) else str(row.updated_by)
            at = None if pd.isna(row.updated_at) else str(row.updated_at)
        out.append(
            {
                "code": code,
                "version": version,
                "yours": yours if isinstance(yours, int) else None,
                "changed_by": by,
                "changed_at": at,
                "when": local_text(at, tz) if at else None,
            }
        )
    return out


__all__ = ["FINDING_KINDS", "MAX_RECHECK", "conflict_grids", "parse_codes", "recheck_scope"]
