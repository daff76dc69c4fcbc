"""A spoken answer's own settings: ``voice_widget_config.model`` (temperature and
``max_output_tokens``), applied to the one-turn ``chat`` and the live call.

They override the server's text settings for voice answers only. The temperature and the token
limit go to the chat model with the turn; the limit also bounds what is spoken
(:class:`SpeechBudget`), which is what shortens the offline extractive model's answers: it quotes
whole sentences and knows no token limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatforge.providers.chat import estimate_tokens
from chatforge.providers.speech.piper import sentences
from chatforge.services.chat.events import PreparedTurn

__all__ = ["AnswerSettings", "SpeechBudget"]


class SpeechBudget:
    """What a voice agent with ``max_output_tokens`` says of an answer, sentence by sentence.

    Whole sentences are spoken while they fit in the limit; the first that does not ends the
    speech (a first sentence longer than the whole limit is cut after its last word that fits).
    Tokens are counted as the offline model counts them, in words (:func:`estimate_tokens`). A
    generative model already stops at the limit, which it is sent; the offline extractive model
    quotes whole sentences and has no such limit, so this is what keeps its spoken answers short
    (the answer's text, shown and stored, stays whole).

    Args:
        max_tokens: The limit; None speaks everything.
    """

    def __init__(self, max_tokens: int | None) -> None:
        self.left = max_tokens
        self.started = False

    def take(self, text: str) -> str:
        """The part of ``text`` (the answer's next sentences) to speak; "" once spent."""
        if self.left is None:
            return text
        kept: list[str] = []
        for sentence in sentences(text):
            cost = estimate_tokens(sentence)
            if cost <= self.left:
                kept.append(sentence)
                self.left -= cost
                continue
            if not self.started and not kept:
                words = sentence.split()
                while words and estimate_tokens(" ".join(words)) > self.left:
                    words.pop()
                kept.append(" ".join(words))
            self.left = 0
            break
        self.started = self.started or bool(kept)
        return " ".join(part for part in kept if part)


@dataclass(frozen=True)
class AnswerSettings:
    """``voice_widget_config.model``: a spoken answer's own temperature and token limit.

    They override the server's text settings for voice answers only: a typed message to the
    same chatbot keeps the server's.
    """

    temperature: float | None = None
    max_output_tokens: int | None = None

    @classmethod
    def of(cls, config: object) -> AnswerSettings:
        model = config if isinstance(config, dict) else {}
        temperature = model.get("temperature")
        limit = model.get("max_output_tokens")
        return cls(
            float(temperature) if isinstance(temperature, int | float) else None,
            int(limit) if isinstance(limit, int | float) and limit >= 1 else None,
        )

    def apply(self, turn: PreparedTurn) -> None:
        """Answer ``turn`` (a voice turn, once prepared) with these settings."""
        turn.temperature = self.temperature
        turn.max_tokens = self.max_output_tokens

    def budget(self) -> SpeechBudget:
        """A fresh budget for speaking one answer."""
        return SpeechBudget(self.max_output_tokens)
