"""The chat widget's files: ``widget.js`` (served at ``/widget.js``) and the hosted chat page.

The script is hand-written, dependency-free JavaScript shipped in the package: nothing is built
or downloaded to install or run Chatforge. It is read once per process; its ETag is a hash of its
bytes, so a new release is picked up by every browser at its next revalidation.
"""

from __future__ import annotations

import gzip
import hashlib
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

__all__ = [
    "WidgetScript",
    "chat_page",
    "frame_ancestors",
    "new_nonce",
    "not_found_page",
    "widget_script",
]

_HERE = Path(__file__).parent


@dataclass(frozen=True)
class WidgetScript:
    """``widget.js`` as served: its bytes, gzipped bytes and ETag."""

    body: bytes
    gzipped: bytes
    etag: str

    @property
    def version(self) -> str:
        """A short version string for cache-busting URLs (``/widget.js?v=...``)."""
        return self.etag.strip('"')[:12]


@cache
def widget_script() -> WidgetScript:
    """The widget script, read and compressed once per process."""
    body = (_HERE / "widget.js").read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:32]
    return WidgetScript(body=body, gzipped=gzip.compress(body, 9, mtime=0), etag=f'"{digest}"')


@cache
def _templates() -> Environment:
    # Autoescape on: a chatbot's name, slogan and greeting are the customer's text and may hold
    # HTML; in the page they are text only.
    return Environment(
        loader=FileSystemLoader(_HERE),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def new_nonce() -> str:
    """A fresh CSP nonce for one page."""
    return secrets.token_urlsafe(16)


def chat_page(**context: Any) -> str:
    """The hosted chat page (``chat.html``) rendered with ``context``."""
    return _templates().get_template("chat.html").render(**context)


def not_found_page(**context: Any) -> str:
    """The friendly page for a chatbot that does not exist or is not public."""
    return _templates().get_template("not_found.html").render(**context)


def frame_ancestors(allowed_origins: tuple[str, ...]) -> str:
    """CSP ``frame-ancestors`` for the hosted page: the chatbot's allowed origins and Chatforge
    itself (the console's preview), or any site when the chatbot allows any origin."""
    if not allowed_origins:
        return "*"
    return " ".join(["'self'", *allowed_origins])
