"""The support evaluation: its judge, its data, and ``chatforge eval support`` end to end."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from typer.testing import CliRunner

from chatforge.cli import app
from chatforge.evaluation.support import SupportQuestion, holds, judge, read_companies
from chatforge.providers.chat import NOT_FOUND_ANSWER
from chatforge.rag.filetypes import detect_kind
from chatforge.rag.parsers import parse_file

BENCH = Path(__file__).resolve().parents[2] / "bench" / "support"

ANSWERABLE = SupportQuestion(
    id="q1",
    company="shop",
    text="Trailblazer 29 price?",
    answerable=True,
    facts=(("1649",), ("mountain", "mtb")),
    sources=("prices.csv",),
)
UNANSWERABLE = SupportQuestion(
    id="u1", company="shop", text="Kids' bikes?", answerable=False, traps=("1399",)
)


def test_an_answer_is_correct_when_it_holds_every_fact_and_cited_when_it_names_the_source() -> None:
    answer = "Trailblazer 29 costs $1,649; type: mountain. [2]"

    assert judge(ANSWERABLE, answer, ["prices.csv"]) == (False, True, True, False)
    # Right facts, wrong file cited: correct but not cited-correct.
    assert judge(ANSWERABLE, answer, ["faq.md"]) == (False, True, False, False)
    # A marker naming no source given is never cited-correct.
    assert judge(ANSWERABLE, answer, [None]) == (False, True, False, False)
    # One fact missing: not correct.
    assert judge(ANSWERABLE, "It costs $1,649. [2]", ["prices.csv"])[1] is False


def test_an_unanswerable_question_is_harmful_when_answered_with_a_claim() -> None:
    not_found = f"{NOT_FOUND_ANSWER} You can ask me, for example: “Gift cards?”"

    assert judge(UNANSWERABLE, not_found, []) == (True, False, False, False)
    assert judge(UNANSWERABLE, "Yes. Gift cards are sold in store. [1]", ["qna.json"])[3]
    assert judge(UNANSWERABLE, "The Trailblazer 27 costs $1,399. [1]", ["prices.csv"])[3]
    # Answered, but with no yes or no and none of its tempting facts: not abstained, not harmful.
    assert judge(UNANSWERABLE, "We sell mountain bikes. [1]", ["faq.md"]) == (
        False,
        False,
        False,
        False,
    )


@pytest.mark.parametrize(
    ("answer", "fact", "found"),
    [
        ("It costs $1,649. [1]", "1649", True),
        ("Call (503) 555-0142 today.", "555-0142", True),
        ("Sizes: XS/S/M.", "xs s m", True),
        ("It takes 12 days.", "2 days", False),  # whole words only
        ("Level 15 is the top.", "15%", False),
    ],
)
def test_facts_are_matched_as_whole_words_after_normalisation(
    answer: str, fact: str, found: bool
) -> None:
    assert holds(answer, fact) is found


def test_the_bench_data_meets_the_issues_counts_and_every_question_is_well_formed() -> None:
    companies = read_companies(BENCH / "companies")
    questions = [q for c in companies for q in c.questions]

    assert len(companies) >= 4
    assert {c.split for c in companies} == {"fit", "dev", "held-out"}
    assert sum(q.answerable for q in questions) >= 150
    assert sum(not q.answerable for q in questions) >= 50
    assert len({q.id for q in questions}) == len(questions)
    for company in companies:
        files = {p.name for p in company.knowledge.iterdir()} | {
            p.name.rsplit(".", 2)[0] + "." + p.name.rsplit(".", 2)[1]
            for p in (company.knowledge.parent / "docs").iterdir()
        }
        for question in company.questions:
            assert set(question.sources) <= files, (question.id, question.sources)


def _make_files() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_files", BENCH / "make_files.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_binary_files_are_generated_and_read_by_chatforge(tmp_path: Path) -> None:
    company = tmp_path / "shop"
    (company / "docs").mkdir(parents=True)
    (company / "docs" / "policy.pdf.md").write_text(
        "# Shop policy\n## Returns\nYou can return a bike within 30 days.\n"
    )
    (company / "docs" / "manual.docx.md").write_text(
        "# Manual\n## How do I reset the display?\n1. Turn the bike off.\n2. Hold M.\n"
    )
    (company / "docs" / "prices.xlsx.csv").write_text("model,price_usd\nTrailblazer 29,1649\n")

    written = _make_files().build(tmp_path)

    assert sorted(p.name for p in written) == ["manual.docx", "policy.pdf", "prices.xlsx"]
    texts = {p.name: _text_of(p) for p in written}
    assert "within 30 days" in texts["policy.pdf"]
    # The PDF declares its first heading as its title, as a word processor's export does.
    pdf = written[[p.name for p in written].index("policy.pdf")]
    assert parse_file(pdf, detect_kind(pdf, filename=pdf.name)).title == "Shop policy"
    assert "Hold M." in texts["manual.docx"]
    assert "price_usd: 1649" in texts["prices.xlsx"]


def _text_of(path: Path) -> str:
    document = parse_file(path, detect_kind(path, filename=path.name))
    return "\n".join(section.text for section in document.sections)


def _shop(root: Path, split: str) -> None:
    """A tiny company: a FAQ, a price list, a Q&A pair and five labelled questions."""
    company = root / f"shop-{split}"
    (company / "knowledge").mkdir(parents=True)
    (company / "company.json").write_text(json.dumps({"name": "Shop", "split": split}))
    (company / "knowledge" / "faq.md").write_text(
        "# FAQ\n\n## Do you offer test rides?\nYes. Test rides are free at our Portland store.\n\n"
        "## Do you rent bikes?\nNo, we do not rent bikes. We only sell and service them.\n"
    )
    (company / "knowledge" / "prices.csv").write_text(
        "model,type,price_usd\nTrailblazer 29,mountain,1649\nCommuter 7,city,749\n"
    )
    (company / "knowledge" / "qna.json").write_text(
        json.dumps([{"question": "Do you sell gift cards?", "answer": "Yes, from $25 to $500."}])
    )
    lines: list[dict[str, Any]] = [
        {"id": "a1", "q": "Trailblazer 29 price?", "facts": ["1649"], "source": "prices.csv"},
        {"id": "a2", "q": "can I rent a bike", "facts": ["do not rent"], "source": "faq.md"},
        {"id": "a3", "q": "Do you sell gift cards?", "facts": ["25"], "source": "qna.json"},
        {"id": "u1", "q": "How much is the Trailblazer 24?", "answerable": False,
         "traps": ["1649"]},
        {"id": "u2", "q": "Do you have a store in Seattle?", "answerable": False,
         "traps": ["yes", "portland"]},
    ]  # fmt: skip
    (company / "questions.jsonl").write_text("\n".join(json.dumps(line) for line in lines))


@pytest.mark.usefixtures("reuse_embedder")
def test_eval_support_reports_each_split_through_the_real_chat(tmp_path: Path) -> None:
    _shop(tmp_path / "companies", "fit")
    _shop(tmp_path / "companies", "dev")
    _shop(tmp_path / "companies", "held-out")
    out = tmp_path / "report.json"

    result = CliRunner().invoke(
        app, ["eval", "support", str(tmp_path / "companies"), "--out", str(out), "--json"]
    )

    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for split in ("fit", "dev", "held-out", "all"):
        numbers = figures["splits"][split]
        assert numbers["answered_correct"] == pytest.approx(1.0), (split, result.stdout)
        assert numbers["cited_correct"] == pytest.approx(1.0)
        assert numbers["abstention"] == pytest.approx(1.0)
        assert numbers["harmful_count"] == 0
        # The offline model quotes what it cites: no answer is flagged for its citations.
        assert numbers["flagged"] == 0.0
    assert figures["splits"]["all"]["answerable"] == 9
    assert figures["goals"] == {
        "answered_correct": True,
        "abstention": True,
        "harmful": True,
        "cited_correct": True,
    }
    report = json.loads(out.read_text())
    answers = {o["id"]: o["answer"] for o in report["outcomes"] if o["split"] == "fit"}
    assert "$1,649" in answers["a1"]
    # "Not found" says what the chatbot can answer: here its Q&A question.
    assert answers["u2"].startswith(NOT_FOUND_ANSWER) and "gift cards" in answers["u2"]


def test_a_malformed_question_line_is_refused_with_its_place(tmp_path: Path) -> None:
    _shop(tmp_path / "companies", "fit")
    questions = tmp_path / "companies" / "shop-fit" / "questions.jsonl"
    questions.write_text('{"id": "x", "q": "No facts?"}\n')

    result = CliRunner().invoke(app, ["eval", "support", str(tmp_path / "companies")])

    assert result.exit_code == 2
    assert "questions.jsonl:1" in result.output
