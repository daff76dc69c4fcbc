"""The widget tab: the look and allowed origins are saved where the widget reads them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from tests.console.helpers import Person

THEME = {
    "name": "Shop helper",
    "header": "Ask us anything",
    "slogan": "Answers in seconds",
    "logo": "https://shop.example/logo.png",
    "primary_color": "#0F766E",
    "secondary_color": "#F59E0B",
    "allowed_origins": "https://shop.example\n\nhttps://www.shop.example/\n",
}


def test_the_look_and_origins_are_saved_and_the_embed_code_shown(
    owner: Person, create_chatbot: Callable[..., dict[str, Any]], api: TestClient
) -> None:
    bot = create_chatbot(name="Shop", is_public=True)
    path = f"/console/chatbots/{bot['id']}/widget"
    page = owner.client.get(path)
    assert page.status_code == 200
    # The code to copy, shown as text (escaped), never as a live tag in the console.
    assert (
        f"&lt;script src=&#34;http://testserver/widget.js&#34; data-chatbot=&#34;{bot['id']}"
        in page.text
    )
    saved = owner.post(path, THEME)
    assert saved.status_code == 303
    settings = api.get(f"/api/external/chatbot/{bot['id']}").json()["chatbot"]["settings"]
    assert settings["snippet"] == {
        "name": "Shop helper",
        "header": "Ask us anything",
        "slogan": "Answers in seconds",
        "logo": "https://shop.example/logo.png",
        "primaryColor": "#0F766E",
        "secondaryColor": "#F59E0B",
    }
    assert settings["allowedOrigins"] == ["https://shop.example", "https://www.shop.example"]
    again = owner.client.get(f"{path}?saved=1").text
    assert "Saved." in again and "--w-primary: #0F766E" in again


def test_a_bad_origin_or_colour_is_refused(
    owner: Person, create_chatbot: Callable[..., dict[str, Any]], api: TestClient
) -> None:
    bot = create_chatbot()
    path = f"/console/chatbots/{bot['id']}/widget"
    origin = owner.post(path, {**THEME, "allowed_origins": "not a site"})
    assert origin.status_code == 422 and "not a site" in origin.text
    colour = owner.post(path, {**THEME, "primary_color": "red; background: url(x)"})
    assert colour.status_code == 422
    settings = api.get(f"/api/external/chatbot/{bot['id']}").json()["chatbot"]["settings"]
    assert settings["snippet"]["primaryColor"] == "#4F46E5" and not settings.get("allowedOrigins")


def test_agents_and_strangers_cannot_open_it(
    person: Callable[..., Person], create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    bot = create_chatbot()
    path = f"/console/chatbots/{bot['id']}/widget"
    assert person("agent@acme.test", role="agent").client.get(path).status_code == 403
    stranger = person("eve@globex.test", org="globex")
    assert stranger.client.get(path).status_code == 404
    assert stranger.post(path, THEME).status_code == 404
