"""Model names resolve to providers; building needs the provider's key; plugins register."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.providers.chat.helpers import request
from tests.servers.openai_server import OpenAIServer

from chatforge.errors import ProviderUnavailable, ValidationFailed
from chatforge.providers.chat import (
    OPENAI_COMPATIBLE,
    ChatEvent,
    ChatModel,
    ChatRequest,
    ExtractiveModel,
    ModelRegistry,
    ProviderConfig,
    ProviderSpec,
    TextDelta,
    Usage,
    complete,
    default_model,
    extractive_spec,
)

LOCAL_RUNTIMES = {
    "ollama": "http://gpu-box:11434/v1",
    "vllm": "http://gpu-box:8000/v1",
    "lmstudio": "http://gpu-box:1234/v1",
    "llamacpp": "http://gpu-box:8080/v1",
}


@pytest.fixture
def registry() -> ModelRegistry:
    """The built-in providers, with the local runtimes configured by the operator."""
    config = ProviderConfig(extra_openai_compatible=LOCAL_RUNTIMES)
    return ModelRegistry.with_builtins(config, plugins=False)


@pytest.mark.parametrize("name", ["ollama:llama3.2", "vllm:m", "lmstudio:m", "llamacpp:m"])
def test_local_runtimes_the_operator_did_not_configure_are_422(name: str) -> None:
    # Their default addresses are this machine's ports: a tenant naming one would make the
    # server send the knowledge-bearing prompt to whatever listens there.
    registry = ModelRegistry.with_builtins(ProviderConfig(), plugins=False)
    with pytest.raises(ValidationFailed) as caught:
        registry.resolve(name)
    assert caught.value.status == 422
    assert "not configured" in caught.value.message
    assert "CHATFORGE_MODELS__COMPATIBLE_BASE_URLS" in caught.value.message
    assert name.split(":")[0] not in registry.providers


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gpt-4o-mini", ("openai", "gpt-4o-mini")),
        ("gpt-4o", ("openai", "gpt-4o")),
        ("gpt-4.1-nano", ("openai", "gpt-4.1-nano")),
        ("gpt-3.5-turbo", ("openai", "gpt-3.5-turbo")),
        ("o1-mini", ("openai", "o1-mini")),
        ("o3", ("openai", "o3")),
        ("o4-mini", ("openai", "o4-mini")),
        ("claude-haiku-4-5", ("anthropic", "claude-haiku-4-5")),
        ("extractive", ("extractive", "extractive")),
        ("openai:gpt-4o-mini", ("openai", "gpt-4o-mini")),
        ("ollama:llama3.2:3b", ("ollama", "llama3.2:3b")),
        ("vllm:Qwen/Qwen2.5-7B-Instruct", ("vllm", "Qwen/Qwen2.5-7B-Instruct")),
        ("anthropic:claude-opus-4-7", ("anthropic", "claude-opus-4-7")),
        ("extractive:extractive", ("extractive", "extractive")),
        (" gpt-4o-mini ", ("openai", "gpt-4o-mini")),
    ],
)
def test_names_resolve_to_provider_and_model(
    registry: ModelRegistry, name: str, expected: tuple[str, str]
) -> None:
    assert registry.resolve(name) == expected


@pytest.mark.parametrize(
    "name", ["llama3", "gpt4", "", "nobody:model", "openai:", "extractive:big", "o2"]
)
def test_unknown_names_are_422_with_examples(registry: ModelRegistry, name: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        registry.resolve(name)
    error = caught.value
    assert error.status == 422
    for example in ("gpt-4o-mini", "ollama:llama3.2", "claude-", "extractive"):
        assert example in error.message
    assert error.details == [{"field": "settings.model", "message": error.message}]


def test_every_table_row_is_a_provider(registry: ModelRegistry) -> None:
    assert {row.name for row in OPENAI_COMPATIBLE} <= set(registry.providers)
    assert {"openai", "ollama", "vllm", "lmstudio", "llamacpp", "anthropic", "extractive"} <= set(
        registry.providers
    )


@pytest.mark.parametrize(
    ("name", "setting"),
    [
        ("gpt-4o-mini", "CHATFORGE_MODELS__OPENAI_API_KEY"),
        ("claude-haiku-4-5", "CHATFORGE_MODELS__ANTHROPIC_API_KEY"),
        ("groq:llama-3.3-70b", "CHATFORGE_MODELS__API_KEYS__GROQ"),
    ],
)
def test_known_model_without_key_is_503_naming_setting_and_offline_model(
    registry: ModelRegistry, name: str, setting: str
) -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        registry.build(name)
    assert caught.value.status == 503
    assert setting in caught.value.message
    assert "'extractive'" in caught.value.message


def test_openai_key_error_mentions_the_chatbot_key(registry: ModelRegistry) -> None:
    with pytest.raises(ProviderUnavailable, match="the chatbot's openai_api_key"):
        registry.build("openai:gpt-4o")


async def test_chatbot_key_is_used_when_the_server_has_none(openai: OpenAIServer) -> None:
    config = ProviderConfig(openai_base_url=openai.base_url)
    model = ModelRegistry.with_builtins(config, plugins=False).build(
        "gpt-4o-mini", api_key="sk-test-0123456789abcdefSECRET"
    )
    assert (await complete(model, request())).text.startswith("Echo:")
    assert openai.last_request.headers["authorization"].endswith("abcdefSECRET")


async def test_chatbot_key_wins_over_the_server_key(openai: OpenAIServer) -> None:
    config = ProviderConfig(
        openai_api_key="sk-server-key-xxxxxxxx", openai_base_url=openai.base_url
    )
    model = ModelRegistry.with_builtins(config, plugins=False).build(
        "gpt-4o-mini", api_key="sk-test-0123456789abcdefSECRET"
    )
    await complete(model, request())
    assert openai.last_request.headers["authorization"] == "Bearer sk-test-0123456789abcdefSECRET"


def test_chatbot_openai_key_is_not_an_anthropic_key(registry: ModelRegistry) -> None:
    with pytest.raises(ProviderUnavailable, match="CHATFORGE_MODELS__ANTHROPIC_API_KEY"):
        registry.build("claude-haiku-4-5", api_key="sk-chatbot-key-xxxxxxxx")


def test_openai_names_need_no_key_when_the_base_url_is_another_server() -> None:
    config = ProviderConfig(openai_base_url="http://127.0.0.1:9/v1")
    model = ModelRegistry.with_builtins(config, plugins=False).build("gpt-4o-mini")
    assert model.qualified_name == "openai:gpt-4o-mini"


def test_local_servers_need_no_key(registry: ModelRegistry) -> None:
    for name in ("ollama:llama3.2", "vllm:m", "lmstudio:m", "llamacpp:m"):
        assert registry.build(name).qualified_name == name


def test_extra_compatible_server_from_config_is_a_provider() -> None:
    config = ProviderConfig(extra_openai_compatible={"tgi": "http://127.0.0.1:9/v1"})
    registry = ModelRegistry.with_builtins(config, plugins=False)
    assert registry.resolve("tgi:my-model") == ("tgi", "my-model")
    assert registry.build("tgi:my-model").provider == "tgi"


def test_extractive_builds_offline(registry: ModelRegistry) -> None:
    model = registry.build("extractive")
    assert isinstance(model, ExtractiveModel)
    assert model.qualified_name == "extractive:extractive"
    assert model.generative is False


def test_default_model_is_openai_with_a_key_else_extractive() -> None:
    assert default_model(ProviderConfig()) == "extractive"
    assert default_model(ProviderConfig(openai_api_key="sk-x")) == "gpt-4o-mini"
    assert ModelRegistry(ProviderConfig()).default_model() == "extractive"


class ScriptedModel(ChatModel):
    """A test model registered like any provider, as simonw/llm's tests do."""

    def __init__(self, name: str) -> None:
        self.provider = "scripted"
        self.name = name

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        yield TextDelta(f"{self.name} says hi")
        yield Usage(1, 3)


def scripted_factory(
    model: str,
    *,
    config: ProviderConfig,
    api_key: str | None,
    http_client: httpx.AsyncClient | None,
) -> ChatModel:
    return ScriptedModel(model)


SCRIPTED = ProviderSpec("scripted", scripted_factory, bare_names=("bot-*",), examples=("bot-1",))


async def test_a_registered_provider_builds_by_prefix_and_bare_name(
    registry: ModelRegistry,
) -> None:
    registry.register(SCRIPTED)
    assert registry.resolve("bot-7") == ("scripted", "bot-7")
    completion = await complete(registry.build("scripted:x"), request())
    assert completion.text == "x says hi" and completion.usage.total_tokens == 4
    assert "bot-1" in _unknown_message(registry)


def test_registering_a_name_twice_needs_replace(registry: ModelRegistry) -> None:
    with pytest.raises(ValueError, match="already registered"):
        registry.register(ProviderSpec("extractive", scripted_factory))
    registry.register(ProviderSpec("extractive", scripted_factory), replace=True)
    assert isinstance(registry.build("extractive:anything"), ScriptedModel)


def test_entry_point_plugins_are_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real installed plugin: a module and its dist-info with an entry point, on sys.path.
    (tmp_path / "chatforge_test_plugin.py").write_text(
        textwrap.dedent(
            """
            from tests.providers.chat.test_registry import SCRIPTED

            def specs():
                return [SCRIPTED]
            """
        )
    )
    dist = tmp_path / "chatforge_test_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: chatforge-test-plugin\n")
    (dist / "entry_points.txt").write_text(
        "[chatforge.providers]\nscripted = chatforge_test_plugin:specs\n"
        "broken = chatforge_test_plugin:missing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = ModelRegistry.with_builtins(ProviderConfig())
    assert "scripted" in registry.providers
    assert registry.resolve("bot-2") == ("scripted", "bot-2")


def _unknown_message(registry: ModelRegistry) -> str:
    with pytest.raises(ValidationFailed) as caught:
        registry.resolve("no-such-model")
    return caught.value.message


async def test_the_app_can_serve_a_tuned_extractive_model(registry: ModelRegistry) -> None:
    tuned = ExtractiveModel(min_similarity=0.9)
    registry.register(extractive_spec(tuned), replace=True)
    assert registry.build("extractive") is tuned
