"""Public files: a chatbot's live avatar, found by its exact stored key and nothing else.

A request's path is never joined onto the file store: it is matched whole against the form of an
avatar key, and served only when it is the key a chatbot holds now. Knowledge files, replaced or
cleared avatars and anything a path trick could reach are 404.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from chatforge.errors import NotFound
from chatforge.services.context import AppContext
from chatforge.storage.models import Chatbot

_AVATAR_KEY = re.compile(
    r"avatars/chatbot/(?P<chatbot>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(?:png|jpg|webp|gif)"
)


def public_file(ctx: AppContext, key: str) -> Path:
    """The local path of the public file stored under ``key``.

    Raises:
        NotFound: ``key`` is not the current avatar of a chatbot (or the file is gone).
    """
    match = _AVATAR_KEY.fullmatch(key)
    if match is None:
        raise NotFound("File not found.")
    with ctx.db.reader().connect() as conn:
        stored = conn.execute(
            select(Chatbot.avatar_key).where(Chatbot.id == match["chatbot"])
        ).scalar_one_or_none()
    if stored != key:
        raise NotFound("File not found.")
    path = ctx.files.local_path(stored)
    if path is None:
        raise NotFound("File not found.")
    return path
