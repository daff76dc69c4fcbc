"""The voice agent form of the widget tab: what it shows and what saving it writes.

A setting the chatbot has not set is shown with the value the server uses for it (the voice
``alloy``, the server's temperature, the VAD's defaults, the widget's main colour for the call
button), and saving leaves it unset unless the owner changed it. So saving the form untouched
changes nothing a caller hears or sees, and an unset setting keeps following the server's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatforge.console.web import color
from chatforge.providers.speech import VadParams
from chatforge.providers.speech.voices import DEFAULT_VOICE, LOCAL_VOICES, OKCHAT_VOICES
from chatforge.services.chatbots.service import Chatbot
from chatforge.services.context import AppContext

START_CALL = "Start a call"


@dataclass(frozen=True)
class Field:
    """One input of the form and where it lives in ``voice_widget_config``."""

    name: str
    group: str | None
    key: str


FIELDS = (
    Field("voice", None, "voice"),
    Field("temperature", "model", "temperature"),
    Field("start_call", "text", "startCall"),
    Field("call_to_action", "text", "callToAction"),
    Field("threshold", "vad", "threshold"),
    Field("silence_ms", "vad", "silence_duration_ms"),
    Field("button_color", "appearance", "buttonColor"),
)


def voice_options(current: str) -> list[tuple[str, str]]:
    """The voices to choose from, each with the local voice it speaks with offline.

    okchat's names first, then the local ones (the API accepts both); ``current`` is always
    among them, so saving never changes a voice the API stored.
    """
    options = [(name, f"{name} (offline: {local})") for name, local in OKCHAT_VOICES.items()]
    options += [
        (name, f"{name} (local voice; {DEFAULT_VOICE} with OpenAI)") for name in LOCAL_VOICES
    ]
    if current not in OKCHAT_VOICES and current not in LOCAL_VOICES:
        options.append((current, current))
    return options


def offline_hint() -> str:
    """Which local voice each okchat name plays offline, in a sentence."""
    groups: dict[str, list[str]] = {}
    for name, local in OKCHAT_VOICES.items():
        groups.setdefault(local, []).append(name)
    parts = [f"{', '.join(names)} with {local}" for local, names in groups.items()]
    return (
        "With OpenAI speech each is OpenAI's voice of that name. Offline they share the local "
        f"voices: {'; '.join(parts)}."
    )


def _stored(config: dict[str, Any], field: Field) -> Any:
    if field.group is None:
        return config.get(field.key)
    group = config.get(field.group)
    return group.get(field.key) if isinstance(group, dict) else None


def defaults(ctx: AppContext, chatbot: Chatbot) -> dict[str, Any]:
    """What the server uses for each setting the chatbot has not set."""
    vad = VadParams()
    snippet = chatbot.settings.get("snippet") or {}
    return {
        "voice": DEFAULT_VOICE,
        "temperature": ctx.settings.models.temperature,
        "start_call": START_CALL,
        "call_to_action": "",
        "threshold": vad.threshold,
        "silence_ms": vad.silence_duration_ms,
        # The widget's call button takes the widget's main colour when none is set.
        "button_color": color(snippet.get("primaryColor")),
    }


def values(ctx: AppContext, chatbot: Chatbot) -> dict[str, Any]:
    """What the form shows: each stored setting, else the server's."""
    config = chatbot.voice_widget_config or {}
    shown = defaults(ctx, chatbot)
    for field in FIELDS:
        stored = _stored(config, field)
        if stored is not None:
            shown[field.name] = (
                color(stored, shown[field.name]) if field.key == "buttonColor" else stored
            )
    return shown


def patch(ctx: AppContext, chatbot: Chatbot, submitted: dict[str, Any]) -> dict[str, Any]:
    """The deep-merge patch of a submitted form: a setting is written when the chatbot already
    has it or when it differs from the server's; the voice is always written (saving turns the
    voice agent on, with the voice that was already in effect)."""
    config = chatbot.voice_widget_config or {}
    server = defaults(ctx, chatbot)
    result: dict[str, Any] = {}
    for field in FIELDS:
        value = submitted.get(field.name)
        stored = _stored(config, field)
        if field.name == "voice" and value is None and stored is None:
            value = DEFAULT_VOICE
        if value is None:
            continue
        keep = field.name == "voice" or stored is not None
        if not keep and _same(value, server[field.name]):
            continue
        if field.group is None:
            result[field.key] = value
        else:
            result.setdefault(field.group, {})[field.key] = value
    return result


def _same(value: Any, server: Any) -> bool:
    """Whether a submitted value is the server's: a browser sends a colour in lower case."""
    if isinstance(value, str) and isinstance(server, str):
        return value.casefold() == server.casefold()
    return bool(value == server)
