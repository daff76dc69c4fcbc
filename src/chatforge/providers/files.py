"""File storage: uploads, avatars and recordings live behind one small interface.

:class:`LocalFileStore` keeps files under a directory; an S3-compatible store implements the same
four methods. Keys are relative, slash-separated paths chosen by the services
(``avatars/chatbot/<id>/<uuid>.png``); a key can never escape the store's root.
"""

from __future__ import annotations

import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from chatforge.errors import BadRequest, NotFound


class FileStore(ABC):
    """Where Chatforge keeps file bytes."""

    @abstractmethod
    def put(self, key: str, source: Path) -> None:
        """Store the file at ``source`` under ``key`` (moving it when possible)."""

    @abstractmethod
    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """Open a stored file for reading; raises :class:`NotFound` when absent."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete one file; deleting a missing file is not an error."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Delete every file whose key starts with ``prefix`` (a folder)."""

    def local_path(self, key: str) -> Path | None:
        """The file's path on this machine when the store is local, else None."""
        return None


class LocalFileStore(FileStore):
    """Files in a local directory."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        # A key is a relative path of plain names: no "..", ".", empty part, backslash or drive.
        parts = key.split("/")
        if (
            not key
            or "\\" in key
            or ":" in key
            or "\x00" in key
            or any(part in ("", ".", "..") for part in parts)
        ):
            raise BadRequest("Invalid file key.")
        path = (self.root / key).resolve()
        # A key is chosen by services, but never trust it to stay inside the root.
        if not path.is_relative_to(self.root) or path == self.root:
            raise BadRequest("Invalid file key.")
        return path

    def put(self, key: str, source: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
        # Durable before the API answers: the caller was promised nothing is lost after a 200.
        fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        path = self._path(key)
        if not path.is_file():
            raise NotFound("File not found.")
        with path.open("rb") as handle:
            yield handle

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        path = self._path(prefix.rstrip("/"))
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None
