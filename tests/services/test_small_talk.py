"""Which messages are only small talk, and the reply that fits each."""

from __future__ import annotations

import pytest

from chatforge.services.chat.small_talk import (
    GOODBYE_REPLY,
    THANKS_GOODBYE_REPLY,
    THANKS_REPLY,
    small_talk_reply,
)


@pytest.mark.parametrize(
    ("message", "reply"),
    [
        ("hi", "G"),
        ("Hello!", "G"),
        ("  good MORNING everyone 👋", "G"),
        ("Hi there, hello!", "G"),
        ("Thank you so much!", THANKS_REPLY),
        ("Thanks a lot", THANKS_REPLY),
        ("ok thanks", THANKS_REPLY),
        ("Hi! Thanks for your help", THANKS_REPLY),
        ("Bye!", GOODBYE_REPLY),
        ("Have a nice day", GOODBYE_REPLY),
        ("okay, bye bye", GOODBYE_REPLY),
        ("Thanks, bye!", THANKS_GOODBYE_REPLY),
        ("Great, thank you and have a good day!", THANKS_GOODBYE_REPLY),
        ("bye, thanks again", THANKS_GOODBYE_REPLY),
        ("hi, where is my order?", None),
        ("Hello, do you ship to Canada?", None),
        ("thanks, and do you deliver?", None),
        ("Thanks! Bye. Oh wait, what are your opening hours?", None),
        ("thanks but the refund never came", None),
        ("history of the company", None),
        ("hiking boots", None),
        ("ok", None),
        ("", None),
        ("?!", None),
    ],
)
def test_small_talk_is_recognised_and_questions_are_not(message: str, reply: str | None) -> None:
    assert small_talk_reply(message, "G") == reply
