"""Event subscription, old API (§7.1, §7.5): ``/call_back/register_call_back``,
``update_call_back``, ``get_call_back``, ``delete_call_back`` and
``get_call_back_failed_result``; and the sandbox's own JSON for the events view
(``/_sandbox/callbacks``, ``/_sandbox/handshakes``, ``/_sandbox/pushes``). Pushing is in
:mod:`.hub`.

Registering (or updating) first sends the URL check of §7.4 and refuses the registration
unless the encrypted ``success`` comes back within ``callback_timeout``. Of the two codes §7.3
names for a bad reply, 71009 返回文本非success is used: it is in §9.1's table and the error
catalog (``dingkit errors 71009``), while 400052 appears in neither. No reply at all (timeout,
refused connection) answers 71012, §9.1's "URL unreachable"; a redirect 71011 (§7.1). Every
check is kept with its outcome (``/_sandbox/handshakes``, the page's events view).

Choices where the reference is silent [I]:

- Methods: ``register_call_back`` is POST (§7.1) and the failed list GET (§7.5); §7.1 names
  no method for update, get and delete, so they take GET and POST.
- One registration per organisation, whichever app makes it: registering again answers
  71006, updating, reading or deleting a missing one 71007.
- A bad ``token`` or a missing field answers 400002; a malformed ``aes_key`` 900004 不合法的
  aes key (§7.2); an unknown or empty tag list 71008; a URL that is not http(s) 71011. The
  errmsg texts of 71006–71012 other than 71009 are made up in DingTalk's style.
- ``update_call_back`` takes the same four fields as registering, all required.
- A refused check's errmsg is DingTalk's text followed by why: the receiver's HTTP status and
  its own one-line reason. DingTalk answers only the text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...resources import callbacks as api
from ..config import CALLBACK_TAGS
from ..gateway import params
from ..gateway.answers import OapiError
from ..gateway.params import ParamError
from ..gateway.pipeline import Call, Gateway
from .exchange import Subscription, UrlCheck, check_url
from .records import Handshake, Push, Registration

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = ["routes"]

#: At most this many failed events per call (§7.5).
MAX_FAILED = api.FAILED.page_size or 200
_AES_KEY = re.compile(r"[A-Za-z0-9]{43}")
_URL = re.compile(r"https?://[^/\s?#]+\S*")
_REDACTED = "(hidden)"
_CURSOR = re.compile(r"-?[0-9]{1,18}")  # fits SQLite's 64-bit integers
_LIMIT = re.compile(r"[0-9]{1,6}")


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _wanted(call: Call) -> Registration:
    """The four fields of a registration, checked (§7.1)."""
    body = params.obj(call.body)
    tags = body.get("call_back_tag")
    if tags is None:
        raise ParamError("缺少参数 call_back_tag")
    if isinstance(tags, str):  # [I] a single tag as a string
        tags = [tags]
    if not isinstance(tags, list) or not tags:
        raise OapiError(71008, "不合法的回调tag：call_back_tag 必须是非空数组")
    unknown = [tag for tag in tags if tag not in CALLBACK_TAGS]
    if unknown:
        raise OapiError(71008, f"不合法的回调tag：{', '.join(map(str, unknown))}")
    token = params.string(body, "token", max_length=1000)
    if not 6 <= len(token) <= 63:
        raise ParamError("token 长度须为6到63个字符")
    aes_key = params.string(body, "aes_key", max_length=1000)
    if not _AES_KEY.fullmatch(aes_key):
        raise OapiError(900004, "不合法的aes key：须为43个字母或数字")
    url = params.string(body, "url", max_length=2048).strip()
    if not _URL.fullmatch(url):
        raise OapiError(71011, f"不合法的回调地址：{url}（须为 http 或 https 地址）")
    return Registration(
        url=url,
        token=token,
        aes_key=aes_key,
        tags=tuple(dict.fromkeys(tags)),
        app_key=call.app.app_key,
        updated_ms=int(call.sandbox.clock() * 1000),
    )


def _refusal(check: UrlCheck) -> OapiError | None:
    """What a registration answers for a failed URL check."""
    if check.reason is None:
        return None
    if check.http_status is None:
        return OapiError(71012, f"回调地址无法访问：{check.reason}")
    if 300 <= check.http_status < 400:
        return OapiError(71011, "URL地址在安全黑名单中不允许使用（回调地址不能重定向）")
    # [I] DingTalk says only 返回文本非success; the sandbox adds why (the receiver's HTTP
    # status and its own one-line reason) after DingTalk's text, so that a client matching
    # on DingTalk's errmsg matches the sandbox's too.
    return OapiError(71009, f"返回文本非success：{check.reason}")


async def _check(call: Call, wanted: Registration, action: str) -> None:
    """The URL check of §7.4 against the registration's URL, keys and the corp_id; kept,
    whatever its outcome."""
    sandbox = call.sandbox
    subscription = Subscription(
        "api", wanted.url, wanted.token, wanted.aes_key, sandbox.config.corp_id, None
    )
    check = await check_url(
        subscription,
        within=sandbox.config.callback_timeout,
        now_ms=wanted.updated_ms,
    )
    refusal = _refusal(check)
    sandbox.callbacks.records.add_handshake(
        at_ms=wanted.updated_ms,
        action=action,
        url=wanted.url,
        http_status=check.http_status,
        reason=check.reason,
        errcode=0 if refusal is None else refusal.errcode,
    )
    if refusal is not None:
        raise refusal


async def register(call: Call) -> dict[str, Any]:
    wanted = _wanted(call)
    if call.sandbox.callbacks.registration() is not None:
        raise OapiError(71006, "回调地址已经存在，请使用 update_call_back 更新")
    await _check(call, wanted, "register")
    call.sandbox.callbacks.records.register(call.sandbox.config.corp_id, wanted)
    return {}


async def update(call: Call) -> dict[str, Any]:
    wanted = _wanted(call)
    if call.sandbox.callbacks.registration() is None:
        raise OapiError(71007, "回调地址不存在，请先 register_call_back")
    await _check(call, wanted, "update")
    call.sandbox.callbacks.records.register(call.sandbox.config.corp_id, wanted)
    return {}


def get(call: Call) -> dict[str, Any]:
    registration = call.sandbox.callbacks.registration()
    if registration is None:
        raise OapiError(71007, "回调地址不存在")
    return {
        "call_back_tag": list(registration.tags),
        "token": registration.token,
        "aes_key": registration.aes_key,
        "url": registration.url,
    }


def delete(call: Call) -> dict[str, Any]:
    if not call.sandbox.callbacks.records.unregister(call.sandbox.config.corp_id):
        raise OapiError(71007, "回调地址不存在")
    return {}


def failed_result(call: Call) -> dict[str, Any]:
    items, more = call.sandbox.callbacks.records.take_failed(MAX_FAILED)
    return {"has_more": more, "failed_list": items}


def push_json(push: Push) -> dict[str, Any]:
    """A push as the events view shows it: no token or key."""
    return {
        "id": push.id,
        "event_id": push.event_id,
        "event_type": push.event_type,
        "subscription": push.subscription,
        "url": push.url,
        "receiver_id": push.receiver_id,
        "style": push.style,
        "state": push.state,
        "created_at": _iso(push.created_ms),
        "next_attempt_at": _iso(push.next_ms),
        "plaintext": push.plaintext,
        "attempts": [
            {
                "at": _iso(attempt.at_ms),
                "outcome": "delivered" if attempt.ok else "failed",
                "http_status": attempt.http_status,
                "error": attempt.error,
            }
            for attempt in push.attempts
        ],
    }


def handshake_json(handshake: Handshake) -> dict[str, Any]:
    """A URL check as the events view shows it (the URL, never the keys)."""
    return {
        "id": handshake.id,
        "at": _iso(handshake.at_ms),
        "action": handshake.action,
        "url": handshake.url,
        "outcome": "ok" if handshake.ok else "failed",
        "http_status": handshake.http_status,
        "reason": handshake.reason,
        "errcode": handshake.errcode,
    }


def _cursor(request: Request) -> tuple[int, int] | Response:
    """``after`` (the last cursor seen) and ``limit`` (1-1000, default 200) of a view's
    query, or the 400 that refuses them."""
    after, limit = request.query_params.get("after", "0"), request.query_params.get("limit")
    if not _CURSOR.fullmatch(after) or (limit is not None and not _LIMIT.fullmatch(limit)):
        return JSONResponse(
            {"error": "after and limit must be integers (after: the last cursor seen)"},
            status_code=400,
        )
    return int(after), min(max(int(limit or 200), 1), 1000)


def routes(gateway: Gateway) -> list[Route]:
    sandbox: Sandbox = gateway.sandbox

    async def subscriptions_view(request: Request) -> Response:
        return JSONResponse(
            {
                "corp_id": sandbox.config.corp_id,
                "retry_delays": list(sandbox.config.callback_retry_delays),
                "timeout": sandbox.config.callback_timeout,
                "subscriptions": [
                    {
                        "name": s.name,
                        "source": "api" if s.name == "api" else "config",
                        "url": s.url,
                        "receiver_id": s.receiver_id,
                        "tags": None if s.tags is None else sorted(s.tags),
                        "style": s.style,
                        "token": _REDACTED,
                        "aes_key": _REDACTED,
                    }
                    for s in sandbox.callbacks.subscriptions()
                ],
            }
        )

    async def pushes_view(request: Request) -> Response:
        asked = _cursor(request)
        if isinstance(asked, Response):
            return asked
        after, limit = asked
        found = sandbox.callbacks.records.changed_since(after, limit=limit)
        cursor = found[-1].seq if found else after
        return JSONResponse({"pushes": [push_json(p) for p in found], "cursor": cursor})

    async def handshakes_view(request: Request) -> Response:
        asked = _cursor(request)
        if isinstance(asked, Response):
            return asked
        after, limit = asked
        found = sandbox.callbacks.records.handshakes_since(after, limit=limit)
        cursor = found[-1].id if found else after
        return JSONResponse({"handshakes": [handshake_json(h) for h in found], "cursor": cursor})

    return [
        *gateway.routes(
            [
                (api.REGISTER, register),
                (api.UPDATE, update),
                (api.GET, get),
                (api.DELETE, delete),
                (api.FAILED, failed_result),
            ]
        ),
        Route("/_sandbox/callbacks", subscriptions_view, methods=["GET"]),
        Route("/_sandbox/handshakes", handshakes_view, methods=["GET"]),
        Route("/_sandbox/pushes", pushes_view, methods=["GET"]),
    ]
