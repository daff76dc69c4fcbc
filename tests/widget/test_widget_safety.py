"""The widget is safe and usable: hostile text stays text, refused sites and private chatbots show
nothing to chat with, phones get the whole screen, and axe-core finds no serious problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import axe_playwright_python
from playwright.sync_api import expect
from tests.factories.chat import STORE_KNOWLEDGE
from tests.widget.support import Chatforge, Site

AXE_JS = Path(axe_playwright_python.__file__).with_name("axe.min.js")
PAYLOAD_NAME = '<img src=x onerror="window.__xss=1">Evil<script>window.__xss=2</script>'
PAYLOAD_KNOWLEDGE = {
    "type": "text",
    "title": "<img src=x onerror=window.__xss=3>Warranty",
    "content": (
        "The warranty lasts two years <script>window.__xss=4</script> for every product. "
        "The warranty covers repairs <img src=x onerror=window.__xss=5> and [free parts]"
        "(javascript:window.__xss=6) for two years."
    ),
}


def test_html_and_script_in_names_and_knowledge_render_as_text(
    chatforge: Chatforge, site: Site, page: Any
) -> None:
    bot = chatforge.chatbot([PAYLOAD_KNOWLEDGE], name=PAYLOAD_NAME)
    page.goto(site.page(bot["id"], name="xss"))
    page.get_by_role("button", name="Open chat").click()
    panel = page.get_by_role("dialog")
    expect(panel.get_by_role("heading")).to_have_text(PAYLOAD_NAME)
    panel.get_by_role("textbox", name="Your message").fill("How long is the warranty?")
    page.keyboard.press("Enter")
    answer = panel.locator(".row.bot").last
    expect(answer).to_contain_text("<script>window.__xss=4</script>", timeout=30_000)
    expect(answer.locator(".src").first).to_contain_text("<img src=x onerror=window.__xss=3>")
    page.wait_for_timeout(300)  # an injected handler would have run by now
    assert page.evaluate("window.__xss") is None
    # Nothing became an element: no image, no script, no javascript: link.
    assert panel.locator(".msg img, .msg script, .title img, .title script").count() == 0
    assert panel.locator("a[href^='javascript']").count() == 0

    page.goto(f"{chatforge.url}/chat/{bot['id']}")  # the hosted page, too
    assert page.title() == PAYLOAD_NAME
    expect(page.get_by_role("heading", name="Evil")).to_be_visible()
    assert page.evaluate("window.__xss") is None


def test_a_site_not_in_allowed_origins_is_told_it_is_not_allowed(
    chatforge: Chatforge, site: Site, page: Any
) -> None:
    bot = chatforge.chatbot(
        STORE_KNOWLEDGE, name="Picky", settings={"allowedOrigins": ["https://shop.example"]}
    )
    page.goto(site.page(bot["id"], name="refused"))
    page.get_by_role("button", name="Open chat").click()
    panel = page.get_by_role("dialog")
    expect(panel).to_contain_text("This chat isn't available on this website.")
    expect(panel.get_by_role("textbox", name="Your message")).to_be_hidden()
    expect(panel.get_by_role("button", name="Try again")).to_have_count(0)


def test_a_private_chatbot_shows_nothing(chatforge: Chatforge, site: Site, page: Any) -> None:
    bot = chatforge.chatbot(STORE_KNOWLEDGE, name="Staff only", is_public=False)
    with page.expect_response(lambda r: "/api/public/chatbot/" in r.url) as config:
        page.goto(site.page(bot["id"], name="private"))
    assert config.value.status == 404
    page.wait_for_timeout(300)
    assert page.locator("#chatforge-widget").count() == 0
    assert "Staff only" not in page.content()


def test_a_phone_gets_the_whole_screen(
    chatforge: Chatforge, site: Site, shop: Any, browser: Any
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    try:
        page.goto(site.page("shop", name="phone"))
        bubble = page.get_by_role("button", name="Open chat")
        bubble.click()
        panel = page.get_by_role("dialog")
        expect(panel).to_be_visible()
        assert panel.bounding_box() == {"x": 0, "y": 0, "width": 390, "height": 844}
        expect(bubble).to_be_hidden()  # the panel covers the screen; it closes from its header
        # Covering the page, it is modal: Tab goes round inside it, never to the page behind.
        assert panel.get_attribute("aria-modal") == "true"
        for _ in range(12):
            page.keyboard.press("Tab")
            inside = page.evaluate(
                "() => document.activeElement.id === 'chatforge-widget'"
                " && !!document.activeElement.shadowRoot.activeElement"
                "    ?.closest('#cf-panel')"
            )
            assert inside, "Tab left the full-screen chat"
        panel.get_by_role("button", name="Close chat").click()
        expect(panel).to_be_hidden()
        expect(page.get_by_role("button", name="Open chat")).to_be_visible()
    finally:
        context.close()


def _serious_violations(page: Any, context: str) -> list[str]:
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        "async (context) => await axe.run(context, {resultTypes: ['violations']})",
        context,
    )
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_axe_finds_no_serious_violations_in_the_widget_or_the_hosted_page(
    chatforge: Chatforge, site: Site, shop: Any, browser: Any
) -> None:
    # axe is injected as an inline script, which the hosted page's CSP rightly refuses.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(site.page("shop", name="axe"))
        page.get_by_role("button", name="Open chat").click()
        page.get_by_role("textbox", name="Your message").fill("When are you open?")
        page.keyboard.press("Enter")
        helpful = page.get_by_role("button", name="Helpful", exact=True)
        expect(helpful).to_be_visible(timeout=30_000)
        assert _serious_violations(page, "#chatforge-widget") == []

        page.goto(f"{chatforge.url}/chat/shop")
        expect(page.get_by_role("textbox", name="Your message")).to_be_visible()
        assert _serious_violations(page, "html") == []
    finally:
        context.close()
