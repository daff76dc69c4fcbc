"""Adding text, Q&A, web pages and sitemaps (API.md "Knowledge items") on SQLite and PostgreSQL.

Web sources are fetched from a real HTTP server on a loopback address. Loopback is exactly what
the SSRF guard refuses, so the allowed cases run on an app whose operator switched
``security.allow_private_addresses`` on, and the default app shows the refusals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories.files import LOREM
from tests.factories.knowledge import add, chunks_of, found_text, kb_path, patch, ready
from tests.factories.web import Site, serve_site

from chatforge.providers.web import WebFetcher
from chatforge.services.context import AppContext
from chatforge.settings import Settings

# The real local model, loaded once for all these tests (see conftest).
pytestmark = pytest.mark.usefixtures("reuse_embedder")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's settings with a worker that looks for jobs every 0.05 s instead of 0.5 s.

    Tests here wait for the worker many times; production's idle poll would be most of their time.
    """
    ingestion = settings.ingestion.model_copy(update={"poll_seconds": 0.05})
    return settings.model_copy(update={"ingestion": ingestion})


@pytest.fixture
def site() -> Iterator[Site]:
    """A web site on 127.0.0.1."""
    with serve_site() as running:
        yield running


@pytest.fixture
def intranet_api(configured_api: Callable[..., TestClient]) -> TestClient:
    """A client of an app whose operator allows fetching private addresses."""
    return configured_api(security={"allow_private_addresses": True})


def context_of(api: TestClient) -> AppContext:
    ctx: AppContext = api.app.state.ctx  # type: ignore[attr-defined]
    return ctx


def new_chatbot(api: TestClient) -> str:
    response = api.post("/api/external/chatbots", json={"name": "Web Bot"})
    assert response.status_code == 200, response.text
    chatbot_id: str = response.json()["chatbot"]["id"]
    return chatbot_id


def errors_of(response: Any) -> dict[str, str]:
    """A 422's details as ``field -> message``."""
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return {d["field"]: d["message"] for d in error["details"]}


# --- text and Q&A ----------------------------------------------------------------------------


def test_text_source_is_chunked_under_its_title(
    api: TestClient, ctx: AppContext, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    chatbot = create_chatbot()
    content = "Opening hours\n\nThe museum opens at nine and closes at five on weekdays."

    (item,) = add(api, chatbot["id"], {"type": "text", "title": "Visiting", "content": content})

    assert item["status"] == "ready" and item["type"] == "text" and item["title"] == "Visiting"
    assert item["chunks"] == 1 and item["size_bytes"] == len(content.encode())
    assert {"parse_ms", "chunk_ms", "embed_ms", "index_ms"} <= set(item["metadata"])
    (chunk,) = chunks_of(ctx, item["id"])
    assert chunk.content == f"Title: Visiting\nChunk: 1\n\nContent:\n{content}"
    assert found_text(ctx, chatbot["id"], "museum weekdays") == [chunk.content]


def test_text_without_a_title_is_named_by_its_first_line(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    chatbot = create_chatbot()

    (item,) = add(
        api, chatbot["id"], {"type": "text", "content": "Return policy\n\nKeep the receipt."}
    )

    assert item["title"] == "Return policy"


def test_qna_source_is_one_chunk_in_okchat_form(
    api: TestClient, ctx: AppContext, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    chatbot = create_chatbot()
    qna = {
        "type": "qna",
        "question": "Do you deliver on Sundays?",
        "answer": "Yes, within the city ring, until noon.",
    }

    (item,) = add(api, chatbot["id"], qna)

    assert item["status"] == "ready" and item["type"] == "qna" and item["chunks"] == 1
    assert item["title"] == "Do you deliver on Sundays?"
    (chunk,) = chunks_of(ctx, item["id"])
    assert chunk.content == (
        "Title: Do you deliver on Sundays?\nChunk: 1\n\n"
        "Question: Do you deliver on Sundays?\n\nAnswer: Yes, within the city ring, until noon."
    )
    # Found by the question's words and by the answer's.
    assert found_text(ctx, chatbot["id"], "deliver sundays") == [chunk.content]
    assert found_text(ctx, chatbot["id"], "city ring noon") == [chunk.content]


def test_several_sources_in_one_request_come_back_in_order(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    chatbot = create_chatbot()

    items = add(
        api,
        chatbot["id"],
        {"type": "text", "title": "A", "content": "Alpha text about anchors."},
        {"type": "qna", "question": "Beta?", "answer": "Beta answer about boats."},
        {"type": "text", "title": "A", "content": "Alpha text about anchors."},
    )

    assert [i["type"] for i in items] == ["text", "qna", "text"]
    assert [i["status"] for i in items] == ["ready", "ready", "ready"]
    # The same text twice is one item.
    assert items[0]["id"] == items[2]["id"]
    again = add(
        api, chatbot["id"], {"type": "text", "title": "A", "content": "Alpha text about anchors."}
    )
    assert again[0]["id"] == items[0]["id"]
    listing = api.get(kb_path(chatbot["id"])).json()
    assert listing["pagination"]["total"] == 2


def test_invalid_sources_are_422_naming_each_field(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    chatbot = create_chatbot()
    path = kb_path(chatbot["id"])

    assert errors_of(api.post(path, json={"type": "text"})) == {"content": "Field required"}
    assert "content" in errors_of(api.post(path, json={"type": "text", "content": "  \n "}))
    assert set(errors_of(api.post(path, json={"type": "qna", "question": "Why?"}))) == {"answer"}
    bad_type = errors_of(api.post(path, json={"type": "pdf", "content": "x"}))
    assert set(bad_type) == {"type"} and "'text', 'qna', 'url', 'sitemap'" in bad_type["type"]
    assert set(errors_of(api.post(path, json={"content": "no type"}))) == {"type"}
    for url in ("ftp://example.com/file", "not a url", "javascript:alert(1)"):
        assert set(errors_of(api.post(path, json={"type": "url", "url": url}))) == {"url"}
    crawl = {"type": "url", "url": "https://example.com", "crawl": {"max_pages": 0}}
    assert set(errors_of(api.post(path, json=crawl))) == {"crawl.max_pages"}
    # In a list, the field is named with its position.
    many = [{"type": "text", "content": "fine"}, {"type": "sitemap"}]
    assert set(errors_of(api.post(path, json=many))) == {"1.url"}
    assert api.post(path, json=[]).status_code == 400
    assert api.get(path).json()["pagination"]["total"] == 0


# --- web pages and sitemaps -------------------------------------------------------------------


def test_url_crawl_follows_same_domain_links_up_to_max_pages(
    intranet_api: TestClient, site: Site
) -> None:
    chatbot_id = new_chatbot(intranet_api)
    far = site.url("/far", host="localhost")  # the same server under another host name
    site.page(
        "/",
        "Welcome",
        ["Our bakery has baked rye bread since 1921. " + LOREM],
        ["/a", "/b", "/c", far],
    )
    site.page("/a", "Bread", ["Rye loaves are proofed for sixteen hours. " + LOREM])
    site.page("/b", "Cakes", ["Plum cake is sold only in September. " + LOREM])
    site.page("/c", "Pastry", ["Croissants are laminated with cultured butter. " + LOREM])
    site.page("/far", "Elsewhere", ["A page on another host name. " + LOREM])

    (item,) = add(
        intranet_api,
        chatbot_id,
        {"type": "url", "url": site.url("/"), "crawl": {"max_pages": 3, "same_domain": True}},
    )

    assert item["status"] == "ready", item
    assert item["type"] == "url" and item["source"] == site.url("/")
    assert item["metadata"]["documents"] == 3
    ctx = context_of(intranet_api)
    assert found_text(ctx, chatbot_id, "rye bread 1921")
    assert found_text(ctx, chatbot_id, "plum cake september")
    assert not found_text(ctx, chatbot_id, "croissants laminated")  # past max_pages
    assert not site.visited("/far") and not site.visited("/c")
    titles = {c.content.split("\n", 1)[0] for c in chunks_of(ctx, item["id"])}
    assert titles == {"Title: Welcome", "Title: Bread", "Title: Cakes"}
    assert item["size_bytes"] == sum(len(site.routes[p][2]) for p in ("/", "/a", "/b"))
    # What is found cites the page it was found on, by that page's title.
    results = intranet_api.post(
        f"/api/external/chatbot/{chatbot_id}/query-knowledge",
        json={"query": "plum cake September", "limit": 1},
    ).json()["results"]
    assert [(r["title"], r["source"]) for r in results] == [("Cakes", site.url("/b"))]
    chat = intranet_api.post(
        f"/api/external/chatbot/{chatbot_id}/chat",
        json={"messages": [{"role": "user", "content": "When is plum cake sold?"}]},
    ).json()
    assert "September" in chat["response"]
    cited = {s["source"] for s in chat["sources"] if f"[{s['ref']}]" in chat["response"]}
    assert cited == {site.url("/b")}


def test_url_crawl_leaves_the_domain_only_when_asked(intranet_api: TestClient, site: Site) -> None:
    chatbot_id = new_chatbot(intranet_api)
    site.page(
        "/",
        "Start",
        ["The start page of the crawl. " + LOREM],
        [site.url("/far", host="localhost")],
    )
    site.page("/far", "Far away", ["The lighthouse on the far cape is white. " + LOREM])

    (item,) = add(
        intranet_api,
        chatbot_id,
        {"type": "url", "url": site.url("/"), "crawl": {"max_pages": 5, "same_domain": False}},
    )

    assert item["status"] == "ready" and item["metadata"]["documents"] == 2
    assert site.visited("/far")
    assert found_text(context_of(intranet_api), chatbot_id, "lighthouse cape")


def test_url_without_crawl_fetches_only_its_page(intranet_api: TestClient, site: Site) -> None:
    chatbot_id = new_chatbot(intranet_api)
    site.page("/", "Only", ["Only this page is read. " + LOREM], ["/next"])
    site.page("/next", "Next", ["Never read. " + LOREM])

    (item,) = add(intranet_api, chatbot_id, {"type": "url", "url": site.url("/"), "title": "Home"})

    assert item["status"] == "ready" and item["title"] == "Home"
    assert item["metadata"]["documents"] == 1
    assert not site.visited("/next")
    # One page is the item: it is cited by the title the user gave it.
    (hit,) = intranet_api.post(
        f"/api/external/chatbot/{chatbot_id}/query-knowledge",
        json={"query": "only this page is read", "limit": 1},
    ).json()["results"]
    assert (hit["title"], hit["source"]) == ("Home", site.url("/"))


def test_url_without_a_title_is_named_by_its_page(intranet_api: TestClient, site: Site) -> None:
    chatbot_id = new_chatbot(intranet_api)
    site.page("/hours", "Opening hours", ["The shop opens at nine on weekdays. " + LOREM])
    heading_only = (
        "<!DOCTYPE html><html><body><main><h1>Delivery areas</h1>"
        f"<p>We deliver inside the city ring on Tuesdays. {LOREM}</p></main></body></html>"
    )
    site.routes["/delivery"] = (200, {"content-type": "text/html"}, heading_only.encode())

    hours, delivery = add(
        intranet_api,
        chatbot_id,
        {"type": "url", "url": site.url("/hours")},
        {"type": "url", "url": site.url("/delivery")},
    )

    # The knowledge list, search results and chat sources show the page's name; the URL stays
    # the source.
    assert (hours["title"], hours["source"]) == ("Opening hours", site.url("/hours"))
    assert (delivery["title"], delivery["source"]) == ("Delivery areas", site.url("/delivery"))
    listed = intranet_api.get(f"/api/external/chatbot/{chatbot_id}/knowledge-base").json()
    assert {i["title"] for i in listed["knowledge_base"]} == {"Opening hours", "Delivery areas"}
    chat = intranet_api.post(
        f"/api/external/chatbot/{chatbot_id}/chat",
        json={"messages": [{"role": "user", "content": "When does the shop open?"}]},
    ).json()
    assert ("Opening hours", site.url("/hours")) in {
        (s["title"], s["source"]) for s in chat["sources"]
    }


def test_a_page_named_item_follows_its_page_until_the_user_names_it(
    intranet_api: TestClient, site: Site
) -> None:
    chatbot_id = new_chatbot(intranet_api)
    soup = ["The harbour cafe serves fish soup. " + LOREM]
    site.page("/", "Welcome", soup)
    (item,) = add(intranet_api, chatbot_id, {"type": "url", "url": site.url("/")})
    assert item["title"] == "Welcome"

    def refetch() -> str:
        response = patch(intranet_api, chatbot_id, item["id"], {"url": site.url("/")})
        assert response.status_code == 200, response.text
        title: str = ready(intranet_api, chatbot_id, item["id"])["title"]
        return title

    site.page("/", "Welcome back", soup)
    assert refetch() == "Welcome back"
    renamed = patch(intranet_api, chatbot_id, item["id"], {"title": "Cafe menu"})
    assert renamed.status_code == 200, renamed.text
    ready(intranet_api, chatbot_id, item["id"])
    site.page("/", "Welcome again", soup)
    assert refetch() == "Cafe menu"


def test_a_page_title_is_cut_to_the_length_a_user_may_type(
    intranet_api: TestClient, site: Site
) -> None:
    chatbot_id = new_chatbot(intranet_api)
    site.page("/long", "Harbour " * 2000, ["The harbour cafe serves fish soup. " + LOREM])

    (item,) = add(intranet_api, chatbot_id, {"type": "url", "url": site.url("/long")})

    assert len(item["title"]) <= 500 and item["title"].endswith("Harbour…")
    assert item["source"] == site.url("/long")


def test_sitemap_source_indexes_every_listed_page(intranet_api: TestClient, site: Site) -> None:
    chatbot_id = new_chatbot(intranet_api)
    site.page("/one", "One", ["Harbour tours leave from pier one. " + LOREM])
    site.page("/two", "Two", ["Kayaks are rented by the hour. " + LOREM])
    site.sitemap("/sitemap.xml", [site.url("/one"), site.url("/two"), site.url("/missing")])

    (item,) = add(intranet_api, chatbot_id, {"type": "sitemap", "url": site.url("/sitemap.xml")})

    assert item["status"] == "ready", item
    assert item["type"] == "url" and item["metadata"]["documents"] == 2
    ctx = context_of(intranet_api)
    assert found_text(ctx, chatbot_id, "harbour tours pier")
    assert found_text(ctx, chatbot_id, "kayaks rented")


def test_url_that_cannot_be_fetched_fails_with_the_reason(
    intranet_api: TestClient, site: Site
) -> None:
    chatbot_id = new_chatbot(intranet_api)

    (item,) = add(intranet_api, chatbot_id, {"type": "url", "url": site.url("/gone")})

    assert item["status"] == "failed"
    assert "404" in item["error"]


def test_edit_of_a_url_fetches_the_new_page(intranet_api: TestClient, site: Site) -> None:
    chatbot_id = new_chatbot(intranet_api)
    site.page("/old", "Old", ["The old page talks about tulips. " + LOREM])
    site.page("/new", "New", ["The new page talks about orchids. " + LOREM])
    (item,) = add(intranet_api, chatbot_id, {"type": "url", "url": site.url("/old")})
    assert item["title"] == "Old"

    response = patch(intranet_api, chatbot_id, item["id"], {"url": site.url("/new")})

    assert response.status_code == 200, response.text
    assert response.json()["knowledge"]["source"] == site.url("/new")
    # Named by the page it now points to, not by the one it left.
    assert ready(intranet_api, chatbot_id, item["id"])["title"] == "New"
    ctx = context_of(intranet_api)
    assert found_text(ctx, chatbot_id, "orchids")
    assert not found_text(ctx, chatbot_id, "tulips")


# --- the SSRF guard ---------------------------------------------------------------------------


def test_loopback_urls_fail_as_refused_by_default(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]], site: Site
) -> None:
    chatbot = create_chatbot()
    site.page("/", "Internal", ["An internal admin page. " + LOREM])
    site.sitemap("/sitemap.xml", [site.url("/")])

    items = add(
        api,
        chatbot["id"],
        {"type": "url", "url": site.url("/", host="localhost")},  # a name that resolves to it
        {"type": "sitemap", "url": site.url("/sitemap.xml", host="localhost")},
    )

    assert [i["status"] for i in items] == ["failed", "failed"]
    for item in items:
        assert "Refused to fetch from localhost" in item["error"], item
        # Not allowed, without saying why: loopback, private or unknown read the same.
        assert "not allowed" in item["error"] and "loopback" not in item["error"], item
    assert "127.0.0.1" not in items[0]["error"]
    assert site.requests == []


def test_redirect_to_a_private_address_fails_as_refused(
    api: TestClient,
    ctx: AppContext,
    create_chatbot: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chatbot = create_chatbot()
    # The operator allows one intranet host, 127.0.0.1; 127.0.0.2 stands for the rest of the
    # private network, which a page on the allowed host must not reach by redirecting.
    monkeypatch.setattr(ctx, "web_fetcher", lambda: WebFetcher(allowed_networks=["127.0.0.1/32"]))
    with serve_site("127.0.0.1") as outer, serve_site("127.0.0.2") as inner:
        inner.page("/secret", "Secret", ["Database passwords. " + LOREM])
        outer.redirect("/go", inner.url("/secret"))

        (item,) = add(api, chatbot["id"], {"type": "url", "url": outer.url("/go")})

        assert item["status"] == "failed"
        assert "Refused to fetch from 127.0.0.2" in item["error"] and "not allowed" in item["error"]
        assert outer.requests == ["/go"]
        assert inner.requests == []
