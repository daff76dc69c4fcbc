"""What every console page shares: a favicon, breadcrumbs that end with the page, and hints
that say what the offline model does with a chatbot's settings."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.console.helpers import Person
from tests.factories.knowledge import add

pytestmark = pytest.mark.usefixtures("reuse_embedder")

CRUMBS = re.compile(r'<nav class="crumbs[^"]*" aria-label="Breadcrumb">(.*?)</nav>', re.S)


def crumbs(page: str) -> list[str]:
    """Each breadcrumb trail of a page, as text."""
    return [" ".join(re.sub(r"<[^>]+>", "", trail).split()) for trail in CRUMBS.findall(page)]


def test_the_favicon_is_served_and_linked(owner: Person, client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    page = owner.client.get("/console/inbox").text
    linked = re.search(r'<link rel="icon" href="([^"]+)"', page)
    assert linked and client.get(linked[1]).content == icon.content
    assert '<link rel="icon"' in client.get("/console/login").text


def test_breadcrumbs_end_with_the_page_not_a_slash(
    owner: Person, create_chatbot: Callable[..., dict[str, Any]], api: TestClient
) -> None:
    bot = create_chatbot(name="Shop Bot")
    item = add(api, bot["id"], {"type": "text", "title": "Returns", "content": "30 days."})[0]
    base = f"/console/chatbots/{bot['id']}"
    for path in (base, f"{base}/knowledge", f"{base}/playground", f"{base}/widget"):
        assert crumbs(owner.client.get(path).text) == ["Chatbots / Shop Bot"], path
    assert crumbs(owner.client.get("/console/chatbots/new").text) == ["Chatbots / New chatbot"]
    page = owner.client.get(f"{base}/knowledge/{item['id']}").text
    assert crumbs(page) == ["Chatbots / Shop Bot", "Knowledge / Returns"]


def test_an_extractive_chatbot_says_it_does_not_follow_instructions_style_or_tone(
    owner: Person, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    bot = create_chatbot(name="Offline", settings={"model": "extractive"})
    page = owner.client.get(f"/console/chatbots/{bot['id']}").text
    hints = re.findall(r'<p class="hint" id="(\w+-hint)" data-when-model="extractive"\s*>', page)
    assert hints == ["prompt-hint", "style-hint"]  # shown (not hidden)
    assert 'aria-describedby="prompt-hint"' in page and 'aria-describedby="style-hint"' in page
    assert "does not follow instructions" in page and "style and tone do not change it" in page
