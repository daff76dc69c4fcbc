"""The widget's call button in Debian's Chromium, with a fake microphone playing a question.

Chromium's ``--use-file-for-fake-audio-capture`` plays a WAV file (in a loop) as the microphone;
the widget streams it through its AudioWorklet and the call's WebSocket, and plays the answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright
from tests.browser import chromium_path, serve_directory
from tests.factories.chat import STORE_KNOWLEDGE
from tests.voice.audio import spoken_wav
from tests.widget.conftest import running_chatforge
from tests.widget.support import Chatforge, Site

pytestmark = pytest.mark.slow

VOICE_CONFIG = {
    "voice": "alloy",
    "appearance": {"buttonColor": "#112233", "buttonRadius": 20},
    "text": {
        "startCall": "Call the shop",
        "endCall": "Hang up",
        "listeningStatus": "Listening",
        "speakingStatus": "Talk to interrupt",
    },
    "vad": {"threshold": 0.5, "silence_duration_ms": 600, "prefix_padding_ms": 300},
}


@pytest.fixture(scope="module")
def chatforge(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Chatforge]:
    with running_chatforge(tmp_path_factory.mktemp("voice-widget"), sqlite_template) as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, chatforge: Chatforge) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("voice-site")
    url, stop = serve_directory(root)
    yield Site(url=url, root=root, chatforge=chatforge.url)
    stop()


@pytest.fixture(scope="module")
def microphone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The question, then silence long enough for the answer before the file loops."""
    path = tmp_path_factory.mktemp("mic") / "question.wav"
    path.write_bytes(spoken_wav("What are your opening hours?", pad_seconds=3.0))
    return path


@pytest.fixture
def page(microphone: Path) -> Iterator[Any]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=[
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={microphone}",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.grant_permissions(["microphone"])
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        yield tab
        context.close()
        browser.close()
        assert not errors, f"script errors in the page: {errors}"


def test_a_visitor_calls_hears_the_answer_and_hangs_up(
    chatforge: Chatforge, site: Site, page: Any
) -> None:
    bot = chatforge.chatbot(
        STORE_KNOWLEDGE, name="Shop", slug="voice-shop", voice_widget_config=VOICE_CONFIG
    )
    audio_frames: list[int] = []
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived",
            lambda frame: audio_frames.append(len(frame)) if isinstance(frame, bytes) else None,
        ),
    )
    page.goto(site.page("voice-shop"))
    page.locator(".bubble").click()
    call = page.get_by_role("button", name="Call the shop")
    expect(call).to_be_visible()
    assert call.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(17, 34, 51)"
    call.click()
    hang_up = page.get_by_role("button", name="Hang up")
    expect(hang_up).to_be_visible()
    # Through Chromium's audio processing Whisper tiny sometimes hears "opening ours".
    expect(page.locator(".row.user").first).to_contain_text("opening", timeout=45_000)
    expect(page.locator(".row.bot").last).to_contain_text("9am", timeout=45_000)
    page.wait_for_function("() => true", timeout=1000)
    assert sum(audio_frames) > 20_000, audio_frames  # the spoken answer reached the page
    hang_up.click()
    expect(page.get_by_role("button", name="Call the shop")).to_be_visible()
    # The operator sees the conversation, with the spoken question and its answer.
    sessions = chatforge.conversations(bot["id"])
    assert sessions and sessions[0]["voice_path"]
    messages = chatforge.api.get(
        f"/api/external/chatbot/{bot['id']}/conversations/{sessions[0]['id']}/messages"
    ).json()["data"]
    kinds = [m["sender_type"] for m in messages]
    assert kinds[:2] == ["user", "bot"], kinds
    assert "opening" in messages[0]["content"].lower()


def test_the_hosted_chat_page_calls_under_its_strict_csp(chatforge: Chatforge, page: Any) -> None:
    chatforge.chatbot(
        STORE_KNOWLEDGE, name="Shop", slug="hosted-voice", voice_widget_config=VOICE_CONFIG
    )
    page.goto(f"{chatforge.url}/chat/hosted-voice")
    page.get_by_role("button", name="Call the shop").click()
    expect(page.get_by_role("button", name="Hang up")).to_be_visible()
    expect(page.locator(".row.bot").last).to_contain_text("9am", timeout=45_000)
    page.get_by_role("button", name="Hang up").click()
