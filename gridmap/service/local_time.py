"""Times in messages, in the workspace's time zone (its ``timezone`` setting).

The history keeps times in UTC (ISO 8601); a planner reads them as wall-clock time where the
workspace is (Asia/Shanghai by default): ``2026-05-01 22:03 CST``.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gridmap.io.geojson import DEFAULT_TZ
from gridmap.store import Workspace


def zone(ws: Workspace | None) -> ZoneInfo:
    """Return the workspace's time zone (:data:`DEFAULT_TZ` without one, or an unknown one)."""
    name = ws.get_meta("timezone", DEFAULT_TZ) if ws is not None else DEFAULT_TZ
    try:
        return ZoneInfo(str(name or DEFAULT_TZ))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


def local_text(at: str | None, tz: ZoneInfo) -> str:
    """Return the ISO 8601 time ``at`` (UTC when it has no offset) as ``YYYY-MM-DD HH:MM``
    in ``tz`` with the zone's abbreviation; ``?`` for none, the text itself if unreadable."""
    if not at:
        return "?"
    text = str(at).strip()
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    local = when.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or tz.key}"


__all__ = ["local_text", "zone"]
