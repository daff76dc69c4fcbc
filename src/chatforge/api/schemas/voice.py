"""Wire shapes of the voice endpoints (docs/voice.md), key-authenticated and public."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from chatforge.api.schemas.chat import SourceOut, source_out
from chatforge.api.schemas.common import RequestModel
from chatforge.api.schemas.conversations import MessageOut, message_out
from chatforge.api.schemas.public import PublicMessageOut, PublicSourceOut, public_message_out
from chatforge.api.schemas.public import public_source_out as public_source
from chatforge.providers.speech import Transcript
from chatforge.providers.speech.encode import AudioFormat
from chatforge.providers.speech.voices import VOICE_NAMES
from chatforge.services.voice.service import PublicSpokenTurn, SpokenAudio, SpokenTurn, VoiceLook


class TranscriptOut(BaseModel):
    """What was said."""

    text: str = Field(description="The words heard.")
    language: str = Field(description="The spoken language (ISO 639-1).")
    duration: float = Field(description="Seconds of audio received.")


def transcript_out(transcript: Transcript) -> TranscriptOut:
    """The wire form of a transcript."""
    return TranscriptOut(
        text=transcript.text, language=transcript.language, duration=transcript.duration
    )


class SpeakBody(RequestModel):
    """``POST .../voice/speak``."""

    text: Annotated[str, StringConstraints(min_length=1, max_length=100_000)] = Field(
        description="The text to read out (at most CHATFORGE_VOICE__MAX_SPEAK_CHARS characters)."
    )
    voice: str | None = Field(
        None,
        description="A voice name (alloy, shimmer, ...); the chatbot's voice by default.",
        json_schema_extra={"enum": [*VOICE_NAMES, None]},
    )
    format: AudioFormat = Field(
        "wav",
        description=(
            "`wav` (16-bit mono, streamed), `pcm` (raw 16-bit little-endian mono), `mp3` or "
            "`opus` (Opus in Ogg)."
        ),
    )


class AudioOut(BaseModel):
    """A spoken answer."""

    format: Literal["wav"] = "wav"
    sample_rate: int
    data: str = Field(description="The WAV file, base64.")


def audio_out(audio: SpokenAudio | None) -> AudioOut | None:
    """The wire form of a spoken answer (None when nothing was said)."""
    if audio is None:
        return None
    return AudioOut(sample_rate=audio.sample_rate, data=base64.b64encode(audio.wav).decode())


class VoiceChatResponse(BaseModel):
    """One spoken turn: what was heard, the answer and its speech."""

    session_id: str
    transcript: TranscriptOut
    response: str | None = Field(description="The answer; null when a human agent answers.")
    message: MessageOut | None = Field(description="The stored bot message; null in human mode.")
    sources: list[SourceOut]
    audio: AudioOut | None = Field(description="The answer spoken; null without an answer.")
    voice_path: str | None = Field(
        description="Where the recording is kept (the session's voice_path); null when not kept."
    )


def voice_chat_response(turn: SpokenTurn) -> VoiceChatResponse:
    """The wire form of a spoken turn."""
    answer = turn.answer
    return VoiceChatResponse(
        session_id=answer.session_id,
        transcript=transcript_out(turn.transcript),
        response=answer.response,
        message=message_out(answer.message) if answer.message is not None else None,
        sources=[source_out(s) for s in answer.sources],
        audio=audio_out(turn.audio),
        voice_path=turn.voice_path,
    )


class PublicVoiceChatResponse(BaseModel):
    """One spoken turn of a visitor."""

    session_id: str
    transcript: TranscriptOut
    response: str | None = Field(description="The answer; null when a human agent answers.")
    message: PublicMessageOut | None
    sources: list[PublicSourceOut]
    audio: AudioOut | None
    visitor_token: str | None = Field(
        None, description="Present when this call issued the visitor's token: keep it."
    )


def public_voice_chat_response(turn: PublicSpokenTurn) -> dict[str, Any]:
    """The body of a visitor's spoken turn; ``visitor_token`` only when issued."""
    answer = turn.answer
    message = answer.message
    body = PublicVoiceChatResponse(
        session_id=answer.session_id,
        transcript=transcript_out(turn.transcript),
        response=message.content if message is not None else None,
        message=public_message_out(message) if message is not None else None,
        sources=[public_source(s) for s in answer.sources],
        audio=audio_out(turn.audio),
        visitor_token=answer.issued_token,
    ).model_dump(mode="json")
    if answer.issued_token is None:
        del body["visitor_token"]
    return body


class VoiceLookOut(BaseModel):
    """What the widget's call button needs: its look and labels (``voice_widget_config``'s
    ``appearance``, ``text`` and ``avatar.imageUrl``), and the audio rates of a call."""

    appearance: dict[str, str | float]
    text: dict[str, str | float]
    avatar: str | None
    input_sample_rate: int = Field(16_000, description="The PCM rate a call streams in.")


def voice_look_out(look: VoiceLook) -> VoiceLookOut:
    """The wire form of a call button's look."""
    return VoiceLookOut(appearance=look.appearance, text=look.text, avatar=look.avatar)
