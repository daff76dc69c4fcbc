"""A chatbot's knowledge: upload files, add URLs, texts and Q&A, watch them index, retry."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from chatforge.console.web import (
    ContextDep,
    DbDep,
    OwnerActorDep,
    OwnerDep,
    page_of,
    redirect,
    render,
)
from chatforge.errors import BadRequest, ChatforgeError
from chatforge.services import workspace
from chatforge.services.knowledge import browser as knowledge_browser
from chatforge.services.knowledge.service import KnowledgeService, Rejected

router = APIRouter(prefix="/chatbots/{chatbot_id}/knowledge")

PAGE_SIZE = 25
STATUSES = ("pending", "processing", "ready", "failed")
TYPES = ("file", "url", "text", "qna")


def _items(
    request: Request, knowledge: KnowledgeService, chatbot_id: str, page: int, status: str,
    template: str, q: str = "", kind: str = "", **extra: Any,
) -> Response:  # fmt: skip
    chatbot, items, total = knowledge_browser.search_items(
        knowledge, chatbot_id, page=page, limit=PAGE_SIZE,
        status=status if status in STATUSES else None,
        item_type=kind if kind in TYPES else None, search=q,
    )  # fmt: skip
    busy = any(item.status in ("pending", "processing") for item in items)
    return render(
        request, template, chatbot=chatbot, items=items, total=total, page=page,
        page_size=PAGE_SIZE, status=status, q=q[:200], kind=kind if kind in TYPES else "",
        busy=busy, tab="knowledge", **extra,
    )  # fmt: skip


@router.get("", response_class=HTMLResponse)
def knowledge_page(
    request: Request, ctx: ContextDep, db: DbDep, user: OwnerDep, chatbot_id: str,
    page: str = "1", status: str = "", question: str = "", q: str = "", kind: str = "",
) -> Response:  # fmt: skip
    """The page; ``question`` opens the Q&A form with it (from Insights' unanswered list);
    ``q`` searches titles and addresses, ``status`` and ``kind`` filter."""
    knowledge = KnowledgeService(ctx, db, user.organization_id)
    return _items(
        request, knowledge, chatbot_id, page_of(page), status, "knowledge.html", q, kind,
        question=question[:2000],
    )  # fmt: skip


@router.get("/items", response_class=HTMLResponse)
def knowledge_items(
    request: Request, ctx: ContextDep, db: DbDep, user: OwnerDep, chatbot_id: str,
    page: str = "1", status: str = "", q: str = "", kind: str = "",
) -> Response:  # fmt: skip
    """The list alone: htmx polls it while an item is being read, and the search asks it."""
    knowledge = KnowledgeService(ctx, db, user.organization_id)
    return _items(
        request, knowledge, chatbot_id, page_of(page), status, "_knowledge_items.html", q, kind
    )


@router.get("/{item_id}", response_class=HTMLResponse)
def item_page(
    request: Request, ctx: ContextDep, db: DbDep, user: OwnerDep, chatbot_id: str, item_id: str,
    saved: bool = False,
) -> Response:  # fmt: skip
    """One item: what it is, its status, its chunks; a Q&A pair is edited here."""
    knowledge = KnowledgeService(ctx, db, user.organization_id)
    item, chunks = knowledge_browser.item_with_chunks(knowledge, chatbot_id, item_id)
    return render(
        request, "knowledge_item.html", chatbot=knowledge.chatbots.get(chatbot_id), item=item,
        chunks=chunks, limit=knowledge_browser.CHUNK_LIMIT, saved=saved, tab="knowledge",
    )  # fmt: skip


@router.post("/{item_id}/qna", response_class=HTMLResponse)
def edit_qna(
    request: Request, ctx: ContextDep, db: DbDep, user: OwnerActorDep, chatbot_id: str,
    item_id: str, question: Annotated[str, Form(max_length=2000)] = "",
    answer: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:  # fmt: skip
    """Edit a Q&A pair in place, as the API's PATCH does: it is read again."""
    knowledge = KnowledgeService(ctx, db, user.organization_id)
    item = knowledge.get(chatbot_id, item_id)
    if item.type != "qna":
        raise BadRequest("Only a Q&A pair is edited here.")
    if not question.strip() or not answer.strip():
        raise BadRequest("Fill in the question and the answer.")
    knowledge.update(chatbot_id, item_id, {"question": question.strip(), "answer": answer.strip()})
    return redirect(request, f"/chatbots/{chatbot_id}/knowledge/{item_id}?saved=1")


@router.post("/files", response_class=HTMLResponse)
async def upload_files(
    request: Request, ctx: ContextDep, db: DbDep, user: OwnerActorDep, chatbot_id: str,
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:  # fmt: skip
    knowledge = KnowledgeService(ctx, db, user.organization_id)
    stored, rejected = await run_in_threadpool(_store, knowledge, chatbot_id, files or [])
    if not request.headers.get("hx-request"):  # a plain form post (no JavaScript)
        return redirect(request, f"/chatbots/{chatbot_id}/knowledge")
    message = f"{stored} file{'s' if stored != 1 else ''} added."
    if rejected:
        message += " Not added: " + "; ".join(r.error.message for r in rejected)
    return _items(
        request, knowledge, chatbot_id, 1, "", "_knowledge_items.html",
        flash=message, flash_kind="error" if rejected else "ok",
    )  # fmt: skip


def _store(
    knowledge: KnowledgeService, chatbot_id: str, files: list[UploadFile]
) -> tuple[int, list[Rejected]]:
    received = [(f.filename, f.file) for f in files if f.filename]
    if not received:
        raise BadRequest("Choose one or more files to upload.")
    items, rejected = knowledge.upload_files(chatbot_id, received)
    return len(items), rejected


@router.post("/sources", response_class=HTMLResponse)
def add_source(
    request: Request, ctx: ContextDep, db: DbDep, user: OwnerActorDep, chatbot_id: str,
    kind: Annotated[Literal["url", "sitemap", "text", "qna"], Form()],
    url: Annotated[str, Form(max_length=2000)] = "",
    max_pages: Annotated[int, Form(ge=1, le=500)] = 1,
    title: Annotated[str, Form(max_length=500)] = "",
    content: Annotated[str, Form(max_length=200_000)] = "",
    question: Annotated[str, Form(max_length=2000)] = "",
    answer: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:  # fmt: skip
    knowledge = KnowledgeService(ctx, db, user.organization_id)
    source: dict[str, object] = {"type": kind}
    if kind in ("url", "sitemap"):
        source.update(url=url.strip(), crawl={"max_pages": max_pages, "same_domain": True})
        missing = "url" if not url.strip().startswith(("http://", "https://")) else None
    elif kind == "text":
        source.update(title=title.strip() or None, content=content)
        missing = "content" if not content.strip() else None
    else:
        source.update(question=question.strip(), answer=answer.strip())
        missing = "question" if not question.strip() else "answer" if not answer.strip() else None
    try:
        if missing:
            what = "address (http or https)" if missing == "url" else missing
            raise BadRequest(f"Fill in the {what}.")
        knowledge.add_sources(chatbot_id, [source])
    except ChatforgeError as exc:
        if exc.status == 404 or exc.status >= 500:
            raise
        db.rollback()
        return _items(
            request, knowledge, chatbot_id, 1, "", "_knowledge_items.html",
            flash=exc.message, flash_kind="error",
        )  # fmt: skip
    if not request.headers.get("hx-request"):  # a plain form post (no JavaScript)
        return redirect(request, f"/chatbots/{chatbot_id}/knowledge")
    return _items(
        request, knowledge, chatbot_id, 1, "", "_knowledge_items.html",
        flash="Added; it is being read now.", flash_kind="ok",
    )  # fmt: skip


@router.post("/{item_id}/retry", response_class=HTMLResponse)
def retry(
    request: Request, ctx: ContextDep, db: DbDep, user: OwnerActorDep, chatbot_id: str,
    item_id: str,
) -> Response:  # fmt: skip
    knowledge = KnowledgeService(ctx, db, user.organization_id)
    workspace.retry_item(knowledge, chatbot_id, item_id)
    if not request.headers.get("hx-request"):
        return redirect(request, f"/chatbots/{chatbot_id}/knowledge")
    return _items(request, knowledge, chatbot_id, 1, "", "_knowledge_items.html")


@router.post("/{item_id}/delete", response_class=HTMLResponse)
def delete(
    request: Request, ctx: ContextDep, db: DbDep, user: OwnerActorDep, chatbot_id: str,
    item_id: str,
) -> Response:  # fmt: skip
    knowledge = KnowledgeService(ctx, db, user.organization_id)
    knowledge.delete(chatbot_id, item_id)
    if not request.headers.get("hx-request"):
        return redirect(request, f"/chatbots/{chatbot_id}/knowledge")
    return _items(request, knowledge, chatbot_id, 1, "", "_knowledge_items.html")
