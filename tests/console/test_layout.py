"""The console in a phone's window (390 px) and a laptop's (1280 px).

No page is wider than the window, with long names, long addresses and long messages in it
(tables scroll inside their own box, long text is cut with an ellipsis); the playground reads as
the widget does (the question on the right, Enter sends it, "why this answer" opens in view).

With ``CHATFORGE_LAYOUT_SHOTS=<folder>`` every page is also saved there at both sizes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.browser import LiveServer, browser, live_server  # noqa: F401
from tests.console.helpers import PASSWORD
from tests.factories.knowledge import add

pytestmark = pytest.mark.usefixtures("reuse_embedder")

SHOTS = os.environ.get("CHATFORGE_LAYOUT_SHOTS")
SIZES = ((390, 844), (1280, 800))
LONG_NAME = "Customer Support Assistant for the Northern European Online Shop"
LONG_ADDRESS = "https://help.example.com/" + "very-long-path-segment/" * 6 + "returns.html"
LONG_MESSAGE = (
    "Hello, I ordered a pair of shoes last week (order number 1234567890) and they do not fit; "
    "can I send them back and get my money, or exchange them for a larger size? "
) * 3


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """SQLite only: the layout does not depend on the database."""
    path = tmp_path / "chatforge.db"
    shutil.copy(sqlite_template, path)
    yield f"sqlite:///{path}"


def seed(base: str, key: str) -> dict[str, str]:
    """A chatbot with long texts everywhere a page shows them; the ids the pages need."""
    api = httpx.Client(base_url=base, headers={"x-api-key": key}, timeout=60)
    made = api.post(
        "/api/external/chatbots",
        json={"name": LONG_NAME, "description": LONG_MESSAGE, "is_public": True},
    )
    assert made.status_code == 200, made.text
    bot = made.json()["chatbot"]["id"]
    items = add(
        api,  # type: ignore[arg-type]  # an httpx client speaks as TestClient does
        bot,
        {"type": "text", "title": LONG_ADDRESS, "content": "Returns are free within 30 days."},
        {"type": "qna", "question": LONG_MESSAGE, "answer": "Yes, within 30 days."},
    )
    visitor = httpx.Client(base_url=f"{base}/api/public/chatbot/{bot}", timeout=60)
    chat = visitor.post("/chat", json={"messages": [{"role": "user", "content": LONG_MESSAGE}]})
    assert chat.status_code == 200, chat.text
    api.close()
    visitor.close()
    return {"bot": bot, "item": items[0]["id"], "session": chat.json()["session_id"]}


def pages(ids: dict[str, str]) -> dict[str, str]:
    """Every console page of a signed-in owner, by a short name."""
    bot = f"/console/chatbots/{ids['bot']}"
    return {
        "chatbots": "/console/chatbots",
        "new-chatbot": "/console/chatbots/new",
        "settings": bot,
        "knowledge": f"{bot}/knowledge",
        "knowledge-item": f"{bot}/knowledge/{ids['item']}",
        "playground": f"{bot}/playground",
        "widget": f"{bot}/widget",
        "delete": f"{bot}/delete",
        "inbox": "/console/inbox",
        "inbox-one-chatbot": f"/console/inbox?chatbot={ids['bot']}",
        "conversation": f"/console/inbox/{ids['bot']}/{ids['session']}",
        "insights": "/console/insights",
        "keys": "/console/keys",
        "people": "/console/users",
        "not-found": "/console/no-such-page",
    }


def overflow(page: Any) -> int:
    """How many pixels the page is wider than the window (0 when it fits)."""
    width: int = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return width


def shoot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_every_page_fits_a_phone_and_a_laptop(
    browser: Any,  # noqa: F811
    live_server: LiveServer,  # noqa: F811
    make_user: Callable[..., str],
    make_key: Callable[[str], str],
) -> None:
    base = live_server.url
    make_user("someone.with.a.long.address@customer-support.acme.test")
    ids = seed(base, make_key("acme"))
    wider: list[str] = []
    for width, height in SIZES:
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(f"{base}/console/login")
        assert overflow(page) == 0, f"sign-in at {width}"
        shoot(page, f"sign-in-{width}")
        page.get_by_label("Email").fill("someone.with.a.long.address@customer-support.acme.test")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/console/chatbots")
        for name, path in pages(ids).items():
            page.goto(f"{base}{path}")
            if overflow(page) > 0:
                wider.append(f"{name} at {width}: {overflow(page)} px too wide")
            shoot(page, f"{name}-{width}")
        # The knowledge list: its header runs over every shown column, its search box looks like
        # the select beside it, and the sidebar never breaks a word ("own/er").
        page.goto(f"{base}/console/chatbots/{ids['bot']}/knowledge")
        header_end = page.locator("#items th.row-actions").evaluate(
            "th => th.offsetParent ? th.getBoundingClientRect().right : null"
        )
        table_end = page.locator("#items table").evaluate("t => t.getBoundingClientRect().right")
        assert header_end == table_end, f"the header stops before the table's end at {width}"
        looks = "el => [getComputedStyle(el).borderRadius, getComputedStyle(el).borderTopColor]"
        assert page.locator("#k-search").evaluate(looks) == page.locator("#k-kind").evaluate(looks)
        if width > 820:
            lines = page.locator(".whoami .role").evaluate("el => el.getClientRects().length")
            assert lines == 1, "the role is broken over two lines"
        # The playground with an answer and its "why" open.
        page.goto(f"{base}/console/chatbots/{ids['bot']}/playground")
        page.get_by_label("Your question").fill("How long do I have to return shoes?")
        page.get_by_label("Your question").press("Enter")
        page.locator("#log .msg.bot details summary").last.click()
        if overflow(page) > 0:
            wider.append(f"playground answer at {width}: {overflow(page)} px too wide")
        shoot(page, f"playground-answer-{width}")
        context.close()
    assert wider == [], "\n".join(wider)


def test_the_playground_sends_on_enter_and_reads_like_the_widget(
    browser: Any,  # noqa: F811
    live_server: LiveServer,  # noqa: F811
    make_user: Callable[..., str],
    make_key: Callable[[str], str],
) -> None:
    base = live_server.url
    make_user("owner@acme.test")
    ids = seed(base, make_key("acme"))
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{base}/console/login")
    page.get_by_label("Email").fill("owner@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/chatbots")
    page.goto(f"{base}/console/chatbots/{ids['bot']}/playground")
    box = page.get_by_label("Your question")
    box.fill("How long do I have to return shoes?")
    box.press("Shift+Enter")  # a new line, not a question
    box.type("And boots?")
    assert box.input_value() == "How long do I have to return shoes?\nAnd boots?"
    assert page.locator("#log .msg.user").count() == 0
    box.fill("How long do I have to return shoes?")
    box.press("Enter")
    answer = page.locator("#log .msg.bot", has=page.locator("details.sources")).last
    answer.wait_for()
    assert box.input_value() == ""
    mine = page.locator("#log .msg.user .bubble").last.bounding_box()
    theirs = answer.locator(".bubble").bounding_box()
    log = page.locator("#log").bounding_box()
    assert mine and theirs and log
    assert mine["x"] + mine["width"] > log["x"] + log["width"] - 30  # on the right
    assert theirs["x"] < log["x"] + 30  # on the left
    answer.locator("summary").click()
    page.wait_for_function(
        """() => {
          const details = [...document.querySelectorAll("#log details.sources")].pop();
          const shown = details.getBoundingClientRect(), log = document.querySelector("#log")
            .getBoundingClientRect();
          const fits = shown.bottom <= Math.min(log.bottom, innerHeight) + 1;
          const tall = shown.height > log.height && Math.abs(shown.top - log.top) < 2;
          return details.open && shown.top >= log.top - 1 && (fits || tall);
        }"""
    )
    context.close()
