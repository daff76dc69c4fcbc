"""What every console page shares: templates, the signed-in user, CSRF, the database session.

Pages are rendered on the server with Jinja2 (autoescaped); htmx, vendored under ``static/``,
swaps the live parts. A page needs a signed-in user (else it redirects to the sign-in page);
every POST needs the session's CSRF token, in the ``csrf_token`` form field or the
``X-CSRF-Token`` header that htmx sends (else 403).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from chatforge.services.accounts import web_sessions
from chatforge.services.accounts.web_sessions import SignedIn
from chatforge.services.context import AppContext

PREFIX = "/console"
SESSION_COOKIE = "chatforge_console"
LOGIN_CSRF_COOKIE = "chatforge_console_login"
HERE = Path(__file__).parent
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
_CITATION = re.compile(r"\[(\d+)\]")


class SignInRequired(Exception):
    """The request has no valid session: the browser goes to the sign-in page."""


class CsrfRefused(Exception):
    """A POST without the session's CSRF token (403)."""


class OwnersOnly(Exception):
    """An agent asked for a page of owners (403)."""


def make_templates() -> Environment:
    """The Jinja2 environment of the console's templates (HTML autoescaped)."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ago"] = ago
    env.filters["color"] = color
    env.filters["cited"] = cited
    env.filters["visitor"] = visitor
    env.globals["prefix"] = PREFIX
    return env


def ago(when: datetime | None) -> str:
    """``3 min ago``: a time as a person reads it in a list."""
    if when is None:
        return "never"
    seconds = int((datetime.now(UTC) - when).total_seconds())
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def color(value: object, default: str = "#4F46E5") -> str:
    """A ``#rrggbb`` colour fit for a style attribute; ``default`` for anything else."""
    text = str(value or "")
    return text if _COLOR.fullmatch(text) else default


def cited(message: Any) -> list[dict[str, Any]]:
    """The sources a stored answer cites by ``[n]``, in order: what the visitor was shown."""
    sources = (getattr(message, "meta", None) or {}).get("sources") or []
    refs = {int(n) for n in _CITATION.findall(str(getattr(message, "content", "") or ""))}
    return [s for s in sources if isinstance(s, dict) and s.get("ref") in refs]


def visitor(conversation: Any) -> str:
    """How the console names a conversation's visitor: their email when they left one, else the
    id the caller's system knows them by (an API's ``session_token``, an OpenAI request's
    ``user``), else ``Visitor`` and the start of the conversation's id (a widget visitor's id
    is a random token, of no use to a person)."""
    email = getattr(conversation, "email", None)
    known = str(getattr(conversation, "sns_user_id", None) or "")
    if email:
        return str(email)
    if known and not known.startswith("visitor-") and len(known) <= 64:
        return known
    return f"Visitor {str(conversation.id)[:8]}"


def get_context(request: Request) -> AppContext:
    """The app's wired context."""
    ctx: AppContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[AppContext, Depends(get_context)]


def get_db(ctx: ContextDep, request: Request) -> Iterator[Session]:
    """One database session per request; a read-only one for GET."""
    with ctx.db.request_sessions(read_only=request.method in ("GET", "HEAD"))() as session:
        yield session


DbDep = Annotated[Session, Depends(get_db)]


def get_signed_in(request: Request, ctx: ContextDep) -> SignedIn:
    """The signed-in user of the request's cookie; :class:`SignInRequired` otherwise.

    Read in a short read-only session of its own: a POST's own session must not hold SQLite's
    write lock while the route calls services that open their own transactions (chat).
    """
    with ctx.db.request_sessions(read_only=True)() as db:
        signed_in = web_sessions.resolve(db, request.cookies.get(SESSION_COOKIE))
    if signed_in is None:
        raise SignInRequired
    request.state.signed_in = signed_in
    return signed_in


UserDep = Annotated[SignedIn, Depends(get_signed_in)]


async def check_csrf(request: Request, user: UserDep) -> SignedIn:
    """A POST's CSRF token must be the session's: header first, else the form field."""
    given = request.headers.get("x-csrf-token")
    if given is None:
        form = await request.form()  # parsed once; the route reads the same form
        field = form.get("csrf_token")
        given = field if isinstance(field, str) else None
    if not web_sessions.csrf_matches(user.csrf_token, given):
        raise CsrfRefused
    return user


ActorDep = Annotated[SignedIn, Depends(check_csrf)]
"""A signed-in user whose POST carried the CSRF token."""


def require_owner(user: UserDep) -> SignedIn:
    """Owners only: an agent gets 403."""
    if user.role != "owner":
        raise OwnersOnly
    return user


OwnerDep = Annotated[SignedIn, Depends(require_owner)]


async def owner_actor(user: ActorDep) -> SignedIn:
    """An owner whose POST carried the CSRF token."""
    return require_owner(user)


OwnerActorDep = Annotated[SignedIn, Depends(owner_actor)]


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a template with the signed-in user (if any) and the request."""
    env: Environment = request.app.state.templates
    user = getattr(request.state, "signed_in", None)
    html = env.get_template(name).render(request=request, user=user, **context)
    return HTMLResponse(html, status_code=status_code)


def redirect(request: Request, path: str) -> HTMLResponse:
    """Go to a console page: 303 for a form, ``HX-Redirect`` for htmx."""
    url = f"{PREFIX}{path}"
    if request.headers.get("hx-request"):
        return HTMLResponse("", headers={"HX-Redirect": url})
    return HTMLResponse("", status_code=303, headers={"Location": url})


def page_of(value: str | None) -> int:
    """A page number from a query string (1 for anything that is not one)."""
    try:
        return max(1, min(int(value or 1), 1_000_000))
    except ValueError:
        return 1
