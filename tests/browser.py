"""What the browser tests share: Debian's Chromium driven by Playwright, and a live Chatforge.

The widget and the console are tested in a real browser against a real server: the app runs under
uvicorn in a thread on a free port (as ``chatforge serve`` runs it), and Playwright drives the
Chromium that ``apt-get install chromium`` puts on the machine. No browser is ever downloaded; when
Chromium is missing the tests fail with the command that installs it (``scripts/test`` runs it
where it can), they are never skipped.

Fixtures (import them into a test module or a ``conftest.py``)::

    from tests.browser import browser, live_server  # noqa: F401
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

CHROMIUM_NAMES = ("chromium", "chromium-browser")
INSTALL_HINT = "Chromium is not installed: run `apt-get install -y chromium` (Debian), then rerun."


def chromium_path() -> str:
    """Where Debian's Chromium is; ``CHATFORGE_TEST_CHROMIUM`` overrides. Fails, never skips."""
    override = os.environ.get("CHATFORGE_TEST_CHROMIUM")
    if override:
        return override
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(INSTALL_HINT, pytrace=False)


def free_port() -> int:
    """A TCP port nobody listens on now, on the loopback address."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for one test module (a Playwright ``Browser``).

    Per module, not per session: Playwright's sync API runs an event loop on the main thread
    while it is started, and the tests after it that run their own loop (``asyncio.run``) would
    find one running. Stopping it with the module lets them run in any order.
    """
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class LiveServer:
    """A Chatforge app served over real HTTP."""

    app: FastAPI
    url: str


def serve_app(app: FastAPI) -> tuple[LiveServer, Callable[[], None]]:
    """Serve ``app`` under uvicorn in a thread; the server and a function that stops it."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=15)

    return LiveServer(app=app, url=f"http://127.0.0.1:{port}"), stop


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    """The test's app (see ``tests/conftest.py``) served over HTTP on 127.0.0.1."""
    server, stop = serve_app(app)
    try:
        yield server
    finally:
        stop()


def serve_directory(directory: Path) -> tuple[str, Callable[[], None]]:
    """Serve static files from ``directory`` on ``localhost`` (a different origin than the
    ``127.0.0.1`` of :func:`serve_app`): a customer's website that embeds the widget."""
    port = free_port()

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(directory), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, name=f"site-{port}", daemon=True)
    thread.start()

    def stop() -> None:
        httpd.shutdown()
        httpd.server_close()

    return f"http://localhost:{port}", stop
