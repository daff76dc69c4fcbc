"""``chatforge eval answers`` on a tiny SQuAD-format file whose figures are checked by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chatforge.cli import app
from chatforge.evaluation.answers import answer_text, citations_valid
from chatforge.rag.metrics import exact_match, normalize_answer, token_f1


def _qa(qid: str, question: str, *answers: str) -> dict[str, Any]:
    spans = [{"text": a, "answer_start": 0} for a in answers]
    return {"id": qid, "question": question, "answers": spans}


# Three articles on unrelated topics; every question shares distinctive words with its paragraph
# and no other, so the chat retrieves its paragraph first. The last article is about bread: held
# out, nothing ingested mentions sourdough, starters or loaves, so the chatbot must say not found.
SQUAD = {
    "version": "1.1",
    "data": [
        {
            "title": "Zebra",
            "paragraphs": [
                {
                    "context": "Zebra stripes confuse biting horseflies on the African savanna. "
                    "Each zebra has a unique stripe pattern.",
                    "qas": [
                        _qa("z1", "What do zebra stripes confuse?", "biting horseflies"),
                        _qa("z2", "Where do zebras with stripes confuse horseflies?",
                            "the African savanna", "African savanna"),
                    ],
                },
                {
                    "context": "Zebras live in harems led by a single stallion. A harem holds "
                    "several mares and their foals.",
                    "qas": [_qa("z3", "Who leads a zebra harem?", "a single stallion")],
                },
            ],
        },
        {
            "title": "Volcano",
            "paragraphs": [
                {
                    "context": "Basalt lava flows from shield volcanoes in Hawaii. Mauna Loa is "
                    "the largest shield volcano on Earth.",
                    "qas": [
                        _qa("v1", "Which is the largest shield volcano on Earth?", "Mauna Loa"),
                    ],
                },
            ],
        },
        {
            "title": "Sourdough",
            "paragraphs": [
                {
                    "context": "Sourdough loaves rise with a starter of wild yeast and "
                    "lactobacilli. Bakers feed the starter flour and water daily.",
                    "qas": [
                        _qa("b1", "What do bakers feed a sourdough starter?", "flour and water"),
                        _qa("b2", "Which microbes make sourdough loaves rise?",
                            "wild yeast and lactobacilli"),
                    ],
                },
            ],
        },
    ],
}  # fmt: skip


@pytest.fixture
def squad_file(tmp_path: Path) -> Path:
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(SQUAD))
    return path


def _run(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["eval", "answers", *args, "--json"])
    assert result.exit_code == 0, result.output
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def test_held_out_article_figures_match_a_hand_check(squad_file: Path, database_url: str) -> None:
    figures = _run(
        "--squad", str(squad_file), "--holdout-articles", "1", "--database-url", database_url
    )

    # Two articles (3 paragraphs, 4 questions) ingested; the bread article's 2 questions held out.
    assert (figures["articles"], figures["paragraphs"], figures["questions"]) == (2, 3, 4)
    assert figures["abstain_questions"] == 2
    assert figures["recall_at_1"] == pytest.approx(1.0)
    assert figures["recall_at_5"] == pytest.approx(1.0)
    # Every gold answer is a span of its paragraph, which is retrieved.
    assert figures["answer_in_context_at_5"] == pytest.approx(1.0)
    assert figures["abstention"] == pytest.approx(1.0)
    assert figures["citations_valid"] == pytest.approx(1.0)
    # The model quotes whole sentences: an answer contains its gold span, so F1 is above zero
    # but exact match is not reached by sentences longer than the span.
    assert 0.0 < figures["f1"] < 1.0
    assert figures["exact_match"] == pytest.approx(0.0)
    assert figures["not_found_share"] == pytest.approx(0.0)
    assert figures["goals"] == {"recall_at_5": True, "abstention": True, "citations_valid": True}
    assert figures["passed"] is True


def test_abstain_file_and_question_limit(squad_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"version": "1.1", "data": SQUAD["data"][2:]}))
    knowledge = tmp_path / "knowledge.json"
    knowledge.write_text(json.dumps({"version": "1.1", "data": SQUAD["data"][:2]}))

    result = CliRunner().invoke(
        app,
        ["eval", "answers", "--squad", str(knowledge), "--abstain", str(other),
         "--limit-questions", "1", "--embedding-cache", str(tmp_path / "cache.db"), "--json"],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert (figures["questions"], figures["abstain_questions"]) == (1, 1)
    assert figures["abstention"] == pytest.approx(1.0)
    assert "recall@5" in result.stdout
    assert "PASS" in result.stdout


def test_without_abstention_set_the_goal_is_not_measured(squad_file: Path) -> None:
    figures = _run("--squad", str(squad_file))

    assert figures["abstention"] is None
    assert "abstention" not in figures["goals"]
    assert figures["questions"] == 6


def test_conflicting_options_are_refused(squad_file: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["eval", "answers", "--squad", str(squad_file), "--abstain", str(squad_file),
         "--holdout-articles", "1"],
    )  # fmt: skip

    assert result.exit_code == 2
    assert "not both" in result.output


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("  a   cat,  an apple and THE dog. ", "cat apple and dog"),
        ("rock-n-roll's theme", "rocknrolls theme"),  # punctuation goes, inner articles stay
        ("Then, anthem", "then anthem"),  # only whole words are articles
    ],
)
def test_squad_normalisation(text: str, normal: str) -> None:
    assert normalize_answer(text) == normal


def test_exact_match_takes_the_best_gold_answer() -> None:
    assert exact_match("the Denver Broncos", ["Broncos", "Denver Broncos"]) == 1.0
    assert exact_match("Denver", ["Broncos", "Denver Broncos"]) == 0.0
    assert exact_match("anything", []) == 0.0


def test_token_f1_matches_a_hand_computation() -> None:
    # Prediction "denver broncos won" vs gold "broncos": 1 common token,
    # precision 1/3, recall 1/1, F1 = 2 * (1/3) / (4/3) = 0.5.
    assert token_f1("Denver Broncos won.", ["Broncos"]) == pytest.approx(0.5)
    # Against "the Denver Broncos" (normalised "denver broncos"): 2 common tokens,
    # precision 2/3, recall 1, F1 = 0.8; the best gold wins.
    assert token_f1("Denver Broncos won.", ["Broncos", "the Denver Broncos"]) == pytest.approx(0.8)
    # A repeated token counts as often as both sides have it: "b b" vs "b c" share one "b",
    # precision 1/2, recall 1/2, F1 = 0.5.
    assert token_f1("b b", ["b c"]) == pytest.approx(0.5)
    assert token_f1("the", ["an"]) == 0.0  # both normalise to nothing
    assert token_f1("x", []) == 0.0


def test_answer_text_and_citations() -> None:
    response = "Mauna Loa is the largest [2] …shield volcano [1]"
    assert answer_text(response) == "Mauna Loa is the largest shield volcano"
    assert citations_valid(response, {1, 2, 3})
    assert not citations_valid(response, {1})
    assert citations_valid("I couldn't find this in my knowledge base.", set())
