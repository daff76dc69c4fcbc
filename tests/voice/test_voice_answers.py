"""A voice agent's own answer settings (``voice_widget_config.model``): its temperature and
``max_output_tokens`` reach the chat model for spoken answers only, and bound what is spoken."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.factories.chat import STORE_KNOWLEDGE, add, answer, make_store_bot
from tests.public.helpers import public_path
from tests.servers.base import Reply, serve
from tests.servers.openai_server import OpenAIServer
from tests.voice.audio import words
from tests.voice.test_realtime import pcm_of, stream, until
from tests.voice.test_voice_api import upload, voice_path

from chatforge.services.voice.answers import SpeechBudget

pytestmark = [pytest.mark.usefixtures("reuse_embedder"), pytest.mark.slow]

KEY = "sk-server-0123456789abcdefVOICE"
VOICE_MODEL = {"temperature": 0.15, "max_output_tokens": 40}


@pytest.fixture
def openai() -> Iterator[OpenAIServer]:
    with serve(OpenAIServer(api_key=KEY), path_prefix="/v1") as server:
        yield server


@pytest.fixture
def llm_api(configured_api: Callable[..., TestClient], openai: OpenAIServer) -> TestClient:
    return configured_api(
        models={"openai_base_url": openai.base_url, "openai_api_key": SecretStr(KEY)}
    )


def sampling(server: OpenAIServer) -> tuple[float, int]:
    """The temperature and token limit of the model's last request, as it was sent."""
    body = server.last_request.body
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    return body["temperature"], limit


def test_spoken_answers_use_the_voice_agents_temperature_and_token_limit(
    llm_api: TestClient, openai: OpenAIServer, question_wav: bytes
) -> None:
    bot = make_store_bot(
        llm_api,
        is_public=True,
        slug="brief-shop",
        voice_widget_config={"voice": "alloy", "model": VOICE_MODEL},
    )
    said = "Our store is open from 9am to 6pm, Monday to Saturday [1]."
    openai.script(*[Reply(text=said)] * 4)

    spoken = llm_api.post(voice_path(bot["id"], "chat"), files=upload(question_wav))
    assert spoken.status_code == 200, spoken.text
    assert spoken.json()["response"] == said
    assert sampling(openai) == (0.15, 40)

    # A typed message to the same chatbot keeps the server's text settings.
    answer(llm_api, bot["id"], "What are your opening hours?")
    assert sampling(openai) == (0.3, 1024)

    # The live call answers with the voice settings too.
    path = f"{voice_path(bot['id'], 'realtime')}?sessionToken=caller-9"
    with llm_api.websocket_connect(path, headers={"x-api-key": llm_api.headers["x-api-key"]}) as ws:
        assert ws.receive_json()["type"] == "ready"
        stream(ws, pcm_of(question_wav))
        events, audio = until(ws, "answer")
        ws.send_json({"type": "end"})
    assert events[-1]["text"] == said and audio
    assert sampling(openai) == (0.15, 40)

    # And so does a visitor's spoken turn on the public path.
    visitor = TestClient(llm_api.app, raise_server_exceptions=False)
    heard = visitor.post(public_path("brief-shop", "/voice/chat"), files=upload(question_wav))
    assert heard.status_code == 200, heard.text
    assert sampling(openai) == (0.15, 40)
    assert len(openai.requests) == 4


#: Three long sentences: the offline model quotes them all for "What are your opening hours?".
LONG_HOURS = {
    "type": "text",
    "title": "Opening hours",
    "content": (
        "Our store is open from 9am to 6pm, Monday to Saturday, and on public holidays from "
        "10am to 4pm, except on Christmas Day when the store is closed. "
        "During the summer sales in July and August the store stays open until 8pm on "
        "Thursdays and Fridays, and the café on the first floor opens half an hour earlier. "
        "On Sundays the store is closed, but the parcel lockers at the entrance can be used "
        "at any hour of the day or night."
    ),
}


def test_the_offline_model_speaks_only_what_fits_in_max_output_tokens(
    api: TestClient, question_wav: bytes
) -> None:
    # The first sentence is 28 words: it fits in 30, and the next one does not.
    limited = api.post(
        "/api/external/chatbots",
        json={"name": "Brief", "voice_widget_config": {"model": {"max_output_tokens": 30}}},
    ).json()["chatbot"]
    others = [k for k in STORE_KNOWLEDGE if k["title"] != "Opening hours"]
    add(api, limited["id"], LONG_HOURS, *others)
    body = api.post(voice_path(limited["id"], "chat"), files=upload(question_wav)).json()
    text = body["response"].lower()
    assert "christmas" in text and "summer" in text  # the text is the whole answer ...
    heard = api.post(
        voice_path(limited["id"], "transcribe"),
        files=upload(base64.b64decode(body["audio"]["data"])),
    ).json()["text"]
    spoken = set(words(heard))
    assert {"christmas", "closed"} <= spoken, heard  # ... its speech stops after the sentence
    assert not {"summer", "august", "thursdays", "lockers"} & spoken, heard  # that fits


def test_a_speech_budget_keeps_whole_sentences_and_cuts_only_a_first_one_too_long() -> None:
    text = "We open at 9am [1]. We close at 6pm on weekdays. Sundays are closed."
    assert SpeechBudget(None).take(text) == text
    budget = SpeechBudget(9)
    assert budget.take(text) == "We open at 9am."  # the next sentence would make 10 words
    assert budget.take("Thanks.") == ""  # spent: nothing more is said
    assert SpeechBudget(3).take(text) == "We open at"
    streamed = SpeechBudget(8)  # sentence by sentence, as the live call speaks them
    assert [streamed.take(s) for s in text.split(". ")] == ["We open at 9am", "", ""]
