"""Reading sitemaps: the URLs of a site, from ``urlset``, ``sitemapindex`` or plain text.

Sitemaps are XML from strangers, so they are parsed with defusedxml and any DTD is refused: a
sitemap never needs one, and entities are how XML attacks (external entities reading local files,
"billion laughs" exhausting memory) get in. Gzip is undone within the fetcher's size limit.
"""

from __future__ import annotations

import logging
from collections import deque
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree

from chatforge.errors import FetchError
from chatforge.providers.web.crawler import normalize_url
from chatforge.providers.web.fetcher import SITEMAP_TYPES, BoundedInflater, FetchedPage, WebFetcher

logger = logging.getLogger(__name__)

# A sitemap index may list sitemaps that are indexes again; the protocol allows one level, these
# bounds keep a hostile or broken site from sending the reader round in circles.
_MAX_DEPTH = 3
_MAX_SITEMAPS = 50


def read_sitemap(fetcher: WebFetcher, url: str, *, max_urls: int = 500) -> list[str]:
    """The page URLs a sitemap lists, following sitemap indexes.

    Args:
        fetcher: Fetches the sitemap and any nested ones, with its guard and bounds.
        url: The sitemap's URL (``.xml``, ``.xml.gz`` or a text file of URLs).
        max_urls: The most URLs returned; reading stops there.

    Returns:
        Distinct http(s) URLs in the order the sitemaps list them.

    Raises:
        FetchError: The first sitemap cannot be fetched or is not a sitemap (a nested one that
            fails is logged and skipped).
    """
    urls: dict[str, None] = {}
    pending: deque[tuple[str, int]] = deque([(url, 0)])
    visited: set[str] = set()
    while pending and len(urls) < max_urls and len(visited) < _MAX_SITEMAPS:
        sitemap_url, depth = pending.popleft()
        if sitemap_url in visited:
            continue
        visited.add(sitemap_url)
        try:
            page = fetcher.fetch(sitemap_url, accept=SITEMAP_TYPES)
            kind, locations = parse_sitemap(page, max_bytes=fetcher.max_bytes)
        except FetchError as exc:
            if depth == 0:
                raise
            logger.info("Skipped sitemap %s: %s", sitemap_url, exc.message)
            continue
        if kind == "sitemapindex":
            if depth < _MAX_DEPTH:
                pending.extend((location, depth + 1) for location in locations)
            continue
        for location in locations:
            urls[location] = None
            if len(urls) >= max_urls:
                break
    return list(urls)


def parse_sitemap(page: FetchedPage, *, max_bytes: int) -> tuple[str, list[str]]:
    """Parse one fetched sitemap.

    Args:
        page: The sitemap as fetched, gzip-compressed or not.
        max_bytes: The most bytes the sitemap may inflate to.

    Returns:
        ``("urlset", page URLs)`` or ``("sitemapindex", sitemap URLs)``; a text sitemap is a
        ``urlset``. URLs are normalized, and anything but http(s) is dropped.

    Raises:
        FetchError: The content is not a sitemap, or it declares a DTD.
    """
    data = page.body
    if data[:2] == b"\x1f\x8b":
        data = BoundedInflater(max_bytes, what=page.url).feed(data)
    text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"<"):
        lines = text.decode("utf-8", errors="replace").splitlines()
        return "urlset", _distinct(lines)
    try:
        root = defusedxml.ElementTree.fromstring(text, forbid_dtd=True)
    except (ParseError, defusedxml.DefusedXmlException) as exc:
        raise FetchError(f"{page.url} is not a valid sitemap: {type(exc).__name__}.") from exc
    kind = _local_name(root)
    if kind == "urlset":
        return kind, _distinct(_locations(root, "url"))
    if kind == "sitemapindex":
        return kind, _distinct(_locations(root, "sitemap"))
    raise FetchError(f"{page.url} is not a sitemap (its root element is <{kind}>).")


def _local_name(element: Element) -> str:
    # Sitemaps use the sitemaps.org namespace, but some omit it or use an old one.
    return element.tag.rpartition("}")[2]


def _locations(root: Element, entry: str) -> list[str]:
    return [
        (child.text or "")
        for item in root
        if _local_name(item) == entry
        for child in item
        if _local_name(child) == "loc"
    ]


def _distinct(candidates: list[str]) -> list[str]:
    urls = (normalize_url(candidate) for candidate in candidates if candidate.strip())
    return list(dict.fromkeys(url for url in urls if url is not None))
