"""Request dependencies: the context, a database session, the caller's organization, services."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from chatforge.errors import Unauthorized
from chatforge.services.accounts import keys
from chatforge.services.chat.service import ChatService
from chatforge.services.chatbots.service import ChatbotService
from chatforge.services.context import AppContext
from chatforge.services.conversations.service import ConversationService
from chatforge.services.knowledge.service import KnowledgeService
from chatforge.services.search.query import QueryService

_api_key_header = APIKeyHeader(name="x-api-key", auto_error=False, description="Your API key.")
_bearer = HTTPBearer(auto_error=False, description="The same API key as a Bearer token.")


def get_context(request: Request) -> AppContext:
    """The app's wired context."""
    ctx: AppContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[AppContext, Depends(get_context)]


#: Methods that change nothing: their requests read through sessions that never take SQLite's
#: write lock (``Database.read_sessions``).
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(ctx: ContextDep, request: Request) -> Iterator[Session]:
    """One database session per request; a read-only one for GET and HEAD."""
    with ctx.db.request_sessions(read_only=request.method in _SAFE_METHODS)() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_organization_id(
    ctx: ContextDep,
    request: Request,
    api_key: Annotated[str | None, Security(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> str:
    """The organization of the caller's key (``x-api-key`` or ``Authorization: Bearer``)."""
    if not api_key and bearer is None and request.headers.get("authorization"):
        raise Unauthorized(
            "The Authorization header must read 'Bearer <key>'; or send the key alone in the "
            "x-api-key header."
        )
    return keys.authenticate(ctx.db, api_key or (bearer.credentials if bearer else None))


OrganizationDep = Annotated[str, Depends(get_organization_id)]


def get_chatbot_service(
    ctx: ContextDep, session: SessionDep, organization_id: OrganizationDep
) -> ChatbotService:
    """Chatbot use cases scoped to the caller's organization."""
    return ChatbotService(ctx, session, organization_id)


ChatbotsDep = Annotated[ChatbotService, Depends(get_chatbot_service)]


def get_knowledge_service(
    ctx: ContextDep, session: SessionDep, organization_id: OrganizationDep
) -> KnowledgeService:
    """Knowledge use cases scoped to the caller's organization."""
    return KnowledgeService(ctx, session, organization_id)


KnowledgeDep = Annotated[KnowledgeService, Depends(get_knowledge_service)]


def get_query_service(ctx: ContextDep, organization_id: OrganizationDep) -> QueryService:
    """Query Knowledge scoped to the caller's organization."""
    return QueryService(ctx, organization_id)


QueryDep = Annotated[QueryService, Depends(get_query_service)]


def get_chat_service(ctx: ContextDep, organization_id: OrganizationDep) -> ChatService:
    """Chat scoped to the caller's organization; it opens its own short transactions (a stream
    lasts long, and on SQLite an open transaction would hold the write lock)."""
    return ChatService(ctx, organization_id)


ChatDep = Annotated[ChatService, Depends(get_chat_service)]


def get_conversation_service(
    ctx: ContextDep, session: SessionDep, organization_id: OrganizationDep
) -> ConversationService:
    """Conversations scoped to the caller's organization."""
    return ConversationService(ctx, session, organization_id)


ConversationsDep = Annotated[ConversationService, Depends(get_conversation_service)]
