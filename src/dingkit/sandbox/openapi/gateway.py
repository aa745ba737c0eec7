"""What DingTalk's gateways do before an endpoint runs, for both server-API families (§0.3):
the access token, the per-app per-API QPS limit (§9.3), the failure modes chosen by app keys,
parsing the body, and turning errors into each family's answer.

An endpoint is a plain function of a :class:`Call`; it returns the success fields and raises
:class:`OapiError`, :class:`ApiError` or :class:`~.params.ParamError` to fail::

    def user_get(call: Call) -> dict[str, Any]:
        userid = params.string(call.body, "userid")
        ...
        return {"result": {...}}

    routes = [gateway.oapi_route("/topapi/v2/user/get", user_get)]

Old family (``oapi_route``): token in ``?access_token=``, HTTP 200 always, ``errcode``/
``errmsg`` (and ``request_id`` on ``/topapi/*``). New family (``api_route``): token in the
``x-acs-dingtalk-access-token`` header, HTTP status with ``{"code","message","requestid"}`` and
an ``x-acs-request-id`` header; the handler's return value is the body, or a ``Response``.
"""

from __future__ import annotations

import inspect
import json
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..apps import FailureMode, failure_mode
from ..attendance import CST
from ..config import AppConfig
from .params import ParamError

if TYPE_CHECKING:
    from ..app import Sandbox

__all__ = [
    "ANY_METHOD",
    "ApiError",
    "Call",
    "Family",
    "Gateway",
    "OapiError",
    "api_error",
    "new_request_id",
    "oapi_error",
]

logger = logging.getLogger("dingkit.sandbox")

Family = Literal["oapi", "api"]
#: Old-family routes take every method and answer a wrong one with 43001/43002 themselves.
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
Endpoint = Callable[[Request], Awaitable[Response]]

_BAD_TOKEN = "不合法的access_token"
#: The rate-limit text of §9.2; the rest of the 90018 errmsg copies the 90002 one seen live
#: (§9.1), as the real 90018 errmsg is not known (§11).
_APP_BANNED = "您的企业应用调用钉钉开放平台当前接口的所有请求都被暂时禁用了"
_BUSY = "系统繁忙"
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# Bodies past this are refused as a bad parameter without being read whole.
_READ_LIMIT = 1_000_000
# [I] §9.2 gives no code for HTTP 503; this is the Alibaba Cloud gateways' usual one.
_UNAVAILABLE = ("ServiceUnavailable", "服务暂时不可用，请稍后重试")


class OapiError(Exception):
    """An old-family failure: ``errcode``/``errmsg`` in an HTTP 200 body."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class ApiError(Exception):
    """A new-family failure: an HTTP status with ``code`` and ``message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def new_request_id(family: Family) -> str:
    """``"5um7ykyaalsj"``-style for the old family, an upper-case UUID for the new one."""
    if family == "api":
        return str(uuid.uuid4()).upper()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def oapi_error(
    errcode: int, errmsg: str, *, request_id: str | None = None, **extra: Any
) -> JSONResponse:
    """An old-family error (always HTTP 200); ``request_id`` only on ``/topapi/*``."""
    body: dict[str, Any] = {"errcode": errcode, **extra, "errmsg": errmsg}
    if request_id is not None:
        body["request_id"] = request_id
    return JSONResponse(body)


def api_error(status: int, code: str, message: str, *, request_id: str | None = None) -> Response:
    """A new-family error: the status, the body and the ``x-acs-*`` headers."""
    request_id = request_id or new_request_id("api")
    return JSONResponse(
        {"requestid": request_id, "code": code, "message": message},
        status_code=status,
        headers=_api_headers(request_id),
    )


def _api_headers(request_id: str) -> dict[str, str]:
    return {"x-acs-request-id": request_id, "x-acs-trace-id": secrets.token_hex(16)}


def _gateway_error(sub_code: str, sub_msg: str, request_id: str) -> JSONResponse:
    # /topapi/* wraps gateway-level auth errors in errcode 88 (§0.3).
    return oapi_error(
        88,
        f"ding talk error[subcode={sub_code},submsg={sub_msg}]",
        request_id=request_id,
        sub_code=sub_code,
        sub_msg=sub_msg,
    )


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated API call, as an endpoint sees it."""

    sandbox: Sandbox
    app: AppConfig
    request: Request
    body: Any  # the parsed JSON body; None when the request has none
    request_id: str


#: An old-family handler; a coroutine function when it must wait on I/O (the URL check of
#: ``register_call_back``), a plain function otherwise.
OapiHandler = Callable[[Call], dict[str, Any] | Awaitable[dict[str, Any]]]
ApiHandler = Callable[[Call], Any]


class Gateway:
    """Authentication, limits and failure modes shared by every server-API endpoint.

    Args:
        sandbox: the apps, tokens, clock and settings to check against.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def authenticate(self, request: Request, family: Family) -> AppConfig | Response:
        """The app whose token the request carries, or the family's auth error (§0.3).

        An expired token gets the same answer as an unknown one (40014 / InvalidAuthentication):
        live servers often report expiry that way rather than as 42001 [I, §9.1].
        """
        if family == "api":
            token = request.headers.get("x-acs-dingtalk-access-token", "")
            if not token:
                return api_error(
                    400,
                    "AuthenticationFailed.MissingParameter",
                    "缺少参数：x-acs-dingtalk-access-token",
                )
            app = self.sandbox.tokens.use(token)
            return app if app is not None else api_error(400, "InvalidAuthentication", _BAD_TOKEN)
        token = request.query_params.get("access_token", "")
        topapi = request.url.path.startswith("/topapi/")
        if not token:
            if topapi:
                return _gateway_error("40000", "access_token is blank", new_request_id("oapi"))
            # [I] the code of §9.1 for a missing token; the errmsg is a guess.
            return oapi_error(41001, "缺少access_token参数")
        app = self.sandbox.tokens.use(token)
        if app is not None:
            return app
        if topapi:
            return _gateway_error("40014", _BAD_TOKEN, new_request_id("oapi"))
        return oapi_error(40014, _BAD_TOKEN)

    def guard(self, app: AppConfig, api: str, family: Family, request_id: str) -> Response | None:
        """The QPS limit and the failure modes other than ``slow-``; ``None`` lets the call on."""
        mode = failure_mode(app.app_key)
        # The guard's window is off when qps is 0 or limits are off (Sandbox.__init__).
        if mode is FailureMode.THROTTLED or self.sandbox.guard.over_qps(app.app_key, api):
            if family == "api":
                return api_error(
                    403,
                    "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
                    _APP_BANNED,
                    request_id=request_id,
                )
            return oapi_error(90018, self._qps_errmsg(api), request_id=request_id or None)
        if mode is FailureMode.BUSY or (
            mode is FailureMode.FLAKY and self.sandbox.guard.flaky_fails(app.app_key)
        ):
            if family == "api":
                return api_error(503, *_UNAVAILABLE, request_id=request_id)
            return oapi_error(-1, _BUSY, request_id=request_id or None)
        return None

    def _qps_errmsg(self, api: str) -> str:
        # The shape of the live 90002 errmsg (§9.1): the window is this second, the ban ends
        # with the next one.
        now = datetime.fromtimestamp(int(self.sandbox.clock()), CST)
        start, until = (
            now.strftime(_TIME_FORMAT),
            (now + timedelta(seconds=1)).strftime(_TIME_FORMAT),
        )
        return (
            f"{_APP_BANNED}, apiPath({api.split(' ', 1)[-1]}), 从 {start} 到 {start} "
            f"请求总次数超过了 {self.sandbox.config.qps or 20} 次, 处罚将在 {until} 结束."
        )

    async def _prepare(
        self, request: Request, family: Family, api: str
    ) -> tuple[AppConfig, str] | Response:
        """Authenticate, apply limits and failure modes; the app and the request id."""
        app = self.authenticate(request, family)
        if isinstance(app, Response):
            return app
        topapi = request.url.path.startswith("/topapi/")
        request_id = new_request_id(family) if family == "api" or topapi else ""
        refusal = self.guard(app, api, family, request_id)
        if refusal is not None:
            return refusal
        if failure_mode(app.app_key) is FailureMode.SLOW:
            await anyio.sleep(self.sandbox.config.slow_delay)
        return app, request_id

    def oapi_route(
        self,
        path: str,
        handler: OapiHandler,
        *,
        method: str | tuple[str, ...] = "POST",
        param_error: int = 400002,
    ) -> Route:
        """An old-family endpoint. ``param_error`` is the errcode for bad input (§5, §6);
        ``method`` may name several methods when the reference does not say which one."""
        methods = (method,) if isinstance(method, str) else method
        api = f"{methods[0]} {path}"

        async def endpoint(request: Request) -> Response:
            topapi = request.url.path.startswith("/topapi/")
            if request.method not in methods:
                # 43001 must be GET / 43002 must be POST (§9.1) [I: the errmsg].
                code, text = (
                    (43001, "需要GET请求") if methods == ("GET",) else (43002, "需要POST请求")
                )
                return oapi_error(code, text, request_id=new_request_id("oapi") if topapi else None)
            prepared = await self._prepare(request, "oapi", api)
            if isinstance(prepared, Response):
                return prepared
            app, request_id = prepared
            rid = request_id or None
            try:
                body = _parse_json(await _read_body(request))
                outcome = handler(Call(self.sandbox, app, request, body, request_id))
                result = await outcome if inspect.isawaitable(outcome) else outcome
            except ParamError as exc:
                return oapi_error(param_error, exc.message, request_id=rid)
            except OapiError as exc:
                return oapi_error(exc.errcode, exc.errmsg, request_id=rid)
            answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok", **result}
            if rid is not None:
                answer["request_id"] = rid
            return JSONResponse(answer)

        return Route(path, endpoint, methods=ANY_METHOD)

    def api_route(self, path: str, handler: ApiHandler, *, methods: list[str]) -> Route:
        """A new-family endpoint; register one route per method when handlers differ."""

        async def endpoint(request: Request) -> Response:
            prepared = await self._prepare(request, "api", f"{request.method} {path}")
            if isinstance(prepared, Response):
                return prepared
            app, request_id = prepared
            try:
                body = _parse_json(await _read_body(request))
                result = handler(Call(self.sandbox, app, request, body, request_id))
            except ParamError as exc:
                return api_error(400, "invalidParameter", exc.message, request_id=request_id)
            except ApiError as exc:
                return api_error(exc.status, exc.code, exc.message, request_id=request_id)
            if isinstance(result, Response):
                result.headers.update(_api_headers(request_id))
                return result
            return JSONResponse(result, headers=_api_headers(request_id))

        return Route(path, endpoint, methods=methods)


async def _read_body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > _READ_LIMIT:
            raise ParamError(f"请求体过大：最多{_READ_LIMIT}字节")
    return b"".join(chunks)


def _parse_json(raw: bytes) -> Any:
    """The body's JSON; ``None`` when empty. Bad JSON is a parameter error of the family."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ParamError("请求体不是合法的JSON") from None
