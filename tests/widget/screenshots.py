"""Take the widget's screenshots for the docs: ``python -m tests.widget.screenshots``.

Starts a Chatforge on a temporary SQLite database, makes two public chatbots, embeds the widget
in a small shop page served from another origin and photographs it with Debian's Chromium:
closed, open, streaming, on a phone, with a dark primary colour, and the hosted page. The
pictures go to ``docs/screenshots/widget-*.png``.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from playwright.sync_api import sync_playwright
from tests.browser import chromium_path, free_port, serve_directory
from tests.factories.chat import STORE_KNOWLEDGE

from chatforge.app import create_app
from chatforge.services.accounts import keys
from chatforge.settings import Settings
from chatforge.storage import migrate
from chatforge.storage.db import create_db_engine

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

#: Replays the chat stream one event every 250 ms, so that a picture catches it half-way.
SLOW_STREAM = """(() => {
  const real = window.fetch;
  window.fetch = async (...args) => {
    const res = await real(...args);
    if (!String(args[0]).includes('/chat?stream=true') || !res.ok) return res;
    const text = await res.text();
    const events = text.split('\\n\\n').filter(Boolean).map((e) => e + '\\n\\n');
    const body = new ReadableStream({async start(c) {
      for (const e of events) {
        c.enqueue(new TextEncoder().encode(e));
        await new Promise((r) => setTimeout(r, e.startsWith('event: delta') ? 250 : 50));
      }
      c.close();
    }});
    return new Response(body, {status: res.status, headers: res.headers});
  };
})();"""

SHOP_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Acme Outdoor</title>
<style>body{margin:0;font:16px/1.6 Georgia,serif;color:#292524;background:#fafaf9}
nav{padding:18px 40px;background:#1c1917;color:#fafaf9;font-weight:bold;letter-spacing:.05em}
main{padding:40px;max-width:560px}h1{font-size:34px;margin:0 0 12px}
.card{margin-top:24px;height:160px;border-radius:12px;background:linear-gradient(135deg,#d6d3d1,#a8a29e)}
</style></head><body><nav>ACME OUTDOOR</nav><main><h1>Gear for every trail</h1>
<p>Tents, packs and boots, tested on real mountains. Free shipping above 50 euros.</p>
<div class="card"></div></main>
<script src="CHATFORGE/widget.js" data-chatbot="REF" async></script></body></html>"""


def _serve() -> tuple[str, httpx.Client, Any]:
    root = Path(tempfile.mkdtemp(prefix="chatforge-shots-"))
    url = f"sqlite:///{root / 'chatforge.db'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(_env_file=None, data_dir=root / "data", database_url=url)  # type: ignore[call-arg]
    app = create_app(settings, public_base_url=base)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with app.state.ctx.db.sessions() as session:
        key = keys.create_key(session, "acme").key
    return base, httpx.Client(base_url=base, headers={"x-api-key": key}, timeout=60), server


def _chatbot(api: httpx.Client, **fields: Any) -> str:
    response = api.post("/api/external/chatbots", json={"is_public": True, **fields})
    response.raise_for_status()
    chatbot_id: str = response.json()["chatbot"]["id"]
    kb = f"/api/external/chatbot/{chatbot_id}/knowledge-base"
    api.post(kb, params={"wait": "true"}, json=STORE_KNOWLEDGE).raise_for_status()
    return chatbot_id


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    base, api, server = _serve()
    look = {"header": "Acme Outdoor", "slogan": "Usually answers in seconds"}
    greeting = "Hi! I can help with returns, shipping and opening hours."
    starters = ["How long do refunds take?", "Do you ship for free?", "When are you open?"]
    shop = _chatbot(
        api,
        name="Acme Outdoor",
        slug="acme",
        suggestions=starters,
        settings={"greeting": greeting, "snippet": {**look, "primaryColor": "#0f766e"}},
    )
    dark = _chatbot(
        api,
        name="Night Owl",
        settings={
            "greeting": greeting,
            "snippet": {
                "header": "Night Owl Books",
                "slogan": "Open late",
                "primaryColor": "#111827",
                "secondaryColor": "#f59e0b",
            },
        },
    )
    site_root = Path(tempfile.mkdtemp(prefix="chatforge-site-"))
    for name, ref in (("shop", shop), ("dark", dark)):
        html = SHOP_PAGE.replace("CHATFORGE", base).replace("REF", ref)
        (site_root / f"{name}.html").write_text(html)
    site, stop_site = serve_directory(site_root)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        desktop = {"viewport": {"width": 1100, "height": 760}, "device_scale_factor": 1}

        page = browser.new_context(**desktop).new_page()
        page.goto(f"{site}/shop.html")
        bubble = page.get_by_role("button", name="Open chat")
        bubble.wait_for()
        page.screenshot(path=OUT / "widget-closed.png")
        bubble.click()
        page.get_by_role("button", name="When are you open?").wait_for()
        page.screenshot(path=OUT / "widget-open.png")

        context = browser.new_context(**desktop)
        context.add_init_script(SLOW_STREAM)
        page = context.new_page()
        page.goto(f"{site}/shop.html")
        page.get_by_role("button", name="Open chat").click()
        page.get_by_role("button", name="How long do refunds take?").click()
        page.locator(".row.bot .srcs .src").last.wait_for()
        page.wait_for_timeout(400)
        page.screenshot(path=OUT / "widget-streaming.png")
        page.get_by_role("button", name="Helpful", exact=True).wait_for(timeout=30_000)
        page.screenshot(path=OUT / "widget-answer.png")

        phone = browser.new_context(
            viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True
        ).new_page()
        phone.goto(f"{site}/shop.html")
        phone.get_by_role("button", name="Open chat").click()
        phone.get_by_role("button", name="Do you ship for free?").click()
        phone.get_by_role("button", name="Helpful", exact=True).wait_for(timeout=30_000)
        phone.screenshot(path=OUT / "widget-mobile.png")

        page = browser.new_context(**desktop).new_page()
        page.goto(f"{site}/dark.html")
        page.get_by_role("button", name="Open chat").click()
        page.get_by_role("textbox", name="Your message").fill("How much is shipping?")
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Helpful", exact=True).wait_for(timeout=30_000)
        page.screenshot(path=OUT / "widget-dark.png")

        page = browser.new_context(viewport={"width": 1100, "height": 700}).new_page()
        page.goto(f"{base}/chat/acme")
        page.get_by_role("button", name="When are you open?").click()
        page.get_by_role("button", name="Helpful", exact=True).wait_for(timeout=30_000)
        page.screenshot(path=OUT / "widget-page.png")
        browser.close()
    stop_site()
    server.should_exit = True
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main()
