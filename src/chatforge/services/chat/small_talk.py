"""Greetings, thanks and goodbyes, for a model that can only quote the knowledge base.

The extractive model answers by quoting; asked "Hello!" it can only say that it found nothing.
A message made only of greetings, thank-yous and goodbyes ("Thanks, bye!") gets a fixed,
friendly reply instead: the chatbot's own ``settings.greeting`` for a greeting, a goodbye for a
goodbye, a you're-welcome for thanks. Anything more ("Hi, how do I return a product?", "thanks,
and do you deliver?") is a question and is answered as one. Generative models need none of this.
"""

from __future__ import annotations

import re

__all__ = ["GOODBYE_REPLY", "THANKS_GOODBYE_REPLY", "THANKS_REPLY", "small_talk_reply"]

_GREETING = (
    r"(hi|hello|hey|hiya|howdy|greetings|good (morning|afternoon|evening|day))"
    r"( there| all| everyone| again)?"
)
#: "ok", "great"... before thanks or a goodbye, never a message alone ("ok" may be an answer).
_ACKNOWLEDGED = r"((ok|okay|alright|great|perfect|cool|nice|got it|awesome) )?"
_THANKS = (
    r"(thanks|thank you|thx|ty|cheers|many thanks)( (so|very) much| a lot)?"
    r"( for (your|the|all the) help| for helping)?( again)?"
)
_GOODBYE = r"(bye|goodbye|bye bye|see you|see ya|have a (nice|good|great) day)"
#: One greeting, thanks or goodbye, then the space or the end after it ("hi" is not "history"),
#: optionally joined to the next by "and".
_PHRASE = re.compile(
    rf"((?P<greeting>{_GREETING})|{_ACKNOWLEDGED}((?P<thanks>{_THANKS})|(?P<goodbye>{_GOODBYE})))"
    r"( and)?( |$)"
)
_NOISE = re.compile(r"[^\w\s]|_")

THANKS_REPLY = "You're welcome! Is there anything else I can help you with?"
GOODBYE_REPLY = "Goodbye! Come back any time you have a question."
THANKS_GOODBYE_REPLY = "You're welcome! Goodbye, and come back any time you have a question."


def small_talk_reply(message: str, greeting: str) -> str | None:
    """The reply to ``message`` when it is only small talk, else None (it is a question)."""
    words = " ".join(_NOISE.sub(" ", message.lower()).split())
    said: set[str] = set()
    position = 0
    while position < len(words):
        phrase = _PHRASE.match(words, position)
        if phrase is None:
            return None  # a word that is no small talk: a question, answered as one
        said.update(kind for kind in ("greeting", "thanks", "goodbye") if phrase.group(kind))
        position = phrase.end()
    if "goodbye" in said:
        return THANKS_GOODBYE_REPLY if "thanks" in said else GOODBYE_REPLY
    if "thanks" in said:
        return THANKS_REPLY
    return greeting if said else None
