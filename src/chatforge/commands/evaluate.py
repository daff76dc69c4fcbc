"""``chatforge eval retrieval``: reproducible quality figures on any BEIR-format collection."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, get_args

import typer

from chatforge.commands.common import configure_logging, fail, opened
from chatforge.providers.embeddings.cache import CachedEmbedder
from chatforge.services.evaluation import RetrievalReport, evaluate_retrieval
from chatforge.services.retrieval import Mode
from chatforge.settings import Settings

app = typer.Typer(help="Measure retrieval and answer quality.", no_args_is_help=True)

MODES: tuple[str, ...] = get_args(Mode)


@app.command("retrieval")
def retrieval(
    corpus: Annotated[
        Path, typer.Option(help="Corpus: JSON lines with _id, title, text (.gz ok).")
    ],
    queries: Annotated[Path, typer.Option(help="Queries: JSON lines with _id, text.")],
    qrels: Annotated[Path, typer.Option(help="Judgements: TSV query-id, corpus-id, score.")],
    mode: Annotated[
        list[str] | None,
        typer.Option(help="hybrid (default), vector or keyword; repeat to compare several."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="Database to ingest into; default: a new SQLite file in a temp dir."),
    ] = None,
    embedding_cache: Annotated[
        Path | None,
        typer.Option(help="File that keeps embeddings between runs (same texts, same vectors)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line.")] = False,
) -> None:
    """Ingest a collection into a fresh chatbot through the real pipeline, then score it.

    Every judged query goes through the service that answers query-knowledge. Prints nDCG@10
    and recall@100 (BEIR / trec_eval definitions), the ingest time and the query latency.
    """
    modes = tuple(mode or ["hybrid"])
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise fail(f"unknown mode {unknown[0]!r}; choose from {', '.join(MODES)}", 2)
    for path in (corpus, queries, qrels):
        if not path.is_file():
            raise fail(f"{path} is not a file", 2)
    data_dir = Path(tempfile.mkdtemp(prefix="chatforge-eval-"))
    settings = Settings(data_dir=data_dir, database_url=database_url)
    configure_logging(settings)

    def progress(stage: str, done: int, total: int) -> None:
        if done == total or done % 500 == 0:
            typer.echo(f"  {stage}: {done}/{total}", err=True)

    with opened(settings) as ctx:
        if embedding_cache is not None:
            ctx.use_embedder(CachedEmbedder(ctx.embedder, embedding_cache))
        ctx.ensure_search_index()
        reports = evaluate_retrieval(
            ctx,
            corpus=corpus,
            queries=queries,
            qrels=qrels,
            modes=modes,  # type: ignore[arg-type]
            progress=progress,
        )
    typer.echo(_table(reports))
    if as_json:
        payload = reports[0].as_dict() if len(reports) == 1 else [r.as_dict() for r in reports]
        typer.echo(json.dumps(payload))


def _table(reports: list[RetrievalReport]) -> str:
    first = reports[0]
    lines = [
        f"{first.documents} documents, {first.chunks} chunks, {first.queries} judged queries, "
        f"{first.database}; ingested in {first.ingest_seconds:.1f} s",
        f"{'mode':<8} {'nDCG@10':>8} {'R@100':>7} {'p50 ms':>8} {'p95 ms':>8}",
    ]
    lines += [
        f"{r.mode:<8} {r.ndcg_at_10:>8.4f} {r.recall_at_100:>7.4f} "
        f"{r.query_p50_ms:>8.1f} {r.query_p95_ms:>8.1f}"
        for r in reports
    ]
    return "\n".join(lines)


def register(parent: typer.Typer) -> None:
    """Add the ``eval`` group to the ``chatforge`` app."""
    parent.add_typer(app, name="eval")
