"""Accounts: users, app passwords, API tokens of the sync APIs, failed sign-ins.

Adding or removing a user changes whose read state the listings hold, so both take
the readers lock exclusively (_listings.lock_readers) and rewrite that user's
listings in the same transaction:

* the first user takes over ANONYMOUS's state (the state before accounts): its read
  and starred marks, listings and counters become theirs, and ANONYMOUS is left with
  every story unread and nothing starred;
* any later user starts with every story unread and nothing starred (a copy of
  ANONYMOUS's lists without its state);
* a removed user's state, listings and counters are deleted.

Secrets are never stored: passwords as argon2 hashes (made by core), app passwords,
Fever keys and API tokens as SHA-256 digests (given by core).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from aggregator.errors import AccountError, StorageError
from aggregator.storage import schema
from aggregator.storage._base import StorageBase
from aggregator.storage._listings import copy_listings, forget_reader, lock_readers
from aggregator.types import ADMIN, ANONYMOUS, AppPassword, User

users = schema.users
app_passwords = schema.app_passwords
api_tokens = schema.api_tokens
login_failures = schema.login_failures


def _user(row: Any) -> User:
    return User(
        id=row.id,
        name=row.name,
        role=row.role,
        created_at=row.created_at,
        password_changed_at=row.password_changed_at,
        session_key=row.session_key,
        feed_token=row.feed_token,
    )


def _app_password(row: Any) -> AppPassword:
    return AppPassword(
        id=row.id,
        user_id=row.user_id,
        label=row.label,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


_USER_COLUMNS = (
    users.c.id,
    users.c.name,
    users.c.role,
    users.c.created_at,
    users.c.password_changed_at,
    users.c.session_key,
    users.c.feed_token,
)


class UsersMixin(StorageBase):
    """Users and their credentials; see the module docstring for the state they own."""

    # --- users -------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        role: str,
        password_hash: str,
        *,
        session_key: str,
        feed_token: str,
        now: datetime,
    ) -> User:
        """Create a user (``name`` lower-case already). The first user takes over
        ANONYMOUS's read state; any other starts with everything unread. Raises
        AccountError when the name is taken."""
        try:
            with self.write() as conn:
                lock_readers(conn, exclusive=True)
                first = conn.scalar(select(func.count()).select_from(users)) == 0
                taken = conn.scalar(select(users.c.id).where(users.c.name == name))
                if taken is not None:
                    raise AccountError(f"there is already a user named {name!r}")
                user_id = conn.execute(
                    users.insert()
                    .values(
                        name=name,
                        role=role,
                        password_hash=password_hash,
                        session_key=session_key,
                        feed_token=feed_token,
                        created_at=now,
                        password_changed_at=now,
                    )
                    .returning(users.c.id)
                ).scalar_one()
                if first:
                    _take_over_anonymous_state(conn, user_id)
                else:
                    copy_listings(conn, ANONYMOUS, user_id, keep_state=False)
                row = conn.execute(select(*_USER_COLUMNS).where(users.c.id == user_id)).one()
                return _user(row)
        except StorageError as e:
            if isinstance(e.__cause__, IntegrityError):  # a concurrent add of the same name
                raise AccountError(f"there is already a user named {name!r}") from e
            raise

    def remove_user(self, user_id: int) -> None:
        """Delete a user with their state, app passwords and API tokens. Raises
        AccountError for the last admin while other users remain."""
        with self.write() as conn:
            lock_readers(conn, exclusive=True)
            role = conn.scalar(select(users.c.role).where(users.c.id == user_id))
            if role is None:
                raise AccountError("there is no such user")
            if role == ADMIN:
                _check_another_admin(conn, user_id, "remove")
            forget_reader(conn, user_id)
            conn.execute(delete(users).where(users.c.id == user_id))

    def set_role(self, user_id: int, role: str) -> User:
        """Change a user's role. Raises AccountError for an unknown user, or when the
        last admin would become a reader."""
        with self.write() as conn:
            current = conn.scalar(select(users.c.role).where(users.c.id == user_id))
            if current is None:
                raise AccountError("there is no such user")
            if current == ADMIN and role != ADMIN:
                _check_another_admin(conn, user_id, "make a reader of")
            conn.execute(update(users).where(users.c.id == user_id).values(role=role))
            return _user(conn.execute(select(*_USER_COLUMNS).where(users.c.id == user_id)).one())

    def set_password(
        self, user_id: int, password_hash: str, *, session_key: str, now: datetime
    ) -> None:
        """Replace a user's password hash and session key (signing their sessions
        out). Raises AccountError for an unknown user."""
        with self.write() as conn:
            changed = conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(
                    password_hash=password_hash, session_key=session_key, password_changed_at=now
                )
            ).rowcount
        if not changed:
            raise AccountError("there is no such user")

    def set_feed_token(self, user_id: int, feed_token: str) -> None:
        """Replace a user's key of private outputs."""
        with self.write() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(feed_token=feed_token))

    def list_users(self) -> list[User]:
        """Every user, by name."""
        with self.read() as conn:
            rows = conn.execute(select(*_USER_COLUMNS).order_by(users.c.name)).all()
        return [_user(row) for row in rows]

    def count_users(self) -> int:
        with self.read() as conn:
            return int(conn.scalar(select(func.count()).select_from(users)) or 0)

    def get_user(self, user_id: int) -> User | None:
        with self.read() as conn:
            row = conn.execute(select(*_USER_COLUMNS).where(users.c.id == user_id)).first()
        return _user(row) if row else None

    def get_user_by_name(self, name: str) -> User | None:
        with self.read() as conn:
            row = conn.execute(select(*_USER_COLUMNS).where(users.c.name == name)).first()
        return _user(row) if row else None

    def user_credentials(self, name: str) -> tuple[User, str] | None:
        """The user named ``name`` and their password hash, or None."""
        with self.read() as conn:
            row = conn.execute(
                select(*_USER_COLUMNS, users.c.password_hash).where(users.c.name == name)
            ).first()
        return (_user(row), row.password_hash) if row else None

    def user_by_feed_token(self, feed_token: str) -> User | None:
        with self.read() as conn:
            row = conn.execute(
                select(*_USER_COLUMNS).where(users.c.feed_token == feed_token)
            ).first()
        return _user(row) if row else None

    # --- app passwords -----------------------------------------------------------------

    def add_app_password(
        self,
        user_id: int,
        label: str,
        *,
        secret_hash: str,
        fever_key_hash: str,
        now: datetime,
    ) -> AppPassword:
        with self.write() as conn:
            row = conn.execute(
                app_passwords.insert()
                .values(
                    user_id=user_id,
                    label=label,
                    secret_hash=secret_hash,
                    fever_key_hash=fever_key_hash,
                    created_at=now,
                )
                .returning(*app_passwords.c)
            ).one()
        return _app_password(row)

    def list_app_passwords(self, user_id: int) -> list[AppPassword]:
        with self.read() as conn:
            rows = conn.execute(
                select(app_passwords)
                .where(app_passwords.c.user_id == user_id)
                .order_by(app_passwords.c.id)
            ).all()
        return [_app_password(row) for row in rows]

    def remove_app_password(self, user_id: int, app_password_id: int) -> bool:
        """Revoke one of a user's app passwords (and its API tokens); False if the user
        has no such app password."""
        with self.write() as conn:
            return bool(
                conn.execute(
                    delete(app_passwords).where(
                        app_passwords.c.id == app_password_id,
                        app_passwords.c.user_id == user_id,
                    )
                ).rowcount
            )

    def find_app_password(
        self, *, secret_hash: str | None = None, fever_key_hash: str | None = None
    ) -> tuple[User, AppPassword] | None:
        """The user and app password with this secret (or Fever key) digest, or None."""
        column = app_passwords.c.secret_hash if secret_hash else app_passwords.c.fever_key_hash
        with self.read() as conn:
            row = conn.execute(
                select(app_passwords).where(column == (secret_hash or fever_key_hash))
            ).first()
            if row is None:
                return None
            owner = conn.execute(select(*_USER_COLUMNS).where(users.c.id == row.user_id)).one()
        return _user(owner), _app_password(row)

    def touch_app_password(self, app_password_id: int, now: datetime) -> None:
        with self.write() as conn:
            conn.execute(
                update(app_passwords)
                .where(app_passwords.c.id == app_password_id)
                .values(last_used_at=now)
            )

    # --- API tokens --------------------------------------------------------------------

    def add_api_token(
        self, user_id: int, app_password_id: int, token_hash: str, now: datetime
    ) -> None:
        with self.write() as conn:
            conn.execute(
                api_tokens.insert().values(
                    token_hash=token_hash,
                    user_id=user_id,
                    app_password_id=app_password_id,
                    created_at=now,
                    last_used_at=now,
                )
            )

    def find_api_token(self, token_hash: str) -> tuple[User, datetime] | None:
        """The user of an API token and when it was last used, or None."""
        with self.read() as conn:
            row = conn.execute(
                select(*_USER_COLUMNS, api_tokens.c.last_used_at.label("token_used_at"))
                .join(api_tokens, api_tokens.c.user_id == users.c.id)
                .where(api_tokens.c.token_hash == token_hash)
            ).first()
        return (_user(row), row.token_used_at) if row else None

    def touch_api_token(self, token_hash: str, now: datetime) -> None:
        with self.write() as conn:
            conn.execute(
                update(api_tokens)
                .where(api_tokens.c.token_hash == token_hash)
                .values(last_used_at=now)
            )

    def delete_api_tokens(self, *, unused_since: datetime) -> int:
        """Delete the API tokens not used since a time; return how many."""
        with self.write() as conn:
            return int(
                conn.execute(
                    delete(api_tokens).where(api_tokens.c.last_used_at < unused_since)
                ).rowcount
            )

    # --- failed sign-ins ---------------------------------------------------------------

    def record_login_failure(
        self, keys: tuple[str, ...], now: datetime, forget_before: datetime
    ) -> None:
        """Note a failed sign-in under each key; forget failures older than
        ``forget_before``."""
        with self.write() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.failed_at < forget_before))
            conn.execute(login_failures.insert(), [{"key": key, "failed_at": now} for key in keys])

    def login_failures_since(self, key: str, since: datetime) -> list[datetime]:
        """When sign-ins failed under a key after a time, oldest first."""
        with self.read() as conn:
            return list(
                conn.scalars(
                    select(login_failures.c.failed_at)
                    .where(login_failures.c.key == key, login_failures.c.failed_at > since)
                    .order_by(login_failures.c.failed_at)
                )
            )

    def clear_login_failures(self, key: str) -> None:
        with self.write() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.key == key))


def _check_another_admin(conn: Connection, user_id: int, verb: str) -> None:
    """Refuse to leave users without an admin (with no user left at all, it is fine)."""
    others = conn.scalar(select(func.count()).select_from(users).where(users.c.id != user_id))
    admins = conn.scalar(
        select(func.count()).select_from(users).where(users.c.id != user_id, users.c.role == ADMIN)
    )
    if others and not admins:
        raise AccountError(
            f"cannot {verb} the last admin while other users remain; make another user "
            "an admin first"
        )


def _take_over_anonymous_state(conn: Connection, user_id: int) -> None:
    """The first user: ANONYMOUS's state, listings and counters become theirs, and
    ANONYMOUS keeps the lists with every story unread and nothing starred."""
    for table in (schema.story_state, schema.story_listings, schema.unread_counts):
        conn.execute(update(table).where(table.c.user_id == ANONYMOUS).values(user_id=user_id))
    copy_listings(conn, user_id, ANONYMOUS, keep_state=False)
