"""The OpenAPI document, made to tell the whole truth about each operation.

FastAPI documents what a route declares. Some answers come from layers every request crosses
instead: the rate limits (429), the body limits (413, and 400 for a body that is not JSON), a busy
database (503), and HTTP itself (405 with ``Allow``). They are added here, once, to every
operation they can reach, so that a client generated from ``/openapi.json`` expects them.
``tests/api/test_openapi_truth.py`` runs schemathesis against the running API to keep it so.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["install_openapi", "required_query"]

_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}

#: Answers any operation can give, whatever it declares.
EVERYWHERE = {
    "429": "Too many requests from this key or address; wait `Retry-After` seconds.",
    "503": "The database is busy or the service is starting; retry after `Retry-After` seconds.",
}
#: Answers of any operation that reads a request body.
WITH_BODY = {
    "400": "The body could not be read (not JSON, or a malformed form).",
    "413": "The body is larger than CHATFORGE_LIMITS__MAX_BODY_BYTES.",
}

#: The OpenAI-compatible API's own refusals.
OPENAI = {
    "400": "Invalid request (OpenAI's invalid_request_error).",
    "401": "Missing or unknown API key.",
    "404": "No chatbot of this organization has this id or slug.",
}

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


_REQUIRED = "x-chatforge-required-query"


def required_query(*names: str) -> dict[str, Any]:
    """A route's ``openapi_extra`` for query parameters it must have but checks itself, to answer
    its own 400 (okchat's ``?id`` of the knowledge-base routes) rather than FastAPI's 422."""
    return {_REQUIRED: list(names)}


def _require(operation: dict[str, Any]) -> None:
    names = operation.pop(_REQUIRED, None)
    if not names:
        return
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "query" and parameter.get("name") in names:
            parameter["required"] = True
            title = parameter.get("schema", {}).get("title")
            parameter["schema"] = {"type": "string", "minLength": 1, "title": title}
    _add(operation, "400", f"Missing query parameter: {', '.join(names)}.")


def _add(operation: dict[str, Any], status: str, description: str) -> None:
    responses = operation.setdefault("responses", {})
    if status in responses:
        return
    responses[status] = {
        "description": description,
        "content": {"application/json": {"schema": _ERROR_REF}},
    }


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Add the cross-cutting answers to every operation of an OpenAPI document (in place)."""
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            _require(operation)
            for status, description in EVERYWHERE.items():
                _add(operation, status, description)
            if "requestBody" in operation:
                for status, description in WITH_BODY.items():
                    _add(operation, status, description)
            if path.startswith("/v1/"):
                # OpenAI's statuses and error shape there (see routers/openai_compat.py): an
                # invalid request is a 400, as OpenAI answers, not FastAPI's 422.
                operation["responses"].pop("422", None)
                for status, description in OPENAI.items():
                    _add(operation, status, description)
                for response in operation["responses"].values():
                    content = response.get("content", {}).get("application/json")
                    if content is not None and content.get("schema") == _ERROR_REF:
                        content["schema"] = {"$ref": "#/components/schemas/OpenAIErrorBody"}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "ErrorBody",
        {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "details": {},
                    },
                }
            },
        },
    )
    schemas.setdefault(
        "OpenAIErrorBody",
        {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["message", "type"],
                    "properties": {
                        "message": {"type": "string"},
                        "type": {"type": "string"},
                        "param": {"type": ["string", "null"]},
                        "code": {"type": ["string", "null"]},
                    },
                }
            },
        },
    )
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = complete(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
