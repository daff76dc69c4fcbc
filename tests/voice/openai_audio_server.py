"""A fake OpenAI audio server on 127.0.0.1: ``/v1/audio/transcriptions`` and ``/v1/audio/speech``.

It speaks the real wire format: a multipart upload answered with ``json`` or ``verbose_json``,
and a JSON request answered with raw 24 kHz 16-bit PCM in chunks (odd-sized, as a network cuts
them). Errors are OpenAI's error objects.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from tests.servers.base import Exchange, FakeServer, RecordedRequest, Reply

__all__ = ["AudioServer", "Reply", "audio_server"]

SPEECH_RATE = 24_000


def tone(seconds: float) -> bytes:
    """A 440 Hz tone as 24 kHz 16-bit little-endian PCM."""
    t = np.arange(int(seconds * SPEECH_RATE)) / SPEECH_RATE
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()


class AudioServer(FakeServer):
    """OpenAI's audio endpoints; a scripted :class:`Reply`'s text is the transcript."""

    def handle(self, exchange: Exchange) -> None:
        request = exchange.request
        reply = self.next_reply(request)
        sent = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.api_key is not None and sent != self.api_key:
            error = {"message": "Incorrect API key provided.", "type": "invalid_request_error"}
            exchange.send_json(401, {"error": error})
            return
        if reply.status >= 400:
            body = reply.body or {"error": {"message": "failed", "type": "server_error"}}
            exchange.send_json(reply.status, body, reply.headers)
            return
        if request.path == "/v1/audio/transcriptions":
            form = request.body.get("_form", "")  # multipart, kept as Latin-1 text
            fmt = _field(form, "response_format") or "json"
            text = reply.text or "Hello from the fake server."
            payload: dict[str, object] = {"text": text}
            if fmt == "verbose_json":
                payload.update({"language": "english", "duration": 1.0, "segments": []})
            exchange.send_json(200, payload)
            return
        if request.path == "/v1/audio/speech":
            pcm = tone(0.5)
            handler = exchange.handler
            handler.send_response(200)
            handler.send_header("content-type", "audio/pcm")
            handler.send_header("transfer-encoding", "chunked")
            handler.end_headers()
            for start in range(0, len(pcm), 4001):  # odd sizes: samples split across chunks
                piece = pcm[start : start + 4001]
                handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
            return
        exchange.send_json(404, {"error": {"message": f"Unknown path {request.path}"}})


def _field(form: str, name: str) -> str | None:
    match = re.search(rf'name="{name}"\r\n\r\n([^\r]*)\r\n', form)
    return match.group(1) if match else None


def form_field(form: str, name: str) -> str | None:
    """A text field of a multipart body kept as text."""
    return _field(form, name)


@contextmanager
def audio_server(*, api_key: str | None = None) -> Iterator[AudioServer]:
    """A running fake audio server; its ``base_url`` ends in ``/v1``.

    A multipart body is recorded as ``{"_form": <the body as Latin-1 text>}`` (its binary audio
    kept byte for byte), a JSON body as itself.
    """
    state = AudioServer(api_key=api_key)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            if headers.get("content-type", "").startswith("multipart/"):
                body: dict[str, Any] = {"_form": raw.decode("latin-1")}
            else:
                body = json.loads(raw) if raw else {}
            state.handle(Exchange(self, RecordedRequest("POST", self.path, headers, body)))

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
