"""Wire shapes of chatbots (docs/api.md, "Chatbots") and their configuration endpoints."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from chatforge.api.schemas.common import (
    WHOLE,
    CamelModel,
    HexColor,
    OpenModel,
    RequestModel,
    Timestamp,
)
from chatforge.providers.speech.voices import VOICE_NAMES
from chatforge.services.chatbots.service import Chatbot

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Slug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=1, max_length=100)
]
NonNegative = Annotated[float, Field(ge=0)]
ImageUrl = Annotated[
    str,
    StringConstraints(max_length=2000, pattern=r"^(https?://\S+|/\S*)$"),
]
"""A logo's or an avatar's address: http(s) or a path on this server; never ``javascript:``
or ``data:``, which a page showing it would run or trust."""


class Snippet(CamelModel):
    """How the chat widget looks (``settings.snippet``)."""

    header: str | None = None
    language: str | None = None
    logo: ImageUrl | None = None
    name: str | None = None
    primary_color: HexColor | None = None
    secondary_color: HexColor | None = None
    slogan: str | None = None


class RetrievalSettings(OpenModel):
    """``settings.retrieval``: the defaults of query-knowledge and chat for this chatbot.

    Chatforge's own object, so a key it does not know is a typo ("lmit"), refused; ``null``
    for such a key is accepted, so that one stored before this check can be removed.
    """

    model_config = ConfigDict(json_schema_extra={"additionalProperties": {"type": "null"}})

    limit: Annotated[int, Field(ge=1, le=50), WHOLE] | None = None
    threshold: Annotated[float, Field(ge=0, le=1)] | None = None
    mode: Literal["hybrid", "vector", "keyword"] | None = None

    @model_validator(mode="after")
    def _known_keys(self) -> RetrievalSettings:
        unknown = sorted(
            key for key, value in (self.model_extra or {}).items() if value is not None
        )
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r}; the keys are limit, threshold and mode")
        return self


class ChatbotSettings(CamelModel):
    """``settings``: the answering model, the prompt, the greeting and the widget look."""

    avatar: ImageUrl | None = None
    greeting: str | None = Field(None, max_length=2000)
    is_request_user_info_enabled: bool | None = None
    is_tool_enabled: bool | None = None
    model: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None,
        description=(
            "The answering model: provider:model (openai:gpt-4.1-mini, anthropic:claude-haiku-4-5,"
            " ollama:llama3.2), an okchat bare name (gpt-4o-mini) or the offline 'extractive'. "
            "An unknown name is a 422; when absent at creation, the server's default model."
        ),
    )
    prompt: str | None = Field(None, max_length=20000)
    snippet: Snippet | None = None
    retrieval: RetrievalSettings | None = None


class Personality(OpenModel):
    """``personality_config``: the answer's style and tone."""

    style: str | None = None
    tone: str | None = None


class VoiceAppearance(CamelModel):
    background_color: HexColor | None = None
    border_color: HexColor | None = None
    button_color: HexColor | None = None
    button_radius: NonNegative | None = None
    button_text_color: HexColor | None = None
    card_radius: NonNegative | None = None
    focus_outline_color: HexColor | None = None
    text_color: HexColor | None = None


class VoiceAvatar(CamelModel):
    image_url: ImageUrl | None = None


class VoiceModel(OpenModel):
    max_output_tokens: Annotated[int, Field(ge=1, le=128000), WHOLE] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None


class VoiceText(CamelModel):
    call_to_action: str | None = None
    end_call: str | None = None
    listening_status: str | None = None
    speaking_status: str | None = None
    start_call: str | None = None


class VoiceVad(OpenModel):
    prefix_padding_ms: NonNegative | None = None
    silence_duration_ms: NonNegative | None = None
    threshold: Annotated[float, Field(ge=0, le=1)] | None = None


class VoiceConfig(CamelModel):
    """The voice agent's configuration (docs/api.md, "Chatbots"); deep-merged on update."""

    agent_id: str | None = None
    appearance: VoiceAppearance | None = None
    avatar: VoiceAvatar | None = None
    model: VoiceModel | None = None
    text: VoiceText | None = None
    vad: VoiceVad | None = None
    voice: str | None = Field(
        None,
        description="okchat's voice name; an unknown one is a 422 (docs/voice.md, Voices).",
        json_schema_extra={"enum": [*VOICE_NAMES, None]},
    )


class ChatWidgetConfig(CamelModel):
    """The chat widget's look; written to ``settings.snippet`` (unknown keys kept, as there)."""

    header: str | None = None
    language: str | None = None
    logo: ImageUrl | None = None
    name: str | None = None
    primary_color: HexColor | None = None
    secondary_color: HexColor | None = None
    slogan: str | None = None


class ChatbotUpdate(RequestModel):
    """A partial update: objects deep-merge, ``null`` removes a key."""

    name: Name | None = None
    description: str | None = Field(None, max_length=5000)
    is_public: bool | None = None
    active: bool | None = None
    personality_config: Personality | None = None
    settings: ChatbotSettings | None = None
    slug: Slug | None = None
    suggestions: list[Annotated[str, StringConstraints(max_length=500)]] | None = None
    openai_api_key: str | None = None
    voice_widget_config: VoiceConfig | None = None


class ChatbotCreate(ChatbotUpdate):
    """``POST /api/external/chatbots``: the update's fields, with ``name`` required."""

    name: Name


class ChatbotUpdateWithTarget(ChatbotUpdate):
    """``PATCH /api/external/chatbots``: the target is ``id`` or ``chatbotId`` in the body."""

    id: str | None = None
    chatbot_id: str | None = Field(None, alias="chatbotId")


class ChatbotLite(BaseModel):
    """A chatbot as the list shows it."""

    active: bool
    created_at: Timestamp
    description: str | None
    enabled_plugins: list[Any] | None
    id: str
    is_public: bool
    name: str
    organization_id: str
    personality_config: dict[str, Any] | None
    settings: dict[str, Any]
    slug: str
    suggestions: list[Any] | None
    updated_at: Timestamp
    version_id: str | None
    voice_widget_config: dict[str, Any] | None


class ChatbotFull(ChatbotLite):
    """A chatbot with every okchat field; the OpenAI key only masked."""

    docs_metadata: dict[str, Any] | None
    managers: list[Any] | None
    migrated_data: bool
    openai_api_key: str | None = Field(
        description='Never in clear: null or a mask like "sk-...wxyz".'
    )
    v1_chatbot_id: str | None


def _fields(chatbot: Chatbot) -> dict[str, Any]:
    return {
        "active": chatbot.active,
        "created_at": chatbot.created_at,
        "description": chatbot.description,
        "enabled_plugins": chatbot.enabled_plugins,
        "id": chatbot.id,
        "is_public": chatbot.is_public,
        "name": chatbot.name,
        "organization_id": chatbot.organization_id,
        "personality_config": chatbot.personality_config,
        "settings": chatbot.settings,
        "slug": chatbot.slug,
        "suggestions": chatbot.suggestions,
        "updated_at": chatbot.updated_at,
        "version_id": chatbot.version_id,
        "voice_widget_config": chatbot.voice_widget_config,
    }


def chatbot_lite(chatbot: Chatbot) -> ChatbotLite:
    """The list form of a chatbot."""
    return ChatbotLite(**_fields(chatbot))


def chatbot_full(chatbot: Chatbot) -> ChatbotFull:
    """The full form of a chatbot."""
    return ChatbotFull(
        **_fields(chatbot),
        docs_metadata=chatbot.docs_metadata,
        managers=chatbot.managers,
        migrated_data=chatbot.migrated_data,
        openai_api_key=chatbot.openai_api_key_mask,
        v1_chatbot_id=chatbot.v1_chatbot_id,
    )


class ChatbotList(BaseModel):
    chatbots: list[ChatbotLite]


class ChatbotEnvelope(BaseModel):
    chatbot: ChatbotFull


class ChatbotMutation(BaseModel):
    chatbot: ChatbotFull
    message: str


class VoiceMutation(BaseModel):
    message: str
    voice_widget_config: dict[str, Any]


class ChatWidgetMutation(BaseModel):
    chat_widget_config: dict[str, Any]
    message: str
