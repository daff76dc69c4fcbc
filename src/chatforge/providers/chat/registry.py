"""Chat models by name: ``provider:model``, or okchat's bare names.

Providers register a :class:`~chatforge.providers.chat.spec.ProviderSpec`, built-in or plugin
alike: :meth:`ModelRegistry.with_builtins` registers OpenAI and its compatible servers (one spec
per row of the table), Anthropic and the extractive model, then the specs that installed packages
declare under the entry-point group :data:`ENTRY_POINT_GROUP`. The registry holds no global state:
each app builds its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from fnmatch import fnmatchcase
from importlib.metadata import entry_points

import httpx

from chatforge.errors import ValidationFailed
from chatforge.providers.chat.anthropic import ANTHROPIC_SPEC
from chatforge.providers.chat.base import ChatModel
from chatforge.providers.chat.extractive import extractive_spec
from chatforge.providers.chat.openai import (
    OPENAI_COMPATIBLE,
    OpenAICompatible,
    openai_compatible_spec,
)
from chatforge.providers.chat.spec import ProviderConfig, ProviderSpec

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "chatforge.providers"
"""Entry points of this group name a ProviderSpec, or a callable returning one or several."""

OFFLINE_MODEL = "extractive"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


def default_model(config: ProviderConfig) -> str:
    """The model of a chatbot created without one: OpenAI's when a key is set, else offline."""
    return DEFAULT_OPENAI_MODEL if config.openai_api_key else OFFLINE_MODEL


def unconfigured_local(config: ProviderConfig) -> tuple[str, ...]:
    """The local runtimes of the table (Ollama, vLLM, ...) that the operator did not configure.

    Their default addresses are ports on this machine: a chatbot that could name one would make
    the server send its knowledge to whatever listens there. They exist once an operator names
    their address in ``CHATFORGE_MODELS__COMPATIBLE_BASE_URLS``.
    """
    return tuple(
        row.name
        for row in OPENAI_COMPATIBLE
        if row.local and row.name not in config.extra_openai_compatible
    )


def builtin_specs(config: ProviderConfig) -> list[ProviderSpec]:
    """The specs of the built-in providers, and of the extra compatible servers of ``config``.

    Local runtimes are left out until configured (see :func:`unconfigured_local`).
    """
    unconfigured = unconfigured_local(config)
    specs = [
        openai_compatible_spec(row) for row in OPENAI_COMPATIBLE if row.name not in unconfigured
    ]
    known = {row.name for row in OPENAI_COMPATIBLE}
    specs.extend(
        openai_compatible_spec(OpenAICompatible(name, name, base_url))
        for name, base_url in config.extra_openai_compatible.items()
        if name not in known
    )
    specs.extend([ANTHROPIC_SPEC, extractive_spec()])
    return specs


class ModelRegistry:
    """The chat providers of one app, and the models their names build.

    Args:
        config: The provider settings every factory reads.
        http_client: A client shared by the HTTP providers (connection reuse); None makes each
            call open its own, which is safe across event loops.
    """

    def __init__(
        self,
        config: ProviderConfig | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config or ProviderConfig()
        self._http_client = http_client
        self._specs: dict[str, ProviderSpec] = {}

    @classmethod
    def with_builtins(
        cls,
        config: ProviderConfig | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        plugins: bool = True,
    ) -> ModelRegistry:
        """A registry with the built-in providers and, when ``plugins``, the installed ones."""
        registry = cls(config, http_client=http_client)
        for spec in builtin_specs(registry.config):
            registry.register(spec)
        if plugins:
            registry.load_entry_points()
        return registry

    def register(self, spec: ProviderSpec, *, replace: bool = False) -> None:
        """Add a provider.

        Args:
            spec: The provider.
            replace: Allow replacing a provider of the same name (a test's scripted model, an
                extractive model with an embedder).

        Raises:
            ValueError: A provider of that name exists and ``replace`` is false.
        """
        if ":" in spec.name or not spec.name:
            raise ValueError(f"Invalid provider name {spec.name!r}.")
        if spec.name in self._specs and not replace:
            raise ValueError(f"A chat provider named {spec.name!r} is already registered.")
        self._specs[spec.name] = spec

    def load_entry_points(self) -> None:
        """Register the specs that installed packages declare; a broken plugin is skipped."""
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                for spec in _specs_of(entry_point.load()):
                    self.register(spec)
            except Exception:
                # One broken plugin must not take the server down; say which and go on.
                logger.exception("Chat provider plugin %s could not be loaded", entry_point.name)

    @property
    def providers(self) -> tuple[str, ...]:
        """The names of the registered providers, in registration order."""
        return tuple(self._specs)

    def resolve(self, name: str) -> tuple[str, str]:
        """The ``(provider, model)`` that a model name means.

        ``provider:model`` splits at the first colon (``ollama:llama3.2:3b`` is Ollama's
        ``llama3.2:3b``); a bare name belongs to the first provider whose patterns match it.

        Raises:
            ValidationFailed: No provider knows the name (422).
        """
        name = name.strip()
        prefix, colon, model = name.partition(":")
        spec = self._specs.get(prefix) if colon else None
        if spec is None and colon and prefix in unconfigured_local(self.config):
            raise self._unknown(
                name,
                f" Provider '{prefix}' is not configured on this server: its operator names its "
                "address in CHATFORGE_MODELS__COMPATIBLE_BASE_URLS to use it.",
            )
        if spec is not None:
            if model and (spec.models is None or model in spec.models):
                return spec.name, model
            hint = (
                f" Name the model after '{prefix}:'."
                if spec.models is None
                else f" Provider '{prefix}' has the models: {', '.join(spec.models)}."
            )
            raise self._unknown(name, hint)
        for spec in self._specs.values():
            if any(fnmatchcase(name, pattern) for pattern in spec.bare_names):
                return spec.name, name
        raise self._unknown(name, "")

    def build(self, name: str, *, api_key: str | None = None) -> ChatModel:
        """The model that ``name`` means, ready to stream.

        Args:
            name: ``provider:model`` or a bare name.
            api_key: The chatbot's own ``openai_api_key``, if it has one.

        Raises:
            ValidationFailed: No provider knows the name (422).
            ProviderUnavailable: The provider needs a key that is not set (503); the message
                names the setting, and the offline model.
        """
        provider, model = self.resolve(name)
        return self._specs[provider].factory(
            model, config=self.config, api_key=api_key, http_client=self._http_client
        )

    def default_model(self) -> str:
        """The model of a chatbot created without one; see :func:`default_model`."""
        return default_model(self.config)

    def _unknown(self, name: str, extra: str) -> ValidationFailed:
        examples = [example for spec in self._specs.values() for example in spec.examples]
        message = (
            f"Unknown model {name!r}.{extra} Name a model as provider:model or a known bare "
            f"name, for example {', '.join(examples[:10])}; providers: "
            f"{', '.join(self._specs)}."
        )
        return ValidationFailed(message, details=[{"field": "settings.model", "message": message}])


def _specs_of(loaded: object) -> Iterable[ProviderSpec]:
    value = loaded() if callable(loaded) and not isinstance(loaded, ProviderSpec) else loaded
    if isinstance(value, ProviderSpec):
        return [value]
    if isinstance(value, Iterable):
        specs = list(value)
        if all(isinstance(spec, ProviderSpec) for spec in specs):
            return specs
    raise TypeError(f"expected a ProviderSpec or an iterable of them, got {type(value).__name__}")
