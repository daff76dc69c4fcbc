"""Server-Sent Events are parsed as the spec reads them, whatever the server's line style."""

from __future__ import annotations

import httpx

from chatforge.providers.chat._http import ServerSentEvent, iter_sse


async def events_in(body: bytes) -> list[ServerSentEvent]:
    response = httpx.Response(200, content=body)
    return [event async for event in iter_sse(response)]


async def test_comments_crlf_multiline_data_and_a_last_event_without_blank_line() -> None:
    body = (
        b": keep-alive\r\n\r\n"
        b'event: content_block_delta\r\ndata: {"a":\r\ndata: 1}\r\n\r\n'
        b"data:no-space\n\n"
        b"\n\n"
        b"data: [DONE]"
    )
    assert await events_in(body) == [
        ServerSentEvent("content_block_delta", '{"a":\n1}'),
        ServerSentEvent("message", "no-space"),
        ServerSentEvent("message", "[DONE]"),
    ]


async def test_an_event_name_without_data_is_dropped() -> None:
    assert await events_in(b"event: ping\n\nevent: x\ndata: y\n\n") == [ServerSentEvent("x", "y")]
