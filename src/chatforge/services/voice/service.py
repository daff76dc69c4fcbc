"""The voice agent: hear a recording, speak a text, and answer one spoken turn (docs/voice.md).

Every call names a chatbot; its ``voice_widget_config`` gives the voice, the voice activity
settings and the spoken answers' own ``model`` settings (:mod:`chatforge.services.voice.answers`).
A recording is decoded (:mod:`chatforge.providers.speech.audio`), cut to its speech by
the VAD, and transcribed; a spoken turn then goes through the same chat pipeline as a typed one
(:class:`ChatService` for API keys, :class:`PublicService` for visitors), is stored in the session
with its recording (:mod:`chatforge.services.voice.recordings`), and its answer is spoken.

:class:`VoiceService` serves an organization's API key; :class:`PublicVoiceService` serves
visitors of a public chatbot whose voice agent is configured.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from chatforge.errors import NotFound, PayloadTooLarge, ValidationFailed
from chatforge.providers.speech import (
    Audio,
    SpeechConfig,
    SpeechRegistry,
    Transcript,
    VadParams,
    synthesize,
)
from chatforge.providers.speech.audio import decode, wav_bytes
from chatforge.providers.speech.encode import AudioFormat, encode_stream, media_type
from chatforge.providers.speech.voices import DEFAULT_VOICE, check_voice
from chatforge.services.chat.service import (
    AnswerDone,
    AnswerFailed,
    ChatAnswer,
    ChatService,
    IncomingMessage,
    PreparedTurn,
    SourcesFound,
)
from chatforge.services.chatbots.service import ChatbotService
from chatforge.services.context import AppContext
from chatforge.services.conversations import sessions
from chatforge.services.public.service import PublicAnswer, PublicService
from chatforge.services.voice.answers import AnswerSettings
from chatforge.services.voice.recordings import keep_recording
from chatforge.storage.models import Chatbot

__all__ = [
    "NoSpeech",
    "PublicSpokenTurn",
    "PublicVoiceService",
    "SpeechStream",
    "SpokenAudio",
    "SpokenTurn",
    "VoiceLook",
    "VoiceProfile",
    "VoiceService",
    "speech_registry",
]


class NoSpeech(ValidationFailed):
    """The recording holds no speech (silence, noise) or nothing that could be understood."""

    code = "no_speech"


@dataclass(frozen=True)
class VoiceProfile:
    """What a chatbot's ``voice_widget_config`` says about speaking and listening."""

    chatbot_id: str
    organization_id: str
    voice: str
    vad: VadParams
    configured: bool
    model: AnswerSettings = field(default_factory=AnswerSettings)

    @classmethod
    def of(cls, chatbot: Chatbot) -> VoiceProfile:
        config = chatbot.voice_widget_config or {}
        vad = config.get("vad") if isinstance(config.get("vad"), dict) else {}
        assert isinstance(vad, dict)
        defaults = VadParams()
        voice = config.get("voice")
        return cls(
            chatbot_id=chatbot.id,
            organization_id=chatbot.organization_id,
            voice=str(voice) if isinstance(voice, str) and voice else DEFAULT_VOICE,
            vad=VadParams(
                threshold=float(vad.get("threshold", defaults.threshold)),
                prefix_padding_ms=int(vad.get("prefix_padding_ms", defaults.prefix_padding_ms)),
                silence_duration_ms=int(
                    vad.get("silence_duration_ms", defaults.silence_duration_ms)
                ),
            ),
            configured=bool(config),
            model=AnswerSettings.of(config.get("model")),
        )


@dataclass(frozen=True)
class VoiceLook:
    """What a visitor's call button shows: ``voice_widget_config``'s appearance and labels only
    (never the model settings)."""

    appearance: dict[str, str | float]
    text: dict[str, str | float]
    avatar: str | None


@dataclass(frozen=True)
class SpeechStream:
    """Speech being synthesized, in the asked format.

    Attributes:
        sample_rate: The rate of the speech (of its PCM before any compression).
        media_type: Its Content-Type.
        chunks: The bytes, in order (a WAV file starts with its header).
    """

    sample_rate: int
    media_type: str
    chunks: AsyncIterator[bytes]


@dataclass(frozen=True)
class SpokenAudio:
    """A whole spoken answer as a WAV file."""

    wav: bytes
    sample_rate: int


@dataclass(frozen=True)
class SpokenTurn:
    """One spoken turn through an API key: what was heard, the answer, and its speech."""

    transcript: Transcript
    answer: ChatAnswer
    audio: SpokenAudio | None
    voice_path: str | None


@dataclass(frozen=True)
class PublicSpokenTurn:
    """One spoken turn of a visitor."""

    transcript: Transcript
    answer: PublicAnswer
    audio: SpokenAudio | None


def speech_registry(ctx: AppContext) -> SpeechRegistry:
    """The speech models of ``ctx``'s settings (the loaded models are shared per process)."""
    voice = ctx.settings.voice
    models = ctx.settings.models
    return SpeechRegistry(
        SpeechConfig(
            stt=voice.stt,
            tts=voice.tts,
            threads=voice.threads,
            openai_api_key=(
                models.openai_api_key.get_secret_value() if models.openai_api_key else None
            ),
            openai_base_url=models.openai_base_url,
            timeout=models.timeout_seconds,
        )
    )


class _Voice:
    """What both services share: hearing and speaking with a chatbot's profile."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.registry = speech_registry(ctx)

    async def hear(self, profile: VoiceProfile, data: bytes) -> tuple[Transcript, Audio]:
        """The transcript of a recording, and the decoded audio.

        Raises:
            PayloadTooLarge: Too many bytes or seconds (413).
            UnsupportedMediaType: Not an accepted audio format (415).
            BadRequest: Damaged audio (400).
            NoSpeech: Nothing was said (422).
        """
        limits = self.ctx.settings.voice
        if len(data) > limits.max_audio_bytes:
            raise PayloadTooLarge(
                f"The audio takes {len(data):,} bytes; at most {limits.max_audio_bytes:,} "
                "(CHATFORGE_VOICE__MAX_AUDIO_BYTES)."
            )
        if not data:
            raise NoSpeech("The audio is empty: record something first.")
        stt = self.registry.stt()
        vad = self.registry.vad()
        audio = await anyio.to_thread.run_sync(
            lambda: decode(data, max_seconds=limits.max_audio_seconds)
        )
        spans = await anyio.to_thread.run_sync(vad.speech, audio, profile.vad)
        if not spans:
            raise NoSpeech("No speech was heard in the audio: speak closer to the microphone.")
        speech = Audio(
            np.concatenate([audio.samples[span.start : span.end] for span in spans]),
            audio.sample_rate,
        )
        transcript = await stt.transcribe(speech)
        if not transcript.text:
            raise NoSpeech("The speech in the audio could not be understood; try again.")
        return Transcript(transcript.text, transcript.language, round(audio.seconds, 3)), audio

    async def speak(
        self, profile: VoiceProfile, text: str, voice: str | None, audio_format: AudioFormat
    ) -> SpeechStream:
        """Start speaking ``text`` (``voice``, or the chatbot's) in ``audio_format``.

        The first chunk is synthesized before this returns, so that a failing provider is an
        HTTP error, not a stream cut short.

        Raises:
            ValidationFailed: Empty or too long a text, or an unknown voice (422).
            ProviderError: The speech provider failed (502/503).
        """
        limit = self.ctx.settings.voice.max_speak_chars
        if not text.strip():
            raise ValidationFailed(
                "Give the text to speak.", details=[{"field": "text", "message": "empty"}]
            )
        if len(text) > limit:
            raise ValidationFailed(
                f"The text is {len(text):,} characters long; at most {limit:,}.",
                details=[{"field": "text", "message": f"at most {limit} characters"}],
            )
        chosen = check_voice(voice) if voice else profile.voice
        tts = self.registry.tts()
        pcm = await _primed(tts.stream(text, voice=chosen))
        return SpeechStream(
            tts.sample_rate,
            media_type(audio_format, tts.sample_rate),
            encode_stream(pcm, tts.sample_rate, audio_format),
        )

    async def spoken(self, profile: VoiceProfile, text: str | None) -> SpokenAudio | None:
        """The speech of an answer, within the chatbot's ``max_output_tokens`` (None for no
        answer, as in human mode)."""
        said = profile.model.budget().take(text or "")
        if not said.strip():
            return None
        tts = self.registry.tts()
        pcm = await synthesize(
            tts, said[: self.ctx.settings.voice.max_speak_chars], voice=profile.voice
        )
        return SpokenAudio(wav_bytes(pcm, tts.sample_rate), tts.sample_rate) if pcm else None

    async def keep(self, profile: VoiceProfile, turn: PreparedTurn, audio: Audio) -> str | None:
        return await anyio.to_thread.run_sync(
            keep_recording,
            self.ctx,
            profile.chatbot_id,
            turn.session.id,
            turn.user_message.id,
            audio,
        )


class _Speaking(ABC):
    """What both voice services do the same way once they know the chatbot's voice profile."""

    _voice: _Voice

    @abstractmethod
    async def profile(self, reference: str) -> VoiceProfile:
        """The voice profile of ``reference``; NotFound when the caller may not use it."""

    async def transcribe(self, reference: str, data: bytes) -> Transcript:
        """What is said in a recording; see :meth:`_Voice.hear` for the errors."""
        transcript, _audio = await self._voice.hear(await self.profile(reference), data)
        return transcript

    async def speak(
        self, reference: str, text: str, voice: str | None, audio_format: AudioFormat = "wav"
    ) -> SpeechStream:
        """Speak ``text`` with the chatbot's voice (or ``voice``) in ``audio_format``."""
        profile = await self.profile(reference)
        return await self._voice.speak(profile, text, voice, audio_format)


class VoiceService(_Speaking):
    """The voice agent of an organization's chatbots (API-key paths)."""

    def __init__(self, ctx: AppContext, organization_id: str) -> None:
        self.ctx = ctx
        self.organization_id = organization_id
        self._voice = _Voice(ctx)

    async def profile(self, reference: str) -> VoiceProfile:
        """The voice profile of the organization's chatbot ``reference`` (id or slug).

        Raises:
            NotFound: No such chatbot in the organization.
        """

        def load() -> VoiceProfile:
            with self.ctx.db.sessions() as db:
                chatbots = ChatbotService(self.ctx, db, self.organization_id)
                return VoiceProfile.of(chatbots.get_by_reference(reference))

        return await anyio.to_thread.run_sync(load)

    async def chat(
        self, reference: str, data: bytes, platform: str, session_token: str | None
    ) -> SpokenTurn:
        """One spoken turn: hear it, answer it through chat, keep the recording, speak.

        Raises:
            NotFound: No such chatbot in the organization.
            ProviderError: The chat or speech provider failed (502/503).
        """
        profile = await self.profile(reference)
        transcript, audio = await self._voice.hear(profile, data)
        chat = ChatService(self.ctx, self.organization_id)
        incoming = sessions.Incoming(profile.chatbot_id, platform, session_token)
        turn = await chat.start(
            profile.chatbot_id, [IncomingMessage("user", transcript.text)], incoming
        )
        profile.model.apply(turn)
        voice_path = await self._voice.keep(profile, turn, audio)
        sources: tuple[Any, ...] = ()
        async for event in chat.events(turn):
            if isinstance(event, SourcesFound):
                sources = event.sources
            elif isinstance(event, AnswerFailed):
                raise event.error
            elif isinstance(event, AnswerDone):
                if not sessions.rests_on_sources(event.message):
                    sources = ()
                answer = ChatAnswer(turn.session.id, event.message, sources, event.usage)
                text = event.message.content if event.message is not None else None
                spoken = await self._voice.spoken(profile, text)
                return SpokenTurn(transcript, answer, spoken, voice_path)
        raise AssertionError("the chat stream ended without done or error")  # pragma: no cover


class PublicVoiceService(_Speaking):
    """The voice agent of public chatbots, for visitors (no key).

    Only a public chatbot whose voice agent is configured (a ``voice_widget_config``) speaks
    here; any other is :class:`NotFound`, as on the other public paths.
    """

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._public = PublicService(ctx)
        self._voice = _Voice(ctx)

    async def profile(self, reference: str) -> VoiceProfile:
        """The voice profile of the public chatbot ``reference``.

        Raises:
            NotFound: Not public, not active, or no voice agent configured.
        """
        chatbot = await self._public.chatbot(reference)

        def load() -> VoiceProfile:
            with self.ctx.db.sessions() as db:
                return _profile_by_id(db, chatbot.id)

        profile = await anyio.to_thread.run_sync(load)
        if not profile.configured:
            raise NotFound(f"Chatbot {reference} has no voice agent.")
        return profile

    async def look(self, reference: str) -> VoiceLook:
        """The call button's look and labels of a public chatbot with a voice agent.

        Raises:
            NotFound: Not public, or no voice agent.
        """
        profile = await self.profile(reference)

        def load() -> VoiceLook:
            with self.ctx.db.sessions() as db:
                return _look_by_id(db, profile.chatbot_id)

        return await anyio.to_thread.run_sync(load)

    async def chat(
        self, reference: str, data: bytes, session_id: str | None, token: str | None
    ) -> PublicSpokenTurn:
        """One spoken turn of a visitor, in their session (a new one without ``session_id``).

        Raises:
            NotFound: Not public, no voice agent, or not the token's session.
        """
        profile = await self.profile(reference)
        transcript, audio = await self._voice.hear(profile, data)
        public_turn = await self._public.start_chat(reference, transcript.text, session_id, token)
        profile.model.apply(public_turn.turn)
        await self._voice.keep(profile, public_turn.turn, audio)
        answer = await self._public.answer(public_turn)
        text = answer.message.content if answer.message is not None else None
        return PublicSpokenTurn(transcript, answer, await self._voice.spoken(profile, text))


async def _primed(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` with its first item already produced (errors raise here, not mid-stream)."""
    first = await anext(chunks, None)

    async def rest() -> AsyncIterator[bytes]:
        if first is None:
            return
        yield first
        async for chunk in chunks:
            yield chunk

    return rest()


#: The keys of ``voice_widget_config`` a visitor's call button may read: its look and labels.
LOOK_KEYS = {
    "appearance": (
        "backgroundColor",
        "borderColor",
        "buttonColor",
        "buttonRadius",
        "buttonTextColor",
        "cardRadius",
        "focusOutlineColor",
        "textColor",
    ),
    "text": ("callToAction", "endCall", "listeningStatus", "speakingStatus", "startCall"),
}


def _look_by_id(db: Session, chatbot_id: str) -> VoiceLook:
    chatbot = db.scalar(select(Chatbot).where(Chatbot.id == chatbot_id))
    config = (chatbot.voice_widget_config if chatbot is not None else None) or {}
    picked: dict[str, dict[str, str | float]] = {}
    for group, names in LOOK_KEYS.items():
        values = config.get(group) if isinstance(config.get(group), dict) else {}
        assert isinstance(values, dict)
        picked[group] = {
            name: values[name]
            for name in names
            if isinstance(values.get(name), str | int | float)
            and not isinstance(values.get(name), bool)
        }
    avatar = config.get("avatar") if isinstance(config.get("avatar"), dict) else {}
    assert isinstance(avatar, dict)
    image = avatar.get("imageUrl")
    return VoiceLook(
        appearance=picked["appearance"],
        text=picked["text"],
        avatar=image if isinstance(image, str) and image else None,
    )


def _profile_by_id(db: Session, chatbot_id: str) -> VoiceProfile:
    chatbot = db.scalar(select(Chatbot).where(Chatbot.id == chatbot_id))
    if chatbot is None:
        raise NotFound(f"Chatbot {chatbot_id} not found.")
    return VoiceProfile.of(chatbot)
