"""``/widget.js`` and the hosted chat page as HTTP resources: size, caching, title and meta."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from typing import Any

from tests.widget.support import Chatforge

from chatforge.api.widget import widget_script

BUDGET_GZIPPED = 30 * 1024


class _Head(HTMLParser):
    """The title, the meta tags and the script tags of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.scripts: list[dict[str, str | None]] = []
        self.title = ""
        self.lang: str | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang")
        elif tag == "meta":
            name = values.get("property") or values.get("name")
            if name:
                self.meta[name] = values.get("content") or ""
        elif tag == "script":
            self.scripts.append(values)
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _head(html: str) -> _Head:
    parser = _Head()
    parser.feed(html)
    return parser


def test_widget_script_fits_the_budget_and_never_writes_html() -> None:
    source = widget_script().body
    assert len(gzip.compress(source, 9)) <= BUDGET_GZIPPED
    text = source.decode()
    # Untrusted text must never become markup: none of the ways to parse a string as HTML or code.
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "Function(",
    ):
        assert sink not in text, sink


def test_widget_script_is_served_compressed_cached_and_revalidated(chatforge: Chatforge) -> None:
    response = chatforge.api.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["content-encoding"] == "gzip"
    assert len(response.content) > 1000  # httpx decoded it: the whole script
    assert int(response.headers["content-length"]) <= BUDGET_GZIPPED
    assert "max-age=" in response.headers["cache-control"]
    etag = response.headers["etag"]

    again = chatforge.api.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_hosted_page_has_the_chatbots_title_and_share_tags(chatforge: Chatforge, shop: Any) -> None:
    response = chatforge.api.get("/chat/shop")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    head = _head(response.text)
    assert head.title == "Acme Shop"
    assert head.lang == "en"
    assert head.meta["description"] == "We answer in seconds"
    assert head.meta["og:title"] == "Acme Shop"
    assert head.meta["og:description"] == "We answer in seconds"
    assert head.meta["og:url"] == f"{chatforge.url}/chat/{shop['id']}"
    assert head.meta["theme-color"] == "#0f766e"
    assert head.meta["twitter:card"] == "summary"
    [script] = head.scripts
    assert script["data-chatbot"] == shop["id"]
    assert (script["src"] or "").startswith("/widget.js?v=")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors *" in policy  # the shop allows any origin


def test_hosted_page_escapes_the_chatbots_name(chatforge: Chatforge) -> None:
    evil = chatforge.chatbot(name='<script>alert(1)</script>"><img src=x onerror=alert(2)>')
    response = chatforge.api.get(f"/chat/{evil['id']}")
    assert response.status_code == 200
    assert "<script>alert" not in response.text
    assert "<img src=x" not in response.text
    assert _head(response.text).title == evil["name"]


def test_missing_or_private_chatbot_gets_a_friendly_404_page(chatforge: Chatforge) -> None:
    private = chatforge.chatbot(name="Internal helpdesk", is_public=False)
    for reference in ("no-such-bot", private["id"], private["slug"]):
        response = chatforge.api.get(f"/chat/{reference}")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "This chat isn't available" in response.text
        assert "Internal helpdesk" not in response.text
        assert not re.search(r"traceback|error\":", response.text, re.I)
