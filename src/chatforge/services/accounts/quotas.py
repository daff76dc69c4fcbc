"""What one organization may hold: chatbots, knowledge items, stored bytes and queued jobs.

The services call these checks before they store anything, with what the request would add; over
a quota they raise :class:`~chatforge.errors.QuotaExceeded` (429) or, for stored bytes,
:class:`~chatforge.errors.StorageQuotaExceeded` (413), naming the quota and the setting that
raises it. A quota of 0 is no limit.

The counts are read without locks: requests of one organization that run at the same moment may
together go over a quota by what each adds. Quotas bound what a tenant holds; they are not exact
to the item.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatforge.errors import QuotaExceeded, StorageQuotaExceeded
from chatforge.settings import QuotaSettings
from chatforge.storage.models import Chatbot, Job, KnowledgeItem

__all__ = ["UNFINISHED_JOBS", "check_chatbots", "check_knowledge"]

UNFINISHED_JOBS = ("queued", "running")
"""The job statuses that count against ``queued_jobs_per_org``: not yet done or failed."""


def check_chatbots(session: Session, quotas: QuotaSettings, organization_id: str) -> None:
    """Refuse one more chatbot when the organization has its quota of them.

    Raises:
        QuotaExceeded: at ``quotas.chatbots_per_org``.
    """
    limit = quotas.chatbots_per_org
    if not limit:
        return
    with session.no_autoflush:  # what the caller has added but not flushed is not counted
        used = session.scalar(
            select(func.count())
            .select_from(Chatbot)
            .where(Chatbot.organization_id == organization_id)
        )
    _check(QuotaExceeded, "chatbots_per_org", "chatbots", limit, used or 0, 1)


def check_knowledge(
    session: Session,
    quotas: QuotaSettings,
    organization_id: str,
    *,
    items: int = 0,
    stored_bytes: int = 0,
    jobs: int = 0,
) -> None:
    """Refuse to add knowledge that would take the organization over one of its quotas.

    Args:
        session: the caller's session; nothing it has pending is counted.
        quotas: the quotas in force.
        organization_id: whose knowledge it is.
        items: the new knowledge items.
        stored_bytes: the bytes they (or an edit) add.
        jobs: the ingestion jobs queued with them.

    Raises:
        QuotaExceeded: at ``items_per_org`` or ``queued_jobs_per_org``.
        StorageQuotaExceeded: at ``stored_bytes_per_org``.
    """
    owned = select(Chatbot.id).where(Chatbot.organization_id == organization_id)
    with session.no_autoflush:
        if items and quotas.items_per_org:
            used = session.scalar(
                select(func.count())
                .select_from(KnowledgeItem)
                .where(KnowledgeItem.chatbot_id.in_(owned))
            )
            _check(
                QuotaExceeded,
                "items_per_org",
                "knowledge items",
                quotas.items_per_org,
                used or 0,
                items,
            )
        if stored_bytes and quotas.stored_bytes_per_org:
            used = session.scalar(
                select(func.coalesce(func.sum(KnowledgeItem.size_bytes), 0)).where(
                    KnowledgeItem.chatbot_id.in_(owned)
                )
            )
            _check(
                StorageQuotaExceeded,
                "stored_bytes_per_org",
                "bytes of knowledge",
                quotas.stored_bytes_per_org,
                int(used or 0),
                stored_bytes,
            )
        if jobs and quotas.queued_jobs_per_org:
            used = session.scalar(
                select(func.count())
                .select_from(Job)
                .join(KnowledgeItem, KnowledgeItem.id == Job.item_id)
                .where(Job.status.in_(UNFINISHED_JOBS), KnowledgeItem.chatbot_id.in_(owned))
            )
            _check(
                QuotaExceeded,
                "queued_jobs_per_org",
                "queued ingestion jobs",
                quotas.queued_jobs_per_org,
                used or 0,
                jobs,
            )


def _check(
    error: type[QuotaExceeded], name: str, what: str, limit: int, used: int, adding: int
) -> None:
    if used + adding <= limit:
        return
    setting = f"CHATFORGE_QUOTAS__{name.upper()}"
    hint = (
        "wait for the queued ones to be indexed"
        if name == "queued_jobs_per_org"
        else "delete some first"
    )
    raise error(
        f"Quota exceeded: this organization may hold at most {limit} {what} and has {used}; "
        f"this request would add {adding}. {hint.capitalize()}, or ask the operator to raise "
        f"{setting}.",
        details={
            "quota": name,
            "setting": setting,
            "limit": limit,
            "used": used,
            "requested": adding,
        },
    )
