"""Fixtures of the public API tests: an anonymous visitor's client and a public shop chatbot."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.factories.chat import make_store_bot


@pytest.fixture
def visitor(app: FastAPI, client: TestClient) -> Iterator[TestClient]:
    """A client with no API key (the app is already started by ``client``)."""
    yield TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def shop(api: TestClient) -> dict[str, Any]:
    """A public chatbot with the shop's knowledge."""
    return make_store_bot(api, is_public=True, slug="shop")
