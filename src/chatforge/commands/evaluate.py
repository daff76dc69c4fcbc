"""``chatforge eval``: reproducible quality figures.

``eval retrieval`` scores retrieval on any BEIR-format collection; ``eval answers`` scores the
chat service's answers on a SQuAD v1.1-format file.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, get_args

import typer

from chatforge.commands.common import configure_logging, fail, opened
from chatforge.evaluation.answers import (
    GOALS,
    AnswerReport,
    Question,
    evaluate_answers,
    read_squad,
    split_holdout,
)
from chatforge.evaluation.retrieval import RetrievalReport, evaluate_retrieval
from chatforge.evaluation.support import SupportReport, evaluate_support, read_companies
from chatforge.providers.embeddings.cache import CachedEmbedder
from chatforge.services.context import AppContext
from chatforge.services.search.retrieval import Mode
from chatforge.settings import Settings

app = typer.Typer(help="Measure retrieval and answer quality.", no_args_is_help=True)

MODES: tuple[str, ...] = get_args(Mode)


DatabaseUrl = Annotated[
    str | None,
    typer.Option(help="Database to ingest into; default: a new SQLite file in a temp dir."),
]
EmbeddingCache = Annotated[
    Path | None,
    typer.Option(help="File that keeps embeddings between runs (same texts, same vectors)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="End with one JSON line.")]
DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Keep the run's data (SQLite file, uploads) in this new or empty directory; "
        "default: a temp dir, deleted at the end.",
    ),
]


@contextmanager
def _evaluation_context(
    database_url: str | None, cache: Path | None, keep: Path | None
) -> Iterator[AppContext]:
    """A server context on a fresh database (or ``database_url``), ready to ingest into.

    Its data directory is ``keep`` when given, else a temp dir removed when the context ends.
    """
    if keep is not None:
        if keep.exists() and (not keep.is_dir() or any(keep.iterdir())):
            raise fail(f"{keep} must be a new or empty directory", 2)
        keep.mkdir(parents=True, exist_ok=True)
    data_dir = keep or Path(tempfile.mkdtemp(prefix="chatforge-eval-"))
    try:
        settings = Settings(data_dir=data_dir, database_url=database_url)
        configure_logging(settings)
        with opened(settings) as ctx:
            if cache is not None:
                ctx.models.use_embedder(CachedEmbedder(ctx.models.embedder, cache))
            ctx.ensure_search_index()
            yield ctx
    finally:
        if keep is None:
            shutil.rmtree(data_dir, ignore_errors=True)


def _progress(stage: str, done: int, total: int) -> None:
    if done == total or done % 500 == 0:
        typer.echo(f"  {stage}: {done}/{total}", err=True)


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
    database_url: DatabaseUrl = None,
    embedding_cache: EmbeddingCache = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
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
    with _evaluation_context(database_url, embedding_cache, data_dir) as ctx:
        reports = evaluate_retrieval(
            ctx,
            corpus=corpus,
            queries=queries,
            qrels=qrels,
            modes=modes,  # type: ignore[arg-type]
            progress=_progress,
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


@app.command("answers")
def answers(
    squad: Annotated[
        Path, typer.Option(help="SQuAD v1.1-format JSON: the knowledge and its questions.")
    ],
    abstain: Annotated[
        Path | None,
        typer.Option(help="SQuAD-format file of questions whose answers are not ingested."),
    ] = None,
    holdout_articles: Annotated[
        int,
        typer.Option(
            help="Ingest all but the last N articles; their questions are the abstention set."
        ),
    ] = 0,
    limit_questions: Annotated[
        int | None,
        typer.Option(help="Ask at most N questions of each set, spread evenly over the file."),
    ] = None,
    database_url: DatabaseUrl = None,
    embedding_cache: EmbeddingCache = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Ingest every SQuAD paragraph through the real pipeline, then ask every question by chat.

    The chatbot's model is ``extractive``; each question goes through the chat service's
    non-streaming path. Prints recall@1/@5 of the gold paragraph, answer-in-context@5, exact
    match and token F1 (SQuAD's normalisation), the share of answers whose citations are valid
    and, with an abstention set, the share of unanswerable questions answered "not found".
    """
    for path in (squad, abstain):
        if path is not None and not path.is_file():
            raise fail(f"{path} is not a file", 2)
    if abstain is not None and holdout_articles:
        raise fail("give --abstain or --holdout-articles, not both", 2)
    if holdout_articles < 0 or (limit_questions is not None and limit_questions < 1):
        raise fail("--holdout-articles must be >= 0 and --limit-questions >= 1", 2)
    knowledge = read_squad(squad)
    unanswerable: list[Question] = []
    if abstain is not None:
        unanswerable = read_squad(abstain).questions
    elif holdout_articles:
        try:
            knowledge, unanswerable = split_holdout(knowledge, holdout_articles)
        except ValueError as exc:
            raise fail(str(exc), 2) from exc
    with _evaluation_context(database_url, embedding_cache, data_dir) as ctx:
        report = evaluate_answers(
            ctx,
            squad=knowledge,
            abstain=unanswerable,
            limit_questions=limit_questions,
            progress=_progress,
        )
    typer.echo(_answer_table(report))
    if as_json:
        typer.echo(json.dumps(report.as_dict()))


def _answer_table(report: AnswerReport) -> str:
    def verdict(name: str) -> str:
        if name not in report.goals:
            return "(not measured)"
        goal = GOALS[name]
        target = f">= {goal:.0%}" if goal < 1 else "= 100%"
        return f"goal {target}: {'PASS' if report.goals[name] else 'FAIL'}"

    abstention = "-" if report.abstention is None else f"{report.abstention:.4f}"
    lines = [
        f"{report.articles} articles, {report.paragraphs} paragraphs, {report.questions} "
        f"questions, {report.abstain_questions} unanswerable, {report.database}; "
        f"ingested in {report.ingest_seconds:.1f} s",
        f"recall@1              {report.recall_at_1:.4f}",
        f"recall@5              {report.recall_at_5:.4f}   {verdict('recall_at_5')}",
        f"answer-in-context@5   {report.answer_in_context_at_5:.4f}",
        f"exact match           {report.exact_match:.4f}",
        f"token F1              {report.f1:.4f}",
        f"answered not found    {report.not_found_share:.4f}   (of answerable questions)",
        f"citations valid       {report.citations_valid:.4f}   {verdict('citations_valid')}",
        f"abstention            {abstention:<6}   {verdict('abstention')}",
        f"chat latency          p50 {report.chat_p50_ms:.1f} ms, p95 {report.chat_p95_ms:.1f} ms",
        f"overall: {'PASS' if report.passed else 'FAIL'}",
    ]
    return "\n".join(lines)


@app.command("support")
def support(
    directory: Annotated[
        Path, typer.Argument(help="Folder of companies (company.json, knowledge/, questions).")
    ],
    model: Annotated[str, typer.Option(help="The chatbots' model.")] = "extractive",
    company: Annotated[
        list[str] | None, typer.Option(help="Only this company's folder; repeat for several.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the report, every answer included, to this JSON.")
    ] = None,
    database_url: DatabaseUrl = None,
    embedding_cache: EmbeddingCache = None,
    as_json: AsJson = False,
) -> None:
    """Ingest each company into a fresh chatbot, ask its labelled questions by chat, judge them.

    Prints answered-correct, cited-correct, abstention and harmful for the fit companies, the
    dev ones (looked at while developing), the held-out ones and all (docs/retrieval.md, "The
    support evaluation").
    """
    if not directory.is_dir():
        raise fail(f"{directory} is not a directory", 2)
    try:
        companies = read_companies(directory)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    if company:
        companies = [c for c in companies if c.slug in company]
    if not companies:
        raise fail(f"no company folder to evaluate in {directory}", 2)
    with _evaluation_context(database_url, embedding_cache, None) as ctx:
        report = evaluate_support(ctx, companies, model=model, progress=_progress)
    typer.echo(_support_table(report))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report.as_dict(), indent=1), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps({k: v for k, v in report.as_dict().items() if k != "outcomes"}))


def _support_table(report: SupportReport) -> str:
    lines = [
        f"{'split':<9} {'cos':>3} {'ans':>4} {'unans':>5} {'correct':>8} {'cited':>7} "
        f"{'abstain':>8} {'harmful':>8} {'flagged':>8} {'p95 ms':>7}"
    ]
    for name, f in report.splits.items():
        lines.append(
            f"{name:<9} {f.companies:>3} {f.answerable:>4} {f.unanswerable:>5} "
            f"{f.answered_correct:>8.1%} {f.cited_correct:>7.1%} {f.abstention:>8.1%} "
            f"{f.harmful_count:>8} {f.flagged:>8.1%} {f.chat_p95_ms:>7.0f}"
        )
    goals = report.goals()
    if goals:
        verdicts = ", ".join(f"{k} {'PASS' if v else 'FAIL'}" for k, v in goals.items())
        lines.append(f"held-out goals: {verdicts}")
    return "\n".join(lines)


def register(parent: typer.Typer) -> None:
    """Add the ``eval`` group to the ``chatforge`` app."""
    parent.add_typer(app, name="eval")
