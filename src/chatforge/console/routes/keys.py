"""The organization's API keys: create (shown once), list, revoke. Owners only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from chatforge.console.web import DbDep, OwnerActorDep, OwnerDep, redirect, render
from chatforge.services import workspace

router = APIRouter(prefix="/keys")


@router.get("", response_class=HTMLResponse)
def list_keys(request: Request, db: DbDep, user: OwnerDep) -> Response:
    return render(request, "keys.html", keys=workspace.list_keys(db, user.organization_id))


@router.post("", response_class=HTMLResponse)
def create_key(request: Request, db: DbDep, user: OwnerActorDep) -> Response:
    created = workspace.create_key(db, user.organization_id)
    # The one time the key exists in clear: shown in this answer, never stored or logged.
    return render(
        request, "keys.html", keys=workspace.list_keys(db, user.organization_id), created=created
    )


@router.post("/{key_id}/revoke", response_class=HTMLResponse)
def revoke_key(request: Request, db: DbDep, user: OwnerActorDep, key_id: str) -> Response:
    workspace.revoke_key(db, user.organization_id, key_id)
    return redirect(request, "/keys")
