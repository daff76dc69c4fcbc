"""People who sign in to the console: create, authenticate, list and remove.

A user belongs to one organization with a role: ``owner`` (everything) or ``agent`` (the
conversations only). Passwords are hashed with argon2id (argon2-cffi's defaults); emails are
unique on the server and kept in lower case, so that signing in names no organization.
"""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chatforge.errors import BadRequest, Conflict, NotFound, ValidationFailed
from chatforge.services.accounts import keys
from chatforge.storage.models import Organization, User, WebSession, utcnow

Role = Literal["owner", "agent"]
ROLES: tuple[Role, ...] = ("owner", "agent")
MIN_PASSWORD_LENGTH = 10
#: A plain address: no quotes, spaces or markup, whatever a mail server might accept.
_EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+")

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so that both cases take the same time."""
    return _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class UserInfo:
    """What the console shows about a user (never the hash)."""

    id: str
    email: str
    role: Role
    organization_id: str
    organization_name: str
    created_at: datetime
    last_login_at: datetime | None


def normalize_email(email: str) -> str:
    """The stored form of an email: trimmed, lower case; :class:`ValidationFailed` if not one."""
    email = email.strip().lower()
    if len(email) > 320 or not _EMAIL.fullmatch(email):
        raise ValidationFailed(
            "Give a valid email address.",
            details=[{"field": "email", "message": "not a valid email address"}],
        )
    return email


def check_password(password: str) -> None:
    """Refuse a password too short to resist guessing (422)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"The password needs at least {MIN_PASSWORD_LENGTH} characters.",
            details=[{"field": "password", "message": "too short"}],
        )


def create_user(
    session: Session, organization_name: str, email: str, password: str, role: Role = "agent"
) -> UserInfo:
    """Make a user in an organization (made too when new).

    Raises:
        ValidationFailed: the email, password or role is not acceptable.
        Conflict: a user with this email exists.
    """
    if role not in ROLES:
        raise ValidationFailed(
            "The role is owner or agent.", details=[{"field": "role", "message": "unknown"}]
        )
    email = normalize_email(email)
    check_password(password)
    org = keys.get_or_create_organization(session, organization_name)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"A user with the email {email} exists.")
    user = User(
        organization_id=org.id, email=email, password_hash=_hasher.hash(password), role=role
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError as exc:  # a concurrent create of the same email
        session.rollback()
        raise Conflict(f"A user with the email {email} exists.") from exc
    return _info(user, org.name)


def create_first_owner(session: Session, organization_name: str, email: str) -> str:
    """Make the first owner of a new server with a random password; the password, once."""
    password = secrets.token_urlsafe(12)
    create_user(session, organization_name, email, password, "owner")
    return password


def set_password(session: Session, email: str, password: str) -> UserInfo:
    """Give a user a new password and end their console sessions, so that whoever held the old
    one is signed out everywhere.

    Raises:
        ValidationFailed: the password is too short.
        NotFound: no user has this email.
    """
    check_password(password)
    email = normalize_email(email)
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        raise NotFound(f"No user has the email {email}; see chatforge users list --org NAME.")
    user.password_hash = _hasher.hash(password)
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    org_name = session.get_one(Organization, user.organization_id).name
    session.commit()
    return _info(user, org_name)


def authenticate(session: Session, email: str, password: str) -> UserInfo | None:
    """The user whose email and password these are, or None. Takes the same time either way."""
    email = email.strip().lower()
    user = session.scalar(select(User).where(User.email == email))
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    org_name = session.get_one(Organization, user.organization_id).name
    session.commit()
    return _info(user, org_name)


def get_user(session: Session, user_id: str) -> UserInfo:
    """One user by id; :class:`NotFound` otherwise."""
    row = session.execute(
        select(User, Organization.name)
        .join(Organization, Organization.id == User.organization_id)
        .where(User.id == user_id)
    ).first()
    if row is None:
        raise NotFound("User not found.")
    return _info(row[0], row[1])


def list_users(session: Session, organization_id: str) -> list[UserInfo]:
    """The organization's users, by email."""
    rows = session.execute(
        select(User, Organization.name)
        .join(Organization, Organization.id == User.organization_id)
        .where(User.organization_id == organization_id)
        .order_by(User.email)
    )
    return [_info(user, name) for user, name in rows]


def find_organization_users(session: Session, organization_name: str) -> list[UserInfo]:
    """The users of the organization of this name (none when it does not exist)."""
    org_id = session.scalar(select(Organization.id).where(Organization.name == organization_name))
    return list_users(session, org_id) if org_id else []


def remove_user(session: Session, organization_id: str, user_id: str, acting_user_id: str) -> str:
    """Remove a user of the organization (signed out at once); the removed email.

    Raises:
        NotFound: no such user in the organization.
        BadRequest: the user is the one acting (an owner cannot remove themselves).
    """
    user = session.scalar(
        select(User).where(User.id == user_id, User.organization_id == organization_id)
    )
    if user is None:
        raise NotFound("User not found.")
    if user.id == acting_user_id:
        raise BadRequest("You cannot remove yourself; another owner can.")
    email = user.email
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.delete(user)
    session.commit()
    return email


def has_any_user(session: Session) -> bool:
    """Whether any user exists on this server."""
    return bool(session.scalar(select(func.count()).select_from(User)))


def _info(user: User, organization_name: str) -> UserInfo:
    role: Role = "owner" if user.role == "owner" else "agent"
    return UserInfo(
        id=user.id,
        email=user.email,
        role=role,
        organization_id=user.organization_id,
        organization_name=organization_name,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )
