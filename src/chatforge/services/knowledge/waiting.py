"""``?wait=true``: answer once knowledge items are indexed, without holding a thread.

A waiting request is a coroutine, not a thread: it sleeps until this process commits to the
database (the in-process worker finished something) or, at the latest, for :data:`SLOW_POLL_SECONDS`
(a ``chatforge worker`` in another process commits unseen), then reads its items again in one
short read-only transaction on a worker thread. It stops when every item is ``ready`` or
``failed``, when its client has gone, or after ``ingestion.wait_timeout_seconds``; each time it
answers with the items as they are. An organization has at most
``ingestion.max_waiters_per_org`` requests waiting at once in each server process: one more
answers at once, with its items as they are, and the client can list them later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from sqlalchemy import Engine, event, select

from chatforge.storage.models import KnowledgeItem

if TYPE_CHECKING:
    from chatforge.services.context import AppContext

log = logging.getLogger(__name__)

#: Longest a waiter sleeps between two looks when no commit of this process wakes it.
SLOW_POLL_SECONDS = 1.0
#: Shortest time between two looks of one waiter: commits come in bursts (a busy API commits
#: hundreds of times a second), and each look is a query.
MIN_POLL_SECONDS = 0.25
_FINISHED = ("ready", "failed")


class Waiters:
    """The requests waiting in this process, counted per organization, and their wake-up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._wakers: set[Callable[[], None]] = set()
        self._watched: set[int] = set()

    def enter(self, organization_id: str, limit: int) -> bool:
        """Count one more waiter of the organization, unless it already has ``limit``."""
        with self._lock:
            count = self._counts.get(organization_id, 0)
            if count >= limit:
                return False
            self._counts[organization_id] = count + 1
            return True

    def leave(self, organization_id: str) -> None:
        """Forget one waiter of the organization."""
        with self._lock:
            count = self._counts.get(organization_id, 0) - 1
            if count > 0:
                self._counts[organization_id] = count
            else:
                self._counts.pop(organization_id, None)

    def count(self, organization_id: str | None = None) -> int:
        """Waiters of one organization, or of all."""
        with self._lock:
            if organization_id is not None:
                return self._counts.get(organization_id, 0)
            return sum(self._counts.values())

    def watch(self, engine: Engine) -> None:
        """Wake every waiter whenever ``engine`` commits (once per engine)."""
        with self._lock:
            if id(engine) in self._watched:
                return
            self._watched.add(id(engine))
        event.listen(engine, "commit", self._committed)

    def subscribe(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` (from any thread) after each commit until :meth:`unsubscribe`."""
        with self._lock:
            self._wakers.add(wake)

    def unsubscribe(self, wake: Callable[[], None]) -> None:
        """Stop calling ``wake``."""
        with self._lock:
            self._wakers.discard(wake)

    def _committed(self, _connection: Any) -> None:
        with self._lock:
            wakers = list(self._wakers)
        for wake in wakers:
            wake()


def read_items(ctx: AppContext, item_ids: list[str]) -> list[KnowledgeItem]:
    """The items as they are now, in the given order (deleted ones left out); read-only."""
    with ctx.db.request_sessions(read_only=True)() as session:
        query = select(KnowledgeItem).where(KnowledgeItem.id.in_(item_ids))
        found = {item.id: item for item in session.scalars(query)}
    return [found[i] for i in item_ids if i in found]


def finished(items: list[KnowledgeItem]) -> bool:
    """Whether every item is ``ready`` or ``failed``."""
    return all(item.status in _FINISHED for item in items)


async def wait_for_items(
    ctx: AppContext,
    organization_id: str,
    item_ids: list[str],
    *,
    disconnected: Callable[[], Awaitable[bool]],
) -> list[KnowledgeItem]:
    """The items once all are ``ready`` or ``failed``; or as they are at the cap, when the
    client has gone, or when the organization already has its most waiters.

    Args:
        ctx: The app's context.
        organization_id: Whose request waits (waiters are bounded per organization).
        item_ids: The items the request added or changed.
        disconnected: Tells whether the client has gone (the web layer's
            ``request.is_disconnected``).
    """
    ids = list(item_ids)
    config = ctx.settings.ingestion
    current = await anyio.to_thread.run_sync(read_items, ctx, ids)
    if finished(current) or not ctx.waiters.enter(organization_id, config.max_waiters_per_org):
        return current
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()

    def wake() -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: the server stops
            loop.call_soon_threadsafe(woken.set)

    ctx.waiters.watch(ctx.db.engine)
    ctx.waiters.subscribe(wake)
    deadline = time.monotonic() + config.wait_timeout_seconds
    try:
        while True:
            remaining = deadline - time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    woken.wait(), timeout=max(0.0, min(SLOW_POLL_SECONDS, remaining))
                )
            woken.clear()
            # The commit event fires just before the commit lands: look a moment later (which
            # also spaces out the looks of one waiter).
            await asyncio.sleep(MIN_POLL_SECONDS)
            current = await anyio.to_thread.run_sync(read_items, ctx, ids)
            if finished(current) or time.monotonic() >= deadline:
                return current
            if await disconnected():
                log.info("a ?wait=true client left; stopped waiting for %d items", len(ids))
                return current
    finally:
        ctx.waiters.unsubscribe(wake)
        ctx.waiters.leave(organization_id)
