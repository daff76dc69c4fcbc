"""Shared wire types: okchat timestamps, pagination, the error body."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)
from pydantic.alias_generators import to_camel


def _iso(value: datetime) -> str:
    # okchat's form: microseconds and an explicit +00:00, never "Z".
    return value.astimezone(UTC).isoformat(timespec="microseconds")


Timestamp = Annotated[datetime, PlainSerializer(_iso, return_type=str)]
HexColor = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]


def _whole_number(value: Any) -> Any:
    # JSON has one number type: 5.0 is the integer 5 to JSON Schema, and to clients that only
    # have floats. Strict validation would refuse it; a fraction or a string still fails.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WHOLE = BeforeValidator(_whole_number)
"""For an integer of a request body, after its constraints: ``Annotated[int, Field(ge=1), WHOLE]``
takes ``5.0`` as 5, as JSON Schema does (placed before them, the constraints would leave the
schema)."""


class RequestModel(BaseModel):
    """Base of request bodies: strict types, unknown fields ignored (okchat clients send extras)."""

    model_config = ConfigDict(strict=True, extra="ignore")


class OpenModel(BaseModel):
    """Base of nested configuration objects: typed known keys, unknown keys kept."""

    model_config = ConfigDict(strict=True, extra="allow")


class CamelModel(OpenModel):
    """A configuration object whose keys okchat spells in camelCase (``primaryColor``).

    Fields are snake_case in Python and camelCase on the wire, in the schema and in every dump:
    the dump is what the services store, and the widget and the console read those keys. Requests
    are read by the camelCase names only, so ``primary_color`` stays an unknown key, kept as is.
    """

    model_config = ConfigDict(alias_generator=to_camel, serialize_by_alias=True)


class Pagination(BaseModel):
    """Where a page sits in a list."""

    page: int
    limit: int
    total: int


class ErrorDetail(BaseModel):
    """The error object."""

    code: str = Field(description="A stable snake_case code, e.g. not_found.")
    message: str = Field(description="A sentence for humans that says what to do.")
    details: Any = Field(None, description="Optional structured details, e.g. invalid fields.")


class ErrorBody(BaseModel):
    """Every error response."""

    error: ErrorDetail


class MessageOut(BaseModel):
    """A mutation's confirmation."""

    message: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        401: "Missing, unknown or revoked API key.",
        404: "Not found, or owned by another organization.",
        422: "Invalid input; `details` lists each field.",
    }.items()
}

SLUG_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The slug is taken by another of your chatbots."}
}
UNSUPPORTED_TYPE: dict[int | str, dict[str, Any]] = {
    415: {"model": ErrorBody, "description": "The bytes are not of an accepted type."}
}
