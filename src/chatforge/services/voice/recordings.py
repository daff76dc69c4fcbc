"""Recordings of spoken turns: kept in the file store, named by the session's ``voice_path``.

A spoken turn's audio (as decoded, 16 kHz mono WAV) is stored under
``chatbots/<chatbot>/recordings/<session>/<message>.wav`` (so that deleting the chatbot deletes
them with its other files); the session's ``voice_path`` names its latest
recording and the user message's ``metadata.voice_path`` its own. A conversation's recordings are
deleted once it has been quiet for ``voice.recording_retention_days``; the sweep runs as new
recordings are stored, a bounded batch at a time.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from chatforge.providers.speech.audio import pcm16, wav_bytes
from chatforge.providers.speech.base import Audio
from chatforge.services.context import AppContext
from chatforge.storage.models import ChatMessage, ChatSession, utcnow

__all__ = ["PURGE_BATCH", "keep_recording", "purge_recordings", "recording_prefix"]

log = logging.getLogger(__name__)

PURGE_BATCH = 100
"""Most conversations whose recordings one sweep deletes."""


def recording_prefix(chatbot_id: str, session_id: str) -> str:
    """The folder of a conversation's recordings in the file store."""
    return f"chatbots/{chatbot_id}/recordings/{session_id}/"


def keep_recording(
    ctx: AppContext, chatbot_id: str, session_id: str, message_id: str, audio: Audio
) -> str | None:
    """Store the recording of a user message and name it on its session and message.

    Returns:
        The recording's key, or None when recordings are not kept (retention 0).
    """
    if ctx.settings.voice.recording_retention_days == 0:
        return None
    key = f"{recording_prefix(chatbot_id, session_id)}{message_id}.wav"
    with tempfile.NamedTemporaryFile(dir=ctx.tmp_dir, suffix=".wav", delete=False) as handle:
        handle.write(wav_bytes(pcm16(audio.samples), audio.sample_rate))
    try:
        ctx.files.put(key, Path(handle.name))
    finally:
        Path(handle.name).unlink(missing_ok=True)
    with ctx.db.sessions() as db:
        chat_session = db.get(ChatSession, session_id)
        message = db.get(ChatMessage, message_id)
        if chat_session is None or message is None:  # deleted meanwhile: keep nothing
            ctx.files.delete(key)
            return None
        chat_session.voice_path = key
        message.meta = {**(message.meta or {}), "voice_path": key, "input": "voice"}
        db.commit()
    purge_recordings(ctx)
    return key


def purge_recordings(ctx: AppContext) -> int:
    """Delete the recordings of conversations quiet for longer than the retention.

    Returns:
        How many conversations lost their recordings.
    """
    days = ctx.settings.voice.recording_retention_days
    cutoff = utcnow() - timedelta(days=days) if days else None
    with ctx.db.sessions() as db:
        query = select(ChatSession).where(ChatSession.voice_path.is_not(None))
        if cutoff is not None:
            query = query.where(ChatSession.updated_at < cutoff)
        stale = list(db.scalars(query.limit(PURGE_BATCH)))
        for chat_session in stale:
            ctx.files.delete_prefix(recording_prefix(chat_session.chatbot_id, chat_session.id))
            chat_session.voice_path = None
        db.commit()
    if stale:
        log.info("deleted the recordings of %d quiet conversations", len(stale))
    return len(stale)
