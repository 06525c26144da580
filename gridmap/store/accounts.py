"""Accounts kept with a workspace: users, API tokens and the log of unmasked reads.

These are records of the store; what they mean (hashing, roles, who may do what) lives in
:mod:`gridmap.access`. Every backend keeps the same three tables beside the layers
(GeoPackage: ``gridmap_users``, ``gridmap_tokens``, ``gridmap_reads``), and every change to
users or tokens writes a row to the workspace's audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TokenRecord", "UserRecord"]


@dataclass(frozen=True)
class UserRecord:
    """One account.

    ``password_hash`` is the hash of the password (never the password; None: the account cannot
    sign in with a password); ``grids`` the grid codes of a grid worker; ``epoch`` rises when
    the password changes or the account is disabled, which ends every session signed in
    before; ``demo`` marks the accounts a demo workspace creates. Times are UTC ISO 8601 text.
    """

    name: str
    role: str
    password_hash: str | None = None
    grids: tuple[str, ...] = ()
    display_name: str | None = None
    disabled: bool = False
    demo: bool = False
    epoch: int = 1
    created_at: str | None = None
    last_login: str | None = None


@dataclass(frozen=True)
class TokenRecord:
    """One personal API token: its id, owner, label and times; ``digest`` is its SHA-256."""

    id: int
    user: str
    label: str
    digest: str = field(repr=False)
    created_at: str | None = None
    last_used: str | None = None
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        """Return whether the token still opens the API (not revoked)."""
        return self.revoked_at is None
