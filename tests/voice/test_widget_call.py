"""The widget's call button in Debian's Chromium, with a fake microphone playing a question.

Chromium's ``--use-file-for-fake-audio-capture`` plays a WAV file (in a loop) as the microphone;
the widget streams it through its AudioWorklet and the call's WebSocket, and plays the answer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright
from tests.browser import chromium_path, serve_directory
from tests.factories.chat import STORE_KNOWLEDGE
from tests.voice.audio import spoken_wav
from tests.widget.conftest import running_chatforge
from tests.widget.support import Chatforge, Site, shadow

from chatforge.providers.speech import synthesize
from chatforge.providers.speech.audio import wav_bytes
from chatforge.providers.speech.piper import LocalPiper

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
    with chromium(microphone) as tab:
        yield tab


@contextmanager
def chromium(microphone: Path) -> Iterator[Any]:
    """A page in Chromium whose microphone plays ``microphone`` (a WAV file, looped)."""
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


def test_a_caller_over_the_limit_is_asked_to_wait_and_the_call_goes_on(
    tmp_path: Path, sqlite_template: Path, page: Any
) -> None:
    # The call itself counts once, its first question once: the looped question after it is over.
    limits = {"chat_per_ip": "2/hour"}
    with running_chatforge(tmp_path, sqlite_template, public=limits) as server:
        server.chatbot(
            STORE_KNOWLEDGE, name="Shop", slug="busy-voice", voice_widget_config=VOICE_CONFIG
        )
        page.goto(f"{server.url}/chat/busy-voice")
        page.get_by_role("button", name="Call the shop").click()
        expect(page.locator(".row.bot").last).to_contain_text("9am", timeout=45_000)
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("Too many messages. Please wait", timeout=45_000)
        hang_up = page.get_by_role("button", name="Hang up")
        expect(hang_up).to_be_visible()  # still in the call, listening
        assert page.locator(".row.user").count() == 1  # the refused question is not shown
        hang_up.click()


#: The shop's opening hours at length: the spoken answer lasts long enough to be talked over.
LONG_HOURS = {
    "type": "text",
    "title": "Opening hours",
    "content": (
        "Our store is open from 9am to 6pm, Monday to Saturday, and on public holidays from "
        "10am to 4pm, except on Christmas Day and on New Year's Day when the store is closed. "
        "During the summer sales in July and August the store stays open until 8pm on "
        "Thursdays and Fridays, and the café on the first floor opens half an hour earlier. "
        "On Sundays the store is closed, but the parcel lockers at the entrance can be used "
        "at any hour of the day or night."
    ),
}
QUESTION_GAP = 9.0
"""Seconds of silence between the two questions: the first answer (three long sentences, about
16 s of speech) starts within a few seconds of the first and is still playing at the second."""


@pytest.fixture(scope="module")
def interrupting_microphone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A question, then a second one spoken over the answer, then silence."""
    piper = LocalPiper()
    rate = piper.sample_rate

    def said(text: str) -> bytes:
        return asyncio.run(synthesize(piper, text, voice="alloy"))

    silence = b"\x00\x00" * int(QUESTION_GAP * rate)
    pcm = silence[:rate] + said("What are your opening hours?") + silence
    pcm += said("Can I return a product I bought?") + silence * 5
    path = tmp_path_factory.mktemp("mic") / "interrupting.wav"
    path.write_bytes(wav_bytes(pcm, rate))
    return path


#: From the call's start, logs each change of the call bar's ``data-playing`` (whether the
#: answer is playing) with the number of questions on screen then.
WATCH_PLAYBACK = f"""() => {{
  const root = document.querySelector('#chatforge-widget').shadowRoot;
  const bar = {shadow(".callbar")};
  window.callStarted = performance.now();
  window.playback = [];
  new MutationObserver(() => window.playback.push({{
    at: (performance.now() - window.callStarted) / 1000,
    playing: bar.hasAttribute('data-playing'),
    questions: root.querySelectorAll('.row.user').length,
  }})).observe(bar, {{ attributes: true, attributeFilter: ['data-playing'] }});
}}"""


def test_the_caller_talks_over_the_answer_and_it_stops_at_once(
    chatforge: Chatforge, site: Site, interrupting_microphone: Path
) -> None:
    knowledge = [LONG_HOURS, *[k for k in STORE_KNOWLEDGE if k["title"] != "Opening hours"]]
    bot = chatforge.chatbot(
        knowledge, name="Shop", slug="voice-barge-in", voice_widget_config=VOICE_CONFIG
    )
    with chromium(interrupting_microphone) as page:
        answer_audio: list[int] = []  # the sizes of the first answer's audio frames
        events: list[str] = []

        def frame(data: Any) -> None:
            if isinstance(data, bytes):
                if events.count("transcript") == 1:
                    answer_audio.append(len(data))
            else:
                events.append(json.loads(data)["type"])

        page.on("websocket", lambda ws: ws.on("framereceived", frame))
        page.goto(site.page("voice-barge-in"))
        page.locator(".bubble").click()
        page.get_by_role("button", name="Call the shop").click()
        page.evaluate(WATCH_PLAYBACK)
        answers = page.locator(".row.bot")  # after the greeting
        expect(answers.nth(1)).to_contain_text("9am", timeout=45_000)
        # The second question is heard and answered: the next answer is about returns.
        expect(page.locator(".row.user").nth(1)).to_contain_text("return", timeout=45_000)
        expect(answers.nth(2)).to_contain_text("30 days", timeout=45_000)
        log = page.evaluate("() => window.playback")
        page.get_by_role("button", name="Hang up").click()

    first = [entry for entry in log if entry["questions"] == 1]
    # The first answer was playing when the caller spoke again ...
    assert first and first[0]["playing"], log
    # ... and it stopped for good while only that question was on screen: before the new one
    # was even transcribed (the widget heard the caller itself; the server has usually sent the
    # whole answer by then, and says nothing: see `interrupted` in the events) ...
    stop = first[-1]
    assert not stop["playing"], (log, events)
    # ... long before the answer's audio would have run out.
    spoken = sum(answer_audio) / 2 / 22_050
    assert stop["at"] - first[0]["at"] < spoken - 2.0, (spoken, log, events)
    messages = chatforge.api.get(
        f"/api/external/chatbot/{bot['id']}/conversations/"
        f"{chatforge.conversations(bot['id'])[0]['id']}/messages"
    ).json()["data"]
    said = [(m["sender_type"], m["content"].lower()) for m in messages]
    assert [kind for kind, _ in said] == ["user", "bot", "user", "bot"], said
    assert "return" in said[2][1] and "30 days" in said[3][1], said
