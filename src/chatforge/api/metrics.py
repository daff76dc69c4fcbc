"""``GET /metrics``: Prometheus metrics of the HTTP API, the ingestion queue and search memory.

Request counts and durations are labelled by the route's template (``/api/external/chatbot/
{chatbotId}/chat``), never by the raw path, so no chatbot id or other value of a request reaches
the metrics. Queue and item counts are read from the database when scraped, at most every
:data:`STATE_SECONDS`.

With ``chatforge serve --workers N`` every process counts its own requests into files under
``PROMETHEUS_MULTIPROC_DIR`` (set by ``serve``), and a scrape of any process sums them all.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatforge.services import health
from chatforge.services.context import AppContext

__all__ = ["CONTENT_TYPE", "Metrics", "MetricsMiddleware", "forget_dead_processes"]

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A client may send any method name; each would be a new series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Seconds a scrape reuses the database counts, so that scraping cannot load the database.
STATE_SECONDS = 10.0


class Metrics:
    """The app's metrics: HTTP counters here, state read from the services at scrape time."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "chatforge_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "chatforge_http_request_duration_seconds",
            "Time from a request's arrival to its last byte (streams included).",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        # Summed over the processes of ``serve --workers N``, each of which holds its own.
        self.memory_chatbots = Gauge(
            "chatforge_search_memory_chatbots",
            "Chatbots held in search memory.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.memory_bytes = Gauge(
            "chatforge_search_memory_bytes",
            "Bytes of search memory in use.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.state = _StateCollector(ctx)
        self.registry.register(self.state)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request, and note this process's search memory."""
        method = method if method in _METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)
        self._note_memory()

    def _note_memory(self) -> None:
        chatbots, size = health.memory_usage(self.ctx.models)
        self.memory_chatbots.set(chatbots)
        self.memory_bytes.set(size)

    def exposition(self) -> bytes:
        """The text a Prometheus scrape reads."""
        self._note_memory()
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not directory:
            return generate_latest(self.registry)
        forget_dead_processes(Path(directory))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(self.state)
        return generate_latest(registry)


def forget_dead_processes(directory: Path) -> None:
    """Drop the live gauges of worker processes that ended (uvicorn restarts crashed ones)."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class _StateCollector(Collector):
    """Gauges of the database's state, read at most every :data:`STATE_SECONDS`."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._read_at = -STATE_SECONDS
        self._state: health.State | None = None

    def collect(self) -> Iterable[Metric]:
        state = self._current()
        if state is None:  # the database is down: the request counts still go out
            return []
        jobs = GaugeMetricFamily(
            "chatforge_ingestion_jobs", "Ingestion jobs by status.", labels=["status"]
        )
        for status, count in sorted(state.jobs.items()):
            jobs.add_metric([status], count)
        items = GaugeMetricFamily(
            "chatforge_knowledge_items", "Knowledge items by status.", labels=["status"]
        )
        for status, count in sorted(state.items.items()):
            items.add_metric([status], count)
        return [jobs, items]

    def _current(self) -> health.State | None:
        with self._lock:
            if time.monotonic() - self._read_at >= STATE_SECONDS:
                try:
                    self._state = health.state(self.ctx.db)
                except SQLAlchemyError as exc:
                    log.warning("metrics: the database could not be read: %s", type(exc).__name__)
                    self._state = None
                self._read_at = time.monotonic()
            return self._state


class MetricsMiddleware:
    """Counts every HTTP request by its route's template, once its response has ended."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The router records the matched route in the scope; an unknown path has none.
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)
