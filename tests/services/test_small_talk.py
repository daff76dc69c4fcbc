"""Which messages are only small talk."""

from __future__ import annotations

import pytest

from chatforge.services.chat.small_talk import GOODBYE_REPLY, THANKS_REPLY, small_talk_reply


@pytest.mark.parametrize(
    ("message", "reply"),
    [
        ("hi", "G"),
        ("Hello!", "G"),
        ("  good MORNING everyone 👋", "G"),
        ("Thank you so much!", THANKS_REPLY),
        ("ok thanks", THANKS_REPLY),
        ("Bye!", GOODBYE_REPLY),
        ("Have a nice day", GOODBYE_REPLY),
        ("hi, where is my order?", None),
        ("Hello, do you ship to Canada?", None),
        ("thanks but the refund never came", None),
        ("history of the company", None),
        ("", None),
    ],
)
def test_small_talk_is_recognised_and_questions_are_not(message: str, reply: str | None) -> None:
    assert small_talk_reply(message, "G") == reply
