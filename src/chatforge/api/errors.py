"""The one place where errors become the API's error body (docs/api.md, "Conventions").

``{"error": {"code": "<snake_case>", "message": "<sentence>", "details": <optional>}}`` for every
failure: domain errors, validation, unknown routes, wrong methods, malformed JSON and crashes. A
crash is logged with its trace and answered with a generic 500; the trace never reaches the client.
A database that is too busy (SQLite's write lock held past the busy timeout, PostgreSQL out of
connections, no pooled connection free in time) is not a crash: it answers 503 ``service_busy``
with ``Retry-After``, and the client may send the same request again.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles

from chatforge.errors import ChatforgeError, ServiceBusy

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}

#: The methods a 405's ``Allow`` may list (``HEAD`` goes with ``GET``; CORS answers ``OPTIONS``).
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: Seconds a client is told to wait before it sends a request the busy database refused.
RETRY_AFTER_SECONDS = 1
_BUSY_MESSAGES = ("database is locked", "database is busy", "database table is locked")
# PostgreSQL's SQLSTATEs of a passing condition: too many connections, cannot connect now, lock
# not available, serialization failure, deadlock detected.
_BUSY_SQLSTATES = {"53300", "57P03", "55P03", "40001", "40P01"}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The API's error object."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An error as a JSON response."""
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "form"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _chatforge_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ChatforgeError)
    if exc.status >= 500:
        log.warning("%s: %s", exc.code, exc.message)
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def is_database_busy(exc: BaseException) -> bool:
    """Whether a database error says "busy, try again" rather than "broken"."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, OperationalError):
        return False
    if getattr(exc.orig, "sqlstate", None) in _BUSY_SQLSTATES:
        return True
    text = str(exc.orig).lower()
    return any(message in text for message in _BUSY_MESSAGES) or "too many clients" in text


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if not is_database_busy(exc):
        return await _unexpected_error(request, exc)
    busy = ServiceBusy(
        "The database is busy; send the request again in a moment.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
    log.warning("%s %s: database busy (%s)", request.method, request.url.path, type(exc).__name__)
    return error_response(busy.status, busy.code, busy.message, headers=busy.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "invalid_json", "The request body is not valid JSON.")
    content_type = request.headers.get("content-type", "")
    if (
        content_type
        and "json" not in content_type
        and any(tuple(e.get("loc", ())) == ("body",) and e.get("type") != "missing" for e in errors)
    ):
        # A body that was sent but not read as JSON: curl's -d without a content type.
        return error_response(
            415,
            "unsupported_media_type",
            "Send the body as JSON, with the header Content-Type: application/json "
            f"(this request's was {content_type}).",
        )
    details = [
        {"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg", "invalid"))}
        for e in errors
    ]
    fields = ", ".join(d["field"] for d in details)
    return error_response(422, "validation_error", f"Invalid request: check {fields}.", details)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error" if exc.status_code < 500 else "internal_error")
    headers = getattr(exc, "headers", None)
    if exc.status_code == 404:
        message = "Not found."
    elif exc.status_code == 405:
        message = "This method is not allowed on this path."
        headers = {**(headers or {}), "Allow": _allowed_methods(request)}
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, code, message, headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path, ``HEAD`` with ``GET``
    (:mod:`chatforge.api.head`).

    Starlette's 405 names only the methods of the first route that matched the path, while
    FastAPI makes one route per method (and may group a router's routes under one entry of
    ``app.routes``): each method is tried on every route instead. Static files answer their
    own 405, without the header.
    """
    if isinstance(request.scope.get("endpoint"), StaticFiles):  # the mount that refused it
        return "GET, HEAD"
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Mount):  # a mounted app answers its own 405s
            continue
        methods.update(
            method
            for method in _METHODS
            if route.matches({**request.scope, "method": method})[0] is Match.FULL
        )
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "Something went wrong on our side.")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(ChatforgeError, _chatforge_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(PoolTimeout, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)
