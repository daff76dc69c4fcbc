"""Following links from a start page: breadth first, each URL once, bounded.

The crawl politely obeys ``robots.txt`` for the pages it *discovers*; the start URL was asked for
explicitly by a user and is fetched regardless, as a browser would.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from chatforge.errors import FetchError
from chatforge.providers.web.fetcher import FetchedPage, WebFetcher

logger = logging.getLogger(__name__)

# Links whose path ends so are not HTML; skipping them saves a fetch that would be thrown away.
_NOT_HTML = re.compile(
    r"\.(7z|avi|bmp|css|csv|docx?|exe|gif|gz|ico|jpe?g|js|json|mov|mp[34]|pdf|png|pptx?|rar|svg"
    r"|tar|tgz|webm|webp|woff2?|xlsx?|xml|zip)$",
    re.IGNORECASE,
)

# Failed or non-HTML fetches count too: without this a site of broken links would cost hours.
_FETCHES_PER_PAGE = 4


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if href is None:
            return
        if tag == "base" and self.base is None:
            self.base = href
        elif tag in ("a", "area"):
            self.hrefs.append(href)


def normalize_url(url: str) -> str | None:
    """Reduce a URL to the form that crawls and sitemaps compare.

    The scheme and host become lower-case; the fragment, a default port and any credentials go;
    an empty path becomes ``/``.

    Args:
        url: Any string.

    Returns:
        The normal form, or None for anything but a valid http(s) URL.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname  # already lower-case
    if scheme not in ("http", "https") or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def extract_links(page: FetchedPage) -> list[str]:
    """The http(s) links of an HTML page, absolute, without fragments, each once, in page order.

    Args:
        page: A fetched page; a page that is not HTML has no links.

    Returns:
        Normalized absolute URLs (see :func:`normalize_url`).
    """
    if not page.is_html:
        return []
    try:
        text = page.body.decode(page.encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = page.body.decode("utf-8", errors="replace")
    parser = _LinkParser()
    parser.feed(text)
    parser.close()
    base = urljoin(page.url, parser.base) if parser.base else page.url
    links: dict[str, None] = {}
    for href in parser.hrefs:
        link = normalize_url(urljoin(base, href.strip()))
        if link is not None:
            links[link] = None
    return list(links)


def _site(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


class _Robots:
    """``robots.txt`` of each origin a crawl meets, fetched once, through the same guard."""

    def __init__(self, fetcher: WebFetcher) -> None:
        self._fetcher = fetcher
        self._rules: dict[str, RobotFileParser | None] = {}

    def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._rules:
            self._rules[origin] = self._load(origin)
        rules = self._rules[origin]
        return rules is None or rules.can_fetch(self._fetcher.user_agent, url)

    def _load(self, origin: str) -> RobotFileParser | None:
        try:
            page = self._fetcher.fetch(f"{origin}/robots.txt", accept={"text/plain"})
        except FetchError:
            return None  # no readable robots.txt: everything is allowed, as for any crawler
        rules = RobotFileParser()
        rules.parse(page.body.decode("utf-8", errors="replace").splitlines())
        return rules


def crawl(
    fetcher: WebFetcher,
    start_url: str,
    *,
    max_pages: int,
    same_domain: bool = True,
    obey_robots: bool = True,
) -> Iterator[FetchedPage]:
    """Fetch a start page, then the pages it links to, breadth first.

    Each URL is fetched at most once (cycles end), and only HTML pages after the start one are
    yielded; a discovered page that fails is logged and skipped. At most ``4 * max_pages`` pages
    are fetched in all, so a site full of broken links ends the crawl early.

    Args:
        fetcher: Fetches every page, with its guard and bounds.
        start_url: The first page, yielded whatever its type (a PDF or text file too).
        max_pages: The most pages yielded, the start page included.
        same_domain: Follow only links to the start page's host (``www.`` ignored, and the host
            it redirected to included).
        obey_robots: Skip discovered pages that ``robots.txt`` disallows for our user agent.

    Yields:
        Fetched pages, the start page first.

    Raises:
        FetchError: The start page cannot be fetched (:class:`FetchRefused` when refused).
        ValueError: ``max_pages`` is less than 1.
    """
    if max_pages < 1:
        raise ValueError("max_pages must be at least 1")
    first = fetcher.fetch(start_url)
    yield first
    if max_pages == 1:
        return
    sites = {_site(start_url), _site(first.url)}
    robots = _Robots(fetcher) if obey_robots else None
    seen = {url for url in (normalize_url(start_url), normalize_url(first.url)) if url}
    queue: deque[str] = deque()

    def discover(page: FetchedPage) -> None:
        for link in extract_links(page):
            if link in seen:
                continue
            seen.add(link)
            if same_domain and _site(link) not in sites:
                continue
            if _NOT_HTML.search(urlsplit(link).path):
                continue
            queue.append(link)

    discover(first)
    yielded, fetches = 1, 1
    while queue and yielded < max_pages and fetches < _FETCHES_PER_PAGE * max_pages:
        url = queue.popleft()
        if robots is not None and not robots.allows(url):
            logger.info("robots.txt disallows %s; skipped", url)
            continue
        fetches += 1
        try:
            page = fetcher.fetch(url)
        except FetchError as exc:
            logger.info("Skipped %s: %s", url, exc.message)
            continue
        final = normalize_url(page.url)
        if final != url and final in seen:
            continue  # redirected to a page this crawl has or will have
        if final is not None:
            seen.add(final)
        if not page.is_html or (same_domain and _site(page.url) not in sites):
            continue
        yielded += 1
        yield page
        discover(page)
