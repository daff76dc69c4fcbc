"""What the widget's tests share besides fixtures: a live Chatforge and a customer's site."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

__all__ = ["Chatforge", "Site", "shadow"]


def shadow(selector: str) -> str:
    """A JavaScript expression: ``selector`` inside the widget's shadow root."""
    return f"document.querySelector('#chatforge-widget').shadowRoot.querySelector({selector!r})"


@dataclass
class Chatforge:
    """A live Chatforge and an operator's API client (organization ``acme``)."""

    url: str
    api: httpx.Client

    def chatbot(self, knowledge: list[dict[str, Any]] | None = None, **fields: Any) -> Any:
        """A new chatbot (public unless said otherwise) with ``knowledge``, ready to answer."""
        fields.setdefault("is_public", True)
        response = self.api.post("/api/external/chatbots", json=fields)
        assert response.status_code == 200, response.text
        chatbot = response.json()["chatbot"]
        if knowledge:
            added = self.api.post(
                f"/api/external/chatbot/{chatbot['id']}/knowledge-base",
                params={"wait": "true"},
                json=knowledge if len(knowledge) > 1 else knowledge[0],
            )
            assert added.status_code == 200, added.text
        return chatbot

    def conversations(self, chatbot_id: str) -> list[Any]:
        """The chatbot's conversations as an operator sees them."""
        response = self.api.get(f"/api/external/chatbot/{chatbot_id}/conversations")
        assert response.status_code == 200, response.text
        sessions: list[Any] = response.json()["data"]
        return sessions


@dataclass
class Site:
    """A customer's website on another origin; :meth:`page` writes a page that embeds the
    widget and returns its URL."""

    url: str
    root: Path
    chatforge: str

    def page(
        self, chatbot: str, name: str = "index", attrs: str = "", attribute: str = "data-chatbot"
    ) -> str:
        html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:Georgia,serif;background:#fafaf9}} button,div,p{{color:red!important;
font-size:40px!important}}</style></head>
<body><main><h1>The shop</h1><p>Welcome to our shop.</p></main>
<script src="{self.chatforge}/widget.js" {attribute}="{chatbot}" {attrs} async></script>
</body></html>"""
        (self.root / f"{name}.html").write_text(html)
        return f"{self.url}/{name}.html"
