"""The command line as a user runs it: first start, migrations and key management."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from chatforge.cli import app

KEY_LINE = re.compile(r"^\s+([0-9a-f]{48})$", re.MULTILINE)


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {"CHATFORGE_DATA_DIR": str(tmp_path / "data"), "CHATFORGE_DATABASE_URL": database_url}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _read_until(process: subprocess.Popen[str], done: Callable[[str], bool], seconds: float) -> str:
    """The server's output up to the line that makes ``done`` true (or its end, or a timeout)."""
    assert process.stdout is not None
    output = ""
    deadline = time.monotonic() + seconds
    while not done(output) and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output += line
    return output


def _serve(port: int, env: dict[str, str], *options: str) -> subprocess.Popen[str]:
    """``chatforge serve`` in a process of its own, its output on one pipe."""
    return subprocess.Popen(
        [sys.executable, "-m", "chatforge", "serve", "--port", str(port), *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow  # starts chatforge processes
def test_first_serve_makes_a_key_that_works(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "CHATFORGE_DATA_DIR": str(tmp_path / "data")}
    process = _serve(port, env)
    try:
        output = _read_until(process, lambda text: "Uvicorn running" in text, 60)
        match = KEY_LINE.search(output)
        assert match, output
        key = match.group(1)
        assert "x-api-key" in output

        base = f"http://127.0.0.1:{port}"
        created = httpx.post(
            f"{base}/api/external/chatbots", json={"name": "Quick"}, headers={"x-api-key": key}
        )
        assert created.status_code == 200
        assert httpx.get(f"{base}/api/external/chatbots").status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=20)

    # A second start finds the organization: no new key, but how to make one.
    restarted = _serve(port, env)
    try:
        output = _read_until(restarted, lambda text: "Uvicorn running" in text, 60)
    finally:
        restarted.terminate()
        restarted.wait(timeout=20)
    assert "Uvicorn running" in output and KEY_LINE.search(output) is None
    assert "chatforge keys create --org NAME" in output
    again = subprocess.run(
        [sys.executable, "-m", "chatforge", "keys", "list"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "default" in again.stdout
    assert key not in again.stdout


def test_keys_create_list_revoke(tmp_path: Path, database_url: str) -> None:
    runner = CliRunner()
    env = _env(tmp_path, database_url)

    created = runner.invoke(app, ["keys", "create", "--org", "Globex"], env=env)
    assert created.exit_code == 0, created.output
    key = KEY_LINE.search("  " + created.stdout.splitlines()[0])
    assert key, created.stdout
    listed = runner.invoke(app, ["keys", "list"], env=env)
    assert "Globex" in listed.stdout and key.group(1)[:8] in listed.stdout
    assert key.group(1) not in listed.stdout

    revoked = runner.invoke(app, ["keys", "revoke", key.group(1)[:8]], env=env)
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in runner.invoke(app, ["keys", "list"], env=env).stdout

    missing = runner.invoke(app, ["keys", "revoke", "ffffffff"], env=env)
    assert missing.exit_code == 1
    assert "No active key" in missing.output


def test_migrate_reports_the_revision(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["migrate"], env={"CHATFORGE_DATA_DIR": str(tmp_path / "data")}
    )

    assert result.exit_code == 0, result.output
    assert re.search(r"revision \d{4}", result.stdout)


@pytest.mark.slow  # starts chatforge processes
def test_serve_with_two_workers_answers_from_both_processes(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "CHATFORGE_DATA_DIR": str(tmp_path / "data")}
    process = _serve(port, env, "--workers", "2")
    try:
        output = _read_until(process, lambda text: text.count("startup complete") == 2, 90)
        match = KEY_LINE.search(output)
        assert match, output
        assert len(set(re.findall(r"Started server process \[(\d+)\]", output))) == 2, output

        headers = {"x-api-key": match.group(1)}
        base = f"http://127.0.0.1:{port}/api/external/chatbots"
        created = [httpx.post(base, json={"name": f"Bot {n}"}, headers=headers) for n in range(6)]
        listed = httpx.get(base, headers=headers, params={"limit": 50})
        scrapes = [httpx.get(f"http://127.0.0.1:{port}/metrics").text for _ in range(4)]
    finally:
        process.terminate()
        process.wait(timeout=30)

    assert [r.status_code for r in created] == [200] * 6
    assert listed.status_code == 200
    assert {c["name"] for c in listed.json()["chatbots"]} >= {f"Bot {n}" for n in range(6)}
    # Whichever process answers a scrape, it counts the requests of both.
    made = re.compile(
        r'^chatforge_http_requests_total\{method="POST",route="/api/external/chatbots",'
        r'status="200"\} (\S+)$',
        re.MULTILINE,
    )
    assert [float(made.findall(text)[0]) for text in scrapes] == [6.0] * 4


@pytest.mark.parametrize("command", [["--help"], ["serve", "--help"], ["keys", "--help"]])
def test_help_describes_commands(command: list[str]) -> None:
    result = CliRunner().invoke(app, command)

    assert result.exit_code == 0
    assert "Usage" in result.stdout


@pytest.mark.slow  # starts chatforge processes
def test_serve_does_not_trust_a_forged_forwarded_for_from_a_local_peer(tmp_path: Path) -> None:
    # uvicorn alone would take X-Forwarded-For from any 127.0.0.1 peer (its proxy_headers
    # default): a local proxy that does not set it, or a tunnel, would let every request name
    # its own address and never be limited.
    port = _free_port()
    env = {
        **os.environ,
        "CHATFORGE_DATA_DIR": str(tmp_path / "data"),
        "CHATFORGE_PUBLIC__PER_IP": "3/minute",
    }
    process = _serve(port, env)
    try:
        output = _read_until(process, lambda text: "Uvicorn running" in text, 60)
        assert "Uvicorn running" in output, output
        url = f"http://127.0.0.1:{port}/api/public/chatbot/none"
        statuses = [
            httpx.get(url, headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code for n in range(5)
        ]
    finally:
        process.terminate()
        process.wait(timeout=20)
    # The unknown chatbot answers 404 until the peer's own address is over its limit.
    assert statuses == [404, 404, 404, 429, 429]


@pytest.mark.slow  # starts chatforge processes
def test_a_bad_setting_is_one_line_that_names_it_not_a_traceback(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CHATFORGE_DATA_DIR": str(tmp_path / "data"),
        "CHATFORGE_INGESTION__WORKERS": "0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "chatforge", "serve", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert "Invalid setting CHATFORGE_INGESTION__WORKERS: " in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
