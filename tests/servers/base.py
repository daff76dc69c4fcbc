"""What the fake provider servers share: scripted replies, request records, a threaded HTTP/1.1
server that streams with chunked transfer encoding and can drop a connection mid-stream.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar


@dataclass
class Reply:
    """One scripted answer of a fake provider.

    Attributes:
        text: The answer; None echoes the last user message as ``"Echo: <message>"``.
        chunks: How the text is streamed; by default word by word (spaces kept).
        status: HTTP status. At 400 and above the server answers ``body`` (or a provider-shaped
            error) instead of text.
        headers: Extra response headers (``Retry-After``).
        body: The JSON error body, for ``status >= 400``.
        delay: Seconds to wait before answering at all (to make a client time out).
        chunk_delay: Seconds to wait before each streamed chunk.
        close_after: Drop the connection, without ending the chunked body, after this many text
            chunks.
        stream_error: After the text chunks, send the protocol's in-stream error event carrying
            this message, then stop.
        usage: ``(input_tokens, output_tokens)``; by default the word counts.
        report_usage: Send the usage chunk when the client asks for it (OpenAI); some
            compatible servers never do.
        end: Send the protocol's end marker (``[DONE]``, ``message_stop``) after the text.
    """

    text: str | None = None
    chunks: list[str] | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    close_after: int | None = None
    stream_error: str | None = None
    usage: tuple[int, int] | None = None
    report_usage: bool = True
    end: bool = True

    def answer_for(self, request: RecordedRequest) -> str:
        """The text this reply answers to ``request``."""
        if self.text is not None:
            return self.text
        return f"Echo: {request.last_user_message()}"

    def pieces_for(self, request: RecordedRequest) -> list[str]:
        """The streamed chunks of the answer."""
        if self.chunks is not None:
            return self.chunks
        words = self.answer_for(request).split(" ")
        return [w + " " for w in words[:-1]] + [words[-1]]

    def usage_for(self, request: RecordedRequest) -> tuple[int, int]:
        """``(input_tokens, output_tokens)`` reported with the answer."""
        if self.usage is not None:
            return self.usage
        prompt = " ".join(str(m.get("content", "")) for m in request.body.get("messages", []))
        return len(prompt.split()), len(self.answer_for(request).split())


@dataclass
class RecordedRequest:
    """What a fake server received: path, lower-cased headers, JSON body."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    def last_user_message(self) -> str:
        """The content of the last ``user`` message of the body, or ``""``."""
        for message in reversed(self.body.get("messages", [])):
            if message.get("role") == "user":
                content = message.get("content", "")
                if isinstance(content, list):  # content blocks
                    return " ".join(str(block.get("text", "")) for block in content)
                return str(content)
        return ""


class FakeServer:
    """State and scripting shared by the fake providers; subclasses write the wire format.

    Attributes:
        base_url: Where clients point; set when the server starts.
        api_key: The key the server accepts; None accepts any (or none).
        requests: Every request received, in order.
        default: The reply given when no scripted reply is left.
    """

    def __init__(self, *, api_key: str | None = None) -> None:
        self.base_url = ""
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.default = Reply()
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    def script(self, *replies: Reply) -> None:
        """Queue ``replies``: each request takes the next one, then :attr:`default` applies."""
        with self._lock:
            self._script.extend(replies)

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request (fails the test when there was none)."""
        assert self.requests, "the server received no request"
        return self.requests[-1]

    def next_reply(self, request: RecordedRequest) -> Reply:
        """Record ``request`` and pick its reply."""
        with self._lock:
            self.requests.append(request)
            return self._script.pop(0) if self._script else self.default

    def handle(self, exchange: Exchange) -> None:
        """Answer one request; implemented by each protocol."""
        raise NotImplementedError


class Exchange:
    """One request being answered: helpers to send JSON, or a chunked event stream."""

    def __init__(self, handler: BaseHTTPRequestHandler, request: RecordedRequest) -> None:
        self.handler = handler
        self.request = request

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.handler.send_response(status)
        self.handler.send_header("content-type", "application/json")
        self.handler.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.handler.send_header(name, value)
        self.handler.end_headers()
        self.handler.wfile.write(data)

    def start_stream(self, headers: dict[str, str] | None = None) -> None:
        self.handler.send_response(200)
        self.handler.send_header("content-type", "text/event-stream; charset=utf-8")
        self.handler.send_header("cache-control", "no-cache")
        self.handler.send_header("transfer-encoding", "chunked")
        for name, value in (headers or {}).items():
            self.handler.send_header(name, value)
        self.handler.end_headers()

    def send_event(self, data: str, event: str | None = None) -> None:
        """Write one SSE event as one HTTP chunk."""
        text = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
        raw = text.encode()
        self.handler.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
        self.handler.wfile.flush()

    def end_stream(self) -> None:
        self.handler.wfile.write(b"0\r\n\r\n")
        self.handler.wfile.flush()

    def drop(self) -> None:
        """Cut the connection without finishing the chunked body, as a crashed server does."""
        self.handler.wfile.flush()
        self.handler.close_connection = True
        self.handler.connection.shutdown(socket.SHUT_RDWR)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out or disconnect close the socket under the handler


S = TypeVar("S", bound=FakeServer)


@contextmanager
def serve(state: S, *, path_prefix: str) -> Iterator[S]:
    """Run ``state`` on a free loopback port; ``state.base_url`` ends in ``path_prefix``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, like the real APIs

        def _dispatch(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except json.JSONDecodeError:
                body = {"_invalid_json": raw.decode(errors="replace")}
            headers = {k.lower(): v for k, v in self.headers.items()}
            request = RecordedRequest(self.command, self.path, headers, body)
            try:
                state.handle(Exchange(self, request))
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client went away mid-answer

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _QuietServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}{path_prefix}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopping.set()  # wakes handlers sleeping on a scripted delay
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
