"""The workspace contract: what every storage backend of gridmap provides.

A workspace holds the layers of :mod:`gridmap.schema` (geometry in EPSG:4326), settings, an
audit log and a change history. Backends: one GeoPackage file today
(:class:`gridmap.store.gpkg.GeoPackageWorkspace`), PostGIS for a city later; both keep the same
guarantees:

- **Transactions.** Every change happens inside :meth:`Workspace.transaction`: all its writes
  land together with one audit row and their history rows, or none do. Reads made through the
  transaction (:meth:`Transaction.read`) see its own writes; the transaction holds the write lock
  from its first statement, so a check and the write that depends on it see one snapshot.
  Transactions nest: an inner one joins the outer (a savepoint) and commits with it.
- **Stable ids.** A feature keeps its id (``fid``) for life; ids come from the database and are
  never reused, not even after the feature is deleted. Replacing a layer keeps the id of every
  row whose key (:attr:`gridmap.schema.Layer.key`) is still there.
- **Versions.** Each feature carries ``version`` (1 when created, +1 on every change, also when
  another program such as QGIS changes it), ``updated_at`` and ``updated_by``.
  :meth:`Transaction.update` and :meth:`Transaction.delete` take the version the caller read and
  raise :class:`gridmap.errors.ConflictError` (HTTP 409) when it is stale.
- **History.** Each change of a feature is recorded (transaction, layer, fid, operation, the
  values before, the values changed, who, when), so that a feature or a layer can be shown as it
  was after any transaction and a transaction can be undone.
- **One set of rules.** Every write is checked by the same rules as an import
  (:mod:`gridmap.schema.rules`): types, required values, choices, unique keys, geometry type,
  validity and coordinates in degrees. The tables carry the same rules as constraints, so edits
  made by other programs obey them too.
- **Errors.** Storage failures come out as :mod:`gridmap.errors` classes: a locked workspace as
  :class:`gridmap.errors.BusyError` (HTTP 503, retry), a broken rule as
  :class:`gridmap.errors.ConstraintError`; never as a driver's own exception.
"""

from __future__ import annotations

import contextlib
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import FeatureNotFoundError, WorkspaceError
from gridmap.schema import get_layer
from gridmap.schema.rules import SYSTEM_COLUMNS
from gridmap.store.accounts import TokenRecord, UserRecord

__all__ = ["SYSTEM_COLUMNS", "Bbox", "LayerInfo", "Transaction", "Workspace"]

#: (minlon, minlat, maxlon, maxlat) in degrees, EPSG:4326.
Bbox = tuple[float, float, float, float]


@dataclass(frozen=True)
class LayerInfo:
    """What a workspace holds in one layer: feature count, extent (degrees) and layer version.

    ``version`` counts the transactions that changed the layer through gridmap.
    """

    name: str
    count: int
    bounds: Bbox | None
    version: int


class Transaction(ABC):
    """The reads and writes of one transaction; see :meth:`Workspace.transaction`.

    Frames given to the writing methods hold the layer's columns (any subset for
    :meth:`append`, missing ones are empty) and, for a layer with geometry, a geometry column
    in EPSG:4326 or in a CRS the frame declares. They are checked by
    :func:`gridmap.schema.rules.check_rows` and never changed.
    """

    #: The audit-log row of this transaction once it has written (None before).
    tx_id: int | None = None

    @abstractmethod
    def read(
        self,
        layer: str,
        *,
        bbox: Bbox | None = None,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
        after: int | None = None,
    ) -> pd.DataFrame:
        """Read ``layer`` as :meth:`Workspace.read` does, seeing this transaction's writes."""

    @abstractmethod
    def replace(self, layer: str, frame: pd.DataFrame, *, cascade: bool = False) -> int:
        """Make ``layer`` hold exactly the rows of ``frame``; return the number of rows.

        Rows whose key is already in the layer keep their feature id (and are updated where
        they differ); rows of the layer that ``frame`` lacks are deleted; the rest are new.
        A layer without a key gets new ids for all rows. Deleting rows that other rows
        belong to (households with people) is refused unless ``cascade``.
        """

    @abstractmethod
    def append(self, layer: str, frame: pd.DataFrame) -> list[int]:
        """Add the rows of ``frame`` to ``layer``; return their new feature ids, in order."""

    @abstractmethod
    def update(
        self,
        layer: str,
        fid: int,
        values: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> int:
        """Change some columns (or ``geometry``, EPSG:4326) of one feature; return its new version.

        The feature's other columns stay as they are; the whole changed row is checked. With
        ``expected_version``, raise :class:`gridmap.errors.ConflictError` when the feature's
        version differs (someone changed it since the caller read it).
        """

    @abstractmethod
    def update_many(
        self,
        layer: str,
        changes: Mapping[int, Mapping[str, Any]],
        *,
        expected_versions: Mapping[int, int] | None = None,
    ) -> dict[int, int]:
        """Change columns of many features (``{fid: {column: value}}``); return new versions.

        The same checks and conflicts as :meth:`update`, in a few statements. Keys are
        changed one row after another, so two features cannot swap keys in one call (give
        one a temporary key first).
        """

    @abstractmethod
    def delete(
        self,
        layer: str,
        fids: Iterable[int],
        *,
        expected_versions: Mapping[int, int] | None = None,
    ) -> int:
        """Delete features by id; return how many were deleted.

        ``expected_versions`` maps fids to the versions the caller read (ConflictError when
        stale). Deleting a household also deletes its people (they belong to it); a household
        that visits still refer to is refused with :class:`gridmap.errors.ConstraintError`.
        """

    @abstractmethod
    def set_meta(self, key: str, value: Any) -> None:
        """Set a workspace setting (any JSON value)."""

    @abstractmethod
    def meta(self) -> dict[str, Any]:
        """Return every workspace setting as this transaction sees it (its own writes too)."""

    @abstractmethod
    def content_stamp(self, layers: Iterable[str] | None = None) -> str:
        """Return :meth:`Workspace.content_stamp` of ``layers`` as this transaction sees them
        (its own writes too): what a reply made from them must carry to still be true now."""

    def feature(self, layer: str, fid: int) -> pd.DataFrame:
        """Return the feature ``fid`` as a one-row frame, as this transaction sees it."""
        frame = self.read(layer, where={"fid": int(fid)})
        if frame.empty:
            raise FeatureNotFoundError(f"Layer '{layer}' has no feature {fid}.")
        return frame


class Workspace(ABC):
    """A gridmap workspace: the layers of :mod:`gridmap.schema`, settings, audit and history.

    Use it as a context manager (or call :meth:`close`) to release its connections.
    """

    @property
    @abstractmethod
    def name(self) -> str:
        """Return a short name for the workspace."""

    @abstractmethod
    def layers(self) -> list[LayerInfo]:
        """Return count, extent and version of every layer, in drawing order."""

    @abstractmethod
    def read(
        self,
        layer: str,
        *,
        bbox: Bbox | None = None,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
        after: int | None = None,
        columns: Iterable[str] | None = None,
        system: bool = True,
        order: Sequence[tuple[str, bool]] | None = None,
        geometry: bool = True,
    ) -> pd.DataFrame:
        """Read features of ``layer`` as a GeoDataFrame in EPSG:4326 indexed by feature id.

        Parameters
        ----------
        layer
            Layer name.
        bbox
            (minlon, minlat, maxlon, maxlat) in degrees: keep features whose geometry
            intersects the box (the spatial index narrows, the geometry decides). The
            attribute-only layer ``people`` is placed by its household.
        where
            Keep rows whose columns equal the given values (a list means any of them) or meet
            the given conditions (:mod:`gridmap.store.conditions`: comparisons, contains,
            none of, missing, all of); ``fid`` may be used too.
        limit, offset
            Page through the rows in feature-id order (or ``order``).
        after
            Keyset paging: only features whose id is greater than ``after``.
        columns
            Read only these schema columns (and the geometry); all by default.
        system
            Also read the system columns (False: pages for the map and exports, which never
            show them, skip their conversion).
        order
            Sort by these ``(column, descending)`` pairs first, missing values last; the
            feature id breaks ties (and is the only order without them).
        geometry
            False: leave the geometry out (a plain DataFrame), for reading ids and sort keys
            without decoding every shape.

        Returns
        -------
        A GeoDataFrame (a plain DataFrame for ``people`` or without ``geometry``) with the
        layer's columns and, with ``system``, the system columns ``version``, ``updated_at``,
        ``updated_by``.
        """

    @abstractmethod
    def count(
        self, layer: str, *, bbox: Bbox | None = None, where: Mapping[str, Any] | None = None
    ) -> int:
        """Return how many features of ``layer`` :meth:`read` would return without paging."""

    @abstractmethod
    def transaction(
        self, *, user: str = "system", action: str = "edit"
    ) -> contextlib.AbstractContextManager[Transaction]:
        """Open a transaction: all its writes land together with one audit row, or none do.

        ``user`` is recorded as who made the change, ``action`` as what it was (import, edit,
        grids auto, undo …). Inside another transaction of the same thread, the new one joins it.
        """

    @abstractmethod
    def meta(self) -> dict[str, Any]:
        """Return every workspace setting."""

    @abstractmethod
    def audit_log(
        self, *, limit: int | None = 100, user: str | None = None, layer: str | None = None
    ) -> pd.DataFrame:
        """Return the newest audit-log rows (one per transaction), newest first.

        ``user``: only that user's transactions; ``layer``: only those that changed that
        layer; ``limit`` None: all of them.
        """

    @abstractmethod
    def history(
        self,
        *,
        layer: str | None = None,
        fid: int | None = None,
        tx: int | None = None,
        limit: int | None = 1000,
    ) -> pd.DataFrame:
        """Return change-history rows, newest first.

        Columns: ``id``, ``tx`` (the audit-log row of the transaction), ``layer``, ``fid``,
        ``fid_last`` (bulk inserts record one row for a run of ids), ``op`` (insert, update,
        delete), ``version`` (the feature's version after the change), ``before`` and
        ``after`` (dicts of column values; ``geometry`` as WKT), ``user``, ``at``.
        """

    @abstractmethod
    def as_of(self, layer: str, tx: int) -> pd.DataFrame:
        """Return ``layer`` as it was right after transaction ``tx`` (a past audit-log row)."""

    @abstractmethod
    def undo(self, tx: int, *, user: str = "system") -> int:
        """Undo transaction ``tx`` in a new transaction; return that transaction's id.

        Raises :class:`gridmap.errors.ConflictError` when a feature it changed has changed
        again since (undo the later transaction first).
        """

    @abstractmethod
    def stamp(self) -> str:
        """Return a short text that changes whenever the workspace changes, by any program."""

    @abstractmethod
    def content_stamp(self, layers: Iterable[str] | None = None) -> str:
        """Return a short text that changes whenever a layer's features change, by any program
        (of ``layers`` only, when given: the street blocks' stamp counts streets and communities).

        Unlike :meth:`stamp` it stays when only the access log, sessions, tokens or accounts
        change, so replies cached by it stay valid while people read. It costs a count over
        every layer (tens of milliseconds on the demo): callers memoise it by :meth:`stamp`."""

    @abstractmethod
    def close(self) -> None:
        """Release the workspace's connections (it can be used again: they reopen)."""

    # -- accounts (records of :mod:`gridmap.store.accounts`; meaning in gridmap.access) -------

    @abstractmethod
    def users(self) -> list[UserRecord]:
        """Return every account, by name."""

    @abstractmethod
    def get_user(self, name: str) -> UserRecord | None:
        """Return the account ``name``, or None."""

    @abstractmethod
    def add_user(self, user: UserRecord, *, actor: str = "system") -> None:
        """Add an account (audited); a name in use raises :class:`gridmap.errors.InputError`."""

    @abstractmethod
    def update_user(
        self, name: str, changes: Mapping[str, Any], *, actor: str = "system", action: str = ""
    ) -> UserRecord:
        """Change fields of an account (audited, except ``last_login``); return it as it is now."""

    @abstractmethod
    def remove_user(self, name: str, *, actor: str = "system") -> None:
        """Remove an account and its tokens (audited)."""

    @abstractmethod
    def add_token(self, user: str, digest: str, label: str, *, actor: str = "system") -> int:
        """Store the SHA-256 ``digest`` of a new API token of ``user``; return its id."""

    @abstractmethod
    def tokens(self, user: str | None = None) -> list[TokenRecord]:
        """Return the tokens of ``user`` (everyone's with None), revoked ones included."""

    @abstractmethod
    def find_token(self, digest: str) -> TokenRecord | None:
        """Return the active (not revoked) token with this digest, or None."""

    @abstractmethod
    def touch_token(self, token_id: int) -> None:
        """Record that a token was just used."""

    @abstractmethod
    def revoke_tokens(
        self, user: str, token_id: int | None = None, *, actor: str = "system"
    ) -> int:
        """Revoke one token of ``user``, or all with None; return how many (audited)."""

    @abstractmethod
    def log_read(
        self,
        *,
        user: str,
        role: str,
        action: str,
        layer: str,
        rows: int,
        filter: Mapping[str, Any] | None = None,
    ) -> None:
        """Record a read or export of personal data unmasked; a read-only workspace refuses."""

    @abstractmethod
    def read_log(
        self, *, user: str | None = None, since: str | None = None, limit: int | None = 1000
    ) -> pd.DataFrame:
        """Return the log of unmasked reads, newest first (id, at, user, role, action, layer,
        rows, filter)."""

    # -- conveniences built on the primitives ---------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def info(self, layer: str) -> LayerInfo:
        """Return count, extent and version of one layer."""
        get_layer(layer)
        for li in self.layers():
            if li.name == layer:
                return li
        raise WorkspaceError(f"Layer '{layer}' is missing from the workspace file.")

    def feature(self, layer: str, fid: int) -> pd.DataFrame:
        """Return the one feature with id ``fid`` as a one-row frame."""
        frame = self.read(layer, where={"fid": int(fid)})
        if frame.empty:
            raise FeatureNotFoundError(f"Layer '{layer}' has no feature {fid}.")
        return frame

    def versions(self, layer: str) -> pd.Series:
        """Return each feature's ``version`` (index: fid, in order) without its shape: what a
        cache of the layer compares to find the rows changed since, by any program."""
        return self.read(layer, columns=(), geometry=False)["version"].astype("int64")

    def get_meta(self, key: str, default: Any = None) -> Any:
        """Return one workspace setting."""
        return self.meta().get(key, default)

    def secret(self, name: str) -> bytes:
        """Return the workspace's own random key for ``name`` (32 bytes), made on first use.

        Kept in the settings as ``secret:<name>`` (hex), so that what it keys (the opaque
        feature ids of :mod:`gridmap.access.ids`) stays the same across restarts and for every
        program serving the file. The key is made inside a write transaction that looks again
        first, so two programs asking at once get the same one. A read-only workspace without
        one gets a key of its own for the life of this object.
        """
        key = f"{SECRET_PREFIX}{name}"
        found = _secret_bytes(self.get_meta(key))
        if found is not None:
            return found
        made: dict[str, bytes] = self.__dict__.setdefault("_made_secrets", {})
        if getattr(self, "read_only", False):
            return made.setdefault(key, secrets.token_bytes(SECRET_BYTES))
        with self.transaction(user="system", action=f"settings {key}") as tx:
            found = _secret_bytes(self.get_meta(key))  # under the write lock: one key, ever
            if found is None:
                found = secrets.token_bytes(SECRET_BYTES)
                tx.set_meta(key, found.hex())
        return found

    def bounds(self) -> Bbox:
        """Return the extent of the workspace (degrees): the community layer, else every layer."""
        infos = {li.name: li for li in self.layers()}
        for name in ("community", "buildings", "streets"):
            found = infos.get(name)
            if found is not None and found.bounds:
                return found.bounds
        boxes = [li.bounds for li in infos.values() if li.bounds]
        if not boxes:
            raise WorkspaceError("The workspace is empty: import an OSM extract first.")
        arr = np.array(boxes)
        return (arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max())

    def area(self) -> BaseGeometry:
        """Return the area the workspace covers (union of communities, else its extent)."""
        community = self.read("community")
        if len(community):
            return shapely.union_all(community.geometry.values)
        return shapely.box(*self.bounds())

    def replace(
        self,
        layer: str,
        frame: pd.DataFrame,
        *,
        user: str = "system",
        action: str = "replace",
        cascade: bool = False,
    ) -> int:
        """Replace a whole layer in its own transaction; see :meth:`Transaction.replace`."""
        with self.transaction(user=user, action=action) as tx:
            return tx.replace(layer, frame, cascade=cascade)

    def append(
        self, layer: str, frame: pd.DataFrame, *, user: str = "system", action: str = "append"
    ) -> list[int]:
        """Append rows to a layer in its own transaction; see :meth:`Transaction.append`."""
        with self.transaction(user=user, action=action) as tx:
            return tx.append(layer, frame)


#: Settings that hold keys (:meth:`Workspace.secret`) start with this.
SECRET_PREFIX = "secret:"
#: The size of a workspace key.
SECRET_BYTES = 32


def _secret_bytes(value: Any) -> bytes | None:
    """Return a stored key (hex text of :data:`SECRET_BYTES` bytes), or None if it is none."""
    if not isinstance(value, str) or len(value) != 2 * SECRET_BYTES:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None
