"""Secrets: password hashing (argon2-cffi, its one importer), random secrets, digests.

Passwords people choose are hashed with argon2id (argon2-cffi's defaults, RFC 9106's
low-memory profile), slow on purpose. App passwords, API tokens and feed tokens are
random (120 bits or more), so a SHA-256 digest is enough to keep them unreadable in
the database and still find them by value.
"""

from __future__ import annotations

import functools
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
_APP_PASSWORD_LETTERS = "abcdefghijkmnopqrstuvwxyz23456789"  # noqa: S105 - no l, 0, 1


@functools.cache
def _dummy_hash() -> str:
    # Verified when the name is unknown, so a wrong name takes as long as a wrong password.
    return _HASHER.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    """An argon2id hash of a password (with its salt and parameters)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (None: an unknown user, checked
    against a dummy hash so it takes as long)."""
    try:
        return _HASHER.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def new_token(nbytes: int = 24) -> str:
    """A random URL-safe token (``nbytes`` of randomness)."""
    return secrets.token_urlsafe(nbytes)


def new_app_password() -> str:
    """A random app password, easy to type on a phone: six groups of four letters and
    digits (about 121 bits)."""
    letters = "".join(secrets.choice(_APP_PASSWORD_LETTERS) for _ in range(24))
    return "-".join(letters[i : i + 4] for i in range(0, 24, 4))


def normalize_app_password(typed: str) -> str:
    """An app password as typed (any case, spaces) in the form it was made."""
    letters = "".join(char for char in typed.lower() if char.isalnum())
    if len(letters) != 24:
        return typed.strip()
    return "-".join(letters[i : i + 4] for i in range(0, 24, 4))


def digest(secret: str) -> str:
    """The SHA-256 digest (hex) a random secret is stored and looked up as."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def fever_api_key(name: str, password: str) -> str:
    """The Fever API key clients send: md5 of "name:password" (the Fever protocol's
    choice; it is only ever compared to the key of a random app password)."""
    return hashlib.md5(f"{name}:{password}".encode(), usedforsecurity=False).hexdigest()
