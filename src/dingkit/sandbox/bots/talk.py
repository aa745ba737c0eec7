"""People who talk to app robots: a person of the organisation writes in a group or a 1:1 chat,
and the sandbox, as DingTalk, delivers the message to each robot it is for (§8.1): in a group,
the robots mentioned; in a 1:1 chat, its robot.

A robot in HTTP mode gets a POST to its URL signed with its app's secret (``timestamp`` and
``sign`` headers), and a message in the response body is its reply; one in Stream mode gets a
CALLBACK frame on its connection (topic ``/v1.0/im/bot/messages/get``, §8.2). Either way the
body carries a fresh ``sessionWebhook`` for later replies; the robot OpenAPI works too.
Everything said is kept in the conversation: the person's message, each robot's replies, and
what went wrong delivering.
"""

from __future__ import annotations

import functools
import logging
import secrets
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ...bot.signing import sign
from ...resources.stream import BOT_MESSAGE_TOPIC
from ..robot.rules import check_body
from .conversations import new_conversation_id, open_group, open_session

if TYPE_CHECKING:
    from ..config import AppConfig, BotConfig
    from ..core import Sandbox
    from .records import Conversation

__all__ = [
    "HTTP_TIMEOUT",
    "Said",
    "group_conversation_id",
    "message_body",
    "open_bot_groups",
    "robot_code",
    "say",
]

logger = logging.getLogger("dingkit.sandbox")

#: Seconds the sandbox waits for an HTTP-mode robot to answer [I: DingTalk documents none].
HTTP_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Said:
    """A person's message: its id, and the robots it was delivered to."""

    msg_id: str
    robots: tuple[str, ...]


def group_conversation_id(group_id: str) -> str:
    """The conversation of a configured group: the same on every start."""
    return new_conversation_id(f"group:{group_id}".encode())


def open_bot_groups(sandbox: Sandbox) -> None:
    """A conversation for every group a ``[[bot]]`` sits in, with its robots; anyone of the
    organisation may write there [I: the sandbox keeps no group membership]."""
    groups = {group.id: group for group in sandbox.config.all_groups()}
    for group_id in dict.fromkeys(g for bot in sandbox.config.bots for g in bot.groups):
        codes = [robot_code(sandbox, bot) for bot in sandbox.config.bots if group_id in bot.groups]
        open_group(
            sandbox,
            groups[group_id].name or group_id,
            members=(),
            robot_codes=codes,
            conversation_id=group_conversation_id(group_id),
        )


def robot_code(sandbox: Sandbox, bot: BotConfig) -> str:
    """``bot``'s robotCode: its own, else its app's key (what an app robot has [I, §8.1])."""
    if bot.robot_code:
        return bot.robot_code
    app = _app(sandbox, bot)
    return app.app_key if app is not None else bot.name


def message_body(
    sandbox: Sandbox,
    conversation: Conversation,
    bot: BotConfig,
    *,
    sender: str,
    text: str,
    mentioned: tuple[str, ...],
    msg_id: str,
    now_ms: int,
) -> dict[str, Any]:
    """The §8.1 body DingTalk posts (or frames) for ``bot``: the text as the person wrote it
    after the robot's own mention (with the space DingTalk leaves), who sent it, who was
    mentioned, and a session webhook of its own."""
    person = sandbox.org.user(sender)
    if person is None:
        raise ValueError(f"{sender!r} is nobody in the organisation")
    code = robot_code(sandbox, bot)
    webhook, expires = open_session(sandbox, conversation, robot_code=code, now_ms=now_ms)
    at_users = [{"dingtalkId": _dingtalk_id(other), "staffId": ""} for other in mentioned]
    body: dict[str, Any] = {
        "msgtype": "text",
        "text": {"content": f" {text}" if conversation.type == "group" else text},
        "msgId": msg_id,
        "createAt": now_ms,
        "conversationType": "2" if conversation.type == "group" else "1",
        "conversationId": conversation.id,
        "senderId": f"$:LWCP_v1:${person.unionid}",
        "senderNick": person.name,
        "senderCorpId": sandbox.org.corp_id,
        "senderStaffId": person.userid,
        "senderUnionId": person.unionid,
        "chatbotCorpId": sandbox.org.corp_id,
        "chatbotUserId": _dingtalk_id(code),
        "robotCode": code,
        "isAdmin": bool(getattr(person, "admin", False)),
        "isInAtList": code in mentioned,
        "atUsers": at_users,
        "sessionWebhook": webhook,
        "sessionWebhookExpiredTime": expires,
    }
    if conversation.type == "group":
        body["conversationTitle"] = conversation.title
    return body


async def say(
    sandbox: Sandbox,
    conversation: Conversation,
    *,
    sender: str,
    text: str,
    mentioned: tuple[str, ...] = (),
) -> Said:
    """``sender`` writes ``text`` in ``conversation``, mentioning the robots ``mentioned``
    (robot codes); delivered to the robots it is for, their answers kept."""
    now = sandbox.now_ms()
    msg_id = "msg" + secrets.token_urlsafe(16)
    sandbox.bots.add_message(
        conversation.id,
        robot_code="",
        via="person",
        sent_ms=now,
        data={
            "msgtype": "text",
            "msg_id": msg_id,
            "sender": sender,
            "text": text,
            "at": list(mentioned),
        },
    )
    targets = [
        bot
        for bot in sandbox.config.bots
        if (code := robot_code(sandbox, bot)) in conversation.robot_codes
        and (conversation.type == "single" or code in mentioned)
    ]
    for bot in targets:
        body = message_body(
            sandbox, conversation, bot, sender=sender, text=text, mentioned=mentioned,
            msg_id=msg_id, now_ms=now,
        )  # fmt: skip
        if bot.mode == "http":
            await _post(sandbox, conversation, bot, body)
        else:
            _frame(sandbox, conversation, bot, body)
    return Said(msg_id, tuple(bot.name for bot in targets))


async def _post(
    sandbox: Sandbox, conversation: Conversation, bot: BotConfig, body: dict[str, Any]
) -> None:
    app = _app(sandbox, bot)
    if app is None or bot.url is None:
        _failed(sandbox, conversation, bot, "the robot has no app or no url")
        return
    now = str(sandbox.now_ms())
    headers = {"timestamp": now, "sign": sign(now, app.app_secret)}
    try:
        async with httpx.AsyncClient(
            timeout=HTTP_TIMEOUT, verify=_tls(), follow_redirects=False, trust_env=False
        ) as http:
            answer = await http.post(bot.url, json=body, headers=headers)
    except httpx.HTTPError as error:
        _failed(sandbox, conversation, bot, f"could not reach {bot.url}: {type(error).__name__}")
        return
    if answer.status_code != 200:
        _failed(sandbox, conversation, bot, f"{bot.url} answered HTTP {answer.status_code}")
        return
    _reply_in_response(sandbox, conversation, bot, answer.content)


def _reply_in_response(
    sandbox: Sandbox, conversation: Conversation, bot: BotConfig, content: bytes
) -> None:
    """A message in the HTTP response is the robot's reply, checked as the webhook checks one;
    ``{"msgtype": "empty"}`` or an empty body says nothing (§8.1)."""
    if not content.strip() or content.replace(b" ", b"") == b'{"msgtype":"empty"}':
        return
    outcome = check_body(content)
    if outcome.reason is not None or outcome.payload is None:
        _failed(
            sandbox, conversation, bot, f"the reply in the response was refused: {outcome.reason}"
        )
        return
    payload = outcome.payload
    sandbox.bots.add_message(
        conversation.id,
        robot_code=robot_code(sandbox, bot),
        via="response",
        sent_ms=sandbox.now_ms(),
        data={"msgtype": payload["msgtype"], "payload": payload},
    )


def _frame(
    sandbox: Sandbox, conversation: Conversation, bot: BotConfig, body: dict[str, Any]
) -> None:
    app = _app(sandbox, bot)
    if app is None:
        _failed(sandbox, conversation, bot, f"no app named {bot.app!r}")
        return
    if not sandbox.stream.connections(app.app_key):
        # Robot messages are fire-and-forget (§8.2): no connection, no message.
        _failed(sandbox, conversation, bot, "the robot has no Stream connection open")
        return
    sandbox.stream.push_callback(app.app_key, BOT_MESSAGE_TOPIC, body)


def _failed(sandbox: Sandbox, conversation: Conversation, bot: BotConfig, reason: str) -> None:
    logger.info("robot %s: message not delivered: %s", bot.name, reason)
    sandbox.bots.add_message(
        conversation.id,
        robot_code=robot_code(sandbox, bot),
        via="undelivered",
        sent_ms=sandbox.now_ms(),
        data={"msgtype": "undelivered", "reason": reason},
    )


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every delivery: building one loads the CA bundle, ~30 ms a
    message when each POST built its own (bench/bot.py)."""
    return ssl.create_default_context()


def _app(sandbox: Sandbox, bot: BotConfig) -> AppConfig | None:
    return sandbox.apps.by_name(bot.app)


def _dingtalk_id(robot_code: str) -> str:
    """A robot's encrypted dingtalkId, stable per robot [I: DingTalk's are opaque]."""
    return f"$:LWCP_v1:${robot_code}"
