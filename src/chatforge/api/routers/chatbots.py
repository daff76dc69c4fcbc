"""``/api/external/chatbots`` and ``/api/external/chatbot/{chatbotId}``.

See docs/api.md, "Chatbots".
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from chatforge.api.deps import ChatbotsDep, ContextDep
from chatforge.api.schemas.chatbots import (
    ChatbotCreate,
    ChatbotEnvelope,
    ChatbotList,
    ChatbotMutation,
    ChatbotUpdate,
    ChatbotUpdateWithTarget,
    ChatWidgetConfig,
    ChatWidgetMutation,
    VoiceConfig,
    VoiceMutation,
    chatbot_full,
    chatbot_lite,
)
from chatforge.api.schemas.common import (
    ERROR_RESPONSES,
    SLUG_CONFLICT,
    UNSUPPORTED_TYPE,
    MessageOut,
)
from chatforge.errors import BadRequest, PayloadTooLarge
from chatforge.services.knowledge.uploads import save_upload

router = APIRouter(prefix="/api/external", tags=["chatbots"], responses=ERROR_RESPONSES)


@router.get("/chatbots", response_model=ChatbotList, summary="List chatbots")
def list_chatbots(chatbots: ChatbotsDep) -> ChatbotList:
    return ChatbotList(chatbots=[chatbot_lite(c) for c in chatbots.list()])


@router.post(
    "/chatbots",
    response_model=ChatbotMutation,
    summary="Create a chatbot",
    responses=SLUG_CONFLICT,
)
def create_chatbot(body: ChatbotCreate, chatbots: ChatbotsDep) -> ChatbotMutation:
    chatbot = chatbots.create(body.model_dump(exclude_unset=True))
    return ChatbotMutation(chatbot=chatbot_full(chatbot), message="Chatbot created successfully")


@router.patch(
    "/chatbots",
    response_model=ChatbotMutation,
    summary="Update a chatbot",
    responses=SLUG_CONFLICT,
)
def update_chatbot_by_body(
    body: ChatbotUpdateWithTarget,
    chatbots: ChatbotsDep,
    chatbot_id_query: Annotated[str | None, Query(alias="chatbotId")] = None,
) -> ChatbotMutation:
    fields = body.model_dump(exclude_unset=True, exclude={"id", "chatbot_id"})
    target = body.id or body.chatbot_id or chatbot_id_query
    if not target:
        raise BadRequest("Say which chatbot to update: id in the body or ?chatbotId= in the URL.")
    chatbot = chatbots.update(target, fields)
    return ChatbotMutation(chatbot=chatbot_full(chatbot), message="Chatbot updated successfully")


@router.get("/chatbot/{chatbotId}", response_model=ChatbotEnvelope, summary="Get a chatbot")
def get_chatbot(chatbotId: str, chatbots: ChatbotsDep) -> ChatbotEnvelope:  # noqa: N803
    return ChatbotEnvelope(chatbot=chatbot_full(chatbots.get(chatbotId)))


@router.patch(
    "/chatbot/{chatbotId}",
    response_model=ChatbotMutation,
    summary="Update a chatbot",
    responses=SLUG_CONFLICT,
)
def update_chatbot(
    chatbotId: str,  # noqa: N803
    body: ChatbotUpdate,
    chatbots: ChatbotsDep,
) -> ChatbotMutation:
    chatbot = chatbots.update(chatbotId, body.model_dump(exclude_unset=True))
    return ChatbotMutation(chatbot=chatbot_full(chatbot), message="Chatbot updated successfully")


@router.delete("/chatbot/{chatbotId}", response_model=MessageOut, summary="Delete a chatbot")
def delete_chatbot(chatbotId: str, chatbots: ChatbotsDep) -> MessageOut:  # noqa: N803
    chatbots.delete(chatbotId)
    return MessageOut(message="Chatbot deleted successfully")


@router.patch(
    "/chatbot/{chatbotId}/update-avatar",
    response_model=ChatbotMutation,
    summary="Upload the chatbot's avatar (PNG, JPEG, WebP or GIF)",
    responses=UNSUPPORTED_TYPE,
)
async def update_avatar(
    chatbotId: str,  # noqa: N803
    avatar: UploadFile,
    request: Request,
    chatbots: ChatbotsDep,
    ctx: ContextDep,
) -> ChatbotMutation:
    limit = ctx.settings.uploads.max_avatar_bytes
    if avatar.size is not None and avatar.size > limit:
        raise PayloadTooLarge(f"The avatar is larger than the limit of {limit:,} bytes.")
    path = await run_in_threadpool(
        save_upload, avatar.file, directory=ctx.tmp_dir, max_bytes=limit, what="avatar"
    )
    try:
        chatbot = await run_in_threadpool(chatbots.update_avatar, chatbotId, path)
    finally:
        path.unlink(missing_ok=True)
    return ChatbotMutation(chatbot=chatbot_full(chatbot), message="Avatar updated successfully")


@router.patch(
    "/chatbot/{chatbotId}/voice-agent", response_model=VoiceMutation, summary="Configure voice"
)
def update_voice_agent(
    chatbotId: str,  # noqa: N803
    body: VoiceConfig,
    chatbots: ChatbotsDep,
) -> VoiceMutation:
    config = chatbots.update_voice_config(chatbotId, body.model_dump(exclude_unset=True))
    return VoiceMutation(
        message="Voice widget config updated successfully", voice_widget_config=config
    )


@router.patch(
    "/chatbot/{chatbotId}/chat-widget",
    response_model=ChatWidgetMutation,
    summary="Configure the chat widget's look",
)
def update_chat_widget(
    chatbotId: str,  # noqa: N803
    body: ChatWidgetConfig,
    chatbots: ChatbotsDep,
) -> ChatWidgetMutation:
    snippet = chatbots.update_chat_widget(chatbotId, body.model_dump(exclude_unset=True))
    return ChatWidgetMutation(
        chat_widget_config=snippet, message="Chat widget config updated successfully"
    )
