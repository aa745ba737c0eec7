"""Stream mode's two doors (§8.2) and the sandbox's own views of it.

``POST /v1.0/gateway/connections/open`` (served from :data:`dingkit.resources.stream.
OPEN_CONNECTION`) checks the app's credentials and subscriptions and answers ``{"endpoint",
"ticket"}``, the endpoint being this sandbox's ``ws://<host>/connect`` (``wss`` behind TLS),
the path the live ``wss-open-connection.dingtalk.com`` uses. The WebSocket itself is
:mod:`.session`.

Answers where the reference is silent [I]: a body that is not a JSON object, a missing or
non-string ``clientId``/``clientSecret``, ``subscriptions`` that is not a list of
``{type, topic}``, an EVENT topic other than ``*``, a CALLBACK topic §8.2 does not name, or
an unknown type: HTTP 400 ``invalidParameter``. Wrong credentials: HTTP 401 ``authFailed``
鉴权失败 (§8.2, observed). Like the token endpoints, it is exempt from QPS limits and
failure modes. SYSTEM entries (the Go SDK's ping and disconnect) are accepted and change
nothing: every connection gets both.

Sandbox-only (guarded like every ``/_sandbox`` route): ``GET /_sandbox/stream/connections``;
``GET /_sandbox/stream/frames?after=<seq>&limit=<n>`` (frames both ways, ACKs, refusals);
``POST /_sandbox/stream/disconnect`` with ``{}`` or ``{"app_key": ...}``.
"""

from __future__ import annotations

import hmac
import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from ..._wire import parse_json_strict
from ...resources.stream import CALLBACK_TOPICS, OPEN_CONNECTION
from ..gateway.answers import api_error, api_headers, new_request_id
from ..gateway.params import ParamError
from ..gateway.pipeline import Gateway, read_body
from .session import serve_connection
from .tickets import Grant

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = ["CONNECT_PATH", "routes"]

#: Where the WebSocket is served (the live endpoint's path, §8.2).
CONNECT_PATH = "/connect"
_BODY_LIMIT = 64 * 1024  # [I] a ticket request is a few hundred bytes
_SUBSCRIPTIONS_MAX = 100  # [I]
_NUMBER = re.compile(r"[0-9]{1,18}")
_AUTH_FAILED = "鉴权失败"


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def _text(body: dict[str, Any], name: str, *, required: bool) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise _Refused(f"{name} 必须是{'非空' if required else ''}字符串")
    return value


def _subscriptions(value: Any) -> tuple[bool, frozenset[str]]:
    """Whether events are wanted, and the CALLBACK topics (§8.2)."""
    if not isinstance(value, list) or len(value) > _SUBSCRIPTIONS_MAX:
        raise _Refused(f"subscriptions 必须是不超过{_SUBSCRIPTIONS_MAX}项的数组")
    events, callbacks = False, set()
    for item in value:
        kind = item.get("type") if isinstance(item, dict) else None
        topic = item.get("topic") if isinstance(item, dict) else None
        if not isinstance(kind, str) or not isinstance(topic, str):
            raise _Refused("subscriptions 的每一项须有字符串 type 和 topic")
        if kind == "EVENT":
            if topic != "*":
                raise _Refused(f"EVENT 只能订阅 topic *，不能订阅 {topic[:100]}")
            events = True
        elif kind == "CALLBACK":
            if topic not in CALLBACK_TOPICS:
                raise _Refused(f"不支持的 CALLBACK topic：{topic[:100]}")
            callbacks.add(topic)
        elif kind != "SYSTEM":
            raise _Refused(f"不支持的订阅类型：{kind[:100]}")
    return events, frozenset(callbacks)


def _endpoint(request: Request) -> str:
    """This sandbox's WebSocket URL as the client reached it (its ``Host``)."""
    scheme = "wss" if request.scope.get("scheme") == "https" else "ws"
    host = request.headers.get("host", "")
    if not host:
        server = request.scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scheme}://{host}{CONNECT_PATH}"


def routes(gateway: Gateway) -> list[BaseRoute]:
    sandbox: Sandbox = gateway.sandbox

    async def open_connection(request: Request) -> Response:
        request_id = new_request_id("api")
        try:
            raw = await read_body(request, limit=_BODY_LIMIT)
            body = parse_json_strict(raw) if raw.strip() else None
            if not isinstance(body, dict):
                raise _Refused("请求体必须是JSON对象")
            client_id = _text(body, "clientId", required=True)
            client_secret = _text(body, "clientSecret", required=True)
            events, callbacks = _subscriptions(body.get("subscriptions"))
            ua = _text(body, "ua", required=False)
            local_ip = _text(body, "localIp", required=False)
            if not isinstance(body.get("extras", {}), dict):
                raise _Refused("extras 必须是对象")
        except ParamError as exc:
            return api_error(400, "invalidParameter", exc.message, request_id=request_id)
        except ValueError as exc:
            return api_error(
                400, "invalidParameter", f"请求体不是合法的JSON：{exc}", request_id=request_id
            )
        except _Refused as exc:
            return api_error(400, "invalidParameter", exc.message, request_id=request_id)
        app = sandbox.apps.by_key(client_id)
        if app is None or not hmac.compare_digest(
            app.app_secret.encode(), client_secret.encode("utf-8", errors="replace")
        ):
            return api_error(401, "authFailed", _AUTH_FAILED, request_id=request_id)
        grant = Grant(app.app_key, events, callbacks, ua=ua[:200], local_ip=local_ip[:200])
        ticket = sandbox.stream.tickets.issue(grant)
        return JSONResponse(
            {"endpoint": _endpoint(request), "ticket": ticket}, headers=api_headers(request_id)
        )

    async def connect(websocket: WebSocket) -> None:
        await serve_connection(websocket, sandbox)

    async def connections(request: Request) -> Response:
        return JSONResponse(
            {"connections": [connection.view() for connection in sandbox.stream.connections()]}
        )

    async def frames(request: Request) -> Response:
        numbers = {}
        for name, default in (("after", 0), ("limit", 100)):
            given = request.query_params.get(name, "")
            if given and not _NUMBER.fullmatch(given):
                return JSONResponse({"error": f"{name} must be a number"}, status_code=400)
            numbers[name] = int(given) if given else default
        limit = min(numbers["limit"], 1000)
        found = sandbox.stream.frames(after=numbers["after"], limit=limit)
        return JSONResponse({"frames": found, "pending_events": sandbox.stream.pending_events()})

    async def disconnect(request: Request) -> Response:
        try:
            raw = await read_body(request, limit=_BODY_LIMIT)
            body = parse_json_strict(raw) if raw.strip() else {}
        except (ParamError, ValueError):
            body = None
        app_key = body.get("app_key") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(app_key, str | None):
            return JSONResponse(
                {"error": 'send {} or {"app_key": "<an app key>"}'}, status_code=400
            )
        return JSONResponse({"disconnected": sandbox.stream.disconnect(app_key)})

    return [
        *gateway.routes([(OPEN_CONNECTION, open_connection)]),
        WebSocketRoute(CONNECT_PATH, connect),
        Route("/_sandbox/stream/connections", connections, methods=["GET"]),
        Route("/_sandbox/stream/frames", frames, methods=["GET"]),
        Route("/_sandbox/stream/disconnect", disconnect, methods=["POST"]),
    ]
