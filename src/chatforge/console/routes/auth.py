"""Sign in, sign out, and the console's home (``/console/``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from chatforge.console.web import (
    LOGIN_CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    ActorDep,
    ContextDep,
    DbDep,
    UserDep,
    redirect,
    render,
)
from chatforge.errors import RateLimited
from chatforge.services.accounts import users, web_sessions
from chatforge.services.accounts.web_sessions import LoginThrottle

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: UserDep) -> Response:
    return redirect(request, "/chatbots" if user.role == "owner" else "/inbox")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "") -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or web_sessions.new_token()
    response = render(request, "login.html", csrf_token=token, next=next, email="", error=None)
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    ctx: ContextDep,
    db: DbDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie or not web_sessions.csrf_matches(cookie, csrf_token):
        return render(
            request, "login.html", 403, csrf_token=cookie or "", next=next, email=email,
            error="This form expired. Reload the page and sign in again.",
        )  # fmt: skip
    throttle: LoginThrottle = request.app.state.login_throttle
    try:
        throttle.hit(_client_address(request, ctx.settings.limits.trust_forwarded_for), email)
    except RateLimited as exc:
        response = render(
            request, "login.html", 429, csrf_token=cookie, next=next, email=email,
            error=exc.message,
        )  # fmt: skip
        response.headers.update(exc.headers)
        return response
    # argon2 takes tens of milliseconds of CPU: off the event loop.
    user = await run_in_threadpool(users.authenticate, db, email, password)
    if user is None:
        return render(
            request, "login.html", 401, csrf_token=cookie, next=next, email=email,
            error="Wrong email or password.",
        )  # fmt: skip
    token = web_sessions.start(db, user, ctx.settings.console)
    target = next if next.startswith(f"{PREFIX}/") and "//" not in next else f"{PREFIX}/"
    response = HTMLResponse("", status_code=303, headers={"Location": target})
    _set_cookie(
        request, response, SESSION_COOKIE, token, max_age=ctx.settings.console.session_hours * 3600
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


@router.post("/logout", response_class=HTMLResponse)
def logout(request: Request, db: DbDep, _user: ActorDep) -> Response:
    web_sessions.end(db, request.cookies.get(SESSION_COOKIE))
    response = redirect(request, "/login")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=bool(request.app.state.secure_cookies),
    )


def _client_address(request: Request, trust_forwarded_for: bool) -> str:
    forwarded = request.headers.get("x-forwarded-for") if trust_forwarded_for else None
    if forwarded:
        return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"
