"""Replying through an app robot's ``sessionWebhook`` (§8.1, "How to reply" item 2). No I/O.

Every message a person sends an app robot carries a ``sessionWebhook``
(``https://oapi.dingtalk.com/robot/sendBySession?session=<hex>``), valid for about 90 minutes
(``sessionWebhookExpiredTime``). A reply POSTed there needs no access token and has the custom
robot's message body (§2.1, ``at.atUserIds`` works); DingTalk answers ``{"errcode":0}``, and
``{"errcode":300001,"errmsg":"session 不存在"}`` once it has expired, which dingkit raises as
:class:`~dingkit.SessionExpiredError`: fall back to the robot OpenAPI then
(``client.robot.send_to_group`` / ``send_to_users``).

    request = session_reply(message["sessionWebhook"], Text(content="on it"))
    client.request(request)          # or: client.robot.reply(url, message)

[C for the call shape: ``https://open.dingtalk.com/document/dingstart/robot-reply-and-send-
messages``; the official Python Stream SDK's ``ChatbotHandler.reply_text`` /
``reply_markdown`` (dingtalk_stream/chatbot.py) POST ``{"msgtype": ..., ...}`` to
``incoming_message.session_webhook`` with only ``Content-Type``/``Accept`` headers.]
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from .._config import DEFAULT_OAPI_BASE_URL
from .._exceptions import ConfigurationError
from .._redact import redact_url
from .._request import APIRequest, Endpoint
from . import compose
from .messages import RobotMessage, Text, to_payload

__all__ = ["SESSION_SEND", "session_reply", "session_token"]

#: The session webhook: the session in the query, no access token (``auth=False``), the
#: custom robot's body and limits [I: the same service as /robot/send, §8.1]. Not idempotent:
#: [I] whether ``msgUuid`` dedupes here is not documented.
SESSION_SEND = Endpoint(
    "POST",
    "/robot/sendBySession",
    auth=False,
    param_error=400402,
    max_body_bytes=compose.MAX_BODY_BYTES,
    idempotent=False,
    quota_exempt=True,
)


def session_token(url: str, *, oapi_base: str | None = None) -> str:
    """The ``session`` value of a ``sessionWebhook`` URL.

    The URL must be DingTalk's (``https://oapi.dingtalk.com/robot/sendBySession``) or on
    ``oapi_base`` (the sandbox, a proxy): a reply is always sent to the client's oapi base, as
    webhook URLs copied from DingTalk are (:meth:`~dingkit.robot.RobotTarget.from_webhook`),
    and never to a host the caller did not configure.

    Raises:
        ConfigurationError: not a session webhook URL, or on another host.
    """
    parts = urlsplit(url.strip())
    sessions = parse_qs(parts.query).get("session")
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    allowed = {DEFAULT_OAPI_BASE_URL, (oapi_base or "").rstrip("/").lower()}
    if (
        parts.scheme not in ("http", "https")
        or parts.path != SESSION_SEND.path
        or not sessions
        or not sessions[0]
    ):
        raise ConfigurationError(
            f"{redact_url(url)!r} is not a sessionWebhook URL: expected "
            f"{DEFAULT_OAPI_BASE_URL}{SESSION_SEND.path}?session=..."
        )
    if origin not in allowed:
        raise ConfigurationError(
            f"the sessionWebhook {redact_url(url)!r} is not on DingTalk's host nor on the "
            "client's oapi base (DINGTALK_OAPI_BASE_URL): not sent"
        )
    return sessions[0]


def session_reply(
    url: str, message: RobotMessage | str, *, oapi_base: str | None = None
) -> APIRequest[dict[str, Any]]:
    """The request that posts ``message`` (a string is a text message) to a
    ``sessionWebhook``; its answer is DingTalk's ``{"errcode":0,"errmsg":"ok"}``.

    Raises:
        ConfigurationError: ``url`` is not a session webhook (see :func:`session_token`).
        MessageValidationError: a message DingTalk would refuse (as for ``/robot/send``).
    """
    session = session_token(url, oapi_base=oapi_base)
    if isinstance(message, str):
        message = Text(content=message)
    message = compose.with_mention_text(message)
    compose.validate_message(message)
    return SESSION_SEND.request(
        params={"session": session}, json=to_payload(message), parse=_answer
    )


def _answer(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or "errcode" not in data:
        # The robot service always answers with an errcode (§2.5): anything else is a proxy.
        raise ValueError("the answer has no errcode")
    return data
