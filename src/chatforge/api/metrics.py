"""``GET /metrics``: Prometheus metrics of the HTTP API, the ingestion queue and search memory.

Request counts and durations are labelled by the route's template (``/api/external/chatbot/
{chatbotId}/chat``), never by the raw path, so no chatbot id or other value of a request reaches
the metrics. Queue and item counts are read from the database at scrape time; search memory is
this process's.

With ``chatforge serve --workers N`` every process counts its own requests into files under
``PROMETHEUS_MULTIPROC_DIR`` (set by ``serve``), and a scrape of any process sums them all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatforge.services import health
from chatforge.services.context import AppContext

__all__ = ["CONTENT_TYPE", "Metrics", "MetricsMiddleware"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


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
        self.registry.register(_StateCollector(ctx))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)

    def exposition(self) -> bytes:
        """The text a Prometheus scrape reads."""
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(_StateCollector(self.ctx))
        return generate_latest(registry)


class _StateCollector(Collector):
    """Gauges computed when scraped: the queue and items from the database, search memory."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterable[Metric]:
        state = health.state(self.ctx)
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
        pid = [str(os.getpid())]
        held = GaugeMetricFamily(
            "chatforge_search_memory_chatbots",
            "Chatbots held in this process's search memory.",
            labels=["pid"],
        )
        held.add_metric(pid, state.memory_chatbots)
        size = GaugeMetricFamily(
            "chatforge_search_memory_bytes",
            "Bytes of this process's search memory in use.",
            labels=["pid"],
        )
        size.add_metric(pid, state.memory_bytes)
        return [jobs, items, held, size]


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
