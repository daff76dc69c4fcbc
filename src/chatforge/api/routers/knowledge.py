"""``/api/external/chatbot/{chatbotId}/knowledge-base`` (docs/knowledge.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from chatforge.api.deps import KnowledgeDep
from chatforge.api.openapi import required_query
from chatforge.api.schemas.chatbots import chatbot_full
from chatforge.api.schemas.common import ERROR_RESPONSES, UNSUPPORTED_TYPE, Pagination
from chatforge.api.schemas.knowledge import (
    FilesCreated,
    KnowledgeCreated,
    KnowledgeDeleted,
    KnowledgeList,
    KnowledgeUpdate,
    KnowledgeUpdated,
    Sources,
    item_out,
    rejected_out,
)
from chatforge.errors import BadRequest, NotFound
from chatforge.services.knowledge.service import KnowledgeService

router = APIRouter(prefix="/api/external/chatbot", tags=["knowledge"], responses=ERROR_RESPONSES)

ItemId = Annotated[str | None, Query(alias="id", description="The knowledge item's id.")]
Wait = Annotated[
    bool,
    Query(
        description="Answer once every item is ready or failed, or with the items as they are "
        "after CHATFORGE_INGESTION__WAIT_TIMEOUT_SECONDS, or at once when the organization "
        "already has CHATFORGE_INGESTION__MAX_WAITERS_PER_ORG requests waiting."
    ),
]


@router.get("/{chatbotId}/knowledge-base", response_model=KnowledgeList, summary="List knowledge")
def list_knowledge(
    chatbotId: str,  # noqa: N803
    knowledge: KnowledgeDep,
    page: Annotated[int, Query(ge=1, le=1_000_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    type: Annotated[Literal["file", "text", "qna", "url"] | None, Query()] = None,
    status: Annotated[Literal["pending", "processing", "ready", "failed"] | None, Query()] = None,
) -> KnowledgeList:
    chatbot, items, total = knowledge.list_items(
        chatbotId, page=page, limit=limit, item_type=type, status=status
    )
    return KnowledgeList(
        chatbot=chatbot_full(chatbot),
        knowledge_base=[item_out(i) for i in items],
        pagination=Pagination(page=page, limit=limit, total=total),
    )


@router.post(
    "/{chatbotId}/knowledge-base/files",
    response_model=FilesCreated,
    summary="Upload files (PDF, DOCX, PPTX, XLSX, HTML, Markdown, text, CSV, JSON)",
    responses=UNSUPPORTED_TYPE,
)
async def upload_files(
    chatbotId: str,  # noqa: N803
    knowledge: KnowledgeDep,
    request: Request,
    files: Annotated[list[UploadFile] | None, File(description="One or more files.")] = None,
    file: Annotated[UploadFile | None, File(description="One file (alternative).")] = None,
    wait: Wait = False,
) -> FilesCreated:
    # Storing streams files on a thread; waiting holds none (chatforge.services.knowledge.waiting).
    created = await run_in_threadpool(store_files, chatbotId, knowledge, files, file)
    if wait:
        ids = [item.id for item in created.knowledge_base]
        waited = await knowledge.wait_indexed(ids, disconnected=request.is_disconnected)
        created.knowledge_base = [item_out(i) for i in waited]
    return created


def store_files(
    chatbotId: str,  # noqa: N803
    knowledge: KnowledgeService,
    files: list[UploadFile] | None,
    file: UploadFile | None,
) -> FilesCreated:
    """Store each file the server can read; a file it cannot (an unknown type, too large) is
    listed in ``rejected`` with its error while the others are stored. When no file can be
    stored, the answer is the first file's error (415 or 413)."""
    received = [*(files or []), *([file] if file else [])]
    if not received:
        raise BadRequest("Send the files in the multipart field 'files' (or 'file').")
    parts = [(part.filename or "upload", part.file) for part in received]
    items, rejected = knowledge.upload_files(chatbotId, parts)
    return FilesCreated(
        knowledge_base=[item_out(i) for i in items],
        message=(
            f"{len(items)} of {len(items) + len(rejected)} files uploaded; see rejected"
            if rejected
            else "Files uploaded successfully"
        ),
        rejected=[rejected_out(r.filename, r.error) for r in rejected],
    )


@router.post(
    "/{chatbotId}/knowledge-base",
    response_model=KnowledgeCreated,
    summary="Add text, Q&A, a web page (optionally crawled) or a sitemap",
)
async def add_sources(
    chatbotId: str,  # noqa: N803
    knowledge: KnowledgeDep,
    request: Request,
    body: Sources,
    wait: Wait = False,
) -> KnowledgeCreated:
    sources = body.as_list()
    if not sources:
        raise BadRequest("Send at least one source.")
    items = await run_in_threadpool(
        knowledge.add_sources, chatbotId, [s.model_dump() for s in sources]
    )
    if wait:
        items = await knowledge.wait_indexed(
            [i.id for i in items], disconnected=request.is_disconnected
        )
    return KnowledgeCreated(
        knowledge_base=[item_out(i) for i in items], message="Knowledge base created successfully"
    )


@router.patch(
    "/{chatbotId}/knowledge-base",
    response_model=KnowledgeUpdated,
    summary="Edit a knowledge item",
    openapi_extra=required_query("id"),
)
async def update_knowledge(
    chatbotId: str,  # noqa: N803
    body: KnowledgeUpdate,
    knowledge: KnowledgeDep,
    request: Request,
    item_id: ItemId = None,
    wait: Wait = False,
) -> KnowledgeUpdated:
    if not item_id:
        raise BadRequest("Say which item to edit: ?id=<item id>.")
    patch = body.model_dump(exclude_unset=True)
    item = await run_in_threadpool(knowledge.update, chatbotId, item_id, patch)
    if wait:
        waited = await knowledge.wait_indexed([item.id], disconnected=request.is_disconnected)
        if not waited:
            raise NotFound(f"Knowledge item {item_id} was deleted while it was indexed.")
        item = waited[0]
    return KnowledgeUpdated(knowledge=item_out(item), message="Knowledge base updated successfully")


@router.delete(
    "/{chatbotId}/knowledge-base",
    response_model=KnowledgeDeleted,
    summary="Delete a knowledge item with its chunks, vectors and file",
    openapi_extra=required_query("id"),
)
def delete_knowledge(
    chatbotId: str,  # noqa: N803
    knowledge: KnowledgeDep,
    item_id: ItemId = None,
) -> KnowledgeDeleted:
    if not item_id:
        raise BadRequest("Say which item to delete: ?id=<item id>.")
    chatbot = knowledge.delete(chatbotId, item_id)
    return KnowledgeDeleted(
        chatbot=chatbot_full(chatbot), message="Knowledge base data deleted successfully"
    )
