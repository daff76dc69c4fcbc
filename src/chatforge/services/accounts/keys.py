"""Organizations and their API keys.

A key is 48 lowercase hex characters (192 random bits, like okchat's). Only its SHA-256 is stored:
with that much entropy a fast hash is safe, and it lets every request authenticate with one indexed
lookup. The key is shown once, when made.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from chatforge.errors import BadRequest, NotFound, Unauthorized
from chatforge.storage.db import Database
from chatforge.storage.models import ApiKey, Organization, utcnow

log = logging.getLogger(__name__)

KEY_PREFIX_LENGTH = 8


@dataclass(frozen=True)
class CreatedKey:
    """A new key: the only moment its clear text exists."""

    key: str
    prefix: str
    organization_id: str
    organization_name: str


@dataclass(frozen=True)
class KeyInfo:
    """What can be shown about a stored key."""

    prefix: str
    organization_name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def get_or_create_organization(session: Session, name: str) -> Organization:
    """The organization called ``name``, made when new."""
    name = name.strip()
    if not name:
        raise BadRequest("An organization needs a name.")
    org = session.scalar(select(Organization).where(Organization.name == name))
    if org is None:
        org = Organization(name=name)
        session.add(org)
        session.flush()
    return org


def create_key(session: Session, organization_name: str) -> CreatedKey:
    """Make a key for an organization (made too when new) and return it in clear, once."""
    org = get_or_create_organization(session, organization_name)
    key = secrets.token_hex(24)
    session.add(
        ApiKey(organization_id=org.id, prefix=key[:KEY_PREFIX_LENGTH], key_hash=hash_key(key))
    )
    session.commit()
    return CreatedKey(
        key=key, prefix=key[:KEY_PREFIX_LENGTH], organization_id=org.id, organization_name=org.name
    )


def list_keys(session: Session) -> list[KeyInfo]:
    """Every key of every organization, newest first (for the operator's CLI)."""
    rows = session.execute(
        select(ApiKey, Organization.name)
        .join(Organization, Organization.id == ApiKey.organization_id)
        .order_by(ApiKey.created_at.desc())
    )
    return [
        KeyInfo(key.prefix, org_name, key.created_at, key.last_used_at, key.revoked_at)
        for key, org_name in rows
    ]


def revoke_key(session: Session, prefix: str) -> KeyInfo:
    """Revoke the one active key that starts with ``prefix``."""
    prefix = prefix.strip().lower()
    if len(prefix) < 4:
        raise BadRequest("Give at least the first 4 characters of the key.")
    query = select(ApiKey).where(ApiKey.revoked_at.is_(None))
    if len(prefix) == 48:
        query = query.where(ApiKey.key_hash == hash_key(prefix))
    else:
        query = query.where(ApiKey.prefix.startswith(prefix[:KEY_PREFIX_LENGTH]))
    matches = list(session.scalars(query))
    if not matches:
        raise NotFound(f"No active key starts with {prefix!r}.")
    if len(matches) > 1:
        raise BadRequest(f"{len(matches)} keys start with {prefix!r}; give more characters.")
    key = matches[0]
    key.revoked_at = utcnow()
    org_name = session.get_one(Organization, key.organization_id).name
    session.commit()
    return KeyInfo(key.prefix, org_name, key.created_at, key.last_used_at, key.revoked_at)


def authenticate(db: Database, key: str | None) -> str:
    """The organization id of an active key; raises :class:`Unauthorized` otherwise.

    The lookup reads through the read engine: on SQLite it never queues for the write lock, which
    is written at most once a minute per key (``last_used_at``).
    """
    if not key:
        raise Unauthorized(
            "Missing API key: send it in the x-api-key header, or as Authorization: Bearer <key>."
        )
    with db.reader().connect() as conn:
        row = conn.execute(
            select(ApiKey.id, ApiKey.organization_id, ApiKey.last_used_at).where(
                ApiKey.key_hash == hash_key(key.strip()), ApiKey.revoked_at.is_(None)
            )
        ).first()
    if row is None:
        raise Unauthorized("Invalid or revoked API key.")
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        try:
            with db.engine.begin() as conn:
                conn.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
        except OperationalError:  # the write lock is busy (a long ingestion): note use later
            log.info("last_used_at of a key not recorded: the database is busy")
    return str(row.organization_id)


def has_any_organization(session: Session) -> bool:
    """Whether the database holds any organization yet (false on a first start)."""
    return bool(session.scalar(select(func.count()).select_from(Organization)))
