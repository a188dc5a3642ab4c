"""Accounts through the front object (aggregator/core/_users.py): roles, passwords,
sign-in limits, app passwords and API tokens, on a real database and a fixed clock."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.config import Config
from aggregator.core import Aggregator
from aggregator.core._passwords import fever_api_key
from aggregator.core._users import (
    ACCOUNT_FAILURES,
    ADDRESS_FAILURES,
    API_TOKEN_IDLE,
    LOGIN_WINDOW,
)
from aggregator.errors import AccountError, AuthenticationError, TooManyAttemptsError
from tests.clock import FixedClock
from tests.conftest import MakeAggregator

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def aggregator(make_aggregator: MakeAggregator, tmp_path: Path, clock: FixedClock) -> Aggregator:
    return make_aggregator(Config(path=str(tmp_path / "feeds.yaml")), clock=clock)


def test_the_first_user_is_an_admin_and_names_are_checked(aggregator: Aggregator) -> None:
    assert not aggregator.has_users()
    first = aggregator.add_user("  Alice ", "password-1")
    assert (first.name, first.role, first.created_at) == ("alice", "admin", NOW)
    second = aggregator.add_user("bob", "password-2")
    assert second.role == "reader"
    assert aggregator.add_user("carol", "password-3", admin=True).is_admin
    assert aggregator.has_users()
    for name in ("", "-x", "a b", "x" * 65, "ünï", "a/b"):
        with pytest.raises(AccountError, match="not a valid user name"):
            aggregator.add_user(name, "password-9")
    with pytest.raises(AccountError, match="at least 8 characters"):
        aggregator.add_user("dave", "short")
    with pytest.raises(AccountError, match="already a user named 'alice'"):
        aggregator.add_user("ALICE", "password-9")
    assert [user.name for user in aggregator.list_users()] == ["alice", "bob", "carol"]
    stored = aggregator._storage.user_credentials("alice")
    assert stored is not None and stored[1].startswith("$argon2id$")  # never the password
    with pytest.raises(AccountError, match="no user named 'zed'"):
        aggregator.user_named("zed")


def test_roles_and_the_last_admin(aggregator: Aggregator) -> None:
    admin = aggregator.add_user("admin", "password-1")
    reader = aggregator.add_user("reader", "password-2")
    with pytest.raises(AccountError, match="last admin"):
        aggregator.remove_user(admin.id)
    with pytest.raises(AccountError, match="last admin"):
        aggregator.set_role(admin.id, "reader")
    with pytest.raises(AccountError, match="unknown role"):
        aggregator.set_role(reader.id, "owner")
    assert aggregator.set_role(reader.id, "admin").is_admin
    aggregator.set_role(admin.id, "reader")  # another admin exists now
    aggregator.remove_user(admin.id)
    assert [user.name for user in aggregator.list_users()] == ["reader"]


def test_sign_in_ignores_case_and_a_new_password_ends_sessions(aggregator: Aggregator) -> None:
    alice = aggregator.add_user("alice", "password-1")
    assert aggregator.authenticate("ALICE", "password-1").id == alice.id
    for name, password in (("alice", "password-2"), ("nobody", "password-1"), ("", "")):
        with pytest.raises(AuthenticationError, match="wrong name or password"):
            aggregator.authenticate(name, password)
    assert aggregator.session_user(alice.id, alice.session_key) == alice
    aggregator.change_password(alice.id, "password-2")
    assert aggregator.session_user(alice.id, alice.session_key) is None
    assert aggregator.authenticate("alice", "password-2").id == alice.id
    with pytest.raises(AuthenticationError):
        aggregator.authenticate("alice", "password-1")
    assert aggregator.session_user(999, "anything") is None


def test_sign_in_is_limited_per_account_and_per_address(
    aggregator: Aggregator, clock: FixedClock
) -> None:
    aggregator.add_user("alice", "password-1")
    aggregator.add_user("bob", "password-2")
    for _ in range(ACCOUNT_FAILURES):
        with pytest.raises(AuthenticationError):
            aggregator.authenticate("alice", "wrong-password", address="192.0.2.1")
    # Locked out, even with the right password, from any address.
    with pytest.raises(TooManyAttemptsError) as locked:
        aggregator.authenticate("alice", "password-1", address="198.51.100.9")
    assert 0 < locked.value.retry_after_seconds <= LOGIN_WINDOW.total_seconds()
    assert "try again in 15 min" in locked.value.message
    assert aggregator.authenticate("bob", "password-2", address="192.0.2.1").name == "bob"
    clock.advance(LOGIN_WINDOW)
    assert aggregator.authenticate("alice", "password-1").name == "alice"
    # One address trying many names is stopped too.
    for number in range(ADDRESS_FAILURES):
        with pytest.raises(AuthenticationError):
            aggregator.authenticate(f"guess{number}", "password", address="203.0.113.5")
    with pytest.raises(TooManyAttemptsError):
        aggregator.authenticate("bob", "password-2", address="203.0.113.5")
    assert aggregator.authenticate("bob", "password-2", address="203.0.113.6").name == "bob"


def test_apps_sign_in_with_app_passwords_only(aggregator: Aggregator, clock: FixedClock) -> None:
    alice = aggregator.add_user("alice", "password-1")
    bob = aggregator.add_user("bob", "password-2")
    made = aggregator.create_app_password(alice.id, "  phone ")
    assert made.app_password.label == "phone" and len(made.secret) == 29
    with pytest.raises(AuthenticationError):
        aggregator.client_login("alice", "password-1")  # never the account password
    with pytest.raises(AuthenticationError):
        aggregator.client_login("bob", made.secret)  # another user's app password
    session = aggregator.client_login("Alice", made.secret.upper().replace("-", " "))
    assert session.user.id == alice.id and session.token.startswith("alice/")
    assert aggregator.api_user(session.token).id == alice.id
    with pytest.raises(AuthenticationError, match="unknown token"):
        aggregator.api_user(session.token + "x")
    # A token expires when unused for API_TOKEN_IDLE; use keeps it alive.
    clock.advance(API_TOKEN_IDLE - timedelta(days=1))
    aggregator.api_user(session.token)
    clock.advance(API_TOKEN_IDLE - timedelta(days=1))
    aggregator.api_user(session.token)
    clock.advance(API_TOKEN_IDLE + timedelta(seconds=1))
    with pytest.raises(AuthenticationError, match="expired token"):
        aggregator.api_user(session.token)
    # Revoking the app password ends its tokens at once.
    again = aggregator.client_login("alice", made.secret)
    listed = aggregator.app_passwords(alice.id)
    assert [item.label for item in listed] == ["phone"] and listed[0].last_used_at == clock.now
    assert not aggregator.revoke_app_password(bob.id, made.app_password.id)
    assert aggregator.revoke_app_password(alice.id, made.app_password.id)
    with pytest.raises(AuthenticationError):
        aggregator.api_user(again.token)
    with pytest.raises(AuthenticationError):
        aggregator.client_login("alice", made.secret)
    with pytest.raises(AccountError, match="label"):
        aggregator.create_app_password(alice.id, "   ")


def test_fever_keys_are_made_from_app_passwords(aggregator: Aggregator) -> None:
    alice = aggregator.add_user("alice", "password-1")
    made = aggregator.create_app_password(alice.id, "reeder")
    key = fever_api_key("alice", made.secret)
    assert aggregator.fever_user(key.upper()).id == alice.id
    with pytest.raises(AuthenticationError):
        aggregator.fever_user(fever_api_key("alice", "password-1"))
    for _ in range(ADDRESS_FAILURES):
        with pytest.raises(AuthenticationError):
            aggregator.fever_user("0" * 32, address="192.0.2.1")
    with pytest.raises(TooManyAttemptsError):
        aggregator.fever_user(key, address="192.0.2.1")


def test_feed_keys(aggregator: Aggregator) -> None:
    alice = aggregator.add_user("alice", "password-1")
    assert aggregator.feed_token_user(alice.feed_token) == alice
    new = aggregator.reset_feed_token(alice.id)
    assert new != alice.feed_token
    assert aggregator.feed_token_user(alice.feed_token) is None
    assert aggregator.feed_token_user(new).id == alice.id  # type: ignore[union-attr]
    assert aggregator.feed_token_user("") is None


def test_passwords_are_never_logged(
    aggregator: Aggregator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = aggregator.add_user("alice", "secret-password-1")
    aggregator.change_password(alice.id, "secret-password-2")
    with pytest.raises(AuthenticationError):
        aggregator.authenticate("alice", "secret-password-3")
    made = aggregator.create_app_password(alice.id, "phone")
    session = aggregator.client_login("alice", made.secret)
    with pytest.raises(AuthenticationError):
        aggregator.client_login("alice", "secret-password-4")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "failed sign-in (user:alice)" in logged
    for secret in ("secret-password", made.secret, session.token):
        assert secret not in logged
