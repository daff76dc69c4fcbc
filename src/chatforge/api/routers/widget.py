"""The public face's files: ``GET /widget.js`` and the hosted chat page ``GET /chat/{chatbot}``.

Neither needs a key. The widget talks to ``/api/public/...`` (see ``routers/public.py``); the
hosted page is the same widget, open, full page, with the chatbot's title and meta tags. A
chatbot that does not exist or is not public gets a friendly HTML 404, as the API answers 404.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from chatforge.api import widget as assets
from chatforge.api.deps import ContextDep
from chatforge.errors import NotFound
from chatforge.services.public import service as public

router = APIRouter(tags=["widget"])

#: Browsers and CDNs keep the script an hour, then revalidate it with its ETag (a 304 is cheap).
SCRIPT_CACHE_CONTROL = "public, max-age=3600"
_DEFAULT_PRIMARY = "#4f46e5"
_DESCRIPTION_MAX = 200


@router.get(
    "/widget.js",
    summary="The embeddable chat widget (add it with a script tag, data-chatbot=ID-or-slug)",
    response_class=Response,
    responses={200: {"content": {"text/javascript": {}}}, 304: {"description": "Not modified"}},
)
def widget_script(request: Request) -> Response:
    script = assets.widget_script()
    headers = {
        "Cache-Control": SCRIPT_CACHE_CONTROL,
        "ETag": script.etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        # Sites that isolate themselves (COEP) may still load it.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if script.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        body = script.gzipped
    else:
        body = script.body
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


@router.get(
    "/chat/{chatbot}",
    summary="The hosted chat page of a public chatbot (by id or slug)",
    response_class=HTMLResponse,
    responses={404: {"description": "No public chatbot by that id or slug (an HTML page)"}},
)
def chat_page(chatbot: str, ctx: ContextDep) -> HTMLResponse:
    nonce = assets.new_nonce()
    try:
        view = public.get_public_chatbot(ctx, chatbot)
    except NotFound:
        return HTMLResponse(
            assets.not_found_page(nonce=nonce),
            status_code=404,
            headers=_page_headers(nonce, "*", cache="no-store"),
        )
    snippet = view.snippet
    title = snippet.get("header") or snippet.get("name") or view.name
    description = snippet.get("slogan") or view.greeting or f"Chat with {view.name}."
    html = assets.chat_page(
        title=title,
        name=snippet.get("name") or view.name,
        description=description[:_DESCRIPTION_MAX],
        language=view.language,
        theme_color=snippet.get("primaryColor") or _DEFAULT_PRIMARY,
        url=f"{ctx.public_base_url}/chat/{view.id}",
        image=_web_image(view.avatar or snippet.get("logo")),
        chatbot_id=view.id,
        script_url=f"/widget.js?v={assets.widget_script().version}",
        nonce=nonce,
    )
    ancestors = assets.frame_ancestors(view.allowed_origins)
    return HTMLResponse(html, headers=_page_headers(nonce, ancestors, cache="no-cache"))


def _page_headers(nonce: str, frame_ancestors: str, *, cache: str) -> dict[str, str]:
    # The page runs only our own script; the widget styles itself with a constructed style
    # sheet, so no inline style or script needs allowing beyond the page's one nonced <style>.
    policy = (
        "default-src 'none'; script-src 'self'; connect-src 'self'; "
        f"style-src 'self' 'nonce-{nonce}'; img-src 'self' https: http: data:; "
        f"base-uri 'none'; form-action 'none'; frame-ancestors {frame_ancestors}"
    )
    return {
        "Content-Security-Policy": policy,
        "Cache-Control": cache,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }


def _web_image(url: str | None) -> str | None:
    """``url`` for ``og:image`` and the icon when it is an http(s) address (one stored before
    the API checked them may not be), else None."""
    return url if url and url.lower().startswith(("https://", "http://")) else None
