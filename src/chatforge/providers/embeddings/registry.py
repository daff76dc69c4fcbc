"""Embedding models by name: ``local``, ``openai:<model>``, ``ollama:<model>``, ...

A name is ``provider:model``. Each provider is one entry in a table of factories; the built-in
ones are registered the same way a plugin registers its own with :func:`register_embedder`.
An OpenAI-compatible server is one line of :data:`OPENAI_COMPATIBLE`, not a new class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from chatforge.errors import ProviderUnavailable, ValidationFailed
from chatforge.providers.embeddings.base import Embedder
from chatforge.providers.embeddings.local import MODEL as LOCAL_MODEL
from chatforge.providers.embeddings.local import LocalMiniLMEmbedder
from chatforge.providers.embeddings.openai import OPENAI_BASE_URL, OpenAICompatibleEmbedder

_MODEL_SETTING = "CHATFORGE_EMBEDDINGS__MODEL"
_KEY_SETTING = "CHATFORGE_EMBEDDINGS__API_KEY"
_URL_SETTING = "CHATFORGE_EMBEDDINGS__BASE_URL"


@dataclass(frozen=True)
class EmbedderOptions:
    """What an embedder factory gets besides the model name; each field is a setting."""

    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    threads: int | None = None
    batch_size: int = 32
    dimensions: int | None = None


#: Makes an embedder from the model part of its name (after ``provider:``) and the options.
EmbedderFactory = Callable[[str, EmbedderOptions], Embedder]


@dataclass(frozen=True)
class CompatibleServer:
    """An OpenAI-compatible embeddings server: where it usually listens and whether it needs a key.

    Attributes:
        label: Human name for messages.
        base_url: Its usual base URL; None when the operator must always give one.
        needs_key: Whether its usual base URL refuses requests without a key.
    """

    label: str
    base_url: str | None
    needs_key: bool = False


OPENAI_COMPATIBLE: dict[str, CompatibleServer] = {
    "openai": CompatibleServer("OpenAI", OPENAI_BASE_URL, needs_key=True),
    "openai-compatible": CompatibleServer("An OpenAI-compatible server", None),
    "ollama": CompatibleServer("Ollama", "http://127.0.0.1:11434/v1"),
    "vllm": CompatibleServer("vLLM", "http://127.0.0.1:8000/v1"),
    "lmstudio": CompatibleServer("LM Studio", "http://127.0.0.1:1234/v1"),
}

_FACTORIES: dict[str, EmbedderFactory] = {}


def register_embedder(provider: str, factory: EmbedderFactory) -> None:
    """Make ``provider:<model>`` names build embedders with ``factory`` (replacing any other)."""
    _FACTORIES[provider] = factory


def make_embedder(
    spec: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    threads: int | None = None,
    batch_size: int = 32,
    dimensions: int | None = None,
) -> Embedder:
    """The embedder named by ``spec``.

    Args:
        spec: ``local`` (or ``local:all-MiniLM-L6-v2-int8``), ``openai:<model>``,
            ``openai-compatible:<model>`` (needs ``base_url``), ``ollama:<model>``, or a name
            a plugin registered.
        api_key: Key of a remote API.
        base_url: Base URL of a remote API, replacing the provider's usual one.
        threads: CPU threads of a local model; all cores when None.
        batch_size: Texts per model call or request.
        dimensions: Vector length of a remote model; known models and the server itself tell
            it when None.

    Raises:
        ValidationFailed: The name is unknown, or a setting it needs is missing.
        ProviderUnavailable: A remote model needs a key and none is set.
    """
    provider, _, model = spec.strip().partition(":")
    factory = _FACTORIES.get(provider)
    if factory is None:
        raise _invalid(
            f"Unknown embedding model {spec!r}: use 'local', or 'provider:model' with a provider "
            f"among {', '.join(sorted(_FACTORIES))}."
        )
    options = EmbedderOptions(api_key, base_url, threads, batch_size, dimensions)
    return factory(model, options)


def _local(model: str, options: EmbedderOptions) -> Embedder:
    if model not in ("", LOCAL_MODEL):
        raise _invalid(f"Unknown local embedding model {model!r}: the local model is 'local'.")
    return LocalMiniLMEmbedder(threads=options.threads, batch_size=options.batch_size)


def _compatible(provider: str) -> EmbedderFactory:
    server = OPENAI_COMPATIBLE[provider]

    def factory(model: str, options: EmbedderOptions) -> Embedder:
        if not model:
            raise _invalid(f"Name the model: '{provider}:<model>'.")
        base_url = options.base_url or server.base_url
        if base_url is None:
            raise ValidationFailed(
                f"'{provider}:{model}' needs the server's base URL: set {_URL_SETTING}.",
                details=[{"field": _URL_SETTING, "message": "required"}],
            )
        if server.needs_key and base_url == server.base_url and not options.api_key:
            raise ProviderUnavailable(
                f"{server.label} embeddings need an API key: set {_KEY_SETTING}, or use the "
                "offline model 'local'."
            )
        return OpenAICompatibleEmbedder(
            model=model,
            base_url=base_url,
            api_key=options.api_key,
            dimensions=options.dimensions,
            batch_size=options.batch_size,
            provider=provider,
        )

    return factory


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, details=[{"field": _MODEL_SETTING, "message": message}])


register_embedder("local", _local)
for _provider in OPENAI_COMPATIBLE:
    register_embedder(_provider, _compatible(_provider))
