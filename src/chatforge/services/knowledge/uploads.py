"""Receiving uploads: streamed to disk under a size limit, never held whole in memory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from chatforge.errors import PayloadTooLarge

_CHUNK = 1024 * 1024


def save_upload(source: BinaryIO, *, directory: Path, max_bytes: int, what: str = "file") -> Path:
    """Copy ``source`` into a new file in ``directory``; :class:`PayloadTooLarge` past the limit."""
    fd, name = tempfile.mkstemp(dir=directory, prefix="upload-")
    path = Path(name)
    size = 0
    try:
        with os.fdopen(fd, "wb") as target:
            while block := source.read(_CHUNK):
                size += len(block)
                if size > max_bytes:
                    raise PayloadTooLarge(
                        f"The {what} is larger than the limit of {max_bytes:,} bytes."
                    )
                target.write(block)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
