"""Wire shapes of knowledge items (docs/knowledge.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    RootModel,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from chatforge.api.schemas.chatbots import ChatbotFull
from chatforge.api.schemas.common import WHOLE, Pagination, RequestModel, Timestamp
from chatforge.errors import ChatforgeError
from chatforge.services.knowledge.service import KnowledgeItem

HttpUrl = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^https?://\S+$", max_length=2000)
]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "Should hold some text, not only spaces")
    return value


NonEmpty = Annotated[str, StringConstraints(min_length=1), AfterValidator(_not_blank)]


class TextSource(RequestModel):
    type: Literal["text"]
    title: Annotated[str, StringConstraints(max_length=500)] | None = None
    content: Annotated[
        str, StringConstraints(min_length=1, max_length=5_000_000), AfterValidator(_not_blank)
    ]


class QnaSource(RequestModel):
    type: Literal["qna"]
    question: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5_000)
    ]
    answer: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=99_999)
    ]


class CrawlOptions(RequestModel):
    max_pages: Annotated[int, Field(ge=1, le=500), WHOLE] = 1
    same_domain: bool = True


class UrlSource(RequestModel):
    type: Literal["url"]
    url: HttpUrl
    title: str | None = None
    crawl: CrawlOptions | None = None


class SitemapSource(RequestModel):
    type: Literal["sitemap"]
    url: HttpUrl


Source = Annotated[TextSource | QnaSource | UrlSource | SitemapSource, Field(discriminator="type")]
_SOURCE: TypeAdapter[Source] = TypeAdapter(Source)
_TAG_ERRORS = frozenset({"union_tag_invalid", "union_tag_not_found"})


class Sources(RootModel[Source | list[Source]]):
    """One source, or a list of sources added together."""

    @model_validator(mode="wrap")
    @classmethod
    def _name_fields_plainly(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # Errors must name fields as the caller wrote them ("content", "1.url"): left to
        # pydantic, each is prefixed by the union's internal name and joined by a second error
        # saying that the body is not a list.
        try:
            return handler(value)
        except ValidationError as exc:
            original = exc
        many = isinstance(value, list)
        errors: list[InitErrorDetails] = []
        for index, raw in enumerate(value if many else [value]):
            try:
                _SOURCE.validate_python(raw)
            except ValidationError as exc:
                for error in exc.errors():
                    # A discriminated union puts the tag first in the location; drop it.
                    loc = ("type",) if error["type"] in _TAG_ERRORS else error["loc"][1:]
                    errors.append(
                        InitErrorDetails(
                            type=PydanticCustomError(error["type"], error["msg"]),
                            loc=((index,) if many else ()) + tuple(loc),
                            input=error["input"],
                        )
                    )
        if not errors:
            raise original
        raise ValidationError.from_exception_data(cls.__name__, errors)

    def as_list(self) -> list[TextSource | QnaSource | UrlSource | SitemapSource]:
        """The sources, one or many, as a list."""
        return self.root if isinstance(self.root, list) else [self.root]


class KnowledgeUpdate(RequestModel):
    """Edits of an item; content edits re-index it, ``enabled`` hides or shows it."""

    title: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    content: NonEmpty | None = None
    question: NonEmpty | None = None
    answer: NonEmpty | None = None
    url: HttpUrl | None = None
    enabled: bool | None = None


class KnowledgeItemOut(BaseModel):
    """A knowledge item; ``metadata`` shows per-stage timings and counts once indexed."""

    id: str
    chatbot_id: str
    type: str
    title: str
    source: str
    status: Literal["pending", "processing", "ready", "failed"]
    error: str | None
    enabled: bool
    size_bytes: int
    chunks: int
    content_hash: str
    metadata: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp


def item_out(item: KnowledgeItem) -> KnowledgeItemOut:
    """The wire form of an item."""
    meta = {k: v for k, v in item.meta.items() if k not in ("question", "answer", "indexed_hash")}
    return KnowledgeItemOut(
        id=item.id,
        chatbot_id=item.chatbot_id,
        type=item.type,
        title=item.title,
        source=item.source,
        status=item.status,
        error=item.error,
        enabled=item.enabled,
        size_bytes=item.size_bytes,
        chunks=item.chunks,
        content_hash=item.content_hash,
        metadata=meta,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


class KnowledgeList(BaseModel):
    chatbot: ChatbotFull
    knowledge_base: list[KnowledgeItemOut]
    pagination: Pagination


class KnowledgeCreated(BaseModel):
    knowledge_base: list[KnowledgeItemOut]
    message: str


class FileError(BaseModel):
    code: str
    message: str


class RejectedFile(BaseModel):
    """A file of the upload that was not stored."""

    file: str
    error: FileError


class FilesCreated(KnowledgeCreated):
    """[extension] ``rejected``: the files that were not stored, each with its error."""

    rejected: list[RejectedFile] = []


def rejected_out(filename: str, error: ChatforgeError) -> RejectedFile:
    """A refused file as the API shows it."""
    return RejectedFile(file=filename, error=FileError(code=error.code, message=error.message))


class KnowledgeUpdated(BaseModel):
    knowledge: KnowledgeItemOut
    message: str


class KnowledgeDeleted(BaseModel):
    chatbot: ChatbotFull
    message: str
