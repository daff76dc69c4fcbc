"""The live call (``WS .../voice/realtime``): listen, detect each turn, answer aloud, yield to
the caller when they speak over the answer.

The client streams 16 kHz 16-bit mono PCM as binary messages. :class:`TurnDetector` finds where
each utterance ends (the chatbot's ``vad`` settings); the utterance is transcribed, answered by
the same chat pipeline as typed chat (sources, citations, abstention, human mode; stored in the
conversation with its recording), and the answer is spoken sentence by sentence as its text
arrives, with the chatbot's voice ``model`` settings (temperature, ``max_output_tokens``). When
the caller starts speaking while an answer is under way, the answer stops (what was said so far
is stored as partial) and a new turn begins: barge-in.

Messages to the client are JSON events and binary PCM at ``output_sample_rate``:

- ``{"type": "ready", "input_sample_rate": 16000, "output_sample_rate": 22050, "voice": ...}``
- ``{"type": "state", "state": "listening" | "thinking" | "speaking"}``
- ``{"type": "transcript", "text": ..., "language": ...}`` (what the caller said)
- ``{"type": "session", "session_id": ..., "visitor_token"?: ...}``
- ``{"type": "sources", "sources": [...]}`` then binary audio, then
  ``{"type": "answer", "text": ..., "message_id": ...}`` (``text`` null in human mode)
- ``{"type": "interrupted"}`` (barge-in) and ``{"type": "error", "error": {...}}``

The client may send ``{"type": "end"}`` to hang up.

A visitor's call counts each utterance it is about to answer as one of their chat turns
(:data:`TurnLimit`, built by the API layer from the public rate limits): over a limit, the
utterance gets ``{"type": "error", "error": {"code": "rate_limited", "message": ..., "details":
{"retry_after": N}}}`` instead of an answer, and the call keeps listening. Until those N seconds
have passed, further utterances get the same event without being transcribed, so that a caller
who keeps talking costs no speech-to-text either.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from typing import Any, Protocol

import anyio
import anyio.to_thread

from chatforge.errors import ChatforgeError, RateLimited
from chatforge.providers.speech import RECOGNITION_RATE, TextToSpeech
from chatforge.providers.speech.base import Audio
from chatforge.providers.speech.turns import SileroStream, SpeechStarted, TurnDetector
from chatforge.services.chat.service import (
    AnswerDelta,
    AnswerDone,
    AnswerFailed,
    ChatService,
    IncomingMessage,
    PreparedTurn,
    SourcesFound,
)
from chatforge.services.context import AppContext
from chatforge.services.conversations import sessions
from chatforge.services.public.origins import origin_allowed
from chatforge.services.public.service import PublicDone, PublicService, PublicSources, own_origin
from chatforge.services.voice.answers import AnswerSettings, SpeechBudget
from chatforge.services.voice.recordings import keep_recording
from chatforge.services.voice.service import (
    PublicVoiceService,
    VoiceProfile,
    VoiceService,
    speech_registry,
)

__all__ = [
    "CallChannel",
    "KeyConversation",
    "OriginNotAllowed",
    "PublicConversation",
    "TurnLimit",
    "VoiceCall",
    "open_key_call",
    "open_public_call",
]

log = logging.getLogger(__name__)

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


class OriginNotAllowed(ChatforgeError):
    """A call from a website the chatbot's ``allowedOrigins`` leaves out."""

    status = 403
    code = "origin_not_allowed"


#: Counts one chat turn of the visitor whose token it is given (None before one is issued): the
#: seconds to wait when it is over a limit, else None.
TurnLimit = Callable[[str | None], Awaitable[int | None]]

#: A normalized chat event: ("sources", list), ("delta", str), ("done", (text, id)), ("failed", e)
ChatEvent = tuple[str, Any]


class CallChannel(Protocol):
    """The caller's connection, as the API layer adapts it (a WebSocket)."""

    async def receive(self) -> bytes | str | None:
        """The next message: PCM bytes, a JSON text, or None once the caller hung up."""

    async def send_json(self, data: dict[str, Any]) -> None:
        """Send one event."""

    async def send_bytes(self, data: bytes) -> None:
        """Send audio."""


class Conversation(ABC):
    """Where a call's turns are answered and stored: an organization's chat or a visitor's."""

    session_id: str | None = None

    async def turn_wait(self) -> int | None:
        """Count the turn about to be answered; the seconds to wait first, or None (no limit
        here: a key's limits apply to its HTTP calls)."""
        return None

    @abstractmethod
    async def start(
        self, text: str, model: AnswerSettings
    ) -> tuple[PreparedTurn, AsyncIterator[ChatEvent]]:
        """Store the caller's turn; the answer's events, answered with ``model``'s settings."""

    def session_event(self) -> dict[str, Any]:
        return {"type": "session", "session_id": self.session_id}


class KeyConversation(Conversation):
    """A call through an API key: one session for the whole call (``session_token``)."""

    def __init__(
        self,
        ctx: AppContext,
        organization_id: str,
        chatbot_id: str,
        platform: str,
        session_token: str | None,
    ) -> None:
        self.chat = ChatService(ctx, organization_id)
        self.chatbot_id = chatbot_id
        self.incoming = sessions.Incoming(
            chatbot_id, platform, session_token or f"call-{uuid.uuid4()}"
        )

    async def start(
        self, text: str, model: AnswerSettings
    ) -> tuple[PreparedTurn, AsyncIterator[ChatEvent]]:
        turn = await self.chat.start(
            self.chatbot_id, [IncomingMessage("user", text)], self.incoming
        )
        model.apply(turn)
        self.session_id = turn.session.id
        return turn, self._events(turn)

    async def _events(self, turn: PreparedTurn) -> AsyncIterator[ChatEvent]:
        async for event in self.chat.events(turn):
            if isinstance(event, SourcesFound):
                yield "sources", [{**s.as_dict(), "ref": s.ref} for s in event.sources]
            elif isinstance(event, AnswerDelta):
                yield "delta", event.content
            elif isinstance(event, AnswerDone):
                message = event.message
                yield "done", (message.content, message.id) if message is not None else None
            elif isinstance(event, AnswerFailed):
                yield "failed", event.error


class PublicConversation(Conversation):
    """A visitor's call: their session (a new one on the first turn) and visitor token."""

    def __init__(
        self,
        ctx: AppContext,
        reference: str,
        session_id: str | None,
        token: str | None,
        limit: TurnLimit | None = None,
    ) -> None:
        self.public = PublicService(ctx)
        self.reference = reference
        self.session_id = session_id
        self.token = token
        self.issued: str | None = None
        self.limit = limit

    async def turn_wait(self) -> int | None:
        # The token the call uses now: the first turn of a new visitor issues one, and the
        # turns after it count against it, as typed chat does.
        return None if self.limit is None else await self.limit(self.token)

    async def start(
        self, text: str, model: AnswerSettings
    ) -> tuple[PreparedTurn, AsyncIterator[ChatEvent]]:
        public_turn = await self.public.start_chat(
            self.reference, text, self.session_id, self.token
        )
        model.apply(public_turn.turn)
        self.issued = public_turn.issued_token  # said once, on the turn that issued it
        if self.issued is not None:
            self.token = self.issued
        self.session_id = public_turn.turn.session.id

        async def events() -> AsyncIterator[ChatEvent]:
            async for event in self.public.events(public_turn):
                if isinstance(event, PublicSources):
                    yield "sources", [asdict(s) for s in event.sources]
                elif isinstance(event, AnswerDelta):
                    yield "delta", event.content
                elif isinstance(event, PublicDone):
                    message = event.message
                    done = (message.content, message.id) if message is not None else None
                    yield "done", done
                elif isinstance(event, AnswerFailed):
                    yield "failed", event.error

        return public_turn.turn, events()

    def session_event(self) -> dict[str, Any]:
        event = super().session_event()
        if self.issued is not None:
            event["visitor_token"] = self.issued
        return event


class VoiceCall:
    """One live call with a chatbot.

    Args:
        ctx: The app's context.
        profile: The chatbot's voice and VAD settings.
        conversation: Where its turns are answered and stored.
    """

    def __init__(self, ctx: AppContext, profile: VoiceProfile, conversation: Conversation) -> None:
        self.ctx = ctx
        self.profile = profile
        self.conversation = conversation
        registry = speech_registry(ctx)
        self.stt = registry.stt()
        self.tts: TextToSpeech = registry.tts()
        registry.vad()  # 503 now when the offline voice is not installed
        self._answer: anyio.CancelScope | None = None
        self._state = ""
        self._limited_until = 0.0  # time.monotonic() until which turns are refused unheard

    async def run(self, channel: CallChannel) -> None:
        """Serve the call until the caller hangs up."""
        detector = TurnDetector(
            self.profile.vad,
            await anyio.to_thread.run_sync(SileroStream),
            max_seconds=self.ctx.settings.voice.max_audio_seconds,
        )
        await channel.send_json(
            {
                "type": "ready",
                "input_sample_rate": RECOGNITION_RATE,
                "output_sample_rate": self.tts.sample_rate,
                "voice": self.profile.voice,
            }
        )
        await self._set_state(channel, "listening")
        async with anyio.create_task_group() as tasks:
            while True:
                message = await channel.receive()
                if message is None or (isinstance(message, str) and _is_end(message)):
                    break
                if isinstance(message, str):
                    continue
                for event in detector.feed(message):
                    if isinstance(event, SpeechStarted):
                        if self._interrupt():
                            await channel.send_json({"type": "interrupted"})
                            await self._set_state(channel, "listening")
                    else:
                        self._interrupt()
                        # The scope exists before the task runs: speech that follows at once
                        # (a fast client) interrupts this answer even before it starts.
                        self._answer = anyio.CancelScope()
                        tasks.start_soon(self._respond, channel, event.audio, self._answer)
            tasks.cancel_scope.cancel()

    def _interrupt(self) -> bool:
        """Stop the answer under way, if any; whether there was one."""
        scope, self._answer = self._answer, None
        if scope is None:
            return False
        scope.cancel()
        return True

    async def _set_state(self, channel: CallChannel, state: str) -> None:
        if state != self._state:
            self._state = state
            await channel.send_json({"type": "state", "state": state})

    async def _respond(self, channel: CallChannel, audio: Audio, scope: anyio.CancelScope) -> None:
        with scope:
            try:
                await self._turn(channel, audio)
            except ChatforgeError as exc:
                error = {"code": exc.code, "message": exc.message, "details": exc.details}
                await channel.send_json({"type": "error", "error": error})
            except Exception:  # one failed turn must not end the call
                log.exception("voice call turn failed")
                error = {
                    "code": "internal_error",
                    "message": "Something went wrong.",
                    "details": None,
                }
                await channel.send_json({"type": "error", "error": error})
            if self._answer is scope:
                self._answer = None
                await self._set_state(channel, "listening")

    async def _turn(self, channel: CallChannel, audio: Audio) -> None:
        self._refuse_while_limited()
        await self._set_state(channel, "thinking")
        transcript = await self.stt.transcribe(audio)
        if not transcript.text:
            return
        wait = await self.conversation.turn_wait()
        if wait is not None:
            self._limited_until = time.monotonic() + wait
            self._refuse_while_limited()
        await channel.send_json(
            {"type": "transcript", "text": transcript.text, "language": transcript.language}
        )
        turn, events = await self.conversation.start(transcript.text, self.profile.model)
        await channel.send_json(self.conversation.session_event())
        await anyio.to_thread.run_sync(
            keep_recording,
            self.ctx,
            self.profile.chatbot_id,
            turn.session.id,
            turn.user_message.id,
            audio,
        )
        pending = ""
        budget = self.profile.model.budget()
        async for kind, value in events:
            if kind == "sources":
                await channel.send_json({"type": "sources", "sources": value})
            elif kind == "delta":
                pending += value
                *complete, pending = _SENTENCE.split(pending)
                for sentence in complete:
                    await self._say(channel, sentence, budget)
            elif kind == "done":
                await self._say(channel, pending, budget)
                text, message_id = value if value is not None else (None, None)
                await channel.send_json({"type": "answer", "text": text, "message_id": message_id})
            else:
                raise value

    def _refuse_while_limited(self) -> None:
        """Raise RateLimited while the caller must wait (the call sends it as an event)."""
        wait = math.ceil(self._limited_until - time.monotonic())
        if wait > 0:
            raise RateLimited(
                f"Too many messages; wait {wait} seconds before speaking again.",
                details={"retry_after": wait},
            )

    async def _say(self, channel: CallChannel, text: str, budget: SpeechBudget) -> None:
        text = budget.take(text)
        if not text.strip():
            return
        async for chunk in self.tts.stream(text, voice=self.profile.voice):
            await self._set_state(channel, "speaking")
            await channel.send_bytes(chunk)


async def open_key_call(
    ctx: AppContext,
    organization_id: str,
    reference: str,
    platform: str,
    session_token: str | None,
) -> VoiceCall:
    """A call with the organization's chatbot ``reference``.

    Raises:
        NotFound: No such chatbot in the organization.
        ProviderUnavailable: Voice is not installed (503, naming the command).
    """
    profile = await VoiceService(ctx, organization_id).profile(reference)
    conversation = KeyConversation(
        ctx, organization_id, profile.chatbot_id, platform, session_token
    )
    return VoiceCall(ctx, profile, conversation)


async def open_public_call(
    ctx: AppContext,
    reference: str,
    origin: str | None,
    session_id: str | None,
    token: str | None,
    limit: TurnLimit | None = None,
) -> VoiceCall:
    """A visitor's call with a public chatbot whose voice agent is configured.

    WebSocket handshakes do not pass the public gate's origin check (it serves HTTP), so the
    chatbot's allowed origins are checked here, as the gate checks them. ``limit`` counts each
    turn against the public rate limits (None: not limited).

    Raises:
        NotFound: Not public, or no voice agent.
        OriginNotAllowed: The page's origin is not in the chatbot's ``allowedOrigins``.
    """
    voice = PublicVoiceService(ctx)
    profile = await voice.profile(reference)
    chatbot = await PublicService(ctx).chatbot(reference)
    if not origin_allowed(origin, chatbot.allowed_origins, own_origin(ctx)):
        raise OriginNotAllowed("This chatbot may not be used from this website.")
    conversation = PublicConversation(ctx, reference, session_id, token, limit)
    return VoiceCall(ctx, profile, conversation)


def _is_end(message: str) -> bool:
    try:
        data = json.loads(message)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("type") == "end"
