"""App robots' conversations and session webhooks (§8.1), without HTTP.

A conversation is what an app robot chats in: ``single`` (one person and the robot) or
``group``; its id is the ``openConversationId`` (``cid`` + 22 base64 characters + ``==``,
the shape of §8.1's ``conversationId``). A session webhook is issued with every message
delivered to a robot and lets it reply into that conversation without a token, for
``session_webhook_ttl`` seconds (default 5400: every official example has
``sessionWebhookExpiredTime`` about ``createAt`` + 90 minutes, §8.1 [I]).

    conversation = open_group(sandbox, "Ops", members=["manager0001"], robot_codes=[key])
    url, expires_ms = open_session(sandbox, conversation, robot_code=key)
    errcode, errmsg = reply_by_session(sandbox, session, content_type=..., body=b"...")
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..._config import DEFAULT_OAPI_BASE_URL
from ...robot.session import SESSION_SEND
from ..robot.rules import check_body, robot_error
from .records import Conversation, Session

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = [
    "SESSION_GONE",
    "new_conversation_id",
    "open_group",
    "open_session",
    "reply_by_session",
    "single_conversation",
]

#: What an expired or unknown session answers [O, §8.1: agentscope-ai/QwenPaw#2221].
SESSION_GONE = (300001, "session 不存在")


def new_conversation_id(seed: bytes | None = None) -> str:
    """``cid`` + 16 bytes in URL-safe base64 (``==`` kept): the shape of a real
    openConversationId [I: URL-safe so that it fits in a path]; stable for a ``seed``."""
    raw = hashlib.sha256(seed).digest()[:16] if seed is not None else secrets.token_bytes(16)
    return "cid" + base64.urlsafe_b64encode(raw).decode()


def open_group(
    sandbox: Sandbox,
    title: str,
    *,
    members: Sequence[str],
    robot_codes: Sequence[str],
    conversation_id: str | None = None,
) -> Conversation:
    """A group chat with ``members`` (userIds) and the robots ``robot_codes`` in it."""
    conversation = Conversation(
        id=conversation_id or new_conversation_id(),
        type="group",
        title=title,
        members=tuple(dict.fromkeys(members)),
        robot_codes=tuple(dict.fromkeys(robot_codes)),
        created_ms=sandbox.now_ms(),
    )
    sandbox.bots.upsert_conversation(conversation)
    return conversation


def single_conversation(sandbox: Sandbox, robot_code: str, userid: str) -> Conversation:
    """The one-to-one chat between ``userid`` and the robot, opened on first use; its id is
    the same every time [I: DingTalk keeps one chat per person and robot]."""
    conversation_id = new_conversation_id(f"{robot_code}\n{userid}".encode())
    found = sandbox.bots.conversation(conversation_id)
    if found is not None:
        return found
    conversation = Conversation(
        id=conversation_id,
        type="single",
        title="",
        members=(userid,),
        robot_codes=(robot_code,),
        created_ms=sandbox.now_ms(),
    )
    sandbox.bots.upsert_conversation(conversation)
    return conversation


def open_session(
    sandbox: Sandbox,
    conversation: Conversation | str,
    *,
    robot_code: str,
    now_ms: int | None = None,
    base_url: str = DEFAULT_OAPI_BASE_URL,
) -> tuple[str, int]:
    """A new ``sessionWebhook`` for ``robot_code`` in ``conversation``: its URL (on DingTalk's
    host by default, which clients send to their oapi base, the sandbox) and its
    ``sessionWebhookExpiredTime`` in epoch ms (``session_webhook_ttl`` from ``now_ms``)."""
    conversation_id = conversation if isinstance(conversation, str) else conversation.id
    now = sandbox.now_ms() if now_ms is None else now_ms
    expires_ms = now + sandbox.config.session_webhook_ttl * 1000
    session = secrets.token_hex(16)
    sandbox.bots.add_session(Session(session, conversation_id, robot_code, expires_ms))
    return f"{base_url.rstrip('/')}{SESSION_SEND.path}?session={session}", expires_ms


def reply_by_session(
    sandbox: Sandbox, session: str, *, content_type: str, body: bytes
) -> tuple[int, str]:
    """DingTalk's ``(errcode, errmsg)`` for a reply posted to a session webhook; the reply is
    kept in the conversation when accepted. Checked like ``/robot/send`` (§2.1, §2.5) but
    with no token, signature, keyword or rate limit [I: none is documented for sessions]."""
    found = sandbox.bots.session(session) if session else None
    if found is None or found.expires_ms <= sandbox.now_ms():
        return SESSION_GONE
    era = sandbox.config.errcodes
    if content_type.split(";")[0].strip().lower() != "application/json":
        return robot_error("content_type", era)
    outcome = check_body(body)
    if outcome.reason is not None:
        return robot_error(outcome.reason, era, **(outcome.details or {}))
    assert outcome.payload is not None
    sandbox.bots.add_message(
        found.conversation_id,
        robot_code=found.robot_code,
        via="session",
        sent_ms=sandbox.now_ms(),
        data={"msgtype": outcome.payload["msgtype"], "payload": outcome.payload},
    )
    return 0, "ok"
