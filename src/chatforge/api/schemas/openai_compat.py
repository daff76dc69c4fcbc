"""Wire shapes of the OpenAI-compatible endpoint: chat completions and models (docs/api.md)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chatforge.services.chat.events import Role
from chatforge.services.chat.service import IncomingMessage, Usage
from chatforge.services.chatbots.service import Chatbot


class CompletionMessage(BaseModel):
    """A message of OpenAI's ``messages``: its content a string or a list of parts."""

    model_config = ConfigDict(extra="ignore")

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The text of the message; text parts are joined, other parts (images) left out."""
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return "\n".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class CompletionRequest(BaseModel):
    """``POST /v1/chat/completions``; sampling options are the chatbot's own and are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, description="A chatbot's id or slug.")
    messages: list[CompletionMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(
        None,
        max_length=255,
        description="Keeps one conversation per user (the okchat sessionToken); none: new one.",
    )

    def incoming_messages(self) -> list[IncomingMessage]:
        """The messages as the chat service takes them; tool and developer turns dropped."""
        roles: dict[str, Role] = {"user": "user", "assistant": "assistant", "system": "system"}
        return [IncomingMessage(roles[m.role], m.text()) for m in self.messages if m.role in roles]

    @property
    def include_usage(self) -> bool:
        """Whether a streaming client asked for the final usage chunk."""
        return bool(self.stream_options and self.stream_options.include_usage)


def usage_dict(usage: Usage) -> dict[str, int]:
    """OpenAI's usage object."""
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


def completion(
    *,
    completion_id: str,
    model: str,
    content: str,
    usage: Usage,
    sources: list[dict[str, Any]],
    session_id: str,
) -> dict[str, Any]:
    """A ``chat.completion`` object, with Chatforge's sources and session beside it."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage_dict(usage),
        "chatforge_sources": sources,
        "chatforge_session_id": session_id,
    }


def chunk(
    *,
    completion_id: str,
    created: int,
    model: str,
    delta: dict[str, Any] | None,
    finish_reason: str | None = None,
    include_usage: bool = False,
) -> dict[str, Any]:
    """A ``chat.completion.chunk``; ``delta=None`` makes the final usage chunk (no choices)."""
    payload: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if include_usage:
        payload["usage"] = None
    return payload


def model_object(chatbot: Chatbot) -> dict[str, Any]:
    """A chatbot as an OpenAI model; ``name`` and ``slug`` ride along."""
    return {
        "id": chatbot.id,
        "object": "model",
        "created": int(chatbot.created_at.timestamp()),
        "owned_by": "chatforge",
        "name": chatbot.name,
        "slug": chatbot.slug,
    }


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def error_object(status: int, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error body: ``{"error": {"message", "type", "param", "code"}}``."""
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
