"""Operations: liveness, readiness, metrics and public media files."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response

from chatforge.api.deps import ContextDep
from chatforge.api.errors import error_response
from chatforge.api.metrics import CONTENT_TYPE
from chatforge.services import health
from chatforge.services.chatbots import media as media_files

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database is reachable and migrated")
def readyz(ctx: ContextDep) -> JSONResponse:
    """Ready once the database is reachable and migrated. ``search`` is ``warming`` while the
    start-up load of chatbots into search memory runs (searches are answered meanwhile, by
    the database's indexes), then ``warm``."""
    problem = health.readiness_problem(ctx.db)
    if problem:
        return error_response(503, "not_ready", problem)
    search = "warm" if ctx.models.search_warmed.is_set() else "warming"
    return JSONResponse({"status": "ready", "search": search})


@router.get(
    "/metrics",
    summary="Prometheus metrics: requests by route, ingestion queue, search memory",
    response_class=PlainTextResponse,
)
def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE)


@router.get("/media/{key:path}", summary="A public file (chatbot avatars)", include_in_schema=False)
def media(key: str, ctx: ContextDep) -> Response:
    # Only live avatars are public, by their exact key; knowledge files never leave here.
    path = media_files.public_file(ctx, key)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(
        path,
        media_type=media_type,
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )
