"""What replies and caches are keyed by: the workspace's content, not its file.

:meth:`Workspace.stamp` moves on every write to the file, the access log's rows included, so a
cache keyed by it empties whenever someone reads personal data. :func:`content` keys by the
layers' content instead (:meth:`Workspace.content_stamp`) and computes it only when the file
stamp moved since the last call, so an unchanged workspace costs one ``stat``. Given
``layers``, it keys by those layers alone: what is computed from the streets and communities
(the street blocks) stays valid while grids, households and the rest change.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable

from gridmap.store import Workspace

_MEMO: weakref.WeakKeyDictionary[Workspace, dict[tuple[str, ...] | None, tuple[str, str]]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()


def content(ws: Workspace, layers: Iterable[str] | None = None) -> str:
    """Return a short text that changes when a layer of ``ws`` changes, by any program.

    It stays the same while only the access log, sessions, tokens or accounts change.
    ``layers``: only a change of these layers moves it (the text differs from the stamp of
    all layers, and from that of other layers).
    """
    key = None if layers is None else tuple(sorted(set(layers)))
    file_stamp = ws.stamp()
    with _LOCK:
        memo = _MEMO.get(ws, {}).get(key)
    if memo is not None and memo[0] == file_stamp:
        return memo[1]
    found = ws.content_stamp(key)
    with _LOCK:
        _MEMO.setdefault(ws, {})[key] = (file_stamp, found)
    return found
