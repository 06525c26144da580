"""Opaque feature ids: what a reader of a masked view gets instead of the stored feature id.

A stored feature id (``fid``) counts rows in the order they were written. In the register that
order is the households' own — building by building, unit by unit, room by room — and the
visits were written household by household, so a visit's id says which household it was of
within a few ranks, and a household's id says its room. That is exactly what the masked views
of :mod:`gridmap.access.privacy` leave out (``household_id``, ``visit_id``), so a reader of a
masked view (:func:`gridmap.access.privacy.opaque_ids`) is served a *token* in its place:

    token = base32(HMAC-SHA256(key, "<layer>:<fid>")[:10]), 16 characters, lower case

with the workspace's own random key (:meth:`gridmap.store.Workspace.secret`, name
:data:`SECRET`). A token is stable (the same feature has the same token for every masked reader,
across restarts, until the key changes), says nothing of the order (without the key, the tokens
of consecutive fids are unrelated, and sorting tokens sorts the rows at random), and names one
feature (80 bits: two features of a layer share a token with a chance below 10⁻¹² for a million
rows). What a masked reader sends back (``ids=``, a feature in a URL) is turned back into fids
by :mod:`gridmap.service.feature_ids`; a plain fid from them names nothing.

Rows are served to those readers in token order (:func:`order`), so that the order of a reply
tells no more than its ids. This module is pure: keys and fids in, tokens out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
from collections.abc import Iterable, Sequence

import numpy as np

#: The name of the workspace key tokens are made with (:meth:`gridmap.store.Workspace.secret`).
SECRET = "feature_ids"
#: Characters of a token: 80 bits in base32.
TOKEN_LENGTH = 16
_TOKEN = re.compile(rf"[a-z2-7]{{{TOKEN_LENGTH}}}")
#: Tokens kept per key and layer, so that a layer's tokens are made once (about 3 µs each).
_CACHE_LIMIT = 2_000_000
_cache: dict[tuple[bytes, str], dict[int, str]] = {}
_lock = threading.Lock()


def _make(key: bytes, layer: str, fid: int) -> str:
    mac = hmac.new(key, f"{layer}:{int(fid)}".encode(), hashlib.sha256).digest()
    return base64.b32encode(mac[:10]).decode("ascii").lower()


def tokens(key: bytes, layer: str, fids: Iterable[int]) -> list[str]:
    """Return the token of each feature id of ``layer`` under ``key``, in the order given.

    Parameters
    ----------
    key
        The workspace's key (:data:`SECRET`).
    layer
        The layer's name: the same fid has different tokens in different layers.
    fids
        Stored feature ids (positive integers).
    """
    wanted = [int(f) for f in fids]
    with _lock:
        known = _cache.get((key, layer), {})
        out = [known.get(f) for f in wanted]
    made = {f: _make(key, layer, f) for f, t in zip(wanted, out, strict=True) if t is None}
    if not made:
        return out  # type: ignore[return-value]
    with _lock:
        if sum(len(v) for v in _cache.values()) + len(made) > _CACHE_LIMIT:
            _cache.clear()
        _cache.setdefault((key, layer), {}).update(made)
    return [t if t is not None else made[f] for f, t in zip(wanted, out, strict=True)]


def is_token(text: object) -> bool:
    """Return whether ``text`` has the shape of a token (it may still name no feature)."""
    return isinstance(text, str) and _TOKEN.fullmatch(text) is not None


def order(served: Sequence[object], ties: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """Return the positions that put rows in served order: by ``ties``, then by token.

    ``ties`` numbers groups of rows that a sort leaves equal, in the sort's order (None: one
    group, the rows sorted by token alone). Within a group, rows follow their tokens, not the
    order they were stored in.
    """
    if not len(served):
        return np.zeros(0, dtype=np.int64)
    rank = np.argsort(np.asarray(served, dtype=f"S{TOKEN_LENGTH}"), kind="stable")
    token_rank = np.empty(len(rank), dtype=np.int64)
    token_rank[rank] = np.arange(len(rank))
    groups = np.zeros(len(rank), dtype=np.int64) if ties is None else np.asarray(ties)
    return np.lexsort((token_rank, groups))


def clear_cache() -> None:
    """Forget every token made (tests)."""
    with _lock:
        _cache.clear()
