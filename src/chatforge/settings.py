"""Chatforge's settings: one pydantic-settings class, read from ``CHATFORGE_*`` variables.

Nested groups use a double underscore: ``CHATFORGE_UPLOADS__MAX_FILE_BYTES=10000000``. Every field
has a description; ``docs/configuration.md`` lists them all and a test fails when one is missing.
Nothing here is created at import time: :func:`chatforge.app.create_app` receives a ``Settings``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class UploadSettings(BaseModel):
    """Limits on what callers may upload."""

    max_file_bytes: int = Field(
        50 * 1024 * 1024,
        gt=0,
        description="Largest knowledge file accepted, in bytes; larger uploads get a 413.",
    )
    max_avatar_bytes: int = Field(
        5 * 1024 * 1024,
        gt=0,
        description="Largest chatbot avatar image accepted, in bytes; larger uploads get a 413.",
    )
    max_files_per_request: int = Field(
        100, gt=0, description="Most files accepted in one multipart upload request."
    )


class SecuritySettings(BaseModel):
    """Secrets at rest and network guards."""

    encryption_key: SecretStr | None = Field(
        None,
        description=(
            "Fernet key (urlsafe base64, 32 bytes) that encrypts provider keys at rest. When "
            "unset, one is generated into <data_dir>/secret.key with mode 0600 on first start."
        ),
    )
    allow_private_addresses: bool = Field(
        False,
        description=(
            "Let URL sources fetch loopback, private and link-local addresses. Off by default "
            "to prevent server-side request forgery; turn on only for trusted intranets."
        ),
    )


class LimitSettings(BaseModel):
    """Request rate limits and bounds on what one request may carry."""

    enabled: bool = Field(True, description="Apply the request rate limits below.")
    storage_url: str = Field(
        "memory://",
        description=(
            "Where rate-limit counters live: 'memory://' for one process, or a shared store "
            "such as 'redis://host:6379/0' when several processes serve (serve --workers N)."
        ),
    )
    per_key: str = Field(
        "600/minute",
        description="Requests one API key may make, as '<count>/<second|minute|hour|day>'.",
    )
    per_ip: str = Field(
        "1200/minute",
        description="Requests one client address may make, with or without a key.",
    )
    failed_auth_per_ip: str = Field(
        "30/minute",
        description="Requests with a wrong or missing key one client address may make.",
    )
    trust_forwarded_for: bool = Field(
        False,
        description=(
            "Take the client address from X-Forwarded-For (only behind a proxy that sets it)."
        ),
    )
    max_body_bytes: int = Field(
        1024 * 1024,
        gt=0,
        description="Largest JSON request body, in bytes (uploads have their own limits).",
    )
    max_json_depth: int = Field(
        20, ge=2, le=200, description="Deepest nesting of objects and lists in a JSON body."
    )
    max_settings_bytes: int = Field(
        64 * 1024,
        gt=0,
        description=(
            "Largest stored JSON of a chatbot's settings, personality or voice configuration."
        ),
    )


class PublicSettings(BaseModel):
    """Limits of the public face (``/api/public/...``): anonymous visitors, no API key.

    Counted in ``limits.storage_url``'s store, on the address ``limits.trust_forwarded_for``
    says, and off when ``limits.enabled`` is false.
    """

    chat_per_visitor: str = Field(
        "20/minute",
        description="Chat messages one visitor token may send, as '<count>/<period>'.",
    )
    per_ip: str = Field(
        "300/minute",
        description=(
            "Public requests (config, chat, read-back polls, lead, feedback) one client address "
            "may make."
        ),
    )
    chat_per_ip: str = Field(
        "60/minute",
        description=(
            "Chat messages one client address may send, with or without visitor tokens: what "
            "bounds the answers (and model costs) one address can ask for."
        ),
    )
    max_message_chars: int = Field(
        4000,
        gt=0,
        le=20000,
        description="Longest message a visitor may send, in characters (longer: 422).",
    )


class QuotaSettings(BaseModel):
    """What one organization may hold; 0 means no limit."""

    chatbots_per_org: int = Field(1000, ge=0, description="Most chatbots an organization has.")
    items_per_org: int = Field(
        100_000, ge=0, description="Most knowledge items an organization has."
    )
    stored_bytes_per_org: int = Field(
        20 * 1024**3, ge=0, description="Most bytes of knowledge (files, texts, Q&A) stored."
    )
    queued_jobs_per_org: int = Field(
        10_000, ge=0, description="Most ingestion jobs an organization has waiting at once."
    )


class EmbeddingSettings(BaseModel):
    """The embedding model that turns chunks and queries into vectors."""

    model: str = Field(
        "local",
        description=(
            "Embedding model: 'local' (all-MiniLM-L6-v2 int8 on onnxruntime, offline) or "
            "'openai:<model>' for an OpenAI-compatible /embeddings endpoint."
        ),
    )
    threads: int | None = Field(
        None, ge=1, description="CPU threads for the local model; default: all cores."
    )
    batch_size: int = Field(32, ge=1, le=1024, description="Texts embedded per model call.")
    base_url: str | None = Field(
        None, description="Base URL of the OpenAI-compatible embeddings API (with /v1)."
    )
    api_key: SecretStr | None = Field(
        None, description="API key of the OpenAI-compatible embeddings API."
    )


class IngestionSettings(BaseModel):
    """How knowledge is chunked and how the background worker runs."""

    chunk_tokens: int = Field(
        256,
        ge=64,
        le=8192,
        description="Most embedding-model tokens in one chunk, its Title/Chunk header included.",
    )
    chunk_overlap_tokens: int = Field(
        48, ge=0, description="Tokens of trailing sentences repeated in the next chunk."
    )
    window_tokens: int = Field(
        128,
        ge=0,
        le=8192,
        description=(
            "A chunk longer than this is embedded as windows of at most this many tokens, "
            "header included, instead of whole: its vector is their mean and its vector "
            "similarity its best window's. all-MiniLM-L6-v2 was trained on 128-token texts; "
            "windows raise SciFact nDCG@10 by 0.004 for about 1.3 times the embedding time. "
            "0 turns them off."
        ),
    )
    window_overlap_tokens: int = Field(
        32, ge=0, description="Tokens of trailing sentences repeated in the next window."
    )
    worker: bool = Field(True, description="Run ingestion workers inside `chatforge serve`.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description=(
            "Ingestion workers in `chatforge serve` (when `worker` is on) and in each "
            "`chatforge worker` process; each parses in a child process of its own."
        ),
    )
    parse_timeout_seconds: float = Field(
        120,
        gt=0,
        description=(
            "Longest one item may take to read (fetch and parse); past it the parsing process "
            "is stopped and the item fails with a reason that names this setting."
        ),
    )
    parse_memory_mb: int = Field(
        1024,
        ge=64,
        description=(
            "Most memory the process that parses one item may use; past it the item fails "
            "with a reason that names this setting."
        ),
    )
    lease_seconds: int = Field(
        30,
        ge=5,
        description=(
            "How long a worker holds a job without renewing it; a working worker renews it "
            "every third of this, and a job whose worker died is taken again after it."
        ),
    )
    max_attempts: int = Field(
        5, ge=1, description="Attempts at a job (with exponential backoff) before it fails."
    )
    batch_items: int = Field(
        16, ge=1, description="Items a worker takes at once, so their chunks embed in one batch."
    )
    poll_seconds: float = Field(
        0.5, gt=0, description="How often an idle worker looks for new jobs."
    )
    wait_timeout_seconds: float = Field(
        600, gt=0, description="Longest a `?wait=true` upload waits for its items."
    )
    max_waiters_per_org: int = Field(
        10,
        ge=0,
        description=(
            "Most `?wait=true` requests of one organization waiting at once; more answer at "
            "once with their items as they are."
        ),
    )


class SearchSettings(BaseModel):
    """How knowledge is searched."""

    memory_mb: int = Field(
        1024,
        ge=0,
        description=(
            "Memory for chatbots' search indexes held in memory (about 5 KB a chunk); a "
            "chatbot that does not fit is searched by the database's indexes. 0 turns it off."
        ),
    )


class ModelSettings(BaseModel):
    """The chat models that answer: provider keys and addresses, the server's default model."""

    default: str | None = Field(
        None,
        description=(
            "Model of a chatbot created without one, as provider:model or a bare name. Default: "
            "'gpt-4o-mini' when an OpenAI key is set, else the offline 'extractive' model."
        ),
    )
    openai_api_key: SecretStr | None = Field(
        None,
        description="Server-wide OpenAI key; a chatbot's own openai_api_key takes precedence.",
    )
    openai_base_url: str | None = Field(
        None,
        description=(
            "Base URL (ending in /v1) of OpenAI or of any OpenAI-compatible server that the "
            "openai: models and okchat's bare names (gpt-4o-mini) go to; no key is needed when "
            "it is not OpenAI's."
        ),
    )
    anthropic_api_key: SecretStr | None = Field(None, description="Anthropic API key.")
    anthropic_base_url: str | None = Field(
        None, description="Base URL of the Anthropic Messages API (without /v1)."
    )
    compatible_base_urls: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "More OpenAI-compatible servers, name to base URL, as JSON: "
            '{"ollama": "http://gpu-box:11434/v1"}. A built-in name moves that server; a new '
            "name adds a provider (name:model)."
        ),
    )
    api_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "Keys of the other OpenAI-compatible providers by name (groq, openrouter, deepseek, "
            "mistral, ...), as JSON or one variable each: CHATFORGE_MODELS__API_KEYS__GROQ."
        ),
    )
    timeout_seconds: float = Field(
        60.0, gt=0, description="Seconds to wait to connect to a provider and between chunks."
    )
    max_answer_tokens: int = Field(
        1024, ge=16, le=100_000, description="Most tokens a model may write in one answer."
    )
    temperature: float = Field(
        0.3, ge=0, le=2, description="Sampling temperature of generative models."
    )
    history_tokens: int = Field(
        2000,
        ge=0,
        description="Budget of conversation history in a prompt (estimated tokens, newest kept).",
    )
    extractive_semantic: bool = Field(
        False,
        description=(
            "Let the extractive model also score sentences with the embedding model: finds "
            "paraphrases, at the cost of embedding every retrieved sentence (slower answers)."
        ),
    )


class ConsoleSettings(BaseModel):
    """The web console: sign-in sessions and login limits."""

    session_hours: int = Field(
        12, gt=0, le=24 * 90, description="How long a console sign-in lasts, in hours."
    )
    login_attempts_per_ip: str = Field(
        "20/minute",
        description="Sign-in attempts one client address may make, as '<count>/<period>'.",
    )
    login_attempts_per_email: str = Field(
        "10/minute",
        description="Sign-in attempts for one email address, whatever the client address.",
    )


class VoiceSettings(BaseModel):
    """The voice agent: speech models, audio limits and recordings (docs/voice.md)."""

    stt: str = Field(
        "local",
        description=(
            "Speech-to-text model: 'local' (faster-whisper, Whisper tiny.en, offline), "
            "'local:<CTranslate2 model folder>', or 'openai:whisper-1' / "
            "'openai:gpt-4o-mini-transcribe' (needs models.openai_api_key)."
        ),
    )
    tts: str = Field(
        "local",
        description=(
            "Text-to-speech model: 'local' (Piper, offline) or 'openai:tts-1' / "
            "'openai:gpt-4o-mini-tts' (needs models.openai_api_key)."
        ),
    )
    threads: int | None = Field(
        None, ge=1, le=64, description="CPU threads of one local transcription or synthesis."
    )
    max_audio_bytes: int = Field(
        10 * 1024 * 1024, gt=0, description="Largest audio file accepted, in bytes."
    )
    max_audio_seconds: float = Field(
        60.0, gt=0, le=3600, description="Longest audio accepted, in seconds."
    )
    max_speak_chars: int = Field(
        4000, gt=0, le=100_000, description="Longest text that /voice/speak reads out."
    )
    recording_retention_days: int = Field(
        30,
        ge=0,
        description="Days a conversation's recordings are kept once it is quiet; 0 keeps none.",
    )


class Settings(BaseSettings):
    """All of Chatforge's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="CHATFORGE_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    data_dir: Path = Field(
        Path("./data"),
        description="Directory for the SQLite database, uploaded files and the secret key.",
    )
    database_url: str | None = Field(
        None,
        description=(
            "SQLAlchemy database URL. Default: SQLite at <data_dir>/chatforge.db. For PostgreSQL "
            "use postgresql+psycopg://user:password@host/dbname (pgvector is required)."
        ),
    )
    public_base_url: str | None = Field(
        None,
        description=(
            "Base URL that clients use to reach this server, used in the URLs the API returns "
            "(avatars, files). Default: the address the server listens on."
        ),
    )
    log_level: str = Field("INFO", description="Logging level: DEBUG, INFO, WARNING or ERROR.")
    uploads: UploadSettings = Field(
        default_factory=UploadSettings, description="Upload limits (CHATFORGE_UPLOADS__*)."
    )
    security: SecuritySettings = Field(
        default_factory=SecuritySettings, description="Security settings (CHATFORGE_SECURITY__*)."
    )
    limits: LimitSettings = Field(
        default_factory=LimitSettings, description="Rate limits and bounds (CHATFORGE_LIMITS__*)."
    )
    public: PublicSettings = Field(
        default_factory=PublicSettings,
        description="Limits of the public chat API (CHATFORGE_PUBLIC__*).",
    )
    quotas: QuotaSettings = Field(
        default_factory=QuotaSettings, description="Quotas (CHATFORGE_QUOTAS__*)."
    )
    embeddings: EmbeddingSettings = Field(
        default_factory=EmbeddingSettings, description="Embeddings (CHATFORGE_EMBEDDINGS__*)."
    )
    ingestion: IngestionSettings = Field(
        default_factory=IngestionSettings, description="Ingestion (CHATFORGE_INGESTION__*)."
    )
    search: SearchSettings = Field(
        default_factory=SearchSettings, description="Search (CHATFORGE_SEARCH__*)."
    )
    models: ModelSettings = Field(
        default_factory=ModelSettings, description="Chat models (CHATFORGE_MODELS__*)."
    )
    console: ConsoleSettings = Field(
        default_factory=ConsoleSettings, description="The web console (CHATFORGE_CONSOLE__*)."
    )
    voice: VoiceSettings = Field(
        default_factory=VoiceSettings, description="The voice agent (CHATFORGE_VOICE__*)."
    )

    def resolved_database_url(self) -> str:
        """The database URL to connect to, defaulting to SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'chatforge.db').resolve()}"

    def resolved_public_base_url(self, host: str = "127.0.0.1", port: int = 8000) -> str:
        """The public base URL without a trailing slash."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        return f"http://{host}:{port}"
