"""The robot's HTTP face: DingTalk's ``POST /robot/send`` (§2) and the sandbox's own JSON for
the chat page: groups, robots, the messages they accepted, the requests they refused, and
switches to disable a robot or dissolve a group.

    GET    /_sandbox/groups                       groups with their last message
    GET    /_sandbox/robots                       robots with their webhook URL and secret
    GET    /_sandbox/messages?group=&robot=&after=&limit=
    GET    /_sandbox/messages?conversation=&after=&limit=   an app robot's conversation
    DELETE /_sandbox/messages                     clears messages and rejections
    GET    /_sandbox/rejections?robot=&after=&limit=
    POST   /_sandbox/robots/{name}/disable|enable
    POST   /_sandbox/robots/{name}/faults         {"rate": 0.3, "seed": 7}: busy answers, 503s
    POST   /_sandbox/groups/{id}/dissolve|restore
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..._wire import parse_json_strict
from ...robot.target import ROBOT_SEND
from ..gateway.params import ParamError
from ..gateway.pipeline import Gateway, read_body
from .faults import UNAVAILABLE
from .records import StoredMessage, StoredRobot
from .render import People, message_preview, render_message
from .sending import GatewayUnavailable, send

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = ["message_json", "routes"]

logger = logging.getLogger("dingkit.sandbox")

# Bodies past this are refused without being read whole (the real limit is 20000 bytes).
_READ_LIMIT = 1_000_000


def message_json(message: StoredMessage, people: People | None = None) -> dict[str, Any]:
    """A message as the chat page shows it: the payload, its HTML and a one-line preview,
    mentions named from ``people`` (the organisation); a stored row that JSON cannot carry
    (NaN from before the door was shut) is flagged ``broken`` instead of taking the whole
    view down."""
    try:
        json.dumps(message.payload, allow_nan=False)
        return _message_json(message, people)
    except (ValueError, TypeError, RecursionError) as exc:
        logger.warning("message %s cannot be shown: %s", message.id, exc)
        return {
            "id": message.id,
            "group": message.group,
            "robot": message.robot,
            "msgtype": message.msgtype,
            "msg_uuid": message.msg_uuid,
            "payload": None,
            "html": '<div class="dt-msg">(this stored message cannot be shown)</div>',
            "preview": "(cannot be shown)",
            "broken": True,
            "error": f"this stored message cannot be shown: {exc}",
            "received_at": message.received_at,
        }


def _message_json(message: StoredMessage, people: People | None) -> dict[str, Any]:
    return {
        "id": message.id,
        "group": message.group,
        "robot": message.robot,
        "msgtype": message.msgtype,
        "msg_uuid": message.msg_uuid,
        "payload": message.payload,
        "html": render_message(message.payload, people),
        "preview": message_preview(message.payload, people),
        "received_at": message.received_at,
    }


def _robot_json(robot: StoredRobot, base_url: str) -> dict[str, Any]:
    return {
        "name": robot.name,
        "group": robot.group,
        "token": robot.token,
        "secret": robot.secret,
        "keywords": list(robot.keywords),
        "ip_allowlist": list(robot.ip_allowlist),
        "disabled": robot.disabled,
        "webhook": f"{base_url}{ROBOT_SEND.path}?access_token={robot.token}",
    }


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


def _int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if not value.lstrip("-").isdigit():
        raise ValueError(f"query parameter {name!r} must be an integer, got {value!r}")
    return int(value)


def routes(sandbox: Sandbox) -> list[BaseRoute]:
    async def robot_send(request: Request) -> Response:
        # Far over the limit: cut short, enough to refuse it as too large.
        body = await read_body(request, limit=_READ_LIMIT, cut=True)
        try:
            errcode, errmsg = send(
                sandbox,
                token=request.query_params.get("access_token", ""),
                content_type=request.headers.get("content-type", ""),
                client_ip=request.client.host if request.client else None,
                query=request.query_params,
                body=body,
            )
        except GatewayUnavailable:
            return Response(UNAVAILABLE, status_code=503, media_type="text/html")
        return JSONResponse({"errcode": errcode, "errmsg": errmsg})

    async def groups(request: Request) -> Response:
        result = []
        for group in sandbox.robot.groups():
            last_id = group.pop("last_id")
            last = (
                sandbox.robot.messages(group=group["id"], after=last_id - 1, limit=1)
                if last_id
                else []
            )
            group["last_message"] = message_json(last[0], sandbox.org) if last else None
            result.append(group)
        return JSONResponse({"groups": result})

    async def robots(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse({"robots": [_robot_json(r, base) for r in sandbox.robot.robots()]})

    async def messages(request: Request) -> Response:
        try:
            after = _int_param(request, "after", 0)
            limit = min(max(_int_param(request, "limit", 500), 1), 5000)
        except ValueError as exc:
            return _bad_request(str(exc))
        conversation = request.query_params.get("conversation")
        if conversation:
            # A conversation with app robots (bots/): its messages, replies included.
            from ..bots.routes import conversation_json

            found_in = conversation_json(sandbox, conversation, after, limit)
            return JSONResponse({"messages": found_in})
        found = sandbox.robot.messages(
            group=request.query_params.get("group") or None,
            robot=request.query_params.get("robot") or None,
            after=after,
            limit=limit,
        )
        people = sandbox.org
        return JSONResponse({"messages": [message_json(m, people) for m in found]})

    async def clear_messages(request: Request) -> Response:
        sandbox.robot.clear_history()
        return JSONResponse({"cleared": True})

    async def rejections(request: Request) -> Response:
        try:
            after = _int_param(request, "after", 0)
            limit = min(max(_int_param(request, "limit", 500), 1), 5000)
        except ValueError as exc:
            return _bad_request(str(exc))
        found = sandbox.robot.rejections(
            robot=request.query_params.get("robot") or None, after=after, limit=limit
        )
        return JSONResponse({"rejections": [asdict(r) for r in found]})

    async def robot_switch(request: Request) -> Response:
        name, action = request.path_params["name"], request.path_params["action"]
        if action == "faults":
            return await robot_faults(request, name)
        if action not in ("disable", "enable"):
            return JSONResponse({"error": f"unknown action {action!r}"}, status_code=404)
        if not sandbox.robot.set_robot_disabled(name, action == "disable"):
            return JSONResponse({"error": f"no robot named {name!r}"}, status_code=404)
        return JSONResponse({"robot": name, "disabled": action == "disable"})

    async def robot_faults(request: Request, name: str) -> Response:
        if sandbox.robot.robot_by_name(name) is None:
            return JSONResponse({"error": f"no robot named {name!r}"}, status_code=404)
        try:
            data = parse_json_strict(await read_body(request, limit=4096))
            rate, seed = data["rate"], data.get("seed", 0)
            if isinstance(rate, bool) or not isinstance(rate, int | float):
                raise ValueError("rate must be a number")
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise ValueError("seed must be an integer")
            sandbox.judge.faults.set(name, float(rate), seed=seed)
        except (ValueError, KeyError, TypeError, ParamError) as exc:
            return _bad_request(
                f'give {{"rate": 0..1, "seed": int}} as JSON ({type(exc).__name__}: {exc})'
            )
        return JSONResponse({"robot": name, "faults": float(rate), "seed": seed})

    async def group_switch(request: Request) -> Response:
        group_id, action = request.path_params["id"], request.path_params["action"]
        if action not in ("dissolve", "restore"):
            return JSONResponse({"error": f"unknown action {action!r}"}, status_code=404)
        if not sandbox.robot.set_group_dissolved(group_id, action == "dissolve"):
            return JSONResponse({"error": f"no group {group_id!r}"}, status_code=404)
        return JSONResponse({"group": group_id, "dissolved": action == "dissolve"})

    return [
        *Gateway(sandbox).routes([(ROBOT_SEND, robot_send)]),
        Route("/_sandbox/groups", groups),
        Route("/_sandbox/robots", robots),
        Route("/_sandbox/messages", messages, methods=["GET"]),
        Route("/_sandbox/messages", clear_messages, methods=["DELETE"]),
        Route("/_sandbox/rejections", rejections),
        Route("/_sandbox/robots/{name}/{action}", robot_switch, methods=["POST"]),
        Route("/_sandbox/groups/{id}/{action}", group_switch, methods=["POST"]),
    ]
