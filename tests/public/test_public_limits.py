"""The public face's own limits: per visitor, per address, and the message-length cap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories.chat import conversations_path
from tests.public.helpers import public_path, say

SHOP = "https://shop.example"


# Low limits are per hour, not per minute: the sliding-window counter lets a second request in
# when two fall either side of a window's boundary, which a per-minute test would cross now
# and then.


def _public_bot(client: TestClient) -> tuple[str, dict[str, str]]:
    """A public chatbot made with ``client``'s key; then the key is dropped (visitors have none)."""
    response = client.post("/api/external/chatbots", json={"name": "Shop", "is_public": True})
    assert response.status_code == 200, response.text
    key = {"x-api-key": client.headers.pop("x-api-key")}
    return response.json()["chatbot"]["id"], key


def _assert_rate_limited(response: Any, origin: str | None = None) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["retry-after"]) <= 3600  # within the hour's window
    if origin is not None:  # the widget can read it, and tell the visitor to wait
        assert response.headers["access-control-allow-origin"] == origin
        assert "Retry-After" in response.headers["access-control-expose-headers"]


def test_one_visitor_flooding_the_chat_does_not_block_another(
    configured_api: Callable[..., TestClient],
) -> None:
    client = configured_api(public={"chat_per_visitor": "2/hour"})
    bot, _ = _public_bot(client)
    first = say(client, bot, "Hello", Origin=SHOP)
    token = first.json()["visitor_token"]
    session = first.json()["session_id"]

    allowed = [say(client, bot, "Again", token=token, session_id=session) for _ in range(2)]
    third = say(client, bot, "And again", token=token, session_id=session, Origin=SHOP)
    other = say(client, bot, "Hello, I am someone else")
    other_token = other.json()["visitor_token"]
    others_next = say(client, bot, "Me again", token=other_token)

    # The first call had no token yet: the calls with the token it was issued are counted.
    assert [r.status_code for r in [first, *allowed]] == [200, 200, 200]
    _assert_rate_limited(third, origin=SHOP)
    assert "wait" in third.json()["error"]["message"]
    assert other.status_code == others_next.status_code == 200


def test_one_address_is_limited_and_another_is_not(
    configured_api: Callable[..., TestClient],
) -> None:
    client = configured_api(
        public={"per_ip": "3/hour"},
        limits={"trust_forwarded_for": True, "per_ip": "1000/minute"},
    )
    bot, key = _public_bot(client)
    flooder = {"X-Forwarded-For": "203.0.113.7", "Origin": SHOP}
    neighbour = {"X-Forwarded-For": "198.51.100.9"}

    calls = [client.get(public_path(bot), headers=flooder) for _ in range(3)]
    refused = [
        client.get(public_path(bot), headers=flooder),
        client.post(public_path(bot, "/lead"), json={"email": "jo@example.com"}, headers=flooder),
    ]
    other = client.get(public_path(bot), headers=neighbour)
    operator = client.get(conversations_path(bot), headers={**key, **flooder})

    assert [c.status_code for c in calls] == [200, 200, 200]
    for response in refused:
        _assert_rate_limited(response, origin=SHOP)
    assert other.status_code == 200
    # The public limit is the public face's own: the operator's API is not counted in it.
    assert operator.status_code == 200


def test_chat_from_one_address_is_limited_whatever_tokens_it_uses(
    configured_api: Callable[..., TestClient],
) -> None:
    client = configured_api(
        public={"chat_per_ip": "2/hour", "chat_per_visitor": "100/minute"},
        limits={"trust_forwarded_for": True},
    )
    bot, _ = _public_bot(client)
    address = {"X-Forwarded-For": "203.0.113.7", "Origin": SHOP}

    # Each call without a token is issued a fresh one: per-visitor counting never sees a repeat.
    fresh = [say(client, bot, "Hello", **address) for _ in range(2)]
    third = say(client, bot, "Hello", **address)
    config = client.get(public_path(bot), headers=address)
    elsewhere = say(client, bot, "Hello", **{"X-Forwarded-For": "198.51.100.9"})

    assert [r.status_code for r in fresh] == [200, 200]
    assert len({r.json()["visitor_token"] for r in fresh}) == 2
    _assert_rate_limited(third, origin=SHOP)
    assert config.status_code == 200  # reading the config is not a chat message
    assert elsewhere.status_code == 200


def test_preflights_and_leads_are_counted_too(
    configured_api: Callable[..., TestClient],
) -> None:
    client = configured_api(
        public={"per_ip": "2/hour", "chat_per_ip": "1/hour"},
        limits={"trust_forwarded_for": True},
    )
    bot, _ = _public_bot(client)
    preflight = {
        "Origin": SHOP,
        "Access-Control-Request-Method": "POST",
        "X-Forwarded-For": "203.0.113.7",
    }
    # Each preflight looks the chatbot up: a flood of them is limited like any request.
    answered = [client.options(public_path(bot, "/chat"), headers=preflight) for _ in range(3)]
    # Each lead can open a session: it counts as a chat message of its address.
    lead = {"X-Forwarded-For": "198.51.100.9"}
    leads = [
        client.post(public_path(bot, "/lead"), json={"email": "jo@example.com"}, headers=lead)
        for _ in range(2)
    ]

    assert [r.status_code for r in answered] == [204, 204, 429]
    assert [r.status_code for r in leads] == [200, 429]


def test_a_message_over_the_cap_is_refused_and_not_stored(
    configured_api: Callable[..., TestClient],
) -> None:
    client = configured_api(public={"max_message_chars": 50})
    bot, key = _public_bot(client)

    longest = say(client, bot, "x" * 50)
    too_long = say(client, bot, "y" * 51, Origin=SHOP)

    assert longest.status_code == 200, longest.text
    assert too_long.status_code == 422
    error = too_long.json()["error"]
    assert error["code"] == "message_too_long" and "at most 50" in error["message"]
    assert error["details"][0]["field"] == "messages"
    assert too_long.headers["access-control-allow-origin"] == SHOP
    listed = client.get(conversations_path(bot), headers=key).json()
    assert listed["pagination"]["total"] == 1


@pytest.mark.parametrize("rate", ["lots", "10/fortnight"])
def test_a_malformed_public_rate_fails_when_the_app_is_built(
    configured_api: Callable[..., TestClient], rate: str
) -> None:
    with pytest.raises(ValueError, match="CHATFORGE_PUBLIC__PER_IP"):
        configured_api(public={"per_ip": rate})
