"""``chatforge users password``: an operator sets a console user's password from the shell."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.console.helpers import CSRF_FIELD, sign_in
from typer.testing import CliRunner, Result

from chatforge.app import create_app
from chatforge.cli import app
from chatforge.settings import Settings

OLD = "the first long secret"
NEW = "a brand new long secret"


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """The environment of a server with one owner, hank@globex.test, whose password is OLD."""
    variables = {
        "CHATFORGE_DATA_DIR": str(tmp_path / "data"),
        "CHATFORGE_DATABASE_URL": database_url,
    }
    made = CliRunner().invoke(
        app,
        ["users", "create", "--org", "Globex", "--email", "hank@globex.test", "--role", "owner",
         "--password-stdin"],
        input=f"{OLD}\n",
        env=variables,
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    return variables


@pytest.fixture
def console(tmp_path: Path, database_url: str, env: dict[str, str]) -> Iterator[TestClient]:
    """A browser of the same server, signed in as hank with the old password."""
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", database_url=database_url)  # type: ignore[call-arg]
    with TestClient(create_app(settings, public_base_url="http://testserver")) as client:
        sign_in(client, "hank@globex.test", OLD)
        yield client


def _set_password(env: dict[str, str], *args: str, typed: str) -> Result:
    return CliRunner().invoke(app, ["users", "password", *args], input=typed, env=env)


def _can_sign_in(console: TestClient, password: str) -> bool:
    client = TestClient(console.app)  # another browser, signed in nowhere
    token = CSRF_FIELD.search(client.get("/console/login").text)
    assert token
    answer = client.post(
        "/console/login",
        data={"email": "hank@globex.test", "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    return answer.status_code == 303


def test_new_password_from_stdin_signs_the_user_out_everywhere(
    env: dict[str, str], console: TestClient
) -> None:
    assert console.get("/console/chatbots", follow_redirects=False).status_code == 200

    result = _set_password(env, "Hank@Globex.test", "--password-stdin", typed=f"{NEW}\n")

    assert result.exit_code == 0, result.output
    assert "hank@globex.test" in result.output and NEW not in result.output
    # The session signed in with the old password is over: the console asks to sign in.
    signed_out = console.get("/console/chatbots", follow_redirects=False)
    assert signed_out.status_code == 303 and "/console/login" in signed_out.headers["location"]
    assert not _can_sign_in(console, OLD)
    assert _can_sign_in(console, NEW)


def test_password_is_asked_twice_and_must_match(env: dict[str, str], console: TestClient) -> None:
    mismatched = _set_password(env, "hank@globex.test", typed=f"{NEW}\nsomething else\n")
    assert mismatched.exit_code != 0
    assert "do not match" in mismatched.output and NEW not in mismatched.output
    assert console.get("/console/chatbots", follow_redirects=False).status_code == 200

    typed_twice = _set_password(env, "hank@globex.test", typed=f"{NEW}\n{NEW}\n")

    assert typed_twice.exit_code == 0, typed_twice.output
    assert NEW not in typed_twice.output
    assert _can_sign_in(console, NEW)


def test_unknown_user_or_short_password_changes_nothing(
    env: dict[str, str], console: TestClient
) -> None:
    unknown = _set_password(env, "nobody@globex.test", "--password-stdin", typed=f"{NEW}\n")
    short = _set_password(env, "hank@globex.test", "--password-stdin", typed="short\n")

    assert unknown.exit_code == 1 and "No user has the email nobody@globex.test" in unknown.output
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    assert console.get("/console/chatbots", follow_redirects=False).status_code == 200
    assert _can_sign_in(console, OLD)
