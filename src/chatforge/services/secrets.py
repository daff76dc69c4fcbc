"""Encryption of secrets at rest (provider API keys stored per chatbot).

Fernet (AES-128-CBC with HMAC-SHA256) from ``cryptography``. The key comes from
``CHATFORGE_SECURITY__ENCRYPTION_KEY`` or is generated once into ``<data_dir>/secret.key`` with mode
0600, so that a copied database alone does not reveal the keys it holds.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from chatforge.errors import ChatforgeError
from chatforge.settings import Settings


class SecretBox:
    """Encrypts and decrypts short secrets."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        """Use the configured key, or the one in the data directory (made when missing)."""
        configured = settings.security.encryption_key
        if configured is not None:
            return cls(configured.get_secret_value().encode())
        return cls(_load_or_create_key(settings.data_dir.resolve() / "secret.key"))

    def encrypt(self, secret: str) -> str:
        """Encrypt a secret to a printable token."""
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str:
        """Decrypt a token made by :meth:`encrypt`."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ChatforgeError(
                "A stored secret cannot be decrypted: the encryption key changed."
            ) from exc


def mask_secret(secret: str) -> str:
    """A recognisable but useless form of a secret, e.g. ``sk-...wxyz``."""
    head = "sk-" if secret.startswith("sk-") else ""
    return f"{head}...{secret[-4:]}" if len(secret) > 8 else "..."


def _load_or_create_key(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # O_EXCL: two processes starting at once must not both write a key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key
