"""Signing in and out, CSRF, login limits, roles and the first-run owner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from tests.console.helpers import CSRF_FIELD, PASSWORD, Person, sign_in


def test_pages_ask_to_sign_in_first(client: TestClient) -> None:
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/console/"
    page = client.get("/console/chatbots", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/console/login?next=/console/chatbots"
    login = client.get("/console/login")
    assert login.status_code == 200 and "Sign in" in login.text


def test_sign_in_opens_the_console_and_sign_out_ends_the_session(
    client: TestClient, make_user: Callable[..., str]
) -> None:
    make_user("Owner@Acme.test")
    csrf = sign_in(client, "owner@acme.test")  # emails are not case sensitive
    cookie = client.cookies.get("chatforge_console")
    assert cookie
    set_cookie = client.get("/console/login").headers.get("set-cookie", "")
    assert "chatforge_console=" not in set_cookie  # the session cookie is never sent back
    home = client.get("/console/", follow_redirects=False)
    assert home.headers["location"] == "/console/chatbots"
    assert "acme" in client.get("/console/chatbots").text

    out = client.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/console/login"
    # The old cookie is worth nothing: its session row is gone.
    client.cookies.set("chatforge_console", cookie, path="/console")
    assert client.get("/console/chatbots", follow_redirects=False).status_code == 303


def test_session_cookie_is_http_only_and_same_site(
    client: TestClient, make_user: Callable[..., str]
) -> None:
    make_user("owner@acme.test")
    page = client.get("/console/login")
    token = CSRF_FIELD.search(page.text)
    assert token
    answer = client.post(
        "/console/login",
        data={"email": "owner@acme.test", "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and
                  v.startswith("chatforge_console="))  # fmt: skip
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie


def test_signing_in_again_makes_a_new_session(
    client: TestClient, make_user: Callable[..., str]
) -> None:
    make_user("owner@acme.test")
    sign_in(client, "owner@acme.test")
    first = client.cookies.get("chatforge_console")
    sign_in(client, "owner@acme.test")
    assert client.cookies.get("chatforge_console") != first


def test_wrong_password_is_refused(client: TestClient, make_user: Callable[..., str]) -> None:
    make_user("owner@acme.test")
    page = client.get("/console/login")
    token = CSRF_FIELD.search(page.text)
    assert token
    answer = client.post(
        "/console/login",
        data={"email": "owner@acme.test", "password": "wrong password", "csrf_token": token[1]},
        follow_redirects=False,
    )
    assert answer.status_code == 401
    assert "Wrong email or password" in answer.text
    assert "chatforge_console=" not in answer.headers.get("set-cookie", "")


def test_sign_in_without_the_form_token_is_refused(
    client: TestClient, make_user: Callable[..., str]
) -> None:
    make_user("owner@acme.test")
    client.get("/console/login")
    answer = client.post(
        "/console/login",
        data={"email": "owner@acme.test", "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 403


def test_posts_without_the_csrf_token_are_refused(owner: Person) -> None:
    missing = owner.client.post("/console/chatbots", data={"name": "Sneaky"})
    wrong = owner.client.post(
        "/console/chatbots", data={"name": "Sneaky"}, headers={"X-CSRF-Token": "forged"}
    )
    assert missing.status_code == 403 and wrong.status_code == 403
    assert "security token" in missing.text
    assert "Sneaky" not in owner.client.get("/console/chatbots").text
    # With the token in the header, as htmx sends it, the same post works.
    ok = owner.client.post(
        "/console/chatbots",
        data={"name": "Wanted"},
        headers={"X-CSRF-Token": owner.csrf},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert "Wanted" in owner.client.get("/console/chatbots").text


def test_login_attempts_are_limited_per_email(
    configured_api: Callable[..., TestClient], make_user: Callable[..., str]
) -> None:
    client = configured_api(console={"login_attempts_per_email": "3/hour"})
    make_user("owner@acme.test")
    token = CSRF_FIELD.search(client.get("/console/login").text)
    assert token

    def attempt(password: str) -> Any:
        return client.post(
            "/console/login",
            data={"email": "owner@acme.test", "password": password, "csrf_token": token[1]},
            follow_redirects=False,
        )

    assert [attempt("guess one!").status_code for _ in range(3)] == [401, 401, 401]
    refused = attempt(PASSWORD)  # even the right password, once over the limit
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1


def test_agents_see_only_conversations(
    person: Callable[..., Person], owner: Person, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    bot = create_chatbot(name="Helpdesk")
    agent = person("agent@acme.test", role="agent")
    home = agent.client.get("/console/", follow_redirects=False)
    assert home.headers["location"] == "/console/inbox"
    assert agent.client.get("/console/inbox").status_code == 200
    for path in ("/console/chatbots", f"/console/chatbots/{bot['id']}",
                 f"/console/chatbots/{bot['id']}/knowledge", "/console/keys"):  # fmt: skip
        answer = agent.client.get(path)
        assert answer.status_code == 403, path
        assert "Only an owner" in answer.text
    assert agent.post("/console/keys").status_code == 403
    assert agent.post(f"/console/chatbots/{bot['id']}/delete").status_code == 403
    assert "Helpdesk" in owner.client.get("/console/chatbots").text  # still there
    nav = agent.client.get("/console/inbox").text
    assert "API keys" not in nav and "/console/chatbots" not in nav
