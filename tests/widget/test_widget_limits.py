"""A visitor who sends too fast is told to wait, and can send again after the wait."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.factories.chat import STORE_KNOWLEDGE
from tests.widget.conftest import running_chatforge
from tests.widget.support import Chatforge, Site


@pytest.fixture(scope="module")
def chatforge(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Chatforge]:
    """Chatforge where a visitor may send one chat message every 15 seconds once it has a token
    (long enough that a slow answer on a busy machine still leaves the third message refused)."""
    root = tmp_path_factory.mktemp("widget-limits")
    with running_chatforge(root, sqlite_template, public={"chat_per_visitor": "1/15second"}) as cf:
        yield cf


def test_rate_limited_visitor_is_told_to_wait_then_retries(
    chatforge: Chatforge, site: Site, page: Any
) -> None:
    bot = chatforge.chatbot(STORE_KNOWLEDGE, name="Busy Bot")
    page.goto(site.page(bot["id"], attrs='data-open="true"'))
    panel = page.get_by_role("dialog")
    box = panel.get_by_role("textbox", name="Your message")
    box.fill("When are you open?")
    box.press("Enter")
    expect(panel.locator(".row.bot").last).to_contain_text("9am", timeout=30_000)
    box.fill("How long do refunds take?")  # the first message sent with the visitor's token
    box.press("Enter")
    expect(panel.locator(".row.bot").last).to_contain_text("30 days", timeout=30_000)

    box.fill("Do you ship for free?")
    box.press("Enter")
    alert = panel.get_by_role("alert")
    expect(alert).to_contain_text("Too many messages. Please wait")
    retry = alert.get_by_role("button", name="Try again")
    expect(retry).to_be_disabled()  # until the wait is over
    expect(retry).to_be_enabled(timeout=25_000)
    retry.click()
    expect(panel.locator(".row.bot").last).to_contain_text("50 euros", timeout=30_000)
    expect(panel.locator(".row.user .msg")).to_have_text(
        ["When are you open?", "How long do refunds take?", "Do you ship for free?"]
    )
