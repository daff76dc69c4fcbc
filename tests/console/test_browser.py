"""The console in a real browser (Debian's Chromium through Playwright), on SQLite.

Sign in, create a chatbot, upload files (picked and dropped) and watch them reach ready without
reloading, ask in the playground and see the sources, take over a visitor's conversation and
answer it; an agent is kept out of the keys; axe-core finds no serious or critical accessibility
violation on any page.

With ``CHATFORGE_SCREENSHOTS=docs/screenshots`` the pages are saved there as
``console-*.png`` (the screenshots of the docs and the README).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import axe_playwright_python
import httpx
import pytest
from tests.browser import LiveServer, browser, live_server  # noqa: F401
from tests.console.helpers import PASSWORD
from tests.factories.files import make_pdf

pytestmark = pytest.mark.usefixtures("reuse_embedder")

AXE = Path(axe_playwright_python.__file__).parent / "axe.min.js"
SHOTS = os.environ.get("CHATFORGE_SCREENSHOTS")


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """SQLite only: the browser checks the pages, the HTTP tests check both databases."""
    path = tmp_path / "chatforge.db"
    shutil.copy(sqlite_template, path)
    yield f"sqlite:///{path}"


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page, as readable lines."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def check(page: Any, name: str) -> None:
    """No serious accessibility violation; saved as a screenshot when asked."""
    assert serious_violations(page) == [], name
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"console-{name}.png"), full_page=True)


def sign_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/console/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_owner_builds_a_chatbot_and_answers_a_visitor(
    browser: Any,  # noqa: F811
    live_server: LiveServer,  # noqa: F811
    make_user: Callable[..., str],
    make_key: Callable[[str], str],
    tmp_path: Path,
) -> None:
    base = live_server.url
    make_user("owner@acme.test")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()

    page.goto(f"{base}/console/")
    assert page.url.startswith(f"{base}/console/login")
    check(page, "sign-in")
    sign_in(page, base, "owner@acme.test")
    page.wait_for_url(f"{base}/console/chatbots")
    check(page, "chatbots-empty")

    page.get_by_role("link", name="Create your first chatbot").click()
    page.get_by_label("Name").fill("Support Bot")
    page.get_by_label("Greeting").fill("Hi! Ask me about orders, returns and opening hours.")
    page.get_by_label("Suggested questions").fill("How do I return an item?\nWhen are you open?")
    check(page, "chatbot-new")
    page.get_by_role("button", name="Create chatbot").click()
    page.wait_for_url("**/knowledge")

    # One file picked, one dropped; the list then moves to ready on its own.
    page.evaluate("window.notReloaded = true")
    pdf = make_pdf(
        tmp_path / "returns.pdf",
        ["Returns\n\nItems can be returned within 30 days of delivery for a full refund."],
    )
    page.set_input_files("#files", str(pdf))
    page.wait_for_selector("tr[data-item]")
    page.evaluate(
        """() => {
          const data = new DataTransfer();
          data.items.add(new File(["The shop opens at 9 and closes at 18, Monday to Saturday."],
                                  "hours.txt", {type: "text/plain"}));
          document.querySelector("#dropzone").dispatchEvent(
            new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
        }"""
    )
    page.wait_for_function(
        "document.querySelectorAll('tr[data-item]').length === 2 && "
        "[...document.querySelectorAll('tr[data-item]')].every(r => r.dataset.status === 'ready')",
        timeout=90_000,
    )
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("tr[data-item] td.num").all_inner_texts() != ["–", "–"]
    check(page, "knowledge")

    page.get_by_role("link", name="Playground").click()
    page.get_by_label("Your question").fill("How long do I have to return an item?")
    page.get_by_role("button", name="Ask").click()
    page.locator(".msg.bot .bubble", has_text="30 days").wait_for()
    page.locator("details.sources summary").last.click()
    assert "cited in the answer" in page.locator("details.sources").last.inner_text()
    check(page, "playground")

    page.get_by_role("link", name="Widget").click()
    page.get_by_label("Header").fill("Ask Support Bot")
    page.locator("#w-primary").fill("#0f766e")  # the preview follows as one types
    assert page.locator("[data-show=header]").inner_text() == "Ask Support Bot"
    assert "#0f766e" in (page.locator("#preview").get_attribute("style") or "")
    check(page, "widget")

    page.get_by_role("navigation", name="Chatbot").get_by_role("link", name="Settings").click()
    check(page, "chatbot-settings")
    chatbot_id = page.url.rstrip("/").split("/")[-1]
    page.get_by_role("link", name="Chatbots").first.click()
    check(page, "chatbots")

    # A visitor writes through the public API (as the widget does, with no key); the owner takes
    # the conversation over and answers as a person; the visitor reads the answer there.
    key = make_key("acme")
    api = httpx.Client(base_url=base, headers={"x-api-key": key}, timeout=30)
    published = api.patch(f"/api/external/chatbot/{chatbot_id}", json={"is_public": True})
    assert published.status_code == 200, published.text
    visitor = httpx.Client(base_url=f"{base}/api/public/chatbot/{chatbot_id}", timeout=30)
    question = {"messages": [{"role": "user", "content": "Can I return shoes?"}]}
    first = visitor.post("/chat", json=question)
    assert first.status_code == 200, first.text
    session_id, token = first.json()["session_id"], first.json()["visitor_token"]
    visitor.headers["X-Visitor-Token"] = token
    page.get_by_role("link", name="Inbox").click()
    check(page, "inbox")
    page.locator(f"a[href$='{session_id}']").click()
    page.get_by_role("button", name="Take over").click()
    page.get_by_role("button", name="Hand back to the bot").wait_for()
    page.get_by_label("Your reply").fill("Yes! I'm Ann from support; I've started your return.")
    page.get_by_role("button", name="Send").click()
    page.locator(".msg.human", has_text="started your return").wait_for()
    seen = visitor.get(f"/sessions/{session_id}").json()
    assert seen["session"]["is_human_mode"] is True
    assert seen["messages"][-1]["sender_type"] == "human"
    assert seen["messages"][-1]["content"].startswith("Yes! I'm Ann")
    # The visitor answers; the open conversation shows it without a reload.
    visitor.post("/chat", json={"messages": [{"role": "user", "content": "Thank you, Ann!"}],
                                "session_id": session_id})  # fmt: skip
    page.locator(".msg.user", has_text="Thank you, Ann!").wait_for(timeout=15_000)
    check(page, "conversation")

    page.get_by_role("link", name="API keys").click()
    page.get_by_role("button", name="Create a key").click()
    assert len(page.locator("#new-key").inner_text()) == 48
    check(page, "keys")
    page.get_by_role("link", name="People").click()
    check(page, "people")
    page.get_by_role("link", name="Insights").click()
    assert "Conversations" in page.locator(".stats").inner_text()
    check(page, "insights")

    dark = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="dark")
    dark_page = dark.new_page()
    sign_in(dark_page, base, "owner@acme.test")
    dark_page.goto(f"{base}/console/chatbots/{chatbot_id}/knowledge")
    check(dark_page, "knowledge-dark")
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone_page = phone.new_page()
    sign_in(phone_page, base, "owner@acme.test")
    phone_page.goto(f"{base}/console/inbox/{chatbot_id}/{session_id}")
    check(phone_page, "conversation-phone")
    for opened in (context, dark, phone):
        opened.close()
    api.close()


def test_an_agent_cannot_open_keys_or_settings(
    browser: Any,  # noqa: F811
    live_server: LiveServer,  # noqa: F811
    make_user: Callable[..., str],
) -> None:
    make_user("agent@acme.test", role="agent")
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, live_server.url, "agent@acme.test")
    page.wait_for_url("**/console/inbox")
    assert page.get_by_role("link", name="API keys").count() == 0
    answer = page.goto(f"{live_server.url}/console/keys")
    assert answer is not None and answer.status == 403
    assert "Only an owner" in page.content()
    context.close()
