"""``chatforge eval retrieval`` on a tiny collection whose figures are computed by hand."""

from __future__ import annotations

import json
import math
import sqlite3
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatforge.cli import app

CORPUS = [
    {"_id": "A", "title": "Zebras", "text": "Zebra stripes confuse biting flies on the savanna."},
    {"_id": "B", "title": "Tunnels", "text": "Quantum tunnelling lets electrons cross barriers."},
    {"_id": "C", "title": "Barrier", "text": "Particles pass potential walls in small devices."},
    {"_id": "D", "title": "Volcano", "text": "Basalt lava flows from shield volcanoes in Hawaii."},
    {"_id": "E", "title": "Bread", "text": "Sourdough bread rises with wild yeast and bacteria."},
]
QUERIES = [
    {"_id": "q1", "text": "zebra stripes"},
    {"_id": "q2", "text": "quantum tunnelling"},
    {"_id": "q3", "text": "basalt lava"},
    {"_id": "q4", "text": "never judged"},
]
QRELS = "query-id\tcorpus-id\tscore\nq1\tA\t1\nq2\tB\t1\nq2\tC\t1\nq3\tD\t2\n"


@pytest.fixture
def collection(tmp_path: Path) -> dict[str, Path]:
    paths = {"corpus": tmp_path / "corpus.jsonl", "queries": tmp_path / "queries.jsonl"}
    paths["corpus"].write_text("\n".join(json.dumps(d) for d in CORPUS))
    paths["queries"].write_text("\n".join(json.dumps(q) for q in QUERIES))
    paths["qrels"] = tmp_path / "qrels.tsv"
    paths["qrels"].write_text(QRELS)
    return paths


def test_keyword_figures_match_a_hand_computation(
    collection: dict[str, Path], database_url: str
) -> None:
    result = CliRunner().invoke(
        app,
        [
            "eval", "retrieval", "--corpus", str(collection["corpus"]),
            "--queries", str(collection["queries"]), "--qrels", str(collection["qrels"]),
            "--mode", "keyword", "--database-url", database_url, "--json",
        ],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    # Keyword search finds exactly one document per query: A, B and D at rank 1. C shares no
    # word with q2, so q2 has nDCG 1 / (1 + 1/log2 3) and recall 1/2; q1 and q3 are perfect.
    q2 = 1 / (1 + 1 / math.log2(3))
    assert figures["queries"] == 3
    assert figures["documents"] == 5
    assert figures["ndcg_at_10"] == pytest.approx((1 + q2 + 1) / 3, abs=1e-4)
    assert figures["recall_at_100"] == pytest.approx((1 + 0.5 + 1) / 3, abs=1e-4)
    assert figures["query_p95_ms"] >= figures["query_p50_ms"] > 0
    assert "nDCG@10" in result.stdout


def test_several_modes_share_one_ingest(collection: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        app,
        [
            "eval", "retrieval", "--corpus", str(collection["corpus"]),
            "--queries", str(collection["queries"]), "--qrels", str(collection["qrels"]),
            "--mode", "hybrid", "--mode", "vector", "--json",
        ],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout.strip().splitlines()[-1])
    assert [r["mode"] for r in reports] == ["hybrid", "vector"]
    # Hybrid finds C through meaning ("pass potential walls"), so it recalls everything.
    assert reports[0]["recall_at_100"] == pytest.approx(1.0)


def _keyword_args(collection: dict[str, Path]) -> list[str]:
    return [
        "eval", "retrieval", "--corpus", str(collection["corpus"]),
        "--queries", str(collection["queries"]), "--qrels", str(collection["qrels"]),
        "--mode", "keyword",
    ]  # fmt: skip


def test_a_run_leaves_no_data_behind(
    collection: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    result = CliRunner().invoke(app, _keyword_args(collection))

    assert result.exit_code == 0, result.output
    assert list(scratch.iterdir()) == []


def test_data_dir_keeps_the_database(collection: dict[str, Path], tmp_path: Path) -> None:
    kept = tmp_path / "kept"

    result = CliRunner().invoke(app, [*_keyword_args(collection), "--data-dir", str(kept)])

    assert result.exit_code == 0, result.output
    with sqlite3.connect(kept / "chatforge.db") as conn:
        assert conn.execute("SELECT count(*) FROM knowledge_items").fetchone() == (5,)
    again = CliRunner().invoke(app, [*_keyword_args(collection), "--data-dir", str(kept)])
    assert again.exit_code == 2
    assert "new or empty directory" in again.output


def test_unknown_mode_is_refused(collection: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        app,
        ["eval", "retrieval", "--corpus", str(collection["corpus"]), "--queries",
         str(collection["queries"]), "--qrels", str(collection["qrels"]), "--mode", "magic"],
    )  # fmt: skip

    assert result.exit_code == 2
    assert "unknown mode" in result.output
