"""Chatbots: create, read, update, delete, avatar, voice and widget configuration.

Every method is scoped to one organization: a chatbot of another organization is indistinguishable
from one that does not exist (:class:`NotFound`), so existence never leaks across tenants.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chatforge.errors import Conflict, NotFound, ValidationFailed
from chatforge.providers.speech.voices import check_voice
from chatforge.services.accounts import quotas
from chatforge.services.chatbots.images import check_image
from chatforge.services.context import AppContext
from chatforge.services.public.origins import check_allowed_origins
from chatforge.services.secrets import mask_secret
from chatforge.storage.models import Chatbot, Chunk, utcnow

__all__ = ["Chatbot", "ChatbotService", "deep_merge", "slugify"]

DEFAULT_GREETING = "Hello! How can I assist you today?"
DEFAULT_PROMPT = (
    "You are a helpful assistant. Answer the user's questions from the knowledge you are given, "
    "and say so when the answer is not in it."
)
DEFAULT_PERSONALITY = {"style": "Friendly", "tone": "Professional"}

_SLUG_MAX = 100


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Merge ``patch`` into a copy of ``base``: objects merge key by key, ``None`` removes a key."""
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        elif isinstance(value, dict):
            merged[key] = deep_merge({}, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def slugify(name: str) -> str:
    """A URL-safe slug from a name: ``"API Docs Demo!"`` -> ``"api-docs-demo"``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:_SLUG_MAX].strip("-")
    return slug or "chatbot"


def default_settings(name: str, model: str) -> dict[str, Any]:
    """The settings of a new chatbot before the caller's are merged in.

    Args:
        name: The chatbot's name, shown by the widget.
        model: The server's default model (``extractive`` when no provider key is set).
    """
    return {
        "greeting": DEFAULT_GREETING,
        "isRequestUserInfoEnabled": False,
        "isToolEnabled": True,
        "model": model,
        "prompt": DEFAULT_PROMPT,
        "snippet": {
            "header": name,
            "logo": "",
            "name": name,
            "primaryColor": "#4F46E5",
            "secondaryColor": "#10B981",
            "slogan": "",
        },
    }


class ChatbotService:
    """Chatbot use cases for one organization."""

    def __init__(self, ctx: AppContext, session: Session, organization_id: str) -> None:
        self.ctx = ctx
        self.session = session
        self.organization_id = organization_id

    def list(self) -> list[Chatbot]:
        """The organization's chatbots, newest first."""
        query = (
            select(Chatbot)
            .where(Chatbot.organization_id == self.organization_id)
            .order_by(Chatbot.created_at.desc(), Chatbot.id)
        )
        return list(self.session.scalars(query))

    def get(self, chatbot_id: str) -> Chatbot:
        """One chatbot of the organization; :class:`NotFound` otherwise."""
        chatbot = self.session.scalar(
            select(Chatbot).where(
                Chatbot.id == chatbot_id, Chatbot.organization_id == self.organization_id
            )
        )
        if chatbot is None:
            raise NotFound(f"Chatbot {chatbot_id} not found.")
        return chatbot

    def create(self, fields: dict[str, Any]) -> Chatbot:
        """Create a chatbot from validated fields (``name`` required)."""
        name = str(fields["name"]).strip()
        self._check_model(fields.get("settings"))
        quotas.check_chatbots(self.session, self.ctx.settings.quotas, self.organization_id)
        now = utcnow()
        chatbot = Chatbot(
            created_at=now,
            updated_at=now,
            organization_id=self.organization_id,
            name=name,
            description=fields.get("description"),
            is_public=bool(fields.get("is_public", False)),
            active=bool(fields.get("active", True)),
            personality_config=deep_merge(
                DEFAULT_PERSONALITY, fields.get("personality_config") or {}
            ),
            settings=deep_merge(
                default_settings(name, self.ctx.models.default_model()),
                fields.get("settings") or {},
            ),
            suggestions=fields.get("suggestions"),
            voice_widget_config=fields.get("voice_widget_config"),
        )
        chatbot.slug = self._unique_slug(fields.get("slug"), name, exclude_id=None)
        if fields.get("openai_api_key"):
            self._set_openai_key(chatbot, str(fields["openai_api_key"]))
        self._check_stored(chatbot)
        self._check_public_slug(chatbot)
        self.session.add(chatbot)
        self._commit()
        return chatbot

    def update(self, chatbot_id: str, fields: dict[str, Any]) -> Chatbot:
        """Apply a partial update: objects deep-merge, ``None`` clears."""
        chatbot = self.get(chatbot_id)
        if "name" in fields:
            if fields["name"] is None or not str(fields["name"]).strip():
                raise ValidationFailed(
                    "The name cannot be empty.",
                    details=[{"field": "name", "message": "must be 1-100 characters"}],
                )
            chatbot.name = str(fields["name"]).strip()
        if "slug" in fields and fields["slug"] != chatbot.slug:
            chatbot.slug = self._unique_slug(fields["slug"], chatbot.name, exclude_id=chatbot.id)
        for plain in ("description", "suggestions"):
            if plain in fields:
                setattr(chatbot, plain, fields[plain])
        for flag in ("is_public", "active"):
            if fields.get(flag) is not None:
                setattr(chatbot, flag, bool(fields[flag]))
        dropped_avatar = None
        if "settings" in fields:
            self._check_model(fields["settings"])
            chatbot.settings = deep_merge(chatbot.settings, fields["settings"] or {})
            # An avatar cleared or replaced by a link: its stored file must stop being served.
            # (Compared by key, not URL: the server's base URL may have changed since.)
            key = chatbot.avatar_key
            avatar = str(chatbot.settings.get("avatar") or "")
            if key and "avatar" in (fields["settings"] or {}) and not avatar.endswith(f"/{key}"):
                dropped_avatar, chatbot.avatar_key = key, None
        if "personality_config" in fields:
            chatbot.personality_config = (
                None
                if fields["personality_config"] is None
                else deep_merge(chatbot.personality_config or {}, fields["personality_config"])
            )
        if "voice_widget_config" in fields:
            self._merge_voice(chatbot, fields["voice_widget_config"])
        if "openai_api_key" in fields:
            self._set_openai_key(chatbot, fields["openai_api_key"])
        chatbot.updated_at = utcnow()
        self._check_stored(chatbot)
        self._check_public_slug(chatbot)
        self._commit()
        if dropped_avatar:
            self.ctx.files.delete(dropped_avatar)
        return chatbot

    def delete(self, chatbot_id: str) -> None:
        """Delete a chatbot with everything it owns: rows cascade, files are removed."""
        chatbot = self.get(chatbot_id)
        # Chunks cascade with the chatbot; their index rows (an FTS5 table has no foreign key)
        # are removed by hand, in the same transaction.
        chunk_ids = list(
            self.session.scalars(select(Chunk.id).where(Chunk.chatbot_id == chatbot.id))
        )
        self.ctx.models.search_index.remove(self.session.connection(), chunk_ids)
        self.session.delete(chatbot)
        self.session.commit()
        # Files go after the commit: a failed delete must not leave rows pointing at no file.
        self.ctx.files.delete_prefix(f"avatars/chatbot/{chatbot.id}/")
        self.ctx.files.delete_prefix(f"chatbots/{chatbot.id}/")

    def update_avatar(self, chatbot_id: str, upload: Path) -> Chatbot:
        """Replace the avatar with the image at ``upload`` (checked by decoding it)."""
        chatbot = self.get(chatbot_id)
        extension = check_image(upload)
        key = f"avatars/chatbot/{chatbot.id}/{uuid.uuid4()}.{extension}"
        self.ctx.files.put(key, upload)
        old_key = chatbot.avatar_key
        chatbot.avatar_key = key
        chatbot.settings = {**chatbot.settings, "avatar": self.ctx.media_url(key)}
        chatbot.updated_at = utcnow()
        try:
            self.session.commit()
        except Exception:
            self.ctx.files.delete(key)
            raise
        if old_key:
            self.ctx.files.delete(old_key)
        return chatbot

    def update_voice_config(self, chatbot_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        """Deep-merge a voice agent configuration; returns the stored result."""
        chatbot = self.get(chatbot_id)
        self._merge_voice(chatbot, patch)
        chatbot.updated_at = utcnow()
        self._check_stored(chatbot)
        self.session.commit()
        return chatbot.voice_widget_config or {}

    def update_chat_widget(self, chatbot_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        """Deep-merge the widget look into ``settings.snippet``; returns the new snippet."""
        chatbot = self.get(chatbot_id)
        snippet = deep_merge(chatbot.settings.get("snippet") or {}, patch)
        chatbot.settings = {**chatbot.settings, "snippet": snippet}
        chatbot.updated_at = utcnow()
        self._check_stored(chatbot)
        self.session.commit()
        return snippet

    def get_by_reference(self, reference: str) -> Chatbot:
        """A chatbot of the organization by its id or its slug; :class:`NotFound` otherwise."""
        for column in (Chatbot.id, Chatbot.slug):  # an id wins over a slug that looks like one
            chatbot = self.session.scalar(
                select(Chatbot).where(
                    Chatbot.organization_id == self.organization_id, column == reference
                )
            )
            if chatbot is not None:
                return chatbot
        raise NotFound(f"Chatbot {reference} not found.")

    def openai_api_key(self, chatbot: Chatbot) -> str | None:
        """The chatbot's own OpenAI key in clear, for calling the provider only."""
        if chatbot.openai_api_key_encrypted is None:
            return None
        return self.ctx.secrets.decrypt(chatbot.openai_api_key_encrypted)

    def _check_model(self, settings: dict[str, Any] | None) -> None:
        """A named model must be one the registry knows (422 on ``settings.model``).

        A known model whose provider has no key is accepted: okchat clients send
        ``gpt-4o-mini``, and chat then says which setting to set.
        """
        model = (settings or {}).get("model")
        if model is not None:
            self.ctx.models.registry.resolve(str(model))

    def _check_stored(self, chatbot: Chatbot) -> None:
        """Refuse (422) free-form JSON that is too large or too deep to store and serve back.

        Checked on what would be stored, after merging, before anything is written: a
        configuration nested hundreds of levels deep once made its chatbot, and its
        organization's list, fail on every read.
        """
        settings = chatbot.settings or {}
        if "allowedOrigins" in settings:  # stored as browsers write an Origin header
            origins = check_allowed_origins(settings["allowedOrigins"])
            chatbot.settings = {**settings, "allowedOrigins": origins}
        limits = self.ctx.settings.limits
        for field_name in ("settings", "personality_config", "voice_widget_config", "suggestions"):
            value = getattr(chatbot, field_name)
            if value is None:
                continue
            depth = json_depth(value)
            if depth > limits.max_json_depth:
                message = (
                    f"{field_name} nests {depth} levels deep; at most {limits.max_json_depth} "
                    "(CHATFORGE_LIMITS__MAX_JSON_DEPTH)."
                )
                raise ValidationFailed(message, details=[{"field": field_name, "message": message}])
            size = len(json.dumps(value, separators=(",", ":")).encode())
            if size > limits.max_settings_bytes:
                message = (
                    f"{field_name} takes {size:,} bytes; at most {limits.max_settings_bytes:,} "
                    "(CHATFORGE_LIMITS__MAX_SETTINGS_BYTES)."
                )
                raise ValidationFailed(message, details=[{"field": field_name, "message": message}])

    def _merge_voice(self, chatbot: Chatbot, patch: dict[str, Any] | None) -> None:
        if patch is None:
            chatbot.voice_widget_config = None
        else:
            if isinstance(patch.get("voice"), str):
                check_voice(patch["voice"])  # 422 now, not when a visitor starts a call
            chatbot.voice_widget_config = deep_merge(chatbot.voice_widget_config or {}, patch)

    def _set_openai_key(self, chatbot: Chatbot, key: str | None) -> None:
        if not key:
            chatbot.openai_api_key_encrypted = None
            chatbot.openai_api_key_mask = None
            return
        chatbot.openai_api_key_encrypted = self.ctx.secrets.encrypt(key)
        chatbot.openai_api_key_mask = mask_secret(key)

    def _check_public_slug(self, chatbot: Chatbot) -> None:
        """A public chatbot's slug is its public address (``/chat/{slug}``, the widget's
        ``data-chatbot``), which slugs unique per organization do not make unique: the first
        organization to publish a slug keeps it, and another may not publish the same one (or it
        would receive the first one's visitors)."""
        if not chatbot.is_public:
            return
        taken = self.session.scalar(
            select(Chatbot.id).where(
                Chatbot.slug == chatbot.slug,
                Chatbot.is_public.is_(True),
                Chatbot.organization_id != self.organization_id,
            )
        )
        if taken is not None:
            raise Conflict(
                f"The slug {chatbot.slug!r} is already the public address of another "
                "organization's chatbot: give this chatbot another slug to make it public."
            )

    def _unique_slug(self, wanted: str | None, name: str, exclude_id: str | None) -> str:
        taken = set(
            self.session.scalars(
                select(Chatbot.slug).where(
                    Chatbot.organization_id == self.organization_id,
                    Chatbot.id != (exclude_id or ""),
                )
            )
        )
        if wanted:
            if wanted in taken:
                raise Conflict(f"The slug {wanted!r} is already used by another chatbot.")
            return wanted
        base = slugify(name)
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base[: _SLUG_MAX - 6]}-{n}", n + 1
        return slug

    def _commit(self) -> None:
        try:
            self.session.commit()
        except IntegrityError as exc:
            # Two requests raced for the same slug; the unique constraint decided.
            self.session.rollback()
            raise Conflict("The slug is already used by another chatbot.") from exc


def json_depth(value: object) -> int:
    """How deep objects and lists nest in ``value`` (0 for a scalar), without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: list[object] = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest
