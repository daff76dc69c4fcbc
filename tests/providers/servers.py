"""A real model server on 127.0.0.1 speaking the OpenAI ``/embeddings`` API.

Paid model APIs are replaced by this server, not by mocks: the providers under test open real
sockets, send real headers and parse real bodies. Its models are tiny and deterministic:

- embeddings: bag-of-words hashed into ``dimensions`` buckets, deliberately not unit length, and
  listed in reverse order, so that clients must normalise and sort by ``index``;

A test scripts failures (status, headers, body) that are answered before any success.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Failure:
    """One scripted error answer."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class Request:
    """What the server received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def words(text: str) -> list[str]:
    return [w.strip(".,!?;:").lower() for w in text.split() if w.strip(".,!?;:")]


def hashed_vector(text: str, dimensions: int) -> list[float]:
    """A bag-of-words vector: texts sharing words point the same way. Not normalised."""
    vector = [0.0] * dimensions
    for word in words(text):
        bucket = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "big") % dimensions
        vector[bucket] += 3.0
    vector[0] += 0.5  # no all-zero vector, even for an empty text
    return vector


class ModelServer:
    """The server's state; the handler reads it under a lock."""

    def __init__(self, *, api_key: str | None = None, dimensions: int = 16) -> None:
        self.api_key = api_key
        self.dimensions = dimensions
        self.failures: list[Failure] = []
        self.delay = 0.0
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.base_url = ""

    def answer(self, request: Request) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.requests.append(request)
            failure = self.failures.pop(0) if self.failures else None
        if self.delay:
            time.sleep(self.delay)
        if failure is not None:
            return failure.status, failure.headers, failure.body
        if self.api_key is not None and request.headers.get("authorization") != (
            f"Bearer {self.api_key}"
        ):
            # As OpenAI does: the refused key is quoted back, partly masked.
            sent = request.headers.get("authorization", "").removeprefix("Bearer ")
            message = f"Incorrect API key provided: {sent[:6]}***{sent[-4:]}."
            return 401, {}, {"error": {"message": message, "code": "invalid_api_key"}}
        if request.path == "/v1/embeddings":
            return 200, {}, self._embeddings(request.body)
        return 404, {}, {"error": {"message": f"no route {request.path}"}}

    def _embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        inputs = body["input"]
        dimensions = int(body.get("dimensions", self.dimensions))
        data = [
            {"object": "embedding", "index": i, "embedding": hashed_vector(text, dimensions)}
            for i, text in enumerate(inputs)
        ]
        return {"object": "list", "model": body["model"], "data": data[::-1]}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out closes the socket under the handler; expected


@contextmanager
def model_server(*, api_key: str | None = None, dimensions: int = 16) -> Iterator[ModelServer]:
    """Run a :class:`ModelServer` on a free loopback port; ``base_url`` ends in ``/v1``."""
    state = ModelServer(api_key=api_key, dimensions=dimensions)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, payload = state.answer(Request(self.path, headers, body))
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up waiting

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _QuietServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
