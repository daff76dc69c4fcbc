"""``chatforge users create`` and the first owner that a first ``chatforge serve`` makes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.browser import free_port
from tests.console.helpers import CSRF_FIELD, sign_in
from typer.testing import CliRunner

from chatforge.app import create_app
from chatforge.cli import app
from chatforge.settings import Settings

OWNER_LINE = re.compile(r"as the owner (\S+) with the password \(shown only once\):\n\n\s+(\S+)")


def test_users_create_makes_a_user_who_can_sign_in(tmp_path: Path, database_url: str) -> None:
    env = {"CHATFORGE_DATA_DIR": str(tmp_path / "data"), "CHATFORGE_DATABASE_URL": database_url}
    runner = CliRunner()
    made = runner.invoke(
        app,
        ["users", "create", "--org", "Globex", "--email", "Hank@Globex.test", "--role", "owner",
         "--password-stdin"],
        input="a long enough secret\n",
        env=env,
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "owner hank@globex.test" in made.output and "secret" not in made.output
    again = runner.invoke(
        app,
        ["users", "create", "--org", "Globex", "--email", "hank@globex.test", "--password-stdin"],
        input="another long secret\n",
        env=env,
    )
    assert again.exit_code == 1 and "exists" in again.output
    short = runner.invoke(
        app,
        ["users", "create", "--org", "Globex", "--email", "amy@globex.test", "--password-stdin"],
        input="short\n",
        env=env,
    )
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    listed = runner.invoke(app, ["users", "list", "--org", "Globex"], env=env)
    assert "hank@globex.test" in listed.output and "amy@" not in listed.output

    settings = Settings(_env_file=None, data_dir=tmp_path / "data", database_url=database_url)  # type: ignore[call-arg]
    with TestClient(create_app(settings, public_base_url="http://testserver")) as client:
        sign_in(client, "hank@globex.test", "a long enough secret")
        assert "Globex" in client.get("/console/chatbots").text


@pytest.mark.slow  # starts chatforge processes
def test_first_serve_prints_an_owner_who_can_sign_in(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CHATFORGE_DATA_DIR": str(tmp_path / "data")}
    process = subprocess.Popen(
        [sys.executable, "-m", "chatforge", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        output = ""
        while "Uvicorn running" not in output:
            line = process.stdout.readline()
            if not line:
                break
            output += line
        match = OWNER_LINE.search(output)
        assert match, output
        email, password = match.groups()
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base) as browser:
            token = CSRF_FIELD.search(browser.get("/console/login").text)
            assert token
            signed = browser.post(
                "/console/login",
                data={"email": email, "password": password, "csrf_token": token[1]},
            )
            assert signed.status_code == 303
            assert "default" in browser.get("/console/chatbots").text
    finally:
        process.terminate()
        process.wait(timeout=20)
