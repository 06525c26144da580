"""Users, API tokens and the log of unmasked reads in a GeoPackage workspace.

Three attribute tables beside the layers: ``gridmap_users`` (one row per account),
``gridmap_tokens`` (SHA-256 digests of personal API tokens, revocable) and ``gridmap_reads``
(who read or exported personal data unmasked: when, which layer, how many rows, which filter).
Changes to users and tokens write an audit row in the same transaction; nothing here hashes
or checks a password (:mod:`gridmap.access.accounts` does).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd

from gridmap.errors import InputError, WorkspaceError
from gridmap.store.accounts import TokenRecord, UserRecord
from gridmap.store.gpkg.ddl import AUDIT_TABLE, NOW_SQL, READS_TABLE, TOKENS_TABLE, USERS_TABLE
from gridmap.store.gpkg.failures import sql_errors
from gridmap.store.gpkg.values import ident

_USER_COLUMNS = (
    "name, role, password_hash, grids, display_name, disabled, demo, epoch, created_at, last_login"
)
_TOKEN_COLUMNS = "id, user, label, digest, created_at, last_used, revoked_at"
#: Columns of :class:`UserRecord` that :meth:`AccountsMixin.update_user` may change.
_CHANGEABLE = {"role", "password_hash", "grids", "display_name", "disabled", "epoch", "last_login"}


def _user(row: tuple[Any, ...]) -> UserRecord:
    name, role, pw, grids, display, disabled, demo, epoch, created, last = row
    return UserRecord(
        name=name,
        role=role,
        password_hash=pw,
        grids=tuple(json.loads(grids or "[]")),
        display_name=display,
        disabled=bool(disabled),
        demo=bool(demo),
        epoch=int(epoch),
        created_at=created,
        last_login=last,
    )


def _token(row: tuple[Any, ...]) -> TokenRecord:
    return TokenRecord(*row)


class AccountsMixin:
    """The account methods of :class:`~gridmap.store.gpkg.GeoPackageWorkspace`."""

    read_only: bool

    def _conn(self) -> sqlite3.Connection:  # provided by the workspace
        raise NotImplementedError

    def _begin(self, conn: sqlite3.Connection) -> Any:  # provided by the workspace
        raise NotImplementedError

    @property
    def _label(self) -> Any:  # the workspace's path, for messages
        return getattr(self, "path", "workspace")

    @contextlib.contextmanager
    def _writing(self, actor: str, action: str, detail: str) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise WorkspaceError("The workspace is open read-only: accounts cannot change.")
        conn = self._conn()
        with self._begin(conn), sql_errors(self._label):
            yield conn
            conn.execute(
                f"INSERT INTO {ident(AUDIT_TABLE)} (at, user, action, layers, rows, detail) "
                f"VALUES ({NOW_SQL}, ?, ?, ?, 1, ?)",
                (actor, action, USERS_TABLE, detail),
            )

    # -- users -----------------------------------------------------------------------------

    def users(self) -> list[UserRecord]:
        """Return every account, by name."""
        with sql_errors(self._label):
            rows = self._conn().execute(
                f"SELECT {_USER_COLUMNS} FROM {ident(USERS_TABLE)} ORDER BY name"
            )
            return [_user(r) for r in rows.fetchall()]

    def get_user(self, name: str) -> UserRecord | None:
        """Return the account ``name``, or None."""
        with sql_errors(self._label):
            row = (
                self._conn()
                .execute(
                    f"SELECT {_USER_COLUMNS} FROM {ident(USERS_TABLE)} WHERE name = ?", (name,)
                )
                .fetchone()
            )
        return None if row is None else _user(row)

    def add_user(self, user: UserRecord, *, actor: str = "system") -> None:
        """Add an account (its name must be new: :class:`InputError` otherwise)."""
        with self._writing(actor, "users add", f"{user.name} ({user.role})") as conn:
            if conn.execute(
                f"SELECT 1 FROM {ident(USERS_TABLE)} WHERE name = ?", (user.name,)
            ).fetchone():
                raise InputError(f"There is a user called '{user.name}' already.")
            conn.execute(
                f"INSERT INTO {ident(USERS_TABLE)} ({_USER_COLUMNS}) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, {NOW_SQL}, NULL)",
                (
                    user.name,
                    user.role,
                    user.password_hash,
                    json.dumps(list(user.grids), ensure_ascii=False),
                    user.display_name,
                    int(user.disabled),
                    int(user.demo),
                    int(user.epoch),
                ),
            )

    def update_user(
        self, name: str, changes: Mapping[str, Any], *, actor: str = "system", action: str = ""
    ) -> UserRecord:
        """Change fields of the account ``name`` (role, password_hash, grids, display_name,
        disabled, epoch, last_login); return it as it is now."""
        unknown = set(changes) - _CHANGEABLE
        if unknown:
            raise InputError(f"Cannot change {', '.join(sorted(unknown))} of a user.")
        values = {
            k: json.dumps(list(v), ensure_ascii=False) if k == "grids" else v
            for k, v in changes.items()
        }
        values = {k: int(v) if isinstance(v, bool) else v for k, v in values.items()}
        what = action or "users change"
        quiet = set(changes) == {"last_login"}  # a sign-in is not an account change
        conn = self._conn()
        if quiet:
            with self._begin(conn), sql_errors(self._label):
                self._set(conn, name, values)
        else:
            shown = ", ".join(k for k in changes if k != "password_hash") or "password"
            with self._writing(actor, what, f"{name}: {shown}") as conn:
                self._set(conn, name, values)
        found = self.get_user(name)
        assert found is not None
        return found

    def _set(self, conn: sqlite3.Connection, name: str, values: Mapping[str, Any]) -> None:
        if not values:
            return
        sets = ", ".join(f"{ident(k)} = ?" for k in values)
        cur = conn.execute(
            f"UPDATE {ident(USERS_TABLE)} SET {sets} WHERE name = ?", (*values.values(), name)
        )
        if cur.rowcount == 0:
            raise InputError(f"There is no user called '{name}'.")

    def remove_user(self, name: str, *, actor: str = "system") -> None:
        """Remove the account ``name`` and its tokens (its audit rows stay)."""
        with self._writing(actor, "users remove", name) as conn:
            conn.execute(f"DELETE FROM {ident(TOKENS_TABLE)} WHERE user = ?", (name,))
            cur = conn.execute(f"DELETE FROM {ident(USERS_TABLE)} WHERE name = ?", (name,))
            if cur.rowcount == 0:
                raise InputError(f"There is no user called '{name}'.")

    # -- tokens ----------------------------------------------------------------------------

    def add_token(self, user: str, digest: str, label: str, *, actor: str = "system") -> int:
        """Store the digest of a new API token of ``user``; return the token's id."""
        with self._writing(actor, "users token", f"{user}: {label}") as conn:
            if not conn.execute(
                f"SELECT 1 FROM {ident(USERS_TABLE)} WHERE name = ?", (user,)
            ).fetchone():
                raise InputError(f"There is no user called '{user}'.")
            cur = conn.execute(
                f"INSERT INTO {ident(TOKENS_TABLE)} (user, label, digest, created_at) "
                f"VALUES (?, ?, ?, {NOW_SQL})",
                (user, label, digest),
            )
            token_id = int(cur.lastrowid or 0)
        return token_id

    def tokens(self, user: str | None = None) -> list[TokenRecord]:
        """Return the tokens of ``user`` (every user's with None), oldest first."""
        sql = f"SELECT {_TOKEN_COLUMNS} FROM {ident(TOKENS_TABLE)}"
        args: tuple[Any, ...] = ()
        if user is not None:
            sql, args = sql + " WHERE user = ?", (user,)
        with sql_errors(self._label):
            return [_token(r) for r in self._conn().execute(sql + " ORDER BY id", args)]

    def find_token(self, digest: str) -> TokenRecord | None:
        """Return the active token with this digest, or None."""
        with sql_errors(self._label):
            row = (
                self._conn()
                .execute(
                    f"SELECT {_TOKEN_COLUMNS} FROM {ident(TOKENS_TABLE)} "
                    "WHERE digest = ? AND revoked_at IS NULL",
                    (digest,),
                )
                .fetchone()
            )
        return None if row is None else _token(row)

    def touch_token(self, token_id: int) -> None:
        """Record that a token was just used (not audited)."""
        if self.read_only:
            return
        conn = self._conn()
        with self._begin(conn), sql_errors(self._label):
            conn.execute(
                f"UPDATE {ident(TOKENS_TABLE)} SET last_used = {NOW_SQL} WHERE id = ?", (token_id,)
            )

    def revoke_tokens(
        self, user: str, token_id: int | None = None, *, actor: str = "system"
    ) -> int:
        """Revoke one token of ``user`` (every active one with None); return how many."""
        detail = f"{user}: {'all' if token_id is None else token_id}"
        with self._writing(actor, "users revoke", detail) as conn:
            sql = (
                f"UPDATE {ident(TOKENS_TABLE)} SET revoked_at = {NOW_SQL} "
                "WHERE user = ? AND revoked_at IS NULL"
            )
            args: tuple[Any, ...] = (user,)
            if token_id is not None:
                sql, args = sql + " AND id = ?", (user, int(token_id))
            count = conn.execute(sql, args).rowcount
        return int(count)

    # -- reads of personal data --------------------------------------------------------------

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
        """Record a read or export of personal data unmasked (who, layer, rows, filter)."""
        if self.read_only:
            raise WorkspaceError(
                "The workspace is open read-only, so a read of personal data cannot be "
                "recorded in its access log; open it for writing to read personal data."
            )
        conn = self._conn()
        text = json.dumps(dict(filter or {}), ensure_ascii=False, default=str, sort_keys=True)
        with self._begin(conn), sql_errors(self._label):
            conn.execute(
                f"INSERT INTO {ident(READS_TABLE)} (at, user, role, action, layer, rows, filter) "
                f"VALUES ({NOW_SQL}, ?, ?, ?, ?, ?, ?)",
                (user, role, action, layer, int(rows), text),
            )

    def read_log(
        self, *, user: str | None = None, since: str | None = None, limit: int | None = 1000
    ) -> pd.DataFrame:
        """Return the access log of unmasked reads, newest first.

        ``since`` is an ISO date or time (UTC); columns: id, at, user, role, action, layer,
        rows, filter.
        """
        clauses: list[str] = []
        args: list[Any] = []
        if user is not None:
            clauses.append("user = ?")
            args.append(user)
        if since is not None:
            clauses.append("at >= ?")
            args.append(since)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        tail = " LIMIT ?" if limit is not None else ""
        if limit is not None:
            args.append(int(limit))
        with sql_errors(self._label):
            cur = self._conn().execute(
                f"SELECT id, at, user, role, action, layer, rows, filter FROM {ident(READS_TABLE)}"
                f"{where} ORDER BY id DESC{tail}",
                args,
            )
            names = [d[0] for d in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=names)
