"""Fetching web pages for knowledge ingestion, guarded against server-side request forgery.

A URL source is fetched by :class:`WebFetcher`, its site followed by :func:`crawl` or listed by
:func:`read_sitemap`. Every connection, including each redirect hop, resolves the host once,
refuses it when any address is not public (unless an operator allows it), and connects to the
checked address itself. Main-content extraction happens later, in the parsers.
"""

from chatforge.providers.web.crawler import crawl, extract_links, normalize_url
from chatforge.providers.web.fetcher import (
    DEFAULT_USER_AGENT,
    HTML_TYPES,
    PAGE_TYPES,
    SITEMAP_TYPES,
    FetchedPage,
    WebFetcher,
)
from chatforge.providers.web.guard import AddressGuard, Resolver, non_public_reason, system_resolver
from chatforge.providers.web.sitemap import parse_sitemap, read_sitemap
from chatforge.providers.web.transport import PinnedTransport

__all__ = [
    "DEFAULT_USER_AGENT",
    "HTML_TYPES",
    "PAGE_TYPES",
    "SITEMAP_TYPES",
    "AddressGuard",
    "FetchedPage",
    "PinnedTransport",
    "Resolver",
    "WebFetcher",
    "crawl",
    "extract_links",
    "non_public_reason",
    "normalize_url",
    "parse_sitemap",
    "read_sitemap",
    "system_resolver",
]
