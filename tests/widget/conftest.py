"""The widget's browser tests: one Chatforge (SQLite) and one customer website per module.

Chatforge listens on ``http://127.0.0.1:PORT``; the customer's site that embeds the widget is
served from ``http://localhost:PORT2``, another origin, as on the web. The public API itself is
tested on both databases in ``tests/public``; here the browser is the client.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from tests.browser import browser, chromium_path, free_port, serve_directory
from tests.factories.chat import STORE_KNOWLEDGE
from tests.widget.support import Chatforge, Site

from chatforge.app import create_app
from chatforge.services.accounts import keys
from chatforge.settings import Settings

__all__ = ["browser", "chromium_path"]


@contextmanager
def running_chatforge(root: Path, template: Path, **settings: Any) -> Iterator[Chatforge]:
    """Chatforge on a copy of the migrated SQLite ``template`` under ``root``, served over HTTP
    on its own port (which is its public_base_url), with ``settings`` overridden."""
    shutil.copy(template, root / "chatforge.db")
    config = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=root / "data",
        database_url=f"sqlite:///{root / 'chatforge.db'}",
        **settings,
    )
    port = free_port()
    app = create_app(config, public_base_url=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"chatforge-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    with app.state.ctx.db.sessions() as session:
        key = keys.create_key(session, "acme").key
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, headers={"x-api-key": key}, timeout=60) as api:
            yield Chatforge(url=url, api=api)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def chatforge(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Chatforge]:
    """Chatforge on SQLite for one test module; it may fetch the test site's pages (loopback)."""
    root = tmp_path_factory.mktemp("widget")
    security = {"allow_private_addresses": True}
    with running_chatforge(root, sqlite_template, security=security) as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, chatforge: Chatforge) -> Iterator[Site]:
    """The customer's website, on ``localhost`` (another origin than Chatforge's 127.0.0.1)."""
    root = tmp_path_factory.mktemp("site")
    url, stop = serve_directory(root)
    yield Site(url=url, root=root, chatforge=chatforge.url)
    stop()


@pytest.fixture(scope="module")
def shop(chatforge: Chatforge) -> Any:
    """A public shop chatbot with three texts of knowledge, starter questions and a look."""
    return chatforge.chatbot(
        STORE_KNOWLEDGE,
        name="Shop Bot",
        slug="shop",
        suggestions=["How long do refunds take?", "When are you open?"],
        settings={
            "greeting": "Hi! Ask me about returns, opening hours or shipping.",
            "snippet": {
                "header": "Acme Shop",
                "slogan": "We answer in seconds",
                "primaryColor": "#0f766e",
            },
        },
    )


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (empty storage) and page; fails on a script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"script errors in the page: {errors}"
