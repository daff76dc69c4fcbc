"""The voice endpoints (docs/voice.md): ``/api/external/chatbot/{id}/voice/...`` with an API
key, and ``/api/public/chatbot/{id}/voice/...`` for visitors of a public chatbot (behind the
public gate's origins, CORS and limits, like the rest of ``/api/public``).
"""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, File, Form, Header, UploadFile, WebSocket
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.websockets import WebSocketDisconnect, WebSocketState

from chatforge.api.deps import ContextDep, OrganizationDep
from chatforge.api.public_gate import PublicLimits
from chatforge.api.ratelimit import client_address
from chatforge.api.schemas.common import ERROR_RESPONSES, ErrorBody
from chatforge.api.schemas.voice import (
    PublicVoiceChatResponse,
    SpeakBody,
    TranscriptOut,
    VoiceChatResponse,
    VoiceLookOut,
    public_voice_chat_response,
    transcript_out,
    voice_chat_response,
    voice_look_out,
)
from chatforge.errors import ChatforgeError
from chatforge.services.accounts import keys
from chatforge.services.context import AppContext
from chatforge.services.voice.call import TurnLimit, VoiceCall, open_key_call, open_public_call
from chatforge.services.voice.service import PublicVoiceService, SpeechStream, VoiceService

_AUDIO_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The audio is damaged."},
    413: {"description": "The audio is too large or too long."},
    415: {"description": "Not audio in an accepted format (WAV, WebM/Opus, OGG, MP3, M4A)."},
    422: {"description": "No speech heard (`no_speech`), or invalid input."},
    503: {"description": "Voice is not installed (the message names the command) or busy."},
}
_SPEAK_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The speech, streamed sentence by sentence.",
        "content": {"audio/wav": {}, "audio/L16": {}, "audio/mpeg": {}, "audio/ogg": {}},
    },
    503: {"description": "Voice is not installed (the message names the command) or busy."},
}
_NO_STORE = {"Cache-Control": "no-store"}

Recording = Annotated[UploadFile, File(description="The recording: WAV, WebM/Opus, OGG, MP3, M4A.")]

external = APIRouter(prefix="/api/external/chatbot", tags=["voice"], responses=ERROR_RESPONSES)
public = APIRouter(
    prefix="/api/public/chatbot",
    tags=["public"],
    responses={
        403: {"model": ErrorBody, "description": "The Origin is not in allowedOrigins."},
        404: {"model": ErrorBody, "description": "Not public, no voice agent, or not yours."},
        422: {"model": ErrorBody, "description": "Invalid input; `details` lists each field."},
        429: {"model": ErrorBody, "description": "Rate limited; see Retry-After."},
    },
)
router = APIRouter()


def get_voice_service(ctx: ContextDep, organization_id: OrganizationDep) -> VoiceService:
    """The voice agent of the caller's organization."""
    return VoiceService(ctx, organization_id)


def get_public_voice_service(ctx: ContextDep) -> PublicVoiceService:
    """The voice agent of public chatbots; no key."""
    return PublicVoiceService(ctx)


VoiceDep = Annotated[VoiceService, Depends(get_voice_service)]
PublicVoiceDep = Annotated[PublicVoiceService, Depends(get_public_voice_service)]
VisitorToken = Annotated[
    str | None,
    Header(alias="X-Visitor-Token", description="The visitor's token, as a call issued it."),
]


async def read_recording(recording: UploadFile, ctx: ContextDep) -> bytes:
    """The uploaded bytes, never more than one byte past the limit (the service refuses it)."""
    return await recording.read(ctx.settings.voice.max_audio_bytes + 1)


def speech_response(speech: SpeechStream) -> StreamingResponse:
    """The speech, streamed as it is synthesized; ``X-Sample-Rate`` says its rate."""
    headers = {**_NO_STORE, "X-Sample-Rate": str(speech.sample_rate)}
    return StreamingResponse(speech.chunks, media_type=speech.media_type, headers=headers)


@external.post(
    "/{chatbotId}/voice/transcribe",
    response_model=TranscriptOut,
    summary="Transcribe a recording",
    responses=_AUDIO_ERRORS,
)
async def transcribe(
    chatbotId: str,  # noqa: N803
    file: Recording,
    service: VoiceDep,
    ctx: ContextDep,
) -> TranscriptOut:
    return transcript_out(await service.transcribe(chatbotId, await read_recording(file, ctx)))


@external.post(
    "/{chatbotId}/voice/speak",
    summary="Speak a text with the chatbot's voice, streamed",
    response_class=StreamingResponse,
    responses=_SPEAK_DOC,
)
async def speak(chatbotId: str, body: SpeakBody, service: VoiceDep) -> StreamingResponse:  # noqa: N803
    return speech_response(await service.speak(chatbotId, body.text, body.voice, body.format))


@external.post(
    "/{chatbotId}/voice/chat",
    response_model=VoiceChatResponse,
    summary="One spoken turn: the answer as text, sources and speech",
    responses=_AUDIO_ERRORS,
)
async def voice_chat(
    chatbotId: str,  # noqa: N803
    file: Recording,
    service: VoiceDep,
    ctx: ContextDep,
    platform: Annotated[str, Form(min_length=1, max_length=32)] = "web",
    sessionToken: Annotated[str | None, Form(max_length=255)] = None,  # noqa: N803
) -> VoiceChatResponse:
    data = await read_recording(file, ctx)
    return voice_chat_response(await service.chat(chatbotId, data, platform, sessionToken))


@public.get(
    "/{chatbot}/voice",
    response_model=VoiceLookOut,
    summary="The look and labels of a public chatbot's call button",
    responses={404: {"description": "Not public, or no voice agent."}},
)
async def public_voice_look(chatbot: str, service: PublicVoiceDep) -> JSONResponse:
    look = voice_look_out(await service.look(chatbot))
    return JSONResponse(look.model_dump(), headers=_NO_STORE)


#: The widget's AudioWorklet: the microphone, at the context's rate (16 kHz), as 100 ms pieces
#: of 16-bit PCM posted to the page, which sends them to the call's WebSocket.
MIC_WORKLET = """class ChatforgeMic extends AudioWorkletProcessor {
  constructor() { super(); this.buf = new Int16Array(1600); this.n = 0; }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (!ch) return true;
    for (let i = 0; i < ch.length; i++) {
      const v = Math.max(-1, Math.min(1, ch[i]));
      this.buf[this.n++] = v < 0 ? v * 32768 : v * 32767;
      if (this.n === this.buf.length) {
        this.port.postMessage(this.buf.buffer, [this.buf.buffer]);
        this.buf = new Int16Array(1600);
        this.n = 0;
      }
    }
    return true;
  }
}
registerProcessor("chatforge-mic", ChatforgeMic);
"""


@public.get(
    "/{chatbot}/voice/worklet.js",
    summary="The widget's microphone AudioWorklet (JavaScript)",
    response_class=Response,
    responses={200: {"content": {"text/javascript": {}}}},
)
async def public_voice_worklet(chatbot: str) -> Response:
    return Response(
        MIC_WORKLET,
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@public.post(
    "/{chatbot}/voice/transcribe",
    response_model=TranscriptOut,
    summary="Transcribe a visitor's recording",
    responses=_AUDIO_ERRORS,
)
async def public_transcribe(
    chatbot: str, file: Recording, service: PublicVoiceDep, ctx: ContextDep
) -> JSONResponse:
    transcript = await service.transcribe(chatbot, await read_recording(file, ctx))
    return JSONResponse(transcript_out(transcript).model_dump(), headers=_NO_STORE)


@public.post(
    "/{chatbot}/voice/speak",
    summary="Speak a text with a public chatbot's voice, streamed",
    response_class=StreamingResponse,
    responses=_SPEAK_DOC,
)
async def public_speak(chatbot: str, body: SpeakBody, service: PublicVoiceDep) -> StreamingResponse:
    return speech_response(await service.speak(chatbot, body.text, body.voice, body.format))


@public.post(
    "/{chatbot}/voice/chat",
    response_model=PublicVoiceChatResponse,
    response_model_exclude_unset=True,
    summary="A visitor's spoken turn: the answer as text, sources and speech",
    responses=_AUDIO_ERRORS,
)
async def public_voice_chat(
    chatbot: str,
    file: Recording,
    service: PublicVoiceDep,
    ctx: ContextDep,
    token: VisitorToken = None,
    session_id: Annotated[str | None, Form(min_length=1, max_length=64)] = None,
) -> JSONResponse:
    turn = await service.chat(chatbot, await read_recording(file, ctx), session_id, token)
    return JSONResponse(public_voice_chat_response(turn), headers=_NO_STORE)


@external.websocket("/{chatbotId}/voice/realtime")
async def realtime(
    websocket: WebSocket,
    chatbotId: str,  # noqa: N803
    platform: str = "web",
    sessionToken: str | None = None,  # noqa: N803
) -> None:
    """A live call with an organization's chatbot; the key in ``x-api-key`` or ``Bearer``."""
    ctx: AppContext = websocket.app.state.ctx
    key = websocket.headers.get("x-api-key") or _bearer(websocket.headers.get("authorization"))

    async def open_call() -> VoiceCall:
        organization = await anyio.to_thread.run_sync(keys.authenticate, ctx.db, key)
        return await open_key_call(ctx, organization, chatbotId, platform, sessionToken)

    await _serve_call(websocket, open_call)


@public.websocket("/{chatbot}/voice/realtime")
async def public_realtime(
    websocket: WebSocket,
    chatbot: str,
    session_id: str | None = None,
    visitor_token: str | None = None,
) -> None:
    """A visitor's live call (the token in the query: browsers cannot set WebSocket headers).
    Each turn counts as a chat message of the caller's address and visitor token."""
    ctx: AppContext = websocket.app.state.ctx
    origin = websocket.headers.get("origin")
    limit = _turn_limit(websocket)

    async def open_call() -> VoiceCall:
        return await open_public_call(ctx, chatbot, origin, session_id, visitor_token, limit)

    await _serve_call(websocket, open_call)


def _turn_limit(websocket: WebSocket) -> TurnLimit | None:
    """The public limits' count of one turn of this caller (None when limits are off)."""
    limits: PublicLimits = websocket.app.state.public_limits
    if not limits.enabled:
        return None
    address = client_address(
        websocket.scope, websocket.headers, trust_forwarded_for=limits.trust_forwarded_for
    )

    async def limit(token: str | None) -> int | None:
        return await limits.chat_turn(address, token)

    return limit


class _Socket:
    """A WebSocket as the call's channel. Once the caller has gone, sends are dropped and
    receiving says so: the call then ends quietly, whatever it was doing."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.gone = False

    async def receive(self) -> bytes | str | None:
        if self.gone:
            return None
        try:
            message = await self.websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            message = {"type": "websocket.disconnect"}
        if message["type"] == "websocket.disconnect":
            self.gone = True
            return None
        data: bytes | str | None = message.get("bytes") or message.get("text")
        return data if data is not None else b""

    async def send_json(self, data: dict[str, Any]) -> None:
        await self._send({"type": "websocket.send", "text": json.dumps(data, ensure_ascii=False)})

    async def send_bytes(self, data: bytes) -> None:
        await self._send({"type": "websocket.send", "bytes": data})

    async def _send(self, message: dict[str, Any]) -> None:
        if self.gone or self.websocket.application_state != WebSocketState.CONNECTED:
            return
        try:
            await self.websocket.send(message)
        except (WebSocketDisconnect, RuntimeError):
            self.gone = True


async def _serve_call(websocket: WebSocket, open_call: Any) -> None:
    """Accept, then run the call; a refused call gets an ``error`` event and close code
    4000 + its HTTP status (4401, 4403, 4404, 4503)."""
    await websocket.accept()
    socket = _Socket(websocket)
    try:
        call: VoiceCall = await open_call()
    except ChatforgeError as exc:
        error = {"code": exc.code, "message": exc.message, "details": exc.details}
        await socket.send_json({"type": "error", "error": error})
        await websocket.close(code=4000 + exc.status)
        return
    await call.run(socket)
    if not socket.gone and websocket.application_state == WebSocketState.CONNECTED:
        # A caller who hangs up sends "end" and closes at once: the close may find them gone.
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.close()


def _bearer(header: str | None) -> str | None:
    scheme, _, credentials = (header or "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


router.include_router(external)
router.include_router(public)
