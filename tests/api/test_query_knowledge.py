"""Query Knowledge (API.md §2 row 13) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

FAQ = [
    {
        "type": "text",
        "title": "Refund policy",
        "content": "You can return any product within 30 days of delivery for a full refund. "
        "Refunds go back to the original payment method within five business days.",
    },
    {
        "type": "text",
        "title": "Shipping",
        "content": "Orders ship from our warehouse in Rotterdam. Standard delivery takes three "
        "to five days in the European Union; express delivery takes one day.",
    },
    {
        "type": "text",
        "title": "Warranty",
        "content": "Every kettle carries a two-year warranty against manufacturing defects. "
        "Limescale damage is not covered by the warranty.",
    },
    {
        "type": "qna",
        "question": "Do you ship to Canada?",
        "answer": "Yes. Shipping to Canada takes about ten days and costs 25 euros.",
    },
]


@pytest.fixture
def shop(api: TestClient, create_chatbot: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    chatbot = create_chatbot(name="Kettle Shop")
    response = api.post(f"/api/external/chatbot/{chatbot['id']}/knowledge-base?wait=true", json=FAQ)
    assert response.status_code == 200, response.text
    items = response.json()["knowledge_base"]
    assert [i["status"] for i in items] == ["ready"] * len(FAQ)
    return {"chatbot": chatbot, "items": {i["title"]: i for i in items}}


def query(api: TestClient, chatbot_id: str, **body: Any) -> Any:
    return api.post(f"/api/external/chatbot/{chatbot_id}/query-knowledge", json=body)


def test_results_have_okchat_shape_best_first(api: TestClient, shop: dict[str, Any]) -> None:
    response = query(api, shop["chatbot"]["id"], query="How long do I have to return a product?")

    assert response.status_code == 200
    results = response.json()["results"]
    assert 1 <= len(results) <= 5
    assert results[0]["content"].startswith("Title: Refund policy\nChunk: 1\n\nContent:\n")
    assert results[0]["knowledge_id"] == shop["items"]["Refund policy"]["id"]
    similarities = [r["similarity"] for r in results]
    assert similarities == sorted(similarities, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in similarities)
    assert {"content", "similarity", "knowledge_id", "title", "source", "chunk_index"} <= set(
        results[0]
    )


@pytest.mark.parametrize("mode", ["hybrid", "vector", "keyword"])
def test_every_mode_finds_the_answer(api: TestClient, shop: dict[str, Any], mode: str) -> None:
    response = query(api, shop["chatbot"]["id"], query="warranty for limescale damage", mode=mode)

    assert response.status_code == 200
    assert response.json()["results"][0]["title"] == "Warranty"


def test_keyword_mode_returns_nothing_for_unknown_words(
    api: TestClient, shop: dict[str, Any]
) -> None:
    response = query(api, shop["chatbot"]["id"], query="zyxwvut qwertyuiop", mode="keyword")

    assert response.json() == {"results": []}


def test_threshold_and_limit_cut_results(api: TestClient, shop: dict[str, Any]) -> None:
    chatbot_id = shop["chatbot"]["id"]
    everything = query(api, chatbot_id, query="delivery days", limit=50).json()["results"]
    one = query(api, chatbot_id, query="delivery days", limit=1).json()["results"]
    cut = everything[1]["similarity"]
    above = query(api, chatbot_id, query="delivery days", limit=50, threshold=cut).json()

    assert len(everything) == len(FAQ)
    assert one == everything[:1]
    assert [r["similarity"] >= cut for r in above["results"]] == [True] * len(above["results"])
    assert len(above["results"]) < len(everything)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": "x", "limit": 0}, "limit"),
        ({"query": "x", "limit": 51}, "limit"),
        ({"query": "x", "threshold": 1.5}, "threshold"),
        ({"query": "x", "mode": "magic"}, "mode"),
        ({"query": ""}, "query"),
        ({}, "query"),
    ],
)
def test_bad_parameters_are_422(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]], body: dict[str, Any], field: str
) -> None:
    chatbot = create_chatbot()

    response = query(api, chatbot["id"], **body)

    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == field


def test_qna_whose_question_matches_comes_first(api: TestClient, shop: dict[str, Any]) -> None:
    response = query(api, shop["chatbot"]["id"], query="Do you ship to Canada?")

    first = response.json()["results"][0]
    assert first["content"].startswith("Title: Do you ship to Canada?\nChunk: 1\n\nQuestion:")
    assert first["similarity"] >= 0.8
    assert first["similarity"] == round(first["similarity"], 6)


def test_filter_by_type_and_by_item(api: TestClient, shop: dict[str, Any]) -> None:
    chatbot_id = shop["chatbot"]["id"]
    shipping_id = shop["items"]["Shipping"]["id"]

    by_type = query(api, chatbot_id, query="shipping", filter={"types": ["qna"]}).json()
    by_item = query(
        api, chatbot_id, query="refund", filter={"knowledge_ids": [shipping_id]}, limit=50
    ).json()

    assert {r["title"] for r in by_type["results"]} == {"Do you ship to Canada?"}
    assert {r["knowledge_id"] for r in by_item["results"]} == {shipping_id}


def test_disabled_items_never_appear(api: TestClient, shop: dict[str, Any]) -> None:
    chatbot_id = shop["chatbot"]["id"]
    refund_id = shop["items"]["Refund policy"]["id"]

    api.patch(
        f"/api/external/chatbot/{chatbot_id}/knowledge-base?id={refund_id}",
        json={"enabled": False},
    )
    results = query(api, chatbot_id, query="return a product for a refund", limit=50).json()

    assert refund_id not in {r["knowledge_id"] for r in results["results"]}


def test_empty_knowledge_base_gives_empty_results(
    api: TestClient, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    chatbot = create_chatbot(name="Empty")

    response = query(api, chatbot["id"], query="anything at all")

    assert response.status_code == 200
    assert response.json() == {"results": []}


def test_chatbot_retrieval_settings_are_the_defaults(api: TestClient, shop: dict[str, Any]) -> None:
    chatbot_id = shop["chatbot"]["id"]
    api.patch(
        f"/api/external/chatbot/{chatbot_id}",
        json={"settings": {"retrieval": {"limit": 2, "mode": "keyword"}}},
    )

    results = query(api, chatbot_id, query="warranty delivery refund").json()["results"]

    assert len(results) == 2
    bad = api.patch(
        f"/api/external/chatbot/{chatbot_id}", json={"settings": {"retrieval": {"limit": 99}}}
    )
    assert bad.status_code == 422
    typo = api.patch(
        f"/api/external/chatbot/{chatbot_id}", json={"settings": {"retrieval": {"lmit": 3}}}
    )
    assert typo.status_code == 422
    (detail,) = typo.json()["error"]["details"]
    assert detail["field"] == "settings.retrieval" and "'lmit'" in detail["message"]
    cleared = api.patch(
        f"/api/external/chatbot/{chatbot_id}", json={"settings": {"retrieval": {"lmit": None}}}
    )
    assert cleared.status_code == 200, cleared.text


def test_other_organization_cannot_query(
    client: TestClient, shop: dict[str, Any], make_key: Callable[[str], str]
) -> None:
    response = client.post(
        f"/api/external/chatbot/{shop['chatbot']['id']}/query-knowledge",
        json={"query": "refund"},
        headers={"x-api-key": make_key("intruder")},
    )

    assert response.status_code == 404


def test_search_never_crosses_chatbots(
    api: TestClient, shop: dict[str, Any], create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    other = create_chatbot(name="Other")
    api.post(
        f"/api/external/chatbot/{other['id']}/knowledge-base?wait=true",
        json={"type": "text", "title": "Secret", "content": "The refund code is 7781."},
    )

    results = query(api, shop["chatbot"]["id"], query="refund code", limit=50).json()["results"]

    assert all("7781" not in r["content"] for r in results)


HANDBOOK = (
    "Our office opens at eight in the morning and closes at six in the evening from Monday to "
    "Friday. Visitors sign in at the front desk on the ground floor and wear a badge at all times. "
    "Parking is free in the garage under the building, but electric car chargers must be booked a "
    "day ahead. Lunch is served in the canteen on the third floor between noon and two o'clock. "
    "Coffee machines are on every floor and the beans are roasted locally every week. The IT help "
    "desk answers tickets within four hours and lends laptops for travel. Meeting rooms are booked "
    "in the calendar; please release a room you no longer need. Well-behaved dogs are welcome in "
    "the office on Fridays, provided they stay on a leash in shared areas. The fire alarm is "
    "tested every first Monday of the month at ten o'clock. Expenses are reimbursed within a month "
    "when the receipts are uploaded to the finance portal. Holidays are requested through the HR "
    "system at least two weeks in advance."
)


@pytest.mark.usefixtures("reuse_embedder")
@pytest.mark.parametrize(("window_tokens", "low", "high"), [(128, 0.5, 1.0), (0, 0.0, 0.3)])
def test_a_sentence_deep_in_a_long_chunk_is_found_by_its_window(
    configured_api: Callable[..., TestClient], window_tokens: int, low: float, high: float
) -> None:
    # One 200-token chunk about eleven things: its one vector hardly resembles a question about
    # the tenth, but the window holding that sentence does (windows off: the old behaviour).
    api = configured_api(ingestion={"window_tokens": window_tokens})
    chatbot = api.post("/api/external/chatbots", json={"name": "Office"}).json()["chatbot"]
    added = api.post(
        f"/api/external/chatbot/{chatbot['id']}/knowledge-base?wait=true",
        json={"type": "text", "title": "Employee handbook", "content": HANDBOOK},
    )
    assert added.json()["knowledge_base"][0]["chunks"] == 1

    results = query(
        api, chatbot["id"], query="How fast are expenses paid back?", mode="vector"
    ).json()["results"]

    assert low < results[0]["similarity"] < high
