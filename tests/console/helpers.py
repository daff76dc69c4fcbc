"""What the console tests share: a signed-in person and signing in through the form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Person:
    """A console user and a browser (HTTP client) signed in as them."""

    email: str
    client: TestClient
    csrf: str

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Response:
        """A form POST with the session's CSRF token; redirects are not followed."""
        kwargs.setdefault("follow_redirects", False)
        return self.client.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign in through the form; the session's CSRF token."""
    page = client.get("/console/login")
    token = CSRF_FIELD.search(page.text)
    assert token, page.text
    answer = client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    home = client.get("/console/inbox")
    found = CSRF_FIELD.search(home.text)
    assert found, home.text
    return found.group(1)
