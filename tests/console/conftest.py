"""Console fixtures: users made through the service, browsers signed in through the form."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.console.helpers import PASSWORD, Person, sign_in

from chatforge.services.accounts import users
from chatforge.services.context import AppContext


@pytest.fixture
def make_user(ctx: AppContext) -> Callable[..., str]:
    """Make a console user; returns the email."""

    def make(email: str, org: str = "acme", role: users.Role = "owner") -> str:
        with ctx.db.sessions() as session:
            users.create_user(session, org, email, PASSWORD, role)
        return email

    return make


@pytest.fixture
def person(
    app: FastAPI, client: TestClient, make_user: Callable[..., str]
) -> Callable[..., Person]:
    """A new browser signed in as a new user: ``person("ann@acme.test", role="agent")``.

    Each person has a client of their own (their own cookies) on the test's app, whose life
    (and background worker) the ``client`` fixture holds.
    """

    def make(email: str, org: str = "acme", role: users.Role = "owner") -> Person:
        make_user(email, org, role)
        browser = TestClient(app, raise_server_exceptions=False)
        return Person(email, browser, sign_in(browser, email))

    return make


@pytest.fixture
def owner(person: Callable[..., Person]) -> Person:
    """An owner of "acme", signed in."""
    return person("owner@acme.test")
