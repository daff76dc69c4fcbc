"""An httpx transport that connects only to addresses the guard has checked.

The check and the connection must use the same address. Checking a host name and then letting the
HTTP library resolve it again opens a window for DNS rebinding: a hostile name server answers a
public address to the check and ``127.0.0.1`` to the connect. So the guard runs *inside* the TCP
connect, in an httpcore network backend: it resolves the name once, checks every address, and opens
the socket to one of those addresses. The request itself keeps the host name, so the ``Host``
header, TLS SNI and certificate verification all still use the name, as they should.

Every connection goes through this path, including each hop of a redirect, so no hop escapes it.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from chatforge.errors import FetchRefused
from chatforge.providers.web.guard import AddressGuard

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)

# httpcore's errors, mapped to httpx's so that this transport honours httpx's contract and a
# caller handles one family of exceptions. Subclasses come first: the first match wins.
_ERROR_MAP: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for source, target in _ERROR_MAP:
            if isinstance(exc, source):
                raise target(str(exc)) from exc
        raise


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by one deadline.

    Per-operation timeouts alone let a server that sends one byte every few seconds hold a
    fetch open for ever; clamping each operation to the time left bounds the whole fetch.
    """

    def __init__(self, inner: httpcore.NetworkStream, deadline: float | None) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, self._deadline, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, self._deadline, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # server_hostname is the URL's host name (httpcore passes the origin's host, or the
        # sni_hostname extension), never the pinned IP, so certificates are verified for the name.
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _clamp(timeout, self._deadline, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _clamp(timeout: float | None, deadline: float | None, error: type[Exception]) -> float | None:
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise error("The time allowed for the fetch ran out.")
    return remaining if timeout is None else min(timeout, remaining)


class PinnedBackend(httpcore.NetworkBackend):
    """An httpcore network backend that resolves, checks, then connects to the checked address.

    Args:
        guard: Resolves the host and refuses non-public addresses.
        deadline: A :func:`time.monotonic` instant by which every connect, read and write must
            end, or None for httpx's per-operation timeouts only.
    """

    def __init__(self, guard: AddressGuard, *, deadline: float | None = None) -> None:
        self._guard = guard
        self._deadline = deadline
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._guard.resolve(
            host, port, timeout=_clamp(timeout, self._deadline, httpcore.ConnectTimeout)
        )
        failure: Exception | None = None
        for address in addresses:
            try:
                # The IP literal, not the name, goes to the socket: nothing resolves it again.
                stream = self._sockets.connect_tcp(
                    address,
                    port,
                    timeout=_clamp(timeout, self._deadline, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc  # like socket.create_connection: try the next address
                continue
            return _DeadlineStream(stream, self._deadline)
        assert failure is not None  # the guard never returns an empty list
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        raise FetchRefused("Unix sockets are never connected to.")

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, inner: Iterable[bytes]) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors():
            yield from self._inner

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class PinnedTransport(httpx.BaseTransport):
    """An httpx transport whose connections all go through :class:`PinnedBackend`.

    Use it with a client that has ``trust_env=False``: a proxy from the environment would make
    the guard check the proxy's address instead of the destination's.

    Args:
        guard: Checks every address connected to.
        ssl_context: TLS settings (certificate verification stays on).
        deadline: See :class:`PinnedBackend`.
    """

    def __init__(
        self, guard: AddressGuard, *, ssl_context: ssl.SSLContext, deadline: float | None = None
    ) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            network_backend=PinnedBackend(guard, deadline=deadline),
            http1=True,
            http2=False,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            core_response = self._pool.handle_request(core_request)
        if not isinstance(core_response.stream, Iterable):  # pragma: no cover - sync pool
            raise TypeError("httpcore returned an asynchronous stream to a sync transport")
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_ResponseStream(core_response.stream),
            extensions=core_response.extensions,
        )

    def close(self) -> None:
        self._pool.close()
