"""``chatforge users create | list``: people who sign in to the console."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from chatforge.commands.common import fail_on, opened
from chatforge.errors import ChatforgeError
from chatforge.services.accounts import users

app = typer.Typer(help="Manage console users.", no_args_is_help=True)


@app.command("create")
def create(
    org: Annotated[str, typer.Option("--org", help="Organization name (made when new).")],
    email: Annotated[str, typer.Option("--email", help="The email the person signs in with.")],
    role: Annotated[
        str, typer.Option("--role", help="owner (everything) or agent (conversations only).")
    ] = "agent",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Make a console user; the password is asked for (or read from stdin), never an argument."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with opened() as ctx, ctx.db.sessions() as session:
            info = users.create_user(session, org, email, password, role)  # type: ignore[arg-type]
    except ChatforgeError as exc:
        raise fail_on(exc) from exc
    typer.echo(f"Made {info.role} {info.email} in organization {info.organization_name!r}.")


@app.command("list")
def list_(
    org: Annotated[str, typer.Option("--org", help="Organization name.")],
) -> None:
    """List the users of an organization."""
    with opened(existing=True) as ctx, ctx.db.sessions() as session:
        found = users.find_organization_users(session, org)
    if not found:
        typer.echo(f"No users in {org!r} yet: chatforge users create --org {org} --email E")
    for info in found:
        typer.echo(f"{info.email:<40} {info.role}")


def register(parent: typer.Typer) -> None:
    """Add the ``users`` group to the ``chatforge`` app."""
    parent.add_typer(app, name="users")
