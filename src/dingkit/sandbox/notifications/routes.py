"""Work notifications (工作通知), old API (§12.1, §12.2): ``asyncsend_v2``,
``getsendprogress``, ``getsendresult`` and ``recall``, with every sent message kept for the
chat page (``GET /_sandbox/notifications``). Checks and receivers are in
:mod:`..notifications`.

``asyncsend_v2`` takes JSON with ``msg`` as an object, as most clients send it, and the
form-encoded body of DingTalk's own curl example with ``msg`` as a JSON string (§12.1).

Choices where the reference is silent [I]:

- ``agent_id`` must be the calling app's (else 40056; missing 41011). A task of another app
  is unknown to this one.
- More than 100 userIds or 20 department ids answer 40032; no receivers at all 40035
  (DingTalk was seen answering errcode 1 "Platform System error", §12.1); ``msg`` over 2048
  bytes (compact UTF-8 JSON) 40035.
- Unknown userIds and department ids do not fail the send: they are listed in
  ``invalid_user_id_list`` / ``invalid_dept_id_list`` by ``getsendresult``.
- The same content from the same app reaches a user once per China day: later sends list
  them in ``forbidden_user_id_list`` with code ``143106`` (§12.2); ``limits = false``
  switches that off. The other per-day and per-minute quotas are not modelled.
- Delivery is immediate: progress is always 100 % / status 2. Nobody reads: every receiver is
  in ``unread_user_id_list``. ``getsendresult`` for more than 100 receivers answers 41052.
- ``getsendprogress`` works for 7 days, ``getsendresult`` and ``recall`` for 24 hours, then
  answer as for an unknown task (40035; recall 400002). A second recall is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from ..._wire import parse_json_strict
from ...resources import notifications as api
from ..gateway import params
from ..gateway.answers import OapiError
from ..gateway.pipeline import Call, Gateway
from .model import (
    NoticeError,
    notification_html,
)
from .sending import send_work_notification

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = ["routes"]

MAX_USERIDS = api.MAX_USERIDS
MAX_DEPT_IDS = api.MAX_DEPT_IDS
MAX_RESULT_RECEIVERS = 100
_HOUR_MS = 3_600_000
_FORM_LIMIT = 1_000_000


def _now(call: Call) -> int:
    return int(call.sandbox.clock() * 1000)


def _agent(call: Call, body: dict[str, Any]) -> int:
    if body.get("agent_id") in (None, ""):
        raise OapiError(41011, "缺少agentid参数")
    agent_id = params.integer(body, "agent_id")
    if agent_id != call.app.agent_id:
        raise OapiError(40056, "不合法的agentid")
    return agent_id


def _ids(body: dict[str, Any], name: str, limit: int) -> list[str]:
    value = body.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, list):  # [I] lenient: a JSON list instead of the comma string
        items = [str(item).strip() for item in value]
    elif isinstance(value, str | int):
        items = [item.strip() for item in str(value).split(",")]
    else:
        raise OapiError(40035, f"不合法的参数：{name} 必须是逗号分隔的字符串")
    items = [item for item in items if item]
    if len(items) > limit:
        raise OapiError(40032, f"不合法的{name}长度：最多{limit}个，实际{len(items)}个")
    return items


def _msg(body: dict[str, Any]) -> dict[str, Any]:
    msg = body.get("msg")
    if msg is None or msg == "":
        raise OapiError(40035, "不合法的参数：缺少 msg")
    if isinstance(msg, str):  # the form-encoded send: msg is a JSON string (§12.1)
        try:
            msg = parse_json_strict(msg)
        except ValueError:
            raise OapiError(40035, "不合法的参数：msg 不是合法的JSON") from None
    if not isinstance(msg, dict):
        raise OapiError(40035, "不合法的参数：msg 必须是JSON对象")
    return msg


def send(call: Call) -> dict[str, Any]:
    body = params.obj(call.body)
    _agent(call, body)
    userids = _ids(body, "userid_list", MAX_USERIDS)
    dept_texts = _ids(body, "dept_id_list", MAX_DEPT_IDS)
    if not all(text.lstrip("-").isdigit() for text in dept_texts):
        raise OapiError(40035, "不合法的参数：dept_id_list 必须是部门id")
    dept_ids = [int(text) for text in dept_texts]
    to_all = params.boolean(body, "to_all_user", default=False)
    task_id = send_work_notification(
        call.sandbox, call.app, _msg(body), userids=userids, dept_ids=dept_ids, to_all=to_all
    )
    return {"task_id": task_id}


def _task(call: Call, key: str, window_ms: int) -> tuple[dict[str, Any], int]:
    """The app's task named by ``key``, sent within ``window_ms``; an unknown, foreign or
    expired one is a bad parameter (40035 here, 400002 for recall: their declarations)."""
    body = params.obj(call.body)
    agent_id = _agent(call, body)
    task_id = body.get(key)
    task = None
    if isinstance(task_id, int | str) and str(task_id).isdigit():
        task = call.sandbox.notifications.get(int(task_id))
    if task is None or task["agent_id"] != agent_id or _now(call) - task["sent_ms"] > window_ms:
        raise params.ParamError(f"不合法的{key}：{task_id}")
    return task, agent_id


def progress(call: Call) -> dict[str, Any]:
    _task(call, "task_id", 7 * 24 * _HOUR_MS)
    return {"progress": {"progress_in_percent": 100, "status": 2}}


def result(call: Call) -> dict[str, Any]:
    task, _ = _task(call, "task_id", 24 * _HOUR_MS)
    if len(task["delivered"]) + len(task["forbidden"]) > MAX_RESULT_RECEIVERS:
        raise OapiError(41052, "本次发送人数过多,不再返回发送结果")
    return {
        "send_result": {
            "invalid_user_id_list": task["invalid_user_id_list"],
            "forbidden_user_id_list": task["forbidden"],
            "failed_user_id_list": [],
            "read_user_id_list": [],
            "unread_user_id_list": task["delivered"],
            "invalid_dept_id_list": task["invalid_dept_id_list"],
            "forbidden_list": [
                {"code": "143106", "count": 1, "userid": userid} for userid in task["forbidden"]
            ],
        }
    }


def recall(call: Call) -> dict[str, Any]:
    task, _ = _task(call, "msg_task_id", 24 * _HOUR_MS)
    call.sandbox.notifications.recall(task["task_id"], _now(call))
    return {}


def _accept_form(route: Route) -> Route:
    """Let ``route`` also take a form-encoded body: its fields become the JSON object the
    gateway reads (values stay strings; the endpoint parses ``msg``)."""
    inner = route.app

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
        if scope["type"] != "http" or kind != "application/x-www-form-urlencoded":
            await inner(scope, receive, send)
            return
        raw, more = b"", True
        while more and len(raw) <= _FORM_LIMIT:
            message = await receive()
            raw += message.get("body", b"")
            more = message.get("more_body", False)
        fields = dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            body = json.dumps(fields, ensure_ascii=False).encode() if fields else raw
            return {"type": "http.request", "body": body, "more_body": False}

        await inner(scope, replay, send)

    route.app = app
    return route


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _view(sandbox: Sandbox, task: dict[str, Any], apps: dict[str, str]) -> dict[str, Any]:
    org = sandbox.org

    def person(userid: str) -> dict[str, str]:
        user = org.user(userid)
        return {"userid": userid, "name": user.name if user is not None else userid}

    return {
        "task_id": task["task_id"],
        "app": apps.get(task["app_key"], task["app_key"]),
        "agent_id": task["agent_id"],
        "sent_at": _iso(task["sent_ms"]),
        "recalled_at": _iso(task["recalled_ms"]),
        "msgtype": task["msgtype"],
        "msg": task["msg"],
        "html": notification_html(task["msg"]),
        "to_all_user": task["to_all_user"],
        "userid_list": task["userid_list"],
        "dept_id_list": task["dept_id_list"],
        "recipient_count": len(task["delivered"]),
        "recipients": [person(userid) for userid in task["delivered"][:50]],
        "forbidden_user_id_list": task["forbidden"],
        "invalid_user_id_list": task["invalid_user_id_list"],
        "invalid_dept_id_list": task["invalid_dept_id_list"],
    }


def _errors(handler: Callable[[Call], dict[str, Any]]) -> Callable[[Call], dict[str, Any]]:
    def run(call: Call) -> dict[str, Any]:
        try:
            return handler(call)
        except NoticeError as exc:
            raise OapiError(exc.errcode, exc.errmsg) from None

    return run


def routes(gateway: Gateway) -> list[Route]:
    sandbox: Sandbox = gateway.sandbox

    async def notifications_view(request: Request) -> Response:
        limit = request.query_params.get("limit", "200")
        if not limit.isdigit():
            return JSONResponse({"error": "limit must be a positive integer"}, status_code=400)
        apps = {app.app_key: app.name for app in sandbox.apps.all()}
        found = sandbox.notifications.recent(min(max(int(limit), 1), 1000))
        return JSONResponse({"notifications": [_view(sandbox, task, apps) for task in found]})

    return [
        *(_accept_form(route) for route in gateway.routes([(api.SEND, _errors(send))])),
        *gateway.routes([(api.PROGRESS, progress), (api.RESULT, result), (api.RECALL, recall)]),
        Route("/_sandbox/notifications", notifications_view, methods=["GET"]),
    ]
