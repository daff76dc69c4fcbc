"""The widget tab: the look and allowed origins are saved where the widget reads them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from tests.console.helpers import Person

from chatforge.providers.speech.voices import LOCAL_VOICES, OKCHAT_VOICES

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


def test_the_real_widget_previews_a_public_chatbot_and_a_private_one_says_why(
    owner: Person, create_chatbot: Callable[..., dict[str, Any]], client: TestClient
) -> None:
    public = create_chatbot(name="Open", is_public=True)
    private = create_chatbot(name="Closed")
    page = owner.client.get(f"/console/chatbots/{public['id']}/widget").text
    assert f'<script src="/widget.js" data-chatbot="{public["id"]}" async></script>' in page
    assert client.get("/widget.js").status_code == 200  # the very script the page loads
    closed = owner.client.get(f"/console/chatbots/{private['id']}/widget").text
    assert '/widget.js" data-chatbot' not in closed.split("Embed code")[0]
    assert "only answers for a public chatbot" in closed


def test_voice_settings_are_saved_as_the_api_saves_them(
    owner: Person, create_chatbot: Callable[..., dict[str, Any]], api: TestClient
) -> None:
    bot = create_chatbot()
    path = f"/console/chatbots/{bot['id']}/widget/voice"
    saved = owner.post(
        path,
        {"voice": "alloy", "temperature": "1.2", "start_call": "Call us", "threshold": "0.6",
         "silence_ms": "800", "button_color": "#112233", "call_to_action": "Talk to us"},
    )  # fmt: skip
    assert saved.status_code == 303, saved.text
    config = api.get(f"/api/external/chatbot/{bot['id']}").json()["chatbot"]["voice_widget_config"]
    assert config["voice"] == "alloy" and config["model"]["temperature"] == 1.2
    assert config["vad"] == {"threshold": 0.6, "silence_duration_ms": 800}
    assert config["text"]["startCall"] == "Call us"
    assert config["appearance"]["buttonColor"] == "#112233"
    page = owner.client.get(f"/console/chatbots/{bot['id']}/widget?voice=1").text
    assert "Voice settings saved." in page and 'value="alloy" selected' in page
    # The API's own PATCH and the form write the same config: the form keeps what it lacks.
    api.patch(f"/api/external/chatbot/{bot['id']}/voice-agent", json={"agentId": "a-1"})
    owner.post(path, {"voice": "echo"})
    config = api.get(f"/api/external/chatbot/{bot['id']}").json()["chatbot"]["voice_widget_config"]
    assert config["agentId"] == "a-1" and config["voice"] == "echo"
    wrong = owner.post(path, {"threshold": "3"})
    assert wrong.status_code == 422


VOICE_FIELD = re.compile(r'<select id="v-voice" name="voice"[^>]*>(.*?)</select>', re.S)


def voice_form(page: str) -> dict[str, str]:
    """The voice form's fields as a browser would submit them, untouched."""
    form = page.split('id="voice-form"')[1].split("</form>")[0]
    fields = dict(re.findall(r'<input [^>]*name="(\w+)"[^>]*value="([^"]*)"', form))
    # A browser sends an <input type=color>'s value in lower case.
    fields = {k: v.lower() if re.fullmatch(r"#[0-9A-Fa-f]{6}", v) else v for k, v in fields.items()}
    chosen = re.search(r'<option value="([^"]+)" selected', form)
    assert chosen, form
    return {**fields, "voice": chosen[1]}


def test_the_voice_list_is_every_voice_the_api_takes_with_the_one_it_plays_offline(
    owner: Person, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    bot = create_chatbot()
    page = owner.client.get(f"/console/chatbots/{bot['id']}/widget").text
    field = VOICE_FIELD.search(page)
    assert field
    offered = re.findall(r'<option value="([^"]+)"', field[1])
    assert offered == [*OKCHAT_VOICES, *LOCAL_VOICES]
    assert "shimmer (offline: heart)" in field[1] and "echo (offline: joe)" in field[1]
    assert "coral, marin, nova, sage, shimmer with heart" in page
    # No voice set: the form shows the one the server speaks with, alloy.
    assert '<option value="alloy" selected>' in field[1]


def test_saving_the_voice_form_untouched_changes_nothing_a_caller_hears(
    owner: Person, create_chatbot: Callable[..., dict[str, Any]], api: TestClient
) -> None:
    bot = create_chatbot()
    path = f"/console/chatbots/{bot['id']}/widget"
    untouched = voice_form(owner.client.get(path).text)
    assert untouched["voice"] == "alloy" and untouched["threshold"] == "0.5"
    assert owner.post(f"{path}/voice", untouched).status_code == 303
    config = api.get(f"/api/external/chatbot/{bot['id']}").json()["chatbot"]["voice_widget_config"]
    # The voice agent is on, with the voice it had; every other setting still follows the server.
    assert config == {"voice": "alloy"}
    # A voice the API set (a local one too) is kept by an untouched save.
    api.patch(
        f"/api/external/chatbot/{bot['id']}/voice-agent",
        json={"voice": "joe", "vad": {"threshold": 0.9}},
    )
    again = voice_form(owner.client.get(path).text)
    assert again["voice"] == "joe" and again["threshold"] == "0.9"
    owner.post(f"{path}/voice", again)
    config = api.get(f"/api/external/chatbot/{bot['id']}").json()["chatbot"]["voice_widget_config"]
    assert config == {"voice": "joe", "vad": {"threshold": 0.9}}
