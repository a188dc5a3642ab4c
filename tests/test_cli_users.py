"""`aggregator user ...` and the rules of `serve` about accounts: the command as a user
runs it, on a real config and SQLite file (Click's runner for the password prompts,
subprocesses for `serve`)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from aggregator.cli import cli
from aggregator.core import Aggregator
from tests.clock import subprocess_env


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text("storage:\n  url: sqlite:///news.db\n", encoding="utf-8")
    return path


def user(config: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), "user", *args], input=input)


def test_add_list_passwd_remove(config: Path, tmp_path: Path) -> None:
    added = user(config, "add", "Alice", input="password-1\npassword-1\n")
    assert added.exit_code == 0, added.output
    assert "Added admin alice." in added.output  # the first user is an admin
    assert "keep the read and starred state" in added.output
    mismatch = user(config, "add", "bob", input="password-2\npassword-3\npassword-2\npassword-2\n")
    assert mismatch.exit_code == 0 and "Added reader bob." in mismatch.output
    password_file = tmp_path / "secret.txt"
    password_file.write_text("password-4\n", encoding="utf-8")
    assert (
        user(config, "add", "carol", "--admin", "--password-file", str(password_file)).exit_code
        == 0
    )
    from_stdin = user(config, "add", "dave", "--password-file", "-", input="password-5\n")
    assert from_stdin.exit_code == 0
    listed = user(config, "list")
    rows = [line.split()[:2] for line in listed.output.splitlines()[1:]]
    assert rows == [["alice", "admin"], ["bob", "reader"], ["carol", "admin"], ["dave", "reader"]]
    assert user(config, "passwd", "BOB", input="password-6\npassword-6\n").exit_code == 0
    with Aggregator.open(config) as aggregator:
        assert aggregator.authenticate("bob", "password-6").name == "bob"
        assert aggregator.authenticate("dave", "password-5").name == "dave"
    assert user(config, "remove", "dave", input="n\n").exit_code == 1  # not confirmed
    assert user(config, "remove", "dave", "--yes").exit_code == 0
    assert "dave" not in user(config, "list").output


def test_mistakes_are_one_line_and_exit_1(config: Path, tmp_path: Path) -> None:
    user(config, "add", "alice", input="password-1\npassword-1\n")
    for args, message in (
        (("add", "alice"), "error: there is already a user named 'alice'"),
        (("add", "no body"), "is not a valid user name"),
        (("passwd", "zed"), "error: there is no user named 'zed'"),
        (("remove", "zed", "--yes"), "error: there is no user named 'zed'"),
        (("token", "zed"), "error: there is no user named 'zed'"),
    ):
        result = user(config, *args, input="password-9\npassword-9\n")
        assert result.exit_code == 1, args
        assert message in result.output, (args, result.output)
    user(config, "add", "bob", input="password-2\npassword-2\n")
    last_admin = user(config, "remove", "alice", "--yes")
    assert last_admin.exit_code == 1 and "last admin" in last_admin.output
    short = user(config, "add", "carol", input="short\nshort\n")
    assert short.exit_code == 1 and "at least 8 characters" in short.output
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    assert user(config, "add", "carol", "--password-file", str(empty)).exit_code == 2


def test_token_makes_an_app_password(config: Path) -> None:
    user(config, "add", "alice", input="password-1\npassword-1\n")
    result = CliRunner().invoke(
        cli, ["--config", str(config), "user", "token", "alice", "--label", "phone"]
    )
    assert result.exit_code == 0
    secret = result.stdout.splitlines()[0]
    assert re.fullmatch(r"([a-z0-9]{4}-){5}[a-z0-9]{4}", secret)
    assert "/api/greader" in result.stderr and "/api/fever" in result.stderr
    with Aggregator.open(config) as aggregator:
        assert aggregator.client_login("alice", secret).user.name == "alice"
        assert [
            item.label for item in aggregator.app_passwords(aggregator.user_named("alice").id)
        ] == ["phone"]
    listed = user(config, "list")
    assert listed.output.splitlines()[1].split()[-1] == "1"


# --- serve ---------------------------------------------------------------------------------


def serve(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--config", str(config), "serve", "--no-poll", *args],
        cwd=config.parent,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)


def test_serve_without_a_user_refuses_other_addresses_in_one_line(config: Path) -> None:
    process = serve(config, "--host", "0.0.0.0", "--port", "0")
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert stdout == ""
    assert stderr.count("\n") == 1
    assert stderr.startswith("aggregator serve: there is no user yet")
    assert f"aggregator --config {config} user add NAME --admin" in stderr


def test_serve_without_a_user_on_loopback_says_how_to_make_one(config: Path) -> None:
    process = serve(config, "--port", "0")
    try:
        assert process.stdout is not None
        first, second = process.stdout.readline(), process.stdout.readline()
        assert first.startswith("Serving on http://127.0.0.1:")
        assert "No user yet" in second and "user add NAME --admin" in second
    finally:
        stop(process)


def test_serve_with_a_user_may_listen_elsewhere(config: Path) -> None:
    user(config, "add", "alice", input="password-1\npassword-1\n")
    process = serve(config, "--host", "0.0.0.0", "--port", "0")
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("Serving on http://0.0.0.0:")
    finally:
        stop(process)
