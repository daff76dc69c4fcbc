"""The OpenAI-compatible endpoint: ``POST /v1/chat/completions``, ``GET /v1/models``.

See docs/api.md, "OpenAI-compatible API".

A chatbot is a model: ``model`` is its id or slug, the key is the Bearer token. Answers are the
same grounded answers as ``/chat`` (one service), in OpenAI's shapes, so that any OpenAI SDK talks
to a chatbot unchanged; the sources ride along in ``chatforge_sources``. Errors on these routes
use OpenAI's error body, which is what OpenAI SDKs parse.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from chatforge.api.deps import ChatbotsDep, ChatDep
from chatforge.api.routers.chat import STREAM_HEADERS
from chatforge.api.schemas.openai_compat import (
    CompletionRequest,
    chunk,
    completion,
    error_object,
    model_object,
    usage_dict,
)
from chatforge.errors import ChatforgeError, NotFound
from chatforge.services.chat.service import (
    AnswerDelta,
    AnswerDone,
    AnswerFailed,
    ChatStreamEvent,
    Incoming,
    SourcesFound,
)

log = logging.getLogger(__name__)

PLATFORM = "openai"
"""The platform of the sessions that this endpoint records."""


class OpenAIRoute(APIRoute):
    """A route whose errors, the key check's and validation's included, are OpenAI-shaped."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except ChatforgeError as exc:
                if exc.status >= 500:
                    log.warning("%s: %s", exc.code, exc.message)
                param = "model" if isinstance(exc, NotFound) else None
                # OpenAI answers 400 to any invalid request, where the rest of the API says 422.
                status = 400 if exc.status == 422 else exc.status
                body = error_object(status, exc.code, exc.message, param)
                return JSONResponse(body, status_code=status, headers=exc.headers)
            except RequestValidationError as exc:
                errors = exc.errors()
                fields = [".".join(str(p) for p in e.get("loc", ())[1:]) for e in errors]
                message = "Invalid request: " + "; ".join(
                    f"{f or 'body'}: {e.get('msg', 'invalid')}"
                    for f, e in zip(fields, errors, strict=True)
                )
                body = error_object(400, "validation_error", message, fields[0] if fields else None)
                return JSONResponse(body, status_code=400)
            except HTTPException as exc:
                body = error_object(exc.status_code, "error", str(exc.detail))
                return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

        return route


router = APIRouter(prefix="/v1", tags=["openai-compatible"], route_class=OpenAIRoute)


@router.get("/models", summary="The organization's chatbots, as OpenAI models")
def list_models(chatbots: ChatbotsDep) -> dict[str, Any]:
    return {"object": "list", "data": [model_object(c) for c in chatbots.list()]}


@router.get("/models/{model}", summary="One chatbot, as an OpenAI model")
def get_model(model: str, chatbots: ChatbotsDep) -> dict[str, Any]:
    return model_object(chatbots.get_by_reference(model))


@router.post(
    "/chat/completions",
    summary="OpenAI chat completions answered by a chatbot (model: its id or slug)",
    response_model=None,
)
async def chat_completions(body: CompletionRequest, service: ChatDep) -> Response:
    chatbot_id = await service.chatbot_id_of(body.model)
    incoming = Incoming(chatbot_id, PLATFORM, body.user)
    messages = body.incoming_messages()
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    if not body.stream:
        answer = await service.answer(chatbot_id, messages, incoming)
        return JSONResponse(
            completion(
                completion_id=completion_id,
                model=body.model,
                content=answer.response or "",
                usage=answer.usage,
                sources=[s.as_dict() for s in answer.sources],
                session_id=answer.session_id,
            )
        )
    turn = await service.start(chatbot_id, messages, incoming)
    chunks = _chunks(service.events(turn), body, completion_id, turn.session.id)
    return StreamingResponse(chunks, media_type="text/event-stream", headers=STREAM_HEADERS)


async def _chunks(
    events: AsyncIterator[ChatStreamEvent],
    body: CompletionRequest,
    completion_id: str,
    session_id: str,
) -> AsyncIterator[str]:
    """The chat events as OpenAI streams them: chunks, the usage chunk, then ``[DONE]``."""
    created = int(time.time())

    def make(delta: dict[str, Any] | None, finish: str | None = None) -> dict[str, Any]:
        return chunk(
            completion_id=completion_id,
            created=created,
            model=body.model,
            delta=delta,
            finish_reason=finish,
            include_usage=body.include_usage,
        )

    try:
        async for event in events:
            if isinstance(event, SourcesFound):
                first = make({"role": "assistant", "content": ""})
                first["chatforge_sources"] = [s.as_dict() for s in event.sources]
                first["chatforge_session_id"] = session_id
                yield _data(first)
            elif isinstance(event, AnswerDelta):
                yield _data(make({"content": event.content}))
            elif isinstance(event, AnswerDone):
                yield _data(make({}, "stop"))
                if body.include_usage:
                    final = make(None)
                    final["usage"] = usage_dict(event.usage)
                    yield _data(final)
            elif isinstance(event, AnswerFailed):
                # As OpenAI does after a 200: an error object in the stream, and no [DONE].
                error = event.error
                yield _data(error_object(error.status, error.code, error.message))
                return
    except Exception:
        log.exception("chat completion stream failed")
        yield _data(error_object(500, "internal_error", "Something went wrong on our side."))
        return
    yield "data: [DONE]\n\n"


def _data(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
