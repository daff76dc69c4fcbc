"""Greetings, thanks and goodbyes, for a model that can only quote the knowledge base.

The extractive model answers by quoting; asked "Hello!" it can only say that it found nothing.
A message that is nothing but a greeting, a thank-you or a goodbye gets a fixed, friendly reply
instead (the chatbot's own ``settings.greeting`` for a greeting). Anything more ("Hi, how do I
return a product?") is a question and is answered as one. Generative models need none of this.
"""

from __future__ import annotations

import re

__all__ = ["small_talk_reply"]

_GREETING = re.compile(
    r"(hi|hello|hey|hiya|howdy|greetings|good (morning|afternoon|evening|day))"
    r"( there| all| everyone| again)?"
)
_THANKS = re.compile(
    r"((ok|okay|great|perfect|cool|nice|got it|awesome) )?"
    r"(thanks|thank you|thx|ty|cheers|many thanks)( (so|very) much| a lot)?( again)?"
)
_GOODBYE = re.compile(r"(bye|goodbye|bye bye|see you|see ya|have a (nice|good|great) day)")
_NOISE = re.compile(r"[^\w\s]|_")

THANKS_REPLY = "You're welcome! Is there anything else I can help you with?"
GOODBYE_REPLY = "Goodbye! Come back any time you have a question."


def small_talk_reply(message: str, greeting: str) -> str | None:
    """The reply to ``message`` when it is only small talk, else None (it is a question)."""
    words = " ".join(_NOISE.sub(" ", message.lower()).split())
    if _GREETING.fullmatch(words):
        return greeting
    if _THANKS.fullmatch(words):
        return THANKS_REPLY
    if _GOODBYE.fullmatch(words):
        return GOODBYE_REPLY
    return None
