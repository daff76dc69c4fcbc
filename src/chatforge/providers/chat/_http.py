"""HTTP plumbing shared by the providers that stream over Server-Sent Events.

One place turns a provider's HTTP failures into Chatforge's errors, so that OpenAI-compatible
servers and Anthropic fail the same way: a refused key or a rate limit is 503 (with
``Retry-After`` when the provider gave one), any other provider error is 502, and a provider that
cannot be reached is 503. Error messages are built here and scrubbed of the API key, because they
travel to API clients.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from chatforge.errors import ProviderError, ProviderUnavailable
from chatforge.providers.http_errors import display_url, error_detail, redact

OFFLINE_HINT = "or choose the offline model 'extractive'"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach one provider.

    Attributes:
        provider: Registry name of the provider (``"openai"``, ``"ollama"``).
        label: Human name used in error messages (``"OpenAI"``).
        base_url: Base URL of the API, without a trailing slash.
        api_key: The key to send, or None for servers that need none. Never printed.
        key_hint: What the user should set when the key is missing or refused.
        timeout: Seconds to wait to connect and between two chunks of the stream.
        http_client: A shared client (its connection pool is reused); None opens one per call.
    """

    provider: str
    label: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    key_hint: str = ""
    timeout: float = 60.0
    http_client: httpx.AsyncClient | None = field(default=None, repr=False, compare=False)

    @property
    def display_url(self) -> str:
        """The base URL without user info, safe to show."""
        return display_url(self.base_url)

    def redact(self, text: str) -> str:
        """Remove the key, and anything shaped like a key, from ``text``, and shorten it."""
        return redact(text, self.api_key)


@dataclass(frozen=True)
class ServerSentEvent:
    """One event of a ``text/event-stream``: its type (``message`` when unnamed) and data."""

    event: str
    data: str


async def iter_sse(response: httpx.Response) -> AsyncIterator[ServerSentEvent]:
    """Parse the Server-Sent Events of a streaming response, as the WHATWG spec reads them."""
    event = ""
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield ServerSentEvent(event or "message", "\n".join(data))
            event, data = "", []
            continue
        if line.startswith(":"):  # a comment, used as a keep-alive
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:  # a last event without its blank line
        yield ServerSentEvent(event or "message", "\n".join(data))


def decode_json(endpoint: Endpoint, data: str) -> dict[str, Any]:
    """Decode one event's JSON object, or fail as a provider error."""
    try:
        value = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ProviderError(f"{endpoint.label} sent an event that is not JSON.") from exc
    if not isinstance(value, dict):
        raise ProviderError(f"{endpoint.label} sent an event that is not a JSON object.")
    return value


@asynccontextmanager
async def open_stream(
    endpoint: Endpoint, path: str, *, headers: dict[str, str], body: dict[str, Any]
) -> AsyncIterator[httpx.Response]:
    """POST ``body`` to ``endpoint`` and yield the streaming response once its status is good.

    Transport failures raised while the caller reads the stream are mapped too.

    Raises:
        ProviderError: The provider answered an error status, or broke the protocol.
        ProviderUnavailable: The key was refused, the provider is rate limiting or overloaded,
            or it could not be reached in time.
    """
    url = endpoint.base_url + path
    client = endpoint.http_client or httpx.AsyncClient()
    timeout = httpx.Timeout(endpoint.timeout)
    try:
        async with client.stream(
            "POST", url, headers=headers, json=body, timeout=timeout
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                raise status_error(endpoint, response)
            yield response
    except httpx.TimeoutException as exc:
        raise ProviderUnavailable(
            f"{endpoint.label} at {endpoint.display_url} did not answer within "
            f"{endpoint.timeout:g} seconds; try again later."
        ) from exc
    except httpx.NetworkError as exc:
        raise ProviderUnavailable(
            f"{endpoint.label} at {endpoint.display_url} cannot be reached "
            f"({type(exc).__name__}); check that it is running and its base URL."
        ) from exc
    except httpx.HTTPError as exc:  # protocol errors: a stream cut short, a malformed reply
        raise ProviderError(
            f"{endpoint.label} at {endpoint.display_url} broke off the answer "
            f"({type(exc).__name__})."
        ) from exc
    finally:
        if endpoint.http_client is None:
            await client.aclose()


def status_error(endpoint: Endpoint, response: httpx.Response) -> ProviderError:
    """The Chatforge error for an error status of the provider."""
    status = response.status_code
    if status in (401, 403):
        # The provider's own text is left out: OpenAI's quotes part of the refused key.
        return ProviderUnavailable(
            f"{endpoint.label} refused the API key (HTTP {status}); {endpoint.key_hint}, "
            f"{OFFLINE_HINT}."
        )
    # The provider's own words go to the log, never to the caller: a server that is not what it
    # claims to be would otherwise answer the caller through Chatforge.
    log_detail(endpoint, f"HTTP {status}", error_detail(response))
    suffix = "."
    if status == 429 or status == 529 or status == 503:
        retry_after = response.headers.get("retry-after")
        headers = {"Retry-After": retry_after} if retry_after else None
        what = "is rate limiting requests" if status == 429 else "is overloaded"
        return ProviderUnavailable(
            f"{endpoint.label} {what} (HTTP {status}); try again later{suffix}", headers=headers
        )
    return ProviderError(f"{endpoint.label} answered HTTP {status}{suffix}")


def log_detail(endpoint: Endpoint, what: str, detail: str) -> None:
    """Log a provider's error message (redacted) for the operator."""
    logger.warning(
        "%s at %s: %s: %s", endpoint.label, endpoint.display_url, what, endpoint.redact(detail)
    )
