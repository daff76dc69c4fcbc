"""Fetching one URL for knowledge ingestion, with bounded time, size and redirects.

:class:`WebFetcher` is synchronous: ingestion runs in worker threads. Every connection it opens
goes through :class:`~chatforge.providers.web.transport.PinnedTransport`, so every redirect hop is
checked by the SSRF guard. It returns bytes; extracting the main content is the parsers' job.
"""

from __future__ import annotations

import functools
import logging
import ssl
import time
import zlib
from collections.abc import Collection
from dataclasses import dataclass

import httpx

from chatforge.errors import FetchError, FetchRefused
from chatforge.providers.web.guard import AddressGuard, Resolver, system_resolver
from chatforge.providers.web.transport import PinnedTransport

logger = logging.getLogger(__name__)

DEFAULT_USER_AGENT = "Chatforge/0.1 (+https://github.com/chatforge)"

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
PAGE_TYPES = HTML_TYPES | {
    "text/plain",
    "text/markdown",
    "text/x-markdown",
    "application/xml",
    "text/xml",
    "application/pdf",
}
"""Media types :meth:`WebFetcher.fetch` accepts by default; PDF goes on to the file pipeline."""

SITEMAP_TYPES = frozenset(
    {
        "application/xml",
        "text/xml",
        "text/plain",
        "application/gzip",
        "application/x-gzip",
        # Many servers label ``sitemap.xml.gz`` as an opaque download.
        "application/octet-stream",
    }
)

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True)
class FetchedPage:
    """One fetched response.

    Attributes:
        url: The final URL, after redirects.
        status: The HTTP status (always 2xx).
        content_type: The media type, lower-case, without parameters (``text/html``).
        body: The body, with any ``Content-Encoding`` undone.
        encoding: The ``charset`` the server declared, if any.
    """

    url: str
    status: int
    content_type: str
    body: bytes
    encoding: str | None

    @property
    def is_html(self) -> bool:
        """Whether the page is HTML (or XHTML)."""
        return self.content_type in HTML_TYPES


class BoundedInflater:
    """Undoes gzip or zlib compression, refusing to produce more than ``limit`` bytes.

    Each call asks zlib for at most the bytes still allowed, so a compression bomb (a few
    kilobytes that inflate to gigabytes) fails before it is ever held in memory.

    Args:
        limit: The most bytes the whole stream may inflate to.
        what: Names the content in error messages.
    """

    def __init__(self, limit: int, *, what: str) -> None:
        self._limit = limit
        self._what = what
        self._produced = 0
        # 32 + MAX_WBITS: accept a gzip or a zlib header, whichever the data has.
        self._zlib = zlib.decompressobj(32 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        """Inflate the next piece of compressed data.

        Raises:
            FetchError: The data is corrupt or inflates past the limit.
        """
        try:
            out = self._zlib.decompress(data, self._limit + 1 - self._produced)
        except zlib.error as exc:
            raise FetchError(f"{self._what} has corrupt compressed content.") from exc
        self._produced += len(out)
        if self._produced > self._limit or self._zlib.unconsumed_tail:
            raise FetchError(f"{self._what} is larger than {self._limit} bytes once decompressed.")
        return out


class WebFetcher:
    """Fetches URLs the way a knowledge source needs: guarded, bounded, redirects re-checked.

    One instance may be shared by threads: each :meth:`fetch` uses its own connections.

    Args:
        allow_private_addresses: Operator switch to fetch loopback, private and link-local
            addresses too (tests, intranets). Off by default: see ``guard.py``.
        allowed_networks: CIDR networks fetched although private, a narrower switch.
        timeout: Seconds one :meth:`fetch` may take in all: resolution, connections, every
            redirect hop and the whole body.
        max_bytes: The most body bytes accepted, counted after decompression.
        max_redirects: Redirects followed before giving up.
        user_agent: The ``User-Agent`` header, also the name matched in ``robots.txt``.
        resolver: Replaces the system resolver (see :class:`AddressGuard`).
        ssl_context: TLS settings, e.g. trusting an intranet's own CA; by default httpx's
            (certifi's CAs, or ``SSL_CERT_FILE``), built once per process.
    """

    def __init__(
        self,
        *,
        allow_private_addresses: bool = False,
        allowed_networks: Collection[str] = (),
        timeout: float = 15.0,
        max_bytes: int = 10_000_000,
        max_redirects: int = 5,
        user_agent: str = DEFAULT_USER_AGENT,
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if timeout <= 0 or max_bytes <= 0 or max_redirects < 0:
            raise ValueError("timeout and max_bytes must be positive, max_redirects not negative")
        self.guard = AddressGuard(
            allow_private_addresses=allow_private_addresses,
            allowed_networks=allowed_networks,
            resolver=resolver,
        )
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        self._ssl_context = ssl_context or _default_ssl_context()

    def fetch(self, url: str, *, accept: Collection[str] = PAGE_TYPES) -> FetchedPage:
        """Fetch one URL, following up to ``max_redirects`` redirects.

        Args:
            url: An http or https URL.
            accept: The media types accepted; another type fails before its body is read.

        Returns:
            The final response.

        Raises:
            FetchRefused: A scheme other than http(s), or a host that reaches a non-public address,
                at the start or after a redirect.
            FetchError: Anything else: an invalid URL, a timeout, a non-2xx status, a type not
                accepted, a body over ``max_bytes``, too many redirects.
        """
        deadline = time.monotonic() + self.timeout
        transport = PinnedTransport(self.guard, ssl_context=self._ssl_context, deadline=deadline)
        headers = {
            "User-Agent": self.user_agent,
            "Accept": ", ".join(sorted(accept)) + ", */*;q=0.1",
            # Only encodings BoundedInflater can bound; br and zstd are not asked for.
            "Accept-Encoding": "gzip, deflate",
        }
        # trust_env=False: a proxy from the environment would be checked instead of the target.
        with httpx.Client(
            transport=transport, headers=headers, timeout=self.timeout, trust_env=False
        ) as client:
            try:
                return self._follow(client, url, accept)
            except httpx.TimeoutException as exc:
                raise FetchError(f"Fetching {url} took longer than {self.timeout:g} s.") from exc
            except httpx.ConnectError as exc:
                raise FetchError(f"Could not connect to fetch {url}: {exc}") from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"Fetching {url} failed: {type(exc).__name__}.") from exc

    def _follow(self, client: httpx.Client, url: str, accept: Collection[str]) -> FetchedPage:
        current = _parse(url)
        for _hop in range(self.max_redirects + 1):
            if current.scheme not in _SCHEMES:
                raise FetchRefused(
                    f"Refused to fetch {current}: only http and https URLs are fetched."
                )
            with client.stream("GET", current) as response:
                location = response.headers.get("location")
                if response.status_code in _REDIRECT_STATUSES and location:
                    # The next hop is checked like the first: scheme here, address at connect.
                    current = _join(current, location)
                    logger.debug("%s redirects to %s", response.url, current)
                    continue
                return self._read(str(current), response, accept)
        raise FetchError(f"{url} redirected more than {self.max_redirects} times.")

    def _read(self, url: str, response: httpx.Response, accept: Collection[str]) -> FetchedPage:
        if not 200 <= response.status_code < 300:
            raise FetchError(f"{url} answered HTTP {response.status_code}.")
        media_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type not in accept:
            raise FetchError(
                f"{url} is {media_type or 'of no declared type'}, not one of the types fetched "
                f"({', '.join(sorted(accept))})."
            )
        return FetchedPage(
            url=url,
            status=response.status_code,
            content_type=media_type,
            body=self._read_body(url, response),
            encoding=response.charset_encoding,
        )

    def _read_body(self, url: str, response: httpx.Response) -> bytes:
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        inflater: BoundedInflater | None = None
        if encoding in ("gzip", "x-gzip", "deflate"):
            inflater = BoundedInflater(self.max_bytes, what=url)
        elif encoding not in ("", "identity"):
            raise FetchError(f"{url} uses a content encoding that is not supported ({encoding}).")
        else:
            # Content-Length only lets a too-large body fail early; it is never trusted as a
            # bound: the count below is.
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise FetchError(f"{url} is larger than {self.max_bytes} bytes.")
        body = bytearray()
        for chunk in response.iter_raw():
            body += inflater.feed(chunk) if inflater is not None else chunk
            if len(body) > self.max_bytes:
                raise FetchError(f"{url} is larger than {self.max_bytes} bytes.")
        return bytes(body)


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    # Built once: loading the CA bundle takes about 0.1 s, and one context serves every thread.
    return httpx.create_ssl_context()


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise FetchError(f"{url!r} is not a valid URL.") from exc
    if parsed.scheme in _SCHEMES and not parsed.host:
        raise FetchError(f"{url!r} is not a valid URL: it has no host.")
    return parsed


def _join(base: httpx.URL, location: str) -> httpx.URL:
    try:
        return _parse(str(base.join(location)))
    except httpx.InvalidURL as exc:
        raise FetchError(f"{base} redirects to an invalid URL.") from exc
