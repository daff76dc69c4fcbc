"""``chatforge users create | list | password``: people who sign in to the console.

A password is asked for twice (hidden) or read from standard input, never given as an argument,
which the shell's history and ``ps`` would show, and never printed.
"""

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
    password = _read_password("Password", from_stdin=password_stdin)
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


@app.command("password")
def password(
    email: Annotated[str, typer.Argument(help="The email the person signs in with.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from standard input.")
    ] = False,
) -> None:
    """Set a user's password; they are signed out of every console session they had."""
    new_password = _read_password("New password", from_stdin=password_stdin)
    try:
        with opened(existing=True) as ctx, ctx.db.sessions() as session:
            info = users.set_password(session, email, new_password)
    except ChatforgeError as exc:
        raise fail_on(exc) from exc
    typer.echo(f"Set a new password for {info.email}; their console sessions have ended.")


def _read_password(prompt: str, *, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    entered: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return entered


def register(parent: typer.Typer) -> None:
    """Add the ``users`` group to the ``chatforge`` app."""
    parent.add_typer(app, name="users")
