"""A visitor chats through the widget embedded on a customer's site, in a real Chromium."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from tests.factories.chat import STORE_KNOWLEDGE
from tests.widget.support import Chatforge, Site

#: Records, in the page, the order in which the answer's parts first appear.
WATCH_ORDER = """() => {
  const root = document.querySelector('#chatforge-widget').shadowRoot;
  window.__order = [];
  const mark = (what) => { if (!window.__order.includes(what)) window.__order.push(what); };
  new MutationObserver(() => {
    const bots = root.querySelectorAll('.row.bot');
    if (bots.length < 2) return;  // the first one is the greeting
    const answer = bots[bots.length - 1];
    if (answer.querySelector('.srcs .src')) mark('sources');
    const body = answer.querySelector('.body');
    if (!body.querySelector('.typing') && body.textContent.trim()) mark('text');
    if (answer.querySelector('.cite')) mark('citations');
  }).observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def open_widget(page: Any, url: str) -> Any:
    """Load the customer's page and open the chat; the panel."""
    page.goto(url)
    page.get_by_role("button", name="Open chat").click()
    panel = page.get_by_role("dialog")
    expect(panel).to_be_visible()
    return panel


def ask(page: Any, question: str) -> None:
    page.get_by_role("textbox", name="Your message").fill(question)
    page.keyboard.press("Enter")


def test_answer_shows_sources_then_text_then_citations(
    chatforge: Chatforge, site: Site, shop: Any, page: Any
) -> None:
    panel = open_widget(page, site.page("shop"))
    expect(panel.get_by_role("heading", name="Acme Shop")).to_be_visible()
    expect(panel.get_by_text("Hi! Ask me about returns")).to_be_visible()
    # The input has the focus: the visitor can type at once.
    expect(page.get_by_role("textbox", name="Your message")).to_be_focused()
    page.evaluate(WATCH_ORDER)

    panel.get_by_role("button", name="How long do refunds take?").click()  # a starter

    answer = page.locator(".row.bot").last
    expect(answer).to_contain_text("30 days", timeout=30_000)
    expect(answer.locator(".src", has_text="Returns")).to_be_visible()
    citation = answer.get_by_role("button", name="Source 1: Returns").first
    expect(citation).to_be_visible()
    assert page.evaluate("window.__order") == ["sources", "text", "citations"]
    # The starters are gone once the conversation started.
    expect(panel.get_by_role("button", name="When are you open?")).to_be_hidden()

    citation.click()  # a text source has no page: the citation points at its chip
    expect(answer.locator(".src.hl", has_text="Returns")).to_be_visible()


def test_a_web_source_links_to_its_page(chatforge: Chatforge, site: Site, page: Any) -> None:
    (site.root / "warranty.html").write_text(
        "<html><head><title>Warranty policy</title></head><body><main><h1>Warranty</h1>"
        "<p>Every bicycle comes with a warranty of seven years on the frame.</p>"
        "</main></body></html>"
    )
    policy = f"{site.url}/warranty.html"
    bot = chatforge.chatbot([{"type": "url", "url": policy}], name="Bikes")
    open_widget(page, site.page(bot["id"], name="bikes"))
    ask(page, "How long is the warranty on the frame?")
    answer = page.locator(".row.bot").last
    expect(answer).to_contain_text("seven years", timeout=30_000)
    expect(answer.locator("a.src")).to_have_attribute("href", policy)
    citation = answer.locator("a.cite").first
    expect(citation).to_have_attribute("href", policy)
    expect(citation).to_have_attribute("target", "_blank")


def test_conversation_and_rating_survive_a_reload_until_a_new_conversation(
    chatforge: Chatforge, site: Site, shop: Any, page: Any
) -> None:
    url = site.page("shop", name="reload")
    open_widget(page, url)
    ask(page, "When is the store open?")
    answer = page.locator(".row.bot").last
    expect(answer).to_contain_text("9am to 6pm", timeout=30_000)
    answer.get_by_role("button", name="Helpful", exact=True).click()
    expect(answer.get_by_text("Thanks for your feedback!")).to_be_visible()

    page.reload()  # the panel was open: it opens again, with the conversation
    panel = page.get_by_role("dialog")
    expect(panel.locator(".row.user .msg")).to_have_text(["When is the store open?"])
    restored = panel.locator(".row.bot").last
    expect(restored).to_contain_text("9am to 6pm")
    expect(restored.get_by_role("button", name="Helpful", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    assert {c["platform"] for c in chatforge.conversations(shop["id"])} == {"web"}

    panel.get_by_role("button", name="New conversation").click()
    expect(panel.locator(".row.user")).to_have_count(0)
    expect(page.get_by_role("textbox", name="Your message")).to_be_focused()
    page.reload()
    expect(page.get_by_role("dialog").locator(".row.bot")).to_have_count(1)  # the greeting


def test_email_form_comes_first_and_becomes_the_lead(
    chatforge: Chatforge, site: Site, page: Any
) -> None:
    bot = chatforge.chatbot(
        STORE_KNOWLEDGE, name="Lead Bot", settings={"isRequestUserInfoEnabled": True}
    )
    panel = open_widget(page, site.page(bot["id"], name="lead"))
    email = panel.get_by_role("textbox", name="Email")
    expect(email).to_be_focused()
    expect(panel.get_by_role("textbox", name="Your message")).to_be_hidden()

    email.fill("not an email")
    panel.get_by_role("button", name="Start chat").click()
    expect(panel.get_by_text("Please enter a valid email address.")).to_be_visible()
    expect(email).to_have_attribute("aria-invalid", "true")

    email.fill("ada@example.com")
    panel.get_by_role("button", name="Start chat").click()
    expect(panel.get_by_role("textbox", name="Your message")).to_be_focused()
    ask(page, "How much is shipping?")
    expect(panel.locator(".row.bot").last).to_contain_text("4.99 euros", timeout=30_000)
    [conversation] = chatforge.conversations(bot["id"])
    assert conversation["metadata"]["email"] == "ada@example.com"


def test_operator_takes_over_and_hands_back_without_a_reload(
    chatforge: Chatforge, site: Site, shop: Any, page: Any
) -> None:
    panel = open_widget(page, site.page("shop", name="handoff"))
    ask(page, "How long does shipping take?")
    expect(panel.locator(".row.bot").last).to_contain_text("3 to 5", timeout=30_000)
    session_id = page.evaluate(
        "JSON.parse(Object.entries(localStorage).find(([k]) => k.startsWith('chatforge:'))[1])"
        ".session"
    )
    base = f"/api/external/chatbot/{shop['id']}/conversations/{session_id}"

    took = chatforge.api.patch(base, json={"is_human_mode": True})
    assert took.status_code == 200, took.text
    sent = chatforge.api.post(f"{base}/messages", json={"content": "Hi, I'm **Maria**."})
    assert sent.status_code == 200, sent.text
    expect(panel.get_by_text("You're talking to a person").first).to_be_visible(timeout=10_000)
    reply = panel.locator(".row.human")
    expect(reply).to_contain_text("Hi, I'm Maria.", timeout=10_000)
    expect(reply.locator("strong")).to_have_text("Maria")  # Markdown, rendered safely

    ask(page, "Can you ship to Norway?")  # a person answers now: no bot reply
    expect(panel.get_by_text("Someone will answer here soon")).to_be_visible()
    expect(panel.locator(".row.bot")).to_have_count(2)

    back = chatforge.api.patch(base, json={"is_human_mode": False})
    assert back.status_code == 200, back.text
    expect(panel.get_by_text("You're back with the assistant")).to_be_visible(timeout=10_000)
    expect(panel.locator(".banner")).to_be_hidden()
    ask(page, "What does standard shipping cost?")
    expect(panel.locator(".row.bot").last).to_contain_text("4.99", timeout=30_000)
    # The visitor's waiting message is shown once, not again when polling reads it back.
    expect(panel.locator(".row.user", has_text="Can you ship to Norway?")).to_have_count(1)


def test_offline_visitor_is_told_and_can_retry(
    chatforge: Chatforge, site: Site, shop: Any, page: Any
) -> None:
    panel = open_widget(page, site.page("shop", name="offline"))
    page.context.set_offline(True)
    ask(page, "Do you ship for free?")
    alert = panel.get_by_role("alert")
    expect(alert).to_contain_text("You're offline")
    page.context.set_offline(False)
    alert.get_by_role("button", name="Try again").click()
    expect(panel.locator(".row.bot").last).to_contain_text("50 euros", timeout=30_000)
    expect(panel.locator(".row.user")).to_have_count(1)


def test_strings_follow_the_chatbots_language_and_data_chatbot_id_works(
    chatforge: Chatforge, site: Site, page: Any
) -> None:
    bot = chatforge.chatbot(name="Boutique", settings={"snippet": {"language": "fr"}})
    page.goto(site.page(bot["id"], name="fr", attribute="data-chatbot-id"))
    page.get_by_role("button", name="Ouvrir le chat").click()
    expect(page.get_by_role("textbox", name="Votre message")).to_have_attribute(
        "placeholder", "Écrivez votre message…"
    )
    page.keyboard.press("Escape")  # closes, and the focus goes back to the bubble
    expect(page.get_by_role("button", name="Ouvrir le chat")).to_be_focused()


def test_the_newest_answer_stays_in_view_as_the_conversation_grows(
    chatforge: Chatforge, site: Site, shop: Any, page: Any
) -> None:
    page.set_viewport_size({"width": 1000, "height": 560})  # a short panel that must scroll
    panel = open_widget(page, site.page("shop", name="scroll"))
    for question, words in [
        ("How long do refunds take?", "30 days"),
        ("Do you ship for free?", "50"),
        ("When are you open?", "9"),
    ]:
        ask(page, question)
        expect(page.locator(".row.bot").last).to_contain_text(words, timeout=30_000)
        page.wait_for_timeout(200)  # the last paint of the streamed text
        # The answer's end (its feedback buttons) is inside the visible part of the log.
        seen = page.evaluate(
            """() => {
              const root = document.querySelector('#chatforge-widget').shadowRoot;
              const log = root.querySelector('[role=log]');
              const last = [...root.querySelectorAll('.row.bot')].pop();
              const end = last.getBoundingClientRect().bottom, box = log.getBoundingClientRect();
              return end <= box.bottom + 1 && log.scrollHeight > log.clientHeight;
            }"""
        )
        assert seen, f"the answer to {question!r} is cut off below the fold"
    expect(panel).to_be_visible()


def test_passages_of_one_document_share_one_source_chip(
    chatforge: Chatforge, site: Site, page: Any
) -> None:
    # A guide long enough for several chunks: its passages found for a question are one chip
    # with their numbers, and the chip a citation points at is that document's.
    filler = " ".join(
        f"Tip {n}: keep the chain clean and oiled after every wet ride." for n in range(40)
    )
    guide = {
        "type": "text",
        "title": "Care guide",
        "content": f"The frame warranty lasts seven years. {filler}\n\n"
        f"{filler} The frame warranty covers cracks but not crash damage.",
    }
    bot = chatforge.chatbot([guide], name="Care")
    open_widget(page, site.page(bot["id"], name="care"))
    page.evaluate(WATCH_CHIPS)
    ask(page, "What does the frame warranty cover and how long does it last?")
    answer = page.locator(".row.bot").last
    expect(answer.locator(".cite").first).to_be_visible(timeout=30_000)

    assert page.evaluate("window.__chips") >= 2  # the found passages, one chip: "1, 2  Care guide"
    chips = answer.locator(".src", has_text="Care guide")
    expect(chips).to_have_count(1)
    refs = (chips.get_attribute("data-refs") or "").split()
    expect(chips.locator(".n")).to_have_text(", ".join(refs))
    answer.locator(".cite").first.click()
    expect(answer.locator(".src.hl", has_text="Care guide")).to_be_visible()


#: Records, in the page, the most passage numbers one source chip has shown.
WATCH_CHIPS = """() => {
  const root = document.querySelector('#chatforge-widget').shadowRoot;
  window.__chips = 0;
  new MutationObserver(() => {
    for (const chip of root.querySelectorAll('.src[data-refs]')) {
      window.__chips = Math.max(window.__chips, chip.dataset.refs.split(' ').length);
    }
  }).observe(root, {subtree: true, childList: true, attributes: true});
}"""


def test_the_chips_left_after_an_answer_are_the_sources_it_cites(
    chatforge: Chatforge, site: Site, shop: Any, page: Any
) -> None:
    question = "How long do refunds take?"
    searched = chatforge.api.post(
        f"/api/external/chatbot/{shop['id']}/chat",
        json={"messages": [{"role": "user", "content": question}]},
    )
    assert searched.status_code == 200, searched.text
    open_widget(page, site.page("shop", name="cited"))
    ask(page, question)
    answer = page.locator(".row.bot").last
    expect(answer.locator(".cite").first).to_be_visible(timeout=30_000)
    cited = {int(n) for n in answer.locator(".cite").all_inner_texts()}
    chips = answer.locator(".src")
    refs = {
        int(n)
        for refs in chips.evaluate_all("cs => cs.map(c => c.dataset.refs)")
        for n in refs.split()
    }

    assert refs == cited  # every chip is cited, and every citation has its chip
    assert len(searched.json()["sources"]) > len(refs)  # the passages it did not use are gone
