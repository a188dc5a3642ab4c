"""Use cases of accounts: users and roles, passwords, sign-in with its limits, app
passwords and the tokens of the sync APIs, the keys of private outputs.

The rules:

* The first user is always an admin, and takes over the read and starred state the
  server had before accounts (the state of ANONYMOUS); any later user starts with
  every story unread. The last admin cannot be removed or made a reader while other
  users remain.
* Names are lower-case letters, digits and ``. _ @ + -`` (at most 64); sign-in ignores
  case. Passwords have at least 8 characters and are stored as argon2id hashes.
* Sign-in (web, Google Reader ClientLogin, Fever) is refused for LOGIN_WINDOW after
  ACCOUNT_FAILURES failures for one account or ADDRESS_FAILURES from one address,
  whatever the password; a success clears the account's failures.
* Apps sign in with app passwords only, never with the account password. A Google
  Reader token expires when unused for API_TOKEN_IDLE; revoking its app password ends
  it at once.
"""

from __future__ import annotations

import logging
import math
import re
from datetime import timedelta

from aggregator.core._base import AggregatorBase
from aggregator.core._passwords import (
    digest,
    fever_api_key,
    hash_password,
    new_app_password,
    new_token,
    normalize_app_password,
    verify_password,
)
from aggregator.errors import AccountError, AuthenticationError, TooManyAttemptsError
from aggregator.types import ADMIN, READER, ROLES, ApiSession, AppPassword, NewAppPassword, User

log = logging.getLogger(__name__)

LOGIN_WINDOW = timedelta(minutes=15)
ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20
API_TOKEN_IDLE = timedelta(days=30)
# A token's last use is written at most this often (every API request reads it).
API_TOKEN_TOUCH = timedelta(hours=1)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
_NAME = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,63}")


def normalize_name(name: str) -> str:
    """A user name as stored: stripped and lower-case (NUL, which no name holds and
    PostgreSQL refuses in text, dropped)."""
    return name.replace("\x00", "").strip().lower()


def _check_name(name: str) -> str:
    name = normalize_name(name)
    if not _NAME.fullmatch(name):
        raise AccountError(
            f"{name!r} is not a valid user name: use 1 to 64 letters, digits and . _ @ + -, "
            "starting with a letter or digit"
        )
    return name


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")
    return password


class UsersUseCases(AggregatorBase):
    # --- users -------------------------------------------------------------------------

    def has_users(self) -> bool:
        """Whether any account exists (without one, the server is open to this machine
        only and everyone shares one read state)."""
        return self._storage.count_users() > 0

    def add_user(self, name: str, password: str, *, admin: bool = False) -> User:
        """Create an account; the first one is always an admin and takes over the read
        state the server had before accounts. Raises AccountError for an invalid or
        taken name or a too short password."""
        name, password = _check_name(name), _check_password(password)
        role = ADMIN if admin or not self.has_users() else READER
        user = self._storage.add_user(
            name,
            role,
            hash_password(password),
            session_key=new_token(),
            feed_token=new_token(),
            now=self.now(),
        )
        log.info("user %s added (%s)", user.name, user.role)
        return user

    def list_users(self) -> list[User]:
        """Every account, by name."""
        return self._storage.list_users()

    def get_user(self, user_id: int) -> User | None:
        return self._storage.get_user(user_id)

    def user_named(self, name: str) -> User:
        """The account of a name (any case). Raises AccountError when there is none."""
        user = self._storage.get_user_by_name(normalize_name(name))
        if user is None:
            raise AccountError(f"there is no user named {normalize_name(name)!r}")
        return user

    def change_password(self, user_id: int, password: str) -> None:
        """Set a new password; every session of the user is signed out. Raises
        AccountError for an unknown user or a too short password."""
        self._storage.set_password(
            user_id,
            hash_password(_check_password(password)),
            session_key=new_token(),
            now=self.now(),
        )
        log.info("password of user %d changed", user_id)

    def set_role(self, user_id: int, role: str) -> User:
        """Make a user an admin or a reader. Raises AccountError for an unknown role or
        user, or for the last admin."""
        if role not in ROLES:
            raise AccountError(f"unknown role {role!r}: use {' or '.join(ROLES)}")
        return self._storage.set_role(user_id, role)

    def remove_user(self, user_id: int) -> None:
        """Delete an account with its read state and app passwords. Raises AccountError
        for an unknown user, or for the last admin while other users remain."""
        self._storage.remove_user(user_id)
        log.info("user %d removed", user_id)

    # --- signing in --------------------------------------------------------------------

    def authenticate(self, name: str, password: str, *, address: str | None = None) -> User:
        """The account a name and its password sign in to. Raises TooManyAttemptsError
        while the account or address is locked out, else AuthenticationError for a
        wrong name or password (recorded against both)."""
        name = normalize_name(name)
        keys = self._attempt_keys(name, address)
        self._check_attempts(keys)
        found = self._storage.user_credentials(name) if name else None
        if not verify_password(found[1] if found else None, password) or found is None:
            self._failed(keys)
            raise AuthenticationError()
        self._storage.clear_login_failures(keys[0][0])
        return found[0]

    def session_user(self, user_id: int, session_key: str) -> User | None:
        """The account a signed session names, if it still exists with that session key
        (a new password signs sessions out)."""
        user = self._storage.get_user(user_id)
        if user is None or not session_key or user.session_key != session_key:
            return None
        return user

    def _attempt_keys(self, name: str | None, address: str | None) -> list[tuple[str, int]]:
        keys = [(f"user:{name}", ACCOUNT_FAILURES)] if name is not None else []
        if address:
            keys.append((f"address:{address}", ADDRESS_FAILURES))
        return keys

    def _check_attempts(self, keys: list[tuple[str, int]]) -> None:
        now = self.now()
        for key, limit in keys:
            failures = self._storage.login_failures_since(key, now - LOGIN_WINDOW)
            if len(failures) >= limit:
                free_at = failures[len(failures) - limit] + LOGIN_WINDOW
                raise TooManyAttemptsError(math.ceil((free_at - now).total_seconds()))

    def _failed(self, keys: list[tuple[str, int]]) -> None:
        now = self.now()
        self._storage.record_login_failure(
            tuple(key for key, _ in keys), now, forget_before=now - LOGIN_WINDOW
        )
        log.warning("failed sign-in (%s)", ", ".join(key for key, _ in keys))

    # --- app passwords and the sync APIs -----------------------------------------------

    def create_app_password(self, user_id: int, label: str) -> NewAppPassword:
        """A new app password for a user's apps; its secret is in the result only.
        Raises AccountError for an unknown user or an empty label."""
        user = self._storage.get_user(user_id)
        if user is None:
            raise AccountError("there is no such user")
        label = " ".join(label.split())[:100]
        if not label:
            raise AccountError("give the app password a label (e.g. the app's name)")
        secret = new_app_password()
        made = self._storage.add_app_password(
            user.id,
            label,
            secret_hash=digest(secret),
            fever_key_hash=digest(fever_api_key(user.name, secret)),
            now=self.now(),
        )
        log.info("app password %r made for user %s", label, user.name)
        return NewAppPassword(made, secret)

    def app_passwords(self, user_id: int) -> list[AppPassword]:
        """A user's app passwords (never their secrets), oldest first."""
        return self._storage.list_app_passwords(user_id)

    def revoke_app_password(self, user_id: int, app_password_id: int) -> bool:
        """Delete one of a user's app passwords and the API tokens made with it; False
        when the user has no such app password."""
        return self._storage.remove_app_password(user_id, app_password_id)

    def client_login(self, name: str, password: str, *, address: str | None = None) -> ApiSession:
        """Google Reader's ClientLogin: an app password of the named user gives a new
        API token. Raises TooManyAttemptsError or AuthenticationError, as authenticate."""
        name = normalize_name(name)
        keys = self._attempt_keys(name, address)
        self._check_attempts(keys)
        secret_hash = digest(normalize_app_password(password))
        found = self._storage.find_app_password(secret_hash=secret_hash)
        if found is None or found[0].name != name:
            self._failed(keys)
            raise AuthenticationError()
        user, app_password = found
        now = self.now()
        self._storage.clear_login_failures(keys[0][0])
        self._storage.touch_app_password(app_password.id, now)
        self._storage.delete_api_tokens(unused_since=now - API_TOKEN_IDLE)
        token = f"{user.name}/{new_token(30)}"
        self._storage.add_api_token(user.id, app_password.id, digest(token), now)
        return ApiSession(user, token)

    def api_user(self, token: str) -> User:
        """The user of a Google Reader API token. Raises AuthenticationError for an
        unknown, revoked or expired token."""
        found = self._storage.find_api_token(digest(token)) if token else None
        if found is None:
            raise AuthenticationError("unknown token: sign in again")
        user, last_used = found
        now = self.now()
        if now - last_used > API_TOKEN_IDLE:
            raise AuthenticationError("expired token: sign in again")
        if now - last_used > API_TOKEN_TOUCH:
            self._storage.touch_api_token(digest(token), now)
        return user

    def fever_user(self, api_key: str, *, address: str | None = None) -> User:
        """The user of a Fever API key (md5 of "name:app password"). Raises
        TooManyAttemptsError while the address is locked out, else AuthenticationError."""
        keys = self._attempt_keys(None, address)
        self._check_attempts(keys)
        key = api_key.strip().lower()
        found = self._storage.find_app_password(fever_key_hash=digest(key)) if key else None
        if found is None:
            if keys:
                self._failed(keys)
            raise AuthenticationError("wrong API key")
        user, app_password = found
        if app_password.last_used_at is None or self.now() - app_password.last_used_at > (
            API_TOKEN_TOUCH
        ):
            self._storage.touch_app_password(app_password.id, self.now())
        return user

    # --- private outputs ---------------------------------------------------------------

    def reset_feed_token(self, user_id: int) -> str:
        """Give a user a new key for private outputs (the old URLs stop working)."""
        token = new_token()
        self._storage.set_feed_token(user_id, token)
        return token

    def feed_token_user(self, feed_token: str) -> User | None:
        """The user whose private-output key this is, or None."""
        return self._storage.user_by_feed_token(feed_token) if feed_token else None
