"""Speech models load once per process, lazily, and are shared by every app and request.

A model is loaded on its first use, in a worker thread (so the event loop keeps serving other
requests while it loads); callers that ask for the same model meanwhile wait for that one load.
Nothing is loaded at import time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar, cast

import anyio.to_thread

__all__ = ["load_shared", "loaded_models", "offline"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_models: dict[str, object] = {}
_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def offline() -> None:
    """Tell the libraries that could reach a model hub that they must not.

    Chatforge's models are files from installed packages; a library that tried to download one
    would hang on a machine with no network, or leak that the server runs a given model.
    """
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
        os.environ.setdefault(name, "1")


def _load(key: str, loader: Callable[[], T]) -> T:
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:  # one load per model, however many callers ask at once
        if key not in _models:
            offline()
            started = time.perf_counter()
            _models[key] = loader()
            log.info("speech model %s loaded in %.2f s", key, time.perf_counter() - started)
        return cast(T, _models[key])


async def load_shared(key: str, loader: Callable[[], T]) -> T:
    """The model named ``key``, built by ``loader`` in a thread the first time it is asked for."""
    found = _models.get(key)
    if found is not None:
        return cast(T, found)
    return await anyio.to_thread.run_sync(_load, key, loader)


def loaded_models() -> tuple[str, ...]:
    """The keys of the models loaded in this process (for health and tests)."""
    return tuple(_models)
