"""What both HTTP providers (chat models, embedding endpoints) may show of a server and its errors.

A provider's error reaches logs and, shortened, API responses: it must never carry the key it
was sent with, nor anything shaped like one that a server echoed back, nor the user info of a
base URL.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import httpx

__all__ = ["MAX_DETAIL", "display_url", "error_detail", "redact"]

#: Words that look like an API key (``sk-...``, ``key_...``, ``api-...``, ``jina_...``).
_KEY_LIKE = re.compile(r"\b(?:sk|key|api|jina)[-_][A-Za-z0-9_*.\-]{8,}")
#: The most characters of a server's error message kept.
MAX_DETAIL = 300


def display_url(base_url: str) -> str:
    """``base_url`` without user info, query or fragment: safe to show."""
    parts = urlsplit(base_url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact(text: str, api_key: str | None) -> str:
    """``text`` without ``api_key`` or anything shaped like a key, shortened to MAX_DETAIL."""
    if api_key:
        text = text.replace(api_key, "[redacted]")
    text = _KEY_LIKE.sub("[redacted]", text)
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def error_detail(response: httpx.Response) -> str:
    """The server's error message, from the error shapes OpenAI, Anthropic and compatible
    servers use (llama.cpp, Ollama, TEI, FastAPI); '' when it has none."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:MAX_DETAIL]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        for key in ("error", "message", "detail"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return ""
