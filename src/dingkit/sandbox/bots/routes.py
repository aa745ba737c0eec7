"""App robots' HTTP face: the robot OpenAPI's sends (§12.3), the session webhook (§8.1) and
the sandbox's own JSON of the conversations and what the robots sent into them.

    POST /v1.0/robot/oToMessages/batchSend            (app token)
    POST /v1.0/robot/groupMessages/send               (app token)
    POST /robot/sendBySession?session=<hex>           (no token)
    GET  /_sandbox/conversations                      conversations with members and robots
    GET  /_sandbox/conversations/{id}/messages?after=&limit=
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ...resources import robot_messages as api
from ...robot.session import SESSION_SEND
from ..gateway import params
from ..gateway.pipeline import Call, Gateway, read_body
from .conversations import reply_by_session
from .sending import send_to_group, send_to_users

if TYPE_CHECKING:
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
        found = sandbox.bots.messages(conversation_id, after=after, limit=limit)
        return JSONResponse({"messages": [message.as_json() for message in found]})

    return [
        *gateway.routes([(api.OTO_SEND, _oto), (api.GROUP_SEND, _group)]),
        *gateway.routes([(SESSION_SEND, session_send)]),
        Route("/_sandbox/conversations", conversations, methods=["GET"]),
        Route("/_sandbox/conversations/{id}/messages", conversation_messages, methods=["GET"]),
    ]
