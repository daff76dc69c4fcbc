"""Use cases for the operator of a server, on the command line, across organizations.

The API scopes every call to the organization of its key. Whoever runs the ``chatforge`` command
on the server has the database itself and needs no key, so these functions find a chatbot by its
id alone; they then hand over to the same organization-scoped services as the API, so that what
happens next (dedupe, durability, queueing) is identical.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatforge.errors import NotFound
from chatforge.services.context import AppContext
from chatforge.services.knowledge.service import KnowledgeService
from chatforge.storage.models import Chatbot, KnowledgeItem, Organization


@dataclass(frozen=True)
class ChatbotSummary:
    """A line of the operator's list of chatbots."""

    id: str
    name: str
    organization: str
    items: int


def list_chatbots(session: Session) -> list[ChatbotSummary]:
    """Every chatbot of every organization, by organization then name, with its item count."""
    items = (
        select(KnowledgeItem.chatbot_id, func.count().label("n"))
        .group_by(KnowledgeItem.chatbot_id)
        .subquery()
    )
    rows = session.execute(
        select(Chatbot.id, Chatbot.name, Organization.name, func.coalesce(items.c.n, 0))
        .join(Organization, Organization.id == Chatbot.organization_id)
        .outerjoin(items, items.c.chatbot_id == Chatbot.id)
        .order_by(Organization.name, Chatbot.name, Chatbot.id)
    )
    return [ChatbotSummary(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]


def find_chatbot(session: Session, chatbot_id: str) -> Chatbot:
    """The chatbot with this id, whatever its organization; :class:`NotFound` otherwise."""
    chatbot = session.get(Chatbot, chatbot_id.strip())
    if chatbot is None:
        raise NotFound(
            f"Chatbot {chatbot_id} not found. List the chatbots and their ids with: "
            "chatforge chatbots list"
        )
    return chatbot


def knowledge_service(ctx: AppContext, session: Session, chatbot_id: str) -> KnowledgeService:
    """The knowledge service of the organization that owns the chatbot ``chatbot_id``."""
    return KnowledgeService(ctx, session, find_chatbot(session, chatbot_id).organization_id)
