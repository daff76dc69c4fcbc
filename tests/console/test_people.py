"""People: an owner adds and removes the organization's console users."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from tests.console.helpers import PASSWORD, Person, sign_in

from chatforge.services.accounts import users
from chatforge.services.context import AppContext


def test_an_owner_adds_an_agent_who_signs_in_and_removes_them(
    owner: Person, app: object, person: Callable[..., Person]
) -> None:
    added = owner.post(
        "/console/users", {"email": "Ann@Acme.test", "password": PASSWORD, "role": "agent"}
    )
    assert added.status_code == 303
    listing = owner.client.get("/console/users").text
    assert "ann@acme.test" in listing and "Agent" in listing

    ann = TestClient(app, raise_server_exceptions=False)  # type: ignore[arg-type]
    sign_in(ann, "ann@acme.test")
    assert ann.get("/console/inbox").status_code == 200
    assert ann.get("/console/users").status_code == 403

    user_id = re.search(r'/console/users/([^/]+)/remove" data-confirm="Remove ann', listing)
    assert user_id
    assert owner.post(f"/console/users/{user_id[1]}/remove").status_code == 303
    assert "ann@acme.test" not in owner.client.get("/console/users").text
    # Removed means signed out at once.
    assert ann.get("/console/inbox", follow_redirects=False).status_code == 303


def test_adding_checks_the_email_password_and_duplicates(owner: Person) -> None:
    short = owner.post("/console/users", {"email": "bob@acme.test", "password": "short"})
    assert short.status_code == 422 and "at least 10 characters" in short.text
    for email in ("not-an-email", "a');alert(1);('@x.io", "<b>@x.io", "a b@x.io"):
        bad = owner.post("/console/users", {"email": email, "password": PASSWORD})
        assert bad.status_code == 422 and "valid email" in bad.text, email
    twice = owner.post("/console/users", {"email": "owner@acme.test", "password": PASSWORD})
    assert twice.status_code == 409 and "exists" in twice.text


def test_owners_cannot_remove_themselves_or_other_organizations_people(
    owner: Person, person: Callable[..., Person], ctx: AppContext
) -> None:
    assert "/remove" not in owner.client.get("/console/users").text  # no button for oneself
    with ctx.db.sessions() as session:
        (me,) = users.find_organization_users(session, "acme")
    assert owner.post(f"/console/users/{me.id}/remove").status_code == 400
    stranger = person("eve@globex.test", org="globex")
    assert "owner@acme.test" not in stranger.client.get("/console/users").text
    assert stranger.post(f"/console/users/{me.id}/remove").status_code == 404
    assert "owner@acme.test" in owner.client.get("/console/users").text
