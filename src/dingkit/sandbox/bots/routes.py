"""App robots' HTTP face: the robot OpenAPI's sends (§12.3), the session webhook (§8.1) and
the sandbox's own JSON of the conversations and what the robots sent into them.

    POST /v1.0/robot/oToMessages/batchSend            (app token)
    POST /v1.0/robot/groupMessages/send               (app token)
    POST /robot/sendBySession?session=<hex>           (no token)
    GET  /_sandbox/conversations                      conversations with members and robots
    POST /_sandbox/conversations                      {"bot", "user"}: their 1:1 chat
    GET  /_sandbox/conversations/{id}/messages?after=&limit=
    POST /_sandbox/conversations/{id}/messages        {"sender", "text", "at"}: a person
                                                      writes; the robots it is for get it
    GET  /_sandbox/bots                               the [[bot]]s: name, mode, robot_code
    GET  /_sandbox/people?q=&limit=                   who may write: userid and name

A robot's message in a conversation carries ``html``, its chat bubble as the chat page's
group messages are drawn (``robot/render.py``, escaped there); an OpenAPI send's template
(msgKey/msgParam) is drawn as the §2.1 message it stands for, a card as its text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..._wire import parse_json_strict
from ...resources import robot_messages as api
from ...robot.session import SESSION_SEND
from ..gateway import params
from ..gateway.pipeline import Call, Gateway, read_body
from ..robot.render import render_message
from .conversations import reply_by_session, single_conversation
from .sending import send_to_group, send_to_users
from .talk import robot_code, say

if TYPE_CHECKING:
    from ..config import BotConfig
    from ..core import Sandbox

__all__ = ["routes"]

# Bodies past this are refused without being read whole (the real limit is 20000 bytes).
_READ_LIMIT = 1_000_000


def _oto(call: Call) -> dict[str, Any]:
    return send_to_users(call.sandbox, call.app, params.obj(call.body))


def _group(call: Call) -> dict[str, Any]:
    return send_to_group(call.sandbox, call.app, params.obj(call.body))


def _int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name, "")
    if value == "":
        return default
    if not value.isdigit() or len(value) > 18:
        raise ValueError(f"query parameter {name!r} must be a non-negative integer")
    return int(value)


def _template_payload(key: str, param: dict[str, Any]) -> dict[str, Any]:
    """The §2.1 message an OpenAPI template (§12.3) shows as; media as a line of text."""

    def field(name: str) -> str:
        value = param.get(name)
        return "" if value is None else str(value)

    card = {"title": field("title"), "text": field("text")}
    if key == "sampleText":
        return {"msgtype": "text", "text": {"content": field("content")}}
    if key == "sampleMarkdown":
        return {"msgtype": "markdown", "markdown": card}
    if key == "sampleLink":
        link = {**card, "messageUrl": field("messageUrl"), "picUrl": field("picUrl")}
        return {"msgtype": "link", "link": link}
    if key == "sampleImageMsg":
        image = {"title": "[图片]", "text": f"![image]({field('photoURL')})"}
        return {"msgtype": "markdown", "markdown": image}
    if key == "sampleActionCard":
        single = {"singleTitle": field("singleTitle"), "singleURL": field("singleURL")}
        return {"msgtype": "actionCard", "actionCard": {**card, **single}}
    if key.startswith("sampleActionCard"):
        title, url, horizontal = (
            ("buttonTitle", "buttonUrl", "1")
            if key == "sampleActionCard6"
            else ("actionTitle", "actionURL", "0")
        )
        btns = [
            {"title": field(f"{title}{n}"), "actionURL": field(f"{url}{n}")}
            for n in range(1, 6)
            if f"{title}{n}" in param
        ]
        buttons = {"btns": btns, "btnOrientation": horizontal}
        return {"msgtype": "actionCard", "actionCard": {**card, **buttons}}
    media = {
        "sampleAudio": f"[语音 audio] {field('duration')}",
        "sampleFile": f"[文件 file] {field('fileName')}.{field('fileType')}",
        "sampleVideo": f"[视频 video] {field('duration')}",
    }
    return {"msgtype": "text", "text": {"content": media.get(key, f"[{key}]")}}


def _robot_payload(message: dict[str, Any]) -> dict[str, Any] | None:
    """What a robot's stored message shows as: its §2.1 payload, else its template's, else a
    card's text (as markdown: what the official SDK's card templates hold)."""
    payload = message.get("payload")
    if isinstance(payload, dict):
        return payload
    card = message.get("card")
    if isinstance(card, dict):
        content = card.get("content")
        text = content if isinstance(content, str) and content.strip() else "…"
        return {"msgtype": "markdown", "markdown": {"title": "card", "text": text}}
    key, param = message.get("msgKey"), message.get("msgParam")
    if isinstance(key, str) and isinstance(param, dict):
        return _template_payload(key, param)
    return None


class _Bad(Exception):
    """A composer request that cannot be carried out: 400 with this text."""


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await read_body(request, limit=64_000, cut=True)
    try:
        data = parse_json_strict(raw)
    except ValueError as error:
        raise _Bad(f"the body is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise _Bad("the body must be a JSON object")
    return data


def conversation_json(
    sandbox: Sandbox, conversation_id: str, after: int, limit: int
) -> list[dict[str, Any]]:
    """A conversation's messages as the page and scripts read them: people's and robots',
    each robot message also drawn (``html``) by the group messages' renderer."""
    shown = []
    for message in sandbox.bots.messages(conversation_id, after=after, limit=limit):
        view = message.as_json()
        payload = _robot_payload(view) if view["via"] != "person" else None
        if payload is not None:
            view["html"] = render_message(payload, sandbox.org)
        shown.append(view)
    return shown


def routes(gateway: Gateway) -> list[BaseRoute]:
    sandbox: Sandbox = gateway.sandbox

    async def session_send(request: Request) -> Response:
        body = await read_body(request, limit=_READ_LIMIT, cut=True)
        errcode, errmsg = reply_by_session(
            sandbox,
            request.query_params.get("session", ""),
            content_type=request.headers.get("content-type", ""),
            body=body,
        )
        return JSONResponse({"errcode": errcode, "errmsg": errmsg})

    async def conversations(request: Request) -> Response:
        return JSONResponse({"conversations": [c.as_json() for c in sandbox.bots.conversations()]})

    async def conversation_messages(request: Request) -> Response:
        conversation_id = request.path_params["id"]
        if sandbox.bots.conversation(conversation_id) is None:
            return JSONResponse(
                {"error": f"no conversation {conversation_id[:80]!r}"}, status_code=404
            )
        try:
            after = _int_param(request, "after", 0)
            limit = min(max(_int_param(request, "limit", 500), 1), 5000)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"messages": conversation_json(sandbox, conversation_id, after, limit)})

    async def bots(request: Request) -> Response:
        listed = [
            {
                "name": bot.name,
                "app": bot.app,
                "mode": bot.mode,
                "robot_code": robot_code(sandbox, bot),
                "groups": list(bot.groups),
            }
            for bot in sandbox.config.bots
        ]
        return JSONResponse({"bots": listed})

    async def people(request: Request) -> Response:
        try:
            limit = min(max(_int_param(request, "limit", 200), 1), 1000)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        wanted = request.query_params.get("q", "").strip().lower()[:64]
        found = []
        for user in sandbox.org.users:
            if wanted and wanted not in user.userid.lower() and wanted not in user.name.lower():
                continue
            found.append({"userid": user.userid, "name": user.name})
            if len(found) == limit:
                break
        return JSONResponse({"people": found, "total": len(sandbox.org.users)})

    def bot_named(name: object) -> BotConfig:
        found = next((bot for bot in sandbox.config.bots if bot.name == name), None)
        if found is None:
            known = ", ".join(bot.name for bot in sandbox.config.bots) or "none: add [[bot]]"
            raise _Bad(f"no bot named {str(name)[:64]!r} (bots: {known})")
        return found

    async def open_chat(request: Request) -> Response:
        try:
            body = await _json_object(request)
            bot = bot_named(body.get("bot"))
            user = body.get("user")
            if not isinstance(user, str) or sandbox.org.user(user) is None:
                raise _Bad('"user" must be the userId of someone in the organisation')
        except _Bad as bad:
            return JSONResponse({"error": str(bad)}, status_code=400)
        chat = single_conversation(sandbox, robot_code(sandbox, bot), user)
        return JSONResponse(chat.as_json())

    async def write(request: Request) -> Response:
        conversation = sandbox.bots.conversation(request.path_params["id"])
        if conversation is None:
            return JSONResponse({"error": "no such conversation"}, status_code=404)
        try:
            body = await _json_object(request)
            sender, text, at = body.get("sender"), body.get("text"), body.get("at", [])
            if not isinstance(sender, str) or sandbox.org.user(sender) is None:
                raise _Bad('"sender" must be the userId of someone in the organisation')
            if not isinstance(text, str) or not text.strip() or len(text) > 5000:
                raise _Bad('"text" must be a message of 1 to 5000 characters')
            if not isinstance(at, list) or len(at) > 20:
                raise _Bad('"at" must be a list of bot names')
            mentioned = tuple(robot_code(sandbox, bot_named(name)) for name in at)
        except _Bad as bad:
            return JSONResponse({"error": str(bad)}, status_code=400)
        said = await say(sandbox, conversation, sender=sender, text=text, mentioned=mentioned)
        return JSONResponse({"msg_id": said.msg_id, "delivered_to": list(said.robots)})

    return [
        *gateway.routes([(api.OTO_SEND, _oto), (api.GROUP_SEND, _group)]),
        *gateway.routes([(SESSION_SEND, session_send)]),
        Route("/_sandbox/conversations", conversations, methods=["GET"]),
        Route("/_sandbox/conversations", open_chat, methods=["POST"]),
        Route("/_sandbox/conversations/{id}/messages", conversation_messages, methods=["GET"]),
        Route("/_sandbox/conversations/{id}/messages", write, methods=["POST"]),
        Route("/_sandbox/bots", bots, methods=["GET"]),
        Route("/_sandbox/people", people, methods=["GET"]),
    ]
