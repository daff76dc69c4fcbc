"""The voice agent's speed on this machine, offline models only (issue 15).

    python bench/voice.py [--runs 10] [--calls 10] [--json]

In process, with the default offline models (faster-whisper tiny.en int8, the Piper "joe" voice,
Silero VAD):

- STT real-time factor alone: seconds to transcribe / seconds of speech, over spoken sentences
  (the models warmed up first);
- TTS real-time factor alone: seconds to synthesize / seconds of speech produced;
- word error rate of the default STT on a TTS round trip (sentences spoken by the local voice and
  transcribed back; no numbers, whose spelling Whisper changes to digits). No recorded human
  speech set installs offline from a package index, so this is NOT the human-speech WER: it is
  labelled as a round trip;
- end of speech -> first audio byte of the answer, for a short question, p50/p95: the recording
  decoded, cut by the VAD and transcribed, the question answered by a shop chatbot (the offline
  extractive model, on SQLite) and the answer's first sentence synthesized. A live call also
  waits the chatbot's ``vad.silence_duration_ms`` before it knows speech has ended;
- ``--calls`` such turns at once (simultaneous calls): none may fail; their latency p50/p95.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from chatforge.app import create_app
from chatforge.providers.speech import synthesize
from chatforge.providers.speech.audio import decode, wav_bytes
from chatforge.services.accounts import keys
from chatforge.services.chat.service import ChatService, IncomingMessage
from chatforge.services.context import AppContext
from chatforge.services.conversations.sessions import Incoming
from chatforge.services.voice.service import VoiceService, speech_registry
from chatforge.settings import Settings
from chatforge.storage import migrate

SENTENCES = [
    "Please send the parcel to our office in Berlin before Friday.",
    "The meeting has been moved to tomorrow afternoon.",
    "Can you tell me how long shipping takes to Canada?",
    "I would like to return the blue jacket I bought last week.",
    "Our store opens early in the morning and closes in the evening.",
    "Is there a discount for students or teachers?",
    "My order has not arrived yet, and I am getting worried.",
    "Thank you very much for your help, have a nice day.",
    "Where can I find the instructions for the coffee machine?",
    "The weather is cold and rainy, so bring an umbrella.",
]
QUESTION = "What are your opening hours?"
KNOWLEDGE = [
    {
        "type": "text",
        "title": "Opening hours",
        "content": "Our store is open from 9am to 6pm, Monday to Saturday. Sundays: closed.",
    },
    {
        "type": "text",
        "title": "Returns",
        "content": "You can return any product within 30 days of purchase for a full refund.",
    },
]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def models_alone(ctx: AppContext) -> dict[str, Any]:
    registry = speech_registry(ctx)
    stt, tts = registry.stt(), registry.tts()
    await synthesize(tts, "Warm up.", voice="alloy")
    spoken: list[bytes] = []
    tts_seconds = audio_seconds = 0.0
    for sentence in SENTENCES:
        started = time.perf_counter()
        pcm = await synthesize(tts, sentence, voice="alloy")
        tts_seconds += time.perf_counter() - started
        audio_seconds += len(pcm) / 2 / tts.sample_rate
        spoken.append(wav_bytes(pcm, tts.sample_rate))
    audios = [decode(wav, max_seconds=60) for wav in spoken]
    await stt.transcribe(audios[0])
    stt_seconds = 0.0
    errors = total = 0
    for sentence, audio in zip(SENTENCES, audios, strict=True):
        started = time.perf_counter()
        transcript = await stt.transcribe(audio)
        stt_seconds += time.perf_counter() - started
        errors += edit_distance(words(sentence), words(transcript.text))
        total += len(words(sentence))
    speech = sum(a.seconds for a in audios)
    return {
        "stt_rtf": round(stt_seconds / speech, 3),
        "tts_rtf": round(tts_seconds / audio_seconds, 3),
        "round_trip_wer": round(errors / total, 3),
        "speech_seconds": round(speech, 1),
    }


async def spoken_turn(ctx: AppContext, organization: str, chatbot_id: str, wav: bytes) -> float:
    """Seconds from the end of the recording to the answer's first audio chunk."""
    voice = VoiceService(ctx, organization)
    tts = speech_registry(ctx).tts()
    started = time.perf_counter()
    transcript = await voice.transcribe(chatbot_id, wav)
    chat = ChatService(ctx, organization)
    answer = await chat.answer(
        chatbot_id, [IncomingMessage("user", transcript.text)], Incoming(chatbot_id, "web", None)
    )
    assert answer.response, "no answer"
    stream = tts.stream(answer.response, voice="alloy")
    first = await anext(stream)
    elapsed = time.perf_counter() - started
    assert first
    await stream.aclose()
    return elapsed


async def turns(ctx: AppContext, org: str, bot: str, wav: bytes, runs: int, calls: int) -> Any:
    await spoken_turn(ctx, org, bot, wav)  # warm: models loaded, search index in memory
    alone = [await spoken_turn(ctx, org, bot, wav) for _ in range(runs)]
    started = time.perf_counter()
    results = await asyncio.gather(
        *(spoken_turn(ctx, org, bot, wav) for _ in range(calls)), return_exceptions=True
    )
    wall = time.perf_counter() - started
    ok = [r for r in results if isinstance(r, float)]
    return {
        "first_audio_p50_s": round(statistics.median(alone), 3),
        "first_audio_p95_s": round(pct(alone, 0.95), 3),
        "simultaneous_calls": calls,
        "simultaneous_failed": len(results) - len(ok),
        "simultaneous_p50_s": round(statistics.median(ok), 3) if ok else None,
        "simultaneous_p95_s": round(pct(ok, 0.95), 3) if ok else None,
        "simultaneous_wall_s": round(wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="spoken turns timed one at a time")
    parser.add_argument("--calls", type=int, default=10, help="spoken turns at once")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chatforge-voice-bench-") as folder:
        settings = Settings(_env_file=None, data_dir=Path(folder))  # type: ignore[call-arg]
        app = create_app(settings, public_base_url="http://bench")
        ctx: AppContext = app.state.ctx
        migrate.upgrade(ctx.db.engine)
        with TestClient(app) as client:
            with ctx.db.sessions() as db:
                client.headers["x-api-key"] = keys.create_key(db, "bench").key
            bot = client.post(
                "/api/external/chatbots", json={"name": "Shop", "settings": {"model": "extractive"}}
            ).json()["chatbot"]
            added = client.post(
                f"/api/external/chatbot/{bot['id']}/knowledge-base",
                params={"wait": "true"},
                json=KNOWLEDGE,
            )
            assert added.status_code == 200, added.text
            organization = bot.get("organization_id") or _organization_of(ctx, bot["id"])
        figures = asyncio.run(models_alone(ctx))
        tts = speech_registry(ctx).tts()
        pcm = asyncio.run(synthesize(tts, QUESTION, voice="alloy"))
        question = wav_bytes(pcm, tts.sample_rate)
        figures.update(
            asyncio.run(turns(ctx, organization, bot["id"], question, options.runs, options.calls))
        )
    figures["cpus"] = os.cpu_count()
    figures["load_average"] = round(os.getloadavg()[0], 2)
    if options.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name:24} {value}")


def _organization_of(ctx: AppContext, chatbot_id: str) -> str:
    from chatforge.storage.models import Chatbot

    with ctx.db.sessions() as db:
        chatbot = db.get(Chatbot, chatbot_id)
        assert chatbot is not None
        return chatbot.organization_id


if __name__ == "__main__":
    sys.exit(main())
