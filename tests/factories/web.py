"""A real HTTP server on a loopback address, serving the pages and redirects a test sets.

URL sources are fetched over real sockets: the server records every request, so a test can tell
that a refused address was never connected to, and which pages a crawl really visited.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up breaks the pipe; not the test's concern


class Site:
    """Routes (path -> status, headers, body) and the paths requested, in order."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.port = 0
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()

    def url(self, path: str = "/", host: str | None = None) -> str:
        """The absolute URL of ``path``, optionally through another name of the host."""
        return f"http://{host or self.host}:{self.port}{path}"

    def page(
        self, path: str, title: str, paragraphs: Sequence[str], links: Sequence[str] = ()
    ) -> None:
        """Serve an HTML article at ``path`` with the given links under it."""
        body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        anchors = "".join(f"<li><a href='{html.escape(href)}'>{href}</a></li>" for href in links)
        document = (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title></head><body><main><article>"
            f"<h1>{html.escape(title)}</h1>{body}</article></main><ul>{anchors}</ul></body></html>"
        )
        self.routes[path] = (200, {"content-type": "text/html; charset=utf-8"}, document.encode())

    def sitemap(self, path: str, urls: Sequence[str]) -> None:
        """Serve an XML sitemap listing ``urls``."""
        entries = "".join(f"<url><loc>{html.escape(u)}</loc></url>" for u in urls)
        document = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
        )
        self.routes[path] = (200, {"content-type": "application/xml"}, document.encode())

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        """Answer ``path`` with a redirect to ``location``."""
        self.routes[path] = (status, {"location": location}, b"")

    def visited(self, path: str) -> bool:
        """Whether any request reached ``path``."""
        with self.lock:
            return path in self.requests


@contextmanager
def serve_site(host: str = "127.0.0.1") -> Iterator[Site]:
    """Run a :class:`Site` on a free port of ``host`` until the block ends."""
    site = Site(host)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with site.lock:
                site.requests.append(self.path)
            status, headers, body = site.routes.get(
                self.path, (404, {"content-type": "text/plain"}, b"not found")
            )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _QuietServer((host, 0), Handler)
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
