"""A JSON-over-HTTP endpoint of a remote model (embeddings), with retries and safe errors.

One place maps HTTP failures to Chatforge's errors for the synchronous providers:

- 401 and 403: :class:`ProviderUnavailable`, naming the setting that holds the key;
- 429, 500, 502, 503 and 504: retried (twice by default) after the server's ``Retry-After`` or an
  exponential backoff, then, with ``Retry-After`` when the server sent one,
  :class:`ProviderUnavailable` for 429 and 503 (rate limited, overloaded: as the chat providers
  say) and :class:`ProviderError` for the others;
- a timeout or a broken answer: :class:`ProviderError`; a server that cannot be reached:
  :class:`ProviderUnavailable`;
- any other error status or a reply that is not JSON: :class:`ProviderError`.

Error messages travel to API clients, so they never contain the key: the provider's own text is
left out for refused keys (OpenAI's quotes part of it) and scrubbed of key-like strings elsewhere.
"""

from __future__ import annotations

import email.utils
import logging
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from chatforge.errors import ProviderError, ProviderUnavailable
from chatforge.providers.http_errors import display_url, error_detail, redact

logger = logging.getLogger(__name__)

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class JSONEndpoint:
    """POST JSON to one remote API and get JSON back, or a Chatforge error.

    Args:
        label: Human name for error messages (``"the embeddings API"``).
        base_url: Base URL of the API (``https://api.openai.com/v1``); paths are appended to it.
        api_key: Sent as ``Authorization: Bearer``; None for servers that need none. Never
            printed, logged or put in an error.
        key_hint: What to set when the key is missing or refused, for example
            ``"set CHATFORGE_EMBEDDINGS__API_KEY"``.
        timeout: Seconds to wait for the connection and for the answer.
        retries: Extra attempts after a 429 or a 5xx.
        backoff: Seconds before the first retry when the server sends no ``Retry-After``;
            doubled for each further one.
        max_wait: Longest wait the server may ask for; a longer ``Retry-After`` fails at once,
            so that a job is retried later by its queue instead of holding a worker.
    """

    def __init__(
        self,
        *,
        label: str,
        base_url: str,
        api_key: str | None,
        key_hint: str,
        timeout: float = 60.0,
        retries: int = 2,
        backoff: float = 0.5,
        max_wait: float = 30.0,
    ) -> None:
        self.label = label
        self.base_url = base_url.rstrip("/")
        self.key_hint = key_hint
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self._api_key = api_key
        # One client per endpoint: its connection pool is reused across batches and is safe to
        # share between threads.
        self._client = httpx.Client(timeout=httpx.Timeout(timeout))

    def __repr__(self) -> str:
        return f"JSONEndpoint({self.label!r}, {self.display_url!r})"

    @property
    def display_url(self) -> str:
        """The base URL without user info or query, safe to show."""
        return display_url(self.base_url)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST ``body`` to ``base_url + path`` and return the decoded JSON answer.

        Raises:
            ProviderUnavailable: The key was refused, or the server cannot be reached.
            ProviderError: Any other failure, after the retries for 429 and 5xx.
        """
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        for attempt in range(self.retries + 1):
            response = self._send(path, body, headers)
            if response.status_code < 400:
                try:
                    return response.json()
                except ValueError as exc:
                    raise ProviderError(f"{self.label} answered with invalid JSON.") from exc
            wait = self._retry_wait(response, attempt)
            if wait is None:
                raise self._status_error(response, attempt)
            logger.warning(
                "%s answered HTTP %s; retrying in %.1f s (attempt %s of %s)",
                self.label,
                response.status_code,
                wait,
                attempt + 2,
                self.retries + 1,
            )
            time.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def redact(self, text: str) -> str:
        """Remove the key, and anything shaped like a key, from ``text``, and shorten it."""
        return redact(text, self._api_key)

    def _send(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        try:
            return self._client.post(self.base_url + path, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise ProviderError(
                f"{self.label} at {self.display_url} did not answer within {self.timeout:g} "
                "seconds; try again later or raise its timeout."
            ) from exc
        except httpx.ProtocolError as exc:  # the server broke the connection mid-answer
            raise ProviderError(
                f"{self.label} at {self.display_url} broke off its answer ({type(exc).__name__})."
            ) from exc
        except httpx.TransportError as exc:
            raise ProviderUnavailable(
                f"{self.label} at {self.display_url} cannot be reached ({type(exc).__name__}); "
                "check that it is running and its base URL."
            ) from exc

    def _retry_wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when this answer is final."""
        if response.status_code not in _RETRY_STATUSES or attempt >= self.retries:
            return None
        asked = _parse_retry_after(response.headers.get("retry-after"))
        if asked is None:
            return float(self.backoff * 2**attempt)
        return asked if asked <= self.max_wait else None

    def _status_error(self, response: httpx.Response, attempt: int) -> ProviderError:
        status = response.status_code
        if status in (401, 403):
            return ProviderUnavailable(
                f"{self.label} at {self.display_url} refused the API key (HTTP {status}); "
                f"{self.key_hint}."
            )
        # The server's own words go to the log only (see chat's ``status_error``).
        logger.warning(
            "%s at %s: HTTP %s: %s",
            self.label,
            self.display_url,
            status,
            self.redact(error_detail(response)),
        )
        suffix = "."
        if status in _RETRY_STATUSES:
            retry_after = response.headers.get("retry-after")
            tries = "once" if attempt == 0 else f"{attempt + 1} times"
            # As for chat models: rate limited or overloaded is "unavailable" (503), a
            # server failure is a provider error (502).
            error = ProviderUnavailable if status in (429, 503) else ProviderError
            return error(
                f"{self.label} at {self.display_url} failed {tries}, last with HTTP {status}; "
                f"try again later{suffix}",
                headers={"Retry-After": retry_after} if retry_after else None,
            )
        return ProviderError(f"{self.label} at {self.display_url} answered HTTP {status}{suffix}")


def _parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: either delay-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
