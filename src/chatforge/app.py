"""The application factory: the one place where Chatforge is wired together."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from chatforge import __version__
from chatforge.api.bodylimit import BodyLimitMiddleware
from chatforge.api.docs import install_docs
from chatforge.api.errors import install_error_handlers
from chatforge.api.head import HeadMiddleware
from chatforge.api.metrics import Metrics, MetricsMiddleware
from chatforge.api.openapi import install_openapi
from chatforge.api.public_gate import PublicGateMiddleware, PublicLimits
from chatforge.api.ratelimit import RateLimitMiddleware
from chatforge.api.routers import (
    chat,
    chatbots,
    conversations,
    health,
    knowledge,
    openai_compat,
    public,
    query,
    voice,
    widget,
)
from chatforge.console.app import install_console
from chatforge.services import health as service_health
from chatforge.services.context import AppContext
from chatforge.services.knowledge.worker import BackgroundWorker
from chatforge.services.search.retrieval import warm_search
from chatforge.settings import Settings

DESCRIPTION = """Self-hosted AI chatbots grounded in your knowledge.

Chatforge serves the okchat.ai external API: send your key in the `x-api-key` header (or as
`Authorization: Bearer <key>`). Every error is `{"error": {"code", "message", "details"}}`.
Under `/v1`, an OpenAI-compatible API lets any OpenAI SDK talk to a chatbot (errors there use
OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`).
"""


def create_app(settings: Settings | None = None, *, public_base_url: str | None = None) -> FastAPI:
    """Build a Chatforge application.

    Args:
        settings: the configuration; read from the environment when omitted.
        public_base_url: overrides ``settings.public_base_url`` (``chatforge serve`` passes the
            address it listens on).
    """
    settings = settings or Settings()
    ctx = AppContext.build(settings, public_base_url=public_base_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        worker: BackgroundWorker | None = None
        stop_warming = threading.Event()
        ready = service_health.readiness_problem(ctx.db) is None
        if ready:
            threading.Thread(
                target=warm_search,
                args=(ctx.db, ctx.models, stop_warming),
                name="chatforge-warm",
                daemon=True,
            ).start()
        else:  # nothing to warm before a migration; searches load chatbots as they come
            ctx.models.search_warmed.set()
        if settings.ingestion.worker and ready:
            ctx.ensure_search_index()
            worker = BackgroundWorker(ctx)
            worker.start()
        try:
            yield
        finally:
            stop_warming.set()
            if worker is not None:
                worker.stop()
            ctx.close()

    app = FastAPI(
        title="Chatforge",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app)
    install_openapi(app)
    app.state.ctx = ctx
    app.state.metrics = Metrics(ctx)
    # Innermost: every layer outside sees the HEAD a monitor sent; the routes see its GET.
    app.add_middleware(HeadMiddleware)
    # Inside the rate limits: a refused caller's body is never read.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.limits.max_body_bytes,
        max_depth=settings.limits.max_json_depth,
    )
    # Inside CORS (so a 429 carries its headers and preflights are not counted) and inside
    # the metrics (so refusals are counted there).
    app.add_middleware(RateLimitMiddleware, settings=settings.limits)
    # Key-authenticated calls may come from any origin, like okchat's; the key is never a cookie.
    app.add_middleware(
        CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"]
    )
    # Outside the global CORS: public paths get CORS per chatbot (its allowedOrigins), their
    # origin check and their own limits; other paths pass it untouched. Live calls count their
    # turns with the same counters (app.state.public_limits).
    app.state.public_limits = PublicLimits(ctx.settings)
    app.add_middleware(PublicGateMiddleware, ctx=ctx, limits=app.state.public_limits)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(chatbots.router)
    app.include_router(knowledge.router)
    app.include_router(query.router)
    app.include_router(chat.router)
    app.include_router(conversations.router)
    app.include_router(openai_compat.router)
    app.include_router(public.router)
    app.include_router(voice.router)
    app.include_router(widget.router)
    install_console(app, ctx)  # the web console under /console, and / sends there
    return app
