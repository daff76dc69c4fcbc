"""The OpenAPI document tells the truth: schemathesis finds no request and answer it gets wrong.

schemathesis reads ``/openapi.json`` from a running Chatforge and sends what the document allows
(and what it forbids) to every operation, with every check: each status answered is documented,
each body matches its schema, schema-valid requests are accepted, invalid ones refused, 405s list
the right ``Allow``, no 5xx. A client generated from the document can rely on it. The few rules a
JSON Schema cannot state are listed, with their reasons, in ``schemathesis.toml`` beside this file.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.browser import LiveServer, serve_app

from chatforge.app import create_app
from chatforge.services.accounts import keys
from chatforge.settings import Settings

CONFIG = Path(__file__).with_name("schemathesis.toml")

pytestmark = pytest.mark.slow  # thousands of requests


@pytest.fixture
def server(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[LiveServer, str]]:
    """Chatforge on SQLite over HTTP, limits off (thousands of requests), with one key."""
    database = tmp_path / "chatforge.db"
    database.write_bytes(sqlite_template.read_bytes())
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", database_url=f"sqlite:///{database}"
    )
    settings = settings.model_copy(
        update={"limits": settings.limits.model_copy(update={"enabled": False})}
    )
    app = create_app(settings)
    live, stop = serve_app(app)
    with app.state.ctx.db.sessions() as session:
        key = keys.create_key(session, "acme").key
    try:
        yield live, key
    finally:
        stop()


def test_schemathesis_finds_no_failure_in_any_operation(
    server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    live, key = server
    # A public chatbot for the operations that need one, found through the API's links.
    created = httpx.post(
        f"{live.url}/api/external/chatbots",
        json={"name": "Schema Bot", "is_public": True},
        headers={"x-api-key": key},
    )
    assert created.status_code == 200, created.text
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{live.url}/openapi.json",
        "--header",
        f"x-api-key: {key}",
        "--no-color",
    ]
    result = subprocess.run(  # in tmp_path, where schemathesis keeps its cache
        command, capture_output=True, text=True, timeout=900, check=False, cwd=tmp_path
    )
    output = result.stdout + result.stderr
    summary = output[output.rfind("SUMMARY") :] if "SUMMARY" in output else output[-3000:]
    failures = output[: output.rfind("SUMMARY")][-12000:]
    assert result.returncode == 0, f"{failures}\n{summary}"
    assert "Tested: " in summary
