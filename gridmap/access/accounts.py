"""Passwords and API tokens: hashing, checking, making — never storing or logging them.

Passwords are hashed with Argon2id (argon2-cffi, the OWASP recommendation), with a dummy
hash checked for unknown names so that a wrong name takes as long as a wrong password. API
tokens are 32 random bytes shown once; the workspace keeps only their SHA-256 digest (a token
is a long random secret, so a fast hash is enough and lookups stay one index probe).
"""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gridmap.errors import InputError

#: Account names: letters (any script), digits, ``._-``, 2 to 40 characters.
NAME_PATTERN = re.compile(r"[\w.\-]{2,40}")
#: The shortest password an account may have.
MIN_PASSWORD = 10
#: API tokens start with this, so that a leaked one is recognisable (secret scanners).
TOKEN_PREFIX = "gmt_"

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not a password of anyone")


def check_name(name: str) -> str:
    """Return ``name`` if it can name an account, else raise a clear InputError."""
    if not NAME_PATTERN.fullmatch(name or ""):
        raise InputError(
            f"'{name}' cannot name a user: use 2 to 40 letters, digits, dots, dashes or "
            "underscores (用户名须为 2–40 个字母、数字、点、横线或下划线)."
        )
    return name


def check_password(password: str) -> str:
    """Return ``password`` if it is long enough, else raise a clear InputError."""
    if len(password or "") < MIN_PASSWORD:
        raise InputError(
            f"A password needs at least {MIN_PASSWORD} characters (密码至少 {MIN_PASSWORD} 个字符)."
        )
    return password


def hash_password(password: str) -> str:
    """Return the Argon2id hash of ``password`` (checked for length first)."""
    return _hasher.hash(check_password(password))


def verify_password(stored: str | None, password: str) -> bool:
    """Return whether ``password`` matches the ``stored`` hash (None: no password; never matches).

    Takes as long with ``stored`` None as with a real hash, so that a caller cannot tell
    unknown accounts from wrong passwords by timing.
    """
    try:
        return bool(_hasher.verify(stored or _DUMMY, password)) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Return whether ``stored`` was hashed with weaker settings than today's."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def new_password() -> str:
    """Return a random password of 16 URL-safe characters (for accounts made by a program)."""
    return secrets.token_urlsafe(12)


def new_token() -> str:
    """Return a new API token: ``gmt_`` and 43 URL-safe characters (256 random bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Return the SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
