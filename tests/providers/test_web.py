"""Fetching web pages: the SSRF guard, the bounds, crawling and sitemaps, against real sockets.

Every allowed case runs against a real HTTP server on a loopback address. Refusals that could
reach a live server are made against one, and the test checks that the server saw no request:
a refusal must happen before the connection, not merely fail after it.
"""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import ssl
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chatforge.errors import FetchError, FetchRefused
from chatforge.providers.web import (
    DEFAULT_USER_AGENT,
    FetchedPage,
    WebFetcher,
    crawl,
    extract_links,
    non_public_reason,
    read_sitemap,
    system_resolver,
)

Route = Callable[[BaseHTTPRequestHandler], None]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (size cap, timeout) breaks the pipe; that is the point


class Site:
    """A real HTTP server on a loopback address whose routes a test sets."""

    def __init__(self, host: str = "127.0.0.1", *, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append((self.path, dict(self.headers.items())))
                route = site.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                else:
                    route(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _QuietServer((host, 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "http" if tls is None else "https"
        self.host = host
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def respond(
    body: bytes,
    content_type: str = "text/html; charset=utf-8",
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    send_length: bool = True,
) -> Route:
    def handle(request: BaseHTTPRequestHandler) -> None:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        if send_length:
            request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return handle


def redirect(location: str, status: int = 302) -> Route:
    return respond(b"", status=status, headers={"Location": location})


def html(*links: str) -> Route:
    anchors = "".join(f'<a href="{link}">{link}</a>' for link in links)
    return respond(f"<html><body>{anchors}</body></html>".encode())


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site()
    yield server
    server.close()


@pytest.fixture
def fetcher() -> WebFetcher:
    """A fetcher as an operator configures one for an intranet: private addresses allowed."""
    return WebFetcher(allow_private_addresses=True, timeout=5)


def table_resolver(table: dict[str, list[str]], calls: list[str] | None = None) -> Any:
    """A resolver that answers from ``table`` and from the system for anything else."""

    def resolve(host: str, port: int) -> Sequence[str]:
        if calls is not None:
            calls.append(host)
        return table[host] if host in table else system_resolver(host, port)

    return resolve


# The guard ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "2002:808:808::",
        "64:ff9b::808:808",
    ],
)
def test_public_addresses_pass_the_guard(address: str) -> None:
    assert non_public_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),  # carrier-grade NAT
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "private"),
        ("2002:a00:1::", "private"),  # 6to4 around 10.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 around 10.0.0.1
    ],
)
def test_non_public_addresses_are_named(address: str, reason: str) -> None:
    assert non_public_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address", ["240.0.0.1", "198.18.0.1", "192.0.2.1", "2001:db8::1", "fec0::1", "100::1"]
)
def test_reserved_and_documentation_addresses_are_not_public(address: str) -> None:
    assert non_public_reason(ipaddress.ip_address(address)) is not None


def test_loopback_server_is_refused_before_any_connection(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    site.routes["/"] = html()
    with pytest.raises(FetchRefused, match=r"127\.0\.0\.1.*not allowed") as caught:
        WebFetcher().fetch(site.url("/"))
    assert site.requests == []
    # Why goes to the operator's log only.
    assert "loopback" not in caught.value.message and "loopback" in caplog.text


def test_name_that_resolves_to_loopback_is_refused(site: Site) -> None:
    site.routes["/"] = html()
    with pytest.raises(FetchRefused, match="localhost"):
        WebFetcher().fetch(site.url("/", host="localhost"))
    assert site.requests == []


@pytest.mark.parametrize("host", ["2130706433", "0x7f.0.0.1", "127.1", "0177.0.0.1"])
def test_numeric_spellings_of_loopback_are_not_fetched(site: Site, host: str) -> None:
    site.routes["/"] = html()
    # 0177.0.0.1 is rejected as an invalid URL by httpx already; the others resolve to 127.0.0.1.
    with pytest.raises(FetchError):
        WebFetcher().fetch(site.url("/", host=host))
    assert site.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://192.168.0.1:8080/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "https://224.0.0.1/",
    ],
)
def test_private_addresses_are_refused(url: str) -> None:
    with pytest.raises(FetchRefused, match="Refused"):
        WebFetcher(timeout=2).fetch(url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/file.txt",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_",
        "javascript:alert(1)",
        "data:text/html,<p>hi</p>",
    ],
)
def test_schemes_other_than_http_are_refused(url: str) -> None:
    with pytest.raises(FetchRefused, match="only http and https"):
        WebFetcher(allow_private_addresses=True).fetch(url)


def test_host_with_any_private_address_is_refused_without_revealing_it(site: Site) -> None:
    resolver = table_resolver({"mixed.invalid": ["93.184.216.34", "127.0.0.1"]})
    with pytest.raises(FetchRefused) as refused:
        WebFetcher(resolver=resolver).fetch(site.url("/", host="mixed.invalid"))
    assert "mixed.invalid" in refused.value.message
    assert "127.0.0.1" not in refused.value.message
    assert site.requests == []


def test_connection_goes_to_the_checked_address_not_a_second_lookup(site: Site) -> None:
    # A .invalid name never resolves in DNS: the request can only reach the server through the
    # one answer the guard checked. The server still sees the name in the Host header.
    site.routes["/"] = respond(b"pinned", "text/plain")
    calls: list[str] = []
    fetcher = WebFetcher(
        allowed_networks=["127.0.0.1/32"],
        resolver=table_resolver({"site.invalid": ["127.0.0.1"]}, calls),
    )

    page = fetcher.fetch(site.url("/", host="site.invalid"))

    assert page.body == b"pinned"
    assert calls == ["site.invalid"]
    assert site.requests[0][1]["Host"] == f"site.invalid:{site.port}"


def test_redirect_to_a_private_address_is_refused() -> None:
    # The first hop is allowed by the operator's allow-list (one address), the second hop is a
    # live server on another loopback address that the same production check must refuse.
    outer, inner = Site("127.0.0.1"), Site("127.0.0.2")
    try:
        inner.routes["/secret"] = respond(b"secret", "text/plain")
        outer.routes["/ok"] = respond(b"ok", "text/plain")
        outer.routes["/go"] = redirect(inner.url("/secret"))
        guarded = WebFetcher(allowed_networks=["127.0.0.1/32"])

        assert guarded.fetch(outer.url("/ok")).body == b"ok"
        with pytest.raises(FetchRefused, match=r"127\.0\.0\.2"):
            guarded.fetch(outer.url("/go"))
        assert inner.requests == []

        # Without the guard the redirect does reach the secret: the refusal above is the guard's.
        assert WebFetcher(allow_private_addresses=True).fetch(outer.url("/go")).body == b"secret"
    finally:
        outer.close()
        inner.close()


def test_redirect_to_cloud_metadata_is_refused(site: Site) -> None:
    site.routes["/go"] = redirect("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(FetchRefused, match=r"169\.254\.169\.254: the host is unknown or its"):
        WebFetcher(allowed_networks=["127.0.0.1/32"]).fetch(site.url("/go"))


def test_redirect_to_a_file_url_is_refused_even_when_private_addresses_are_allowed(
    site: Site, fetcher: WebFetcher
) -> None:
    site.routes["/go"] = redirect("file:///etc/passwd")
    with pytest.raises(FetchRefused, match="only http and https"):
        fetcher.fetch(site.url("/go"))


def self_signed_certificate(name: str, directory: Path) -> tuple[Path, Path]:
    """A certificate for ``name``, its own issuer, written as PEM; returns (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_is_verified_for_the_host_name_not_the_pinned_address(tmp_path: Path) -> None:
    # Both names are pinned to the same address; only the one the certificate names may pass,
    # so SNI and certificate checks use the URL's name although the socket goes to an IP.
    cert, key = self_signed_certificate("site.invalid", tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    site = Site(tls=server_tls)
    try:
        site.routes["/"] = respond(b"over tls", "text/plain")
        fetcher = WebFetcher(
            ssl_context=ssl.create_default_context(cafile=cert),
            allowed_networks=["127.0.0.1/32"],
            resolver=table_resolver(
                {"site.invalid": ["127.0.0.1"], "other.invalid": ["127.0.0.1"]}
            ),
        )

        assert fetcher.fetch(site.url("/", host="site.invalid")).body == b"over tls"
        with pytest.raises(FetchError, match="certificate"):
            fetcher.fetch(site.url("/", host="other.invalid"))
    finally:
        site.close()


# Fetching and its bounds ----------------------------------------------------------------------


def test_fetch_follows_redirects_and_reports_the_final_page(
    site: Site, fetcher: WebFetcher
) -> None:
    site.routes["/start"] = redirect("/moved", status=301)
    site.routes["/moved"] = respond("<p>café</p>".encode("latin-1"), "text/html; charset=latin-1")

    page = fetcher.fetch(site.url("/start"))

    assert page == FetchedPage(
        url=site.url("/moved"),
        status=200,
        content_type="text/html",
        body="<p>café</p>".encode("latin-1"),
        encoding="latin-1",
    )
    assert page.is_html
    assert site.requests[0][1]["User-Agent"] == DEFAULT_USER_AGENT


def test_gzip_content_encoding_is_undone(site: Site, fetcher: WebFetcher) -> None:
    body = b"<p>" + b"compressed " * 1000 + b"</p>"
    site.routes["/"] = respond(gzip.compress(body), headers={"Content-Encoding": "gzip"})
    assert fetcher.fetch(site.url("/")).body == body


def test_pdf_is_fetched_as_bytes(site: Site, fetcher: WebFetcher) -> None:
    site.routes["/doc.pdf"] = respond(b"%PDF-1.7 ...", "application/pdf")
    page = fetcher.fetch(site.url("/doc.pdf"))
    assert (page.content_type, page.body) == ("application/pdf", b"%PDF-1.7 ...")


def test_body_over_the_size_cap_fails_while_streaming(site: Site) -> None:
    # No Content-Length: the cap must hold on the bytes actually read.
    site.routes["/big"] = respond(b"x" * 5000, "text/plain", send_length=False)
    fetcher = WebFetcher(allow_private_addresses=True, max_bytes=4000)
    with pytest.raises(FetchError, match="larger than 4000 bytes"):
        fetcher.fetch(site.url("/big"))


def test_compression_bomb_fails_without_being_inflated(site: Site) -> None:
    bomb = gzip.compress(bytes(50_000_000), compresslevel=1)  # 50 MB in about 200 kB
    site.routes["/bomb"] = respond(bomb, headers={"Content-Encoding": "gzip"})
    fetcher = WebFetcher(allow_private_addresses=True, max_bytes=100_000)
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="decompressed"):
            fetcher.fetch(site.url("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_server_that_does_not_answer_times_out(site: Site) -> None:
    site.routes["/slow"] = lambda request: time.sleep(3)
    fetcher = WebFetcher(allow_private_addresses=True, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"longer than 0\.5 s"):
        fetcher.fetch(site.url("/slow"))
    assert time.monotonic() - started < 2


def test_drip_fed_body_is_bounded_by_the_total_timeout(site: Site) -> None:
    # Each byte arrives well within a per-read timeout; only a deadline on the whole fetch ends it.
    def drip(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "text/plain")
        request.end_headers()
        for _ in range(50):
            request.wfile.write(b"x")
            request.wfile.flush()
            time.sleep(0.1)

    site.routes["/drip"] = drip
    fetcher = WebFetcher(allow_private_addresses=True, timeout=1)
    started = time.monotonic()
    with pytest.raises(FetchError, match="longer than 1 s"):
        fetcher.fetch(site.url("/drip"))
    assert time.monotonic() - started < 2.5


def test_type_that_is_not_text_fails(site: Site, fetcher: WebFetcher) -> None:
    site.routes["/image"] = respond(b"\x89PNG...", "image/png")
    with pytest.raises(FetchError, match="image/png"):
        fetcher.fetch(site.url("/image"))


def test_error_status_fails(site: Site, fetcher: WebFetcher) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        fetcher.fetch(site.url("/missing"))


def test_redirect_loop_stops_after_five_hops(site: Site, fetcher: WebFetcher) -> None:
    site.routes["/loop"] = redirect("/loop")
    with pytest.raises(FetchError, match="redirected more than 5 times"):
        fetcher.fetch(site.url("/loop"))
    assert site.paths() == ["/loop"] * 6


def test_unreachable_port_fails(fetcher: WebFetcher) -> None:
    closed = Site()
    url = closed.url("/")
    closed.close()
    with pytest.raises(FetchError, match="Could not connect"):
        fetcher.fetch(url)


# Links and crawling ---------------------------------------------------------------------------


def test_links_are_absolute_fragment_free_and_distinct() -> None:
    body = b"""<html><head><base href="/docs/"></head><body>
        <a href="intro">a</a> <a href="intro#part-2">b</a> <a href="/about">c</a>
        <a href="HTTPS://Example.COM:443/x">d</a> <a href="mailto:me@example.com">e</a>
        <a href="javascript:void(0)">f</a> <a href="#top">g</a> <a>no href</a>
        <map><area href="../map"></map> <a href="ftp://example.com/f">h</a>
    </body></html>"""
    page = FetchedPage("http://site.test/docs/index.html", 200, "text/html", body, "utf-8")

    assert extract_links(page) == [
        "http://site.test/docs/intro",
        "http://site.test/about",
        "https://example.com/x",
        "http://site.test/docs/",
        "http://site.test/map",
    ]


def test_page_that_is_not_html_has_no_links() -> None:
    page = FetchedPage("http://site.test/a.txt", 200, "text/plain", b'<a href="/b">', None)
    assert extract_links(page) == []


def _small_site(site: Site) -> None:
    site.routes["/"] = html(
        "/a", "/b", "/a#again", "http://elsewhere.invalid/x", "mailto:x@y.z", "/report.pdf"
    )
    site.routes["/a"] = html("/", "/c", "/b")  # cycles back to the start
    site.routes["/b"] = html("/a", "/notes", "/c", "/missing")
    site.routes["/c"] = html("/")
    site.routes["/notes"] = respond(b"plain text", "text/plain")


def test_crawl_visits_each_same_domain_html_page_once_breadth_first(
    site: Site, fetcher: WebFetcher
) -> None:
    _small_site(site)

    pages = list(crawl(fetcher, site.url("/"), max_pages=10))

    assert [page.url for page in pages] == [site.url(path) for path in ("/", "/a", "/b", "/c")]
    fetched = [path for path in site.paths() if path != "/robots.txt"]
    assert sorted(fetched) == sorted(["/", "/a", "/b", "/c", "/notes", "/missing"])


def test_crawl_stops_at_max_pages(site: Site, fetcher: WebFetcher) -> None:
    _small_site(site)
    pages = list(crawl(fetcher, site.url("/"), max_pages=2))
    assert [page.url for page in pages] == [site.url("/"), site.url("/a")]
    assert "/b" not in site.paths()


def test_crawl_follows_other_hosts_only_when_asked(site: Site, fetcher: WebFetcher) -> None:
    # 127.0.0.1 and localhost are the same server, but two hosts to the crawler.
    site.routes["/"] = html(site.url("/other", host="localhost"))
    site.routes["/other"] = html()

    same = list(crawl(fetcher, site.url("/"), max_pages=5))
    assert [page.url for page in same] == [site.url("/")]

    anywhere = list(crawl(fetcher, site.url("/"), max_pages=5, same_domain=False))
    assert [page.url for page in anywhere] == [site.url("/"), site.url("/other", host="localhost")]


def test_crawl_obeys_robots_txt_for_discovered_pages_only(site: Site, fetcher: WebFetcher) -> None:
    site.routes["/robots.txt"] = respond(b"User-agent: *\nDisallow: /private\n", "text/plain")
    site.routes["/private/start"] = html("/private/other", "/public")
    site.routes["/private/other"] = html()
    site.routes["/public"] = html()

    pages = list(crawl(fetcher, site.url("/private/start"), max_pages=5))

    assert [page.url for page in pages] == [site.url("/private/start"), site.url("/public")]
    assert "/private/other" not in site.paths()


def test_crawl_raises_when_the_start_page_fails(site: Site, fetcher: WebFetcher) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        list(crawl(fetcher, site.url("/missing"), max_pages=3))
    with pytest.raises(FetchRefused):
        list(crawl(WebFetcher(), site.url("/"), max_pages=3))


def test_crawl_skips_links_the_guard_refuses(site: Site) -> None:
    site.routes["/"] = html("http://169.254.169.254/latest/", "/a")
    site.routes["/a"] = html()
    fetcher = WebFetcher(allowed_networks=["127.0.0.1/32"])
    pages = list(crawl(fetcher, site.url("/"), max_pages=5, same_domain=False))
    assert [page.url for page in pages] == [site.url("/"), site.url("/a")]


# Sitemaps -------------------------------------------------------------------------------------

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def urlset(*urls: str) -> bytes:
    entries = "".join(f"<url><loc>{url}</loc><priority>0.5</priority></url>" for url in urls)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {NS}>{entries}</urlset>'.encode()


def sitemapindex(*urls: str) -> bytes:
    entries = "".join(f"<sitemap><loc>{url}</loc></sitemap>" for url in urls)
    return f"<sitemapindex {NS}>{entries}</sitemapindex>".encode()


def test_sitemap_lists_its_urls(site: Site, fetcher: WebFetcher) -> None:
    site.routes["/sitemap.xml"] = respond(
        urlset("https://example.com/a", " https://example.com/b#top ", "https://example.com/a"),
        "application/xml",
    )
    urls = read_sitemap(fetcher, site.url("/sitemap.xml"))
    assert urls == ["https://example.com/a", "https://example.com/b"]


def test_sitemap_index_is_followed_into_nested_and_gzip_sitemaps(
    site: Site, fetcher: WebFetcher
) -> None:
    site.routes["/index.xml"] = respond(
        sitemapindex(site.url("/one.xml"), site.url("/nested.xml"), site.url("/gone.xml")),
        "text/xml",
    )
    site.routes["/one.xml"] = respond(urlset("https://example.com/1"), "text/xml")
    site.routes["/nested.xml"] = respond(sitemapindex(site.url("/two.xml.gz")), "text/xml")
    site.routes["/two.xml.gz"] = respond(
        gzip.compress(urlset("https://example.com/2", "https://example.com/3")),
        "application/x-gzip",
    )

    urls = read_sitemap(fetcher, site.url("/index.xml"))

    assert urls == ["https://example.com/1", "https://example.com/2", "https://example.com/3"]


def test_sitemap_stops_at_max_urls(site: Site, fetcher: WebFetcher) -> None:
    many = [f"https://example.com/{n}" for n in range(20)]
    site.routes["/sitemap.xml"] = respond(urlset(*many), "application/xml")
    assert read_sitemap(fetcher, site.url("/sitemap.xml"), max_urls=5) == many[:5]


def test_text_sitemap_lists_one_url_a_line(site: Site, fetcher: WebFetcher) -> None:
    site.routes["/sitemap.txt"] = respond(
        b"https://example.com/a\n\nhttps://example.com/b\n", "text/plain"
    )
    urls = read_sitemap(fetcher, site.url("/sitemap.txt"))
    assert urls == ["https://example.com/a", "https://example.com/b"]


@pytest.mark.parametrize(
    "document",
    [
        # External entity (XXE): would read a local file into the sitemap.
        b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<urlset><url><loc>&xxe;</loc></url></urlset>",
        # Entity expansion ("billion laughs"): would exhaust memory.
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<urlset><url><loc>&lol2;</loc></url></urlset>",
    ],
    ids=["external-entity", "entity-expansion"],
)
def test_sitemap_with_a_dtd_is_refused(site: Site, fetcher: WebFetcher, document: bytes) -> None:
    site.routes["/sitemap.xml"] = respond(document, "application/xml")
    with pytest.raises(FetchError, match="not a valid sitemap"):
        read_sitemap(fetcher, site.url("/sitemap.xml"))


def test_document_that_is_not_a_sitemap_fails(site: Site, fetcher: WebFetcher) -> None:
    site.routes["/feed.xml"] = respond(b"<rss><channel/></rss>", "application/xml")
    with pytest.raises(FetchError, match="not a sitemap"):
        read_sitemap(fetcher, site.url("/feed.xml"))


def test_sitemap_on_a_private_address_is_refused(site: Site) -> None:
    site.routes["/sitemap.xml"] = respond(urlset("https://example.com/a"), "application/xml")
    with pytest.raises(FetchRefused):
        read_sitemap(WebFetcher(), site.url("/sitemap.xml"))
    assert site.requests == []
