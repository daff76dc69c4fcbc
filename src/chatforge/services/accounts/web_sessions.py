"""Signed-in browsers of the console: sessions kept on the server, CSRF tokens, login limits.

The cookie holds 32 random bytes; the database keeps only their SHA-256 (a stolen backup signs
no one in), the user, the expiry and the session's CSRF token. Signing in always makes a new
session (no fixation), signing out deletes it. Login attempts are counted per client address and
per email with the ``limits`` library, in the same store as the API's rate limits.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from chatforge.errors import RateLimited
from chatforge.services.accounts.users import Role, UserInfo, get_user
from chatforge.settings import ConsoleSettings, LimitSettings
from chatforge.storage.models import User, WebSession, utcnow


@dataclass(frozen=True)
class SignedIn:
    """Who a request's session belongs to."""

    user: UserInfo
    csrf_token: str

    @property
    def organization_id(self) -> str:
        return self.user.organization_id

    @property
    def role(self) -> Role:
        return self.user.role


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, user: UserInfo, settings: ConsoleSettings) -> str:
    """Open a session for a user who just signed in; the cookie's token (shown once)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    # Expired sessions of anyone go now: the table stays the size of the signed-in browsers.
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    session.add(
        WebSession(
            token_hash=_digest(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + timedelta(hours=settings.session_hours),
        )
    )
    session.commit()
    return token


def resolve(session: Session, token: str | None) -> SignedIn | None:
    """The signed-in user of a cookie's token, or None (no token, unknown, expired)."""
    if not token:
        return None
    row = session.scalar(
        select(WebSession)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == _digest(token), WebSession.expires_at > utcnow())
    )
    if row is None:
        return None
    return SignedIn(user=get_user(session, row.user_id), csrf_token=row.csrf_token)


def end(session: Session, token: str | None) -> None:
    """Sign out: the session's row is deleted, so the cookie is worth nothing from now on."""
    if token:
        session.execute(delete(WebSession).where(WebSession.token_hash == _digest(token)))
        session.commit()


def new_token() -> str:
    """A random token (the sign-in form's CSRF token, double-submitted with a cookie)."""
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str, given: str | None) -> bool:
    """Whether a request carries the session's CSRF token (compared in constant time)."""
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


class LoginThrottle:
    """Counts sign-in attempts per client address and per email; refuses past the limits."""

    def __init__(self, console: ConsoleSettings, limits: LimitSettings) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(storage_from_string(limits.storage_url))
        self._per_ip = parse(console.login_attempts_per_ip)
        self._per_email = parse(console.login_attempts_per_email)

    def hit(self, address: str, email: str) -> None:
        """Count one attempt; :class:`RateLimited` (429, Retry-After) when over a limit."""
        email_key = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        for item, name in ((self._per_ip, address), (self._per_email, email_key)):
            if not self._limiter.hit(item, "console-login", name):
                reset = self._limiter.get_window_stats(item, "console-login", name).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                raise RateLimited(
                    f"Too many sign-in attempts; try again in {wait} seconds.",
                    headers={"Retry-After": str(wait)},
                )
