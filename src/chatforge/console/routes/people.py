"""The organization's console users: list, add with a role and a first password, remove. Owners."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from chatforge.console.web import DbDep, OwnerActorDep, OwnerDep, redirect, render
from chatforge.errors import ChatforgeError
from chatforge.services.accounts import users

router = APIRouter(prefix="/users")


@router.get("", response_class=HTMLResponse)
def list_users(request: Request, db: DbDep, user: OwnerDep) -> Response:
    return render(request, "users.html", people=users.list_users(db, user.organization_id))


@router.post("", response_class=HTMLResponse)
async def add_user(
    request: Request, db: DbDep, user: OwnerActorDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    role: Annotated[Literal["owner", "agent"], Form()] = "agent",
) -> Response:  # fmt: skip
    try:
        # argon2 hashing takes tens of milliseconds of CPU: off the event loop.
        await run_in_threadpool(
            users.create_user, db, user.user.organization_name, email, password, role
        )
    except ChatforgeError as exc:
        if exc.status >= 500:
            raise
        db.rollback()
        return render(
            request, "users.html", 422 if exc.status == 422 else exc.status,
            people=users.list_users(db, user.organization_id), error=exc.message,
            email=email, role=role,
        )  # fmt: skip
    return redirect(request, "/users")


@router.post("/{user_id}/remove", response_class=HTMLResponse)
def remove_user(request: Request, db: DbDep, user: OwnerActorDep, user_id: str) -> Response:
    users.remove_user(db, user.organization_id, user_id, user.user.id)
    return redirect(request, "/users")
