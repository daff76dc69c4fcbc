"""The console as an application of its own, mounted under ``/console`` by ``create_app``.

A sub-application has its own error handlers: console pages answer errors as pages (or, for
htmx, as a message in the page's flash area), while the API keeps its JSON error body.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from chatforge.console.routes import (
    appearance,
    auth,
    chatbots,
    inbox,
    insights,
    keys,
    knowledge,
    people,
    playground,
)
from chatforge.console.web import (
    HERE,
    PREFIX,
    CsrfRefused,
    OwnersOnly,
    SignInRequired,
    make_templates,
    render,
)
from chatforge.errors import ChatforgeError
from chatforge.services.accounts.web_sessions import LoginThrottle
from chatforge.services.context import AppContext


def create_console(ctx: AppContext) -> FastAPI:
    """The console application for one wired context."""
    console = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    console.state.ctx = ctx
    console.state.templates = make_templates()
    console.state.login_throttle = LoginThrottle(ctx.settings.console, ctx.settings.limits)
    console.state.secure_cookies = ctx.public_base_url.startswith("https://")
    console.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (
        auth,
        chatbots,
        knowledge,
        playground,
        appearance,
        inbox,
        insights,
        keys,
        people,
    ):
        console.include_router(module.router)
    console.add_exception_handler(SignInRequired, _sign_in)
    console.add_exception_handler(CsrfRefused, _csrf_refused)
    console.add_exception_handler(OwnersOnly, _owners_only)
    console.add_exception_handler(ChatforgeError, _chatforge_error)
    console.add_exception_handler(StarletteHTTPException, _http_error)
    console.add_exception_handler(RequestValidationError, _invalid)

    @console.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        # Pages are never framed (clickjacking) nor cached (they show private data).
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith(f"{PREFIX}/static"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return console


def _error(request: Request, status: int, title: str, message: str) -> Response:
    if request.headers.get("hx-request"):
        # htmx shows it in the page's flash area (see base.html's htmx-config).
        response = render(request, "_flash.html", status, kind="error", message=message)
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return render(request, "error.html", status_code=status, title=title, message=message)


async def _sign_in(request: Request, _exc: Exception) -> Response:
    target = f"{PREFIX}/login"
    if request.method == "GET" and request.url.path not in (PREFIX, f"{PREFIX}/"):
        target += f"?next={request.url.path}"
    if request.headers.get("hx-request"):
        return HTMLResponse("", headers={"HX-Redirect": target})
    return HTMLResponse("", status_code=303, headers={"Location": target})


async def _csrf_refused(request: Request, _exc: Exception) -> Response:
    return _error(
        request,
        403,
        "Request refused",
        "This form was missing its security token. Reload the page and try again.",
    )


async def _owners_only(request: Request, _exc: Exception) -> Response:
    return _error(
        request, 403, "Owners only", "Only an owner of the organization can open this page."
    )


async def _chatforge_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ChatforgeError)
    titles = {404: "Not found", 429: "Slow down", 413: "Too large"}
    response = _error(
        request, exc.status, titles.get(exc.status, "Something went wrong"), exc.message
    )
    response.headers.update(exc.headers)
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return _error(request, 404, "Not found", "There is no such page in the console.")
    response = _error(request, exc.status_code, "Something went wrong", str(exc.detail))
    response.headers.update(exc.headers or {})  # a 405's Allow
    return response


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = ", ".join(str(e["loc"][-1]) for e in exc.errors() if e.get("loc"))
    return _error(request, 422, "Check the form", f"Check these fields: {fields}.")


def install_console(app: FastAPI, ctx: AppContext) -> None:
    """Mount the console under ``/console`` and send ``/`` there."""

    async def root() -> Response:
        return HTMLResponse("", status_code=307, headers={"Location": f"{PREFIX}/"})

    favicon_svg = (HERE / "static" / "favicon.svg").read_bytes()

    async def favicon() -> Response:
        # Browsers ask for /favicon.ico on every site, whatever a page links; the ◆ mark.
        return Response(
            favicon_svg,
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.add_api_route("/", root, methods=["GET"], include_in_schema=False)
    app.add_api_route("/favicon.ico", favicon, methods=["GET"], include_in_schema=False)
    app.mount(PREFIX, create_console(ctx))
