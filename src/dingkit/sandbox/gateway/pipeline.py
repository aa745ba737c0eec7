"""What DingTalk's gateways do before an endpoint's rule runs, for both server-API families
(§0.3): the HTTP method, the access token, the app's limits and failure modes, reading the
body, and turning failures into each family's answer.

Routes are registered from the endpoints' declarations in ``dingkit.resources`` (the ones the
client builds its requests from), so path, method, family and parameter error are never
written twice. A rule is a plain function of a :class:`Call`; it returns the success fields
and raises :class:`~.answers.OapiError`, :class:`~.answers.ApiError` or
:class:`~.params.ParamError` to fail::

    def user_get(call: Call) -> dict[str, Any]:
        userid = params.string(call.body, "userid")
        ...
        return {"result": {...}}

    routes = gateway.routes([(contacts.USER_GET, user_get)])

Old family: token in ``?access_token=``, HTTP 200 always, ``errcode``/``errmsg`` (and
``request_id`` on ``/topapi/*``); a wrong method answers 43001/43002. New family: token in the
``x-acs-dingtalk-access-token`` header, HTTP status with ``{"code","message","requestid"}``
and an ``x-acs-request-id`` header; the rule's return value is the body, or a ``Response``;
a wrong method answers a JSON 405. Endpoints without ``auth`` (tokens, the robot webhook) get
the raw request and answer for themselves.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..._request import Endpoint
from ..._wire import (
    CHINA,
    CHINA_TIME_FORMAT,
    TOKEN_HEADER,
    TOKEN_QUERY_PARAMETER,
    Family,
    family_of,
    parse_json_strict,
)
from ..config import AppConfig
from ..tokens.grants import Refusal, check_grants, check_quota
from ..tokens.issuer import FailureMode, failure_mode
from .answers import ApiError, OapiError, api_error, api_headers, new_request_id, oapi_error
from .params import ParamError

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = [
    "ANY_METHOD",
    "Call",
    "Gateway",
    "Handler",
    "method_not_allowed",
    "not_found",
    "read_body",
    "wrong_method",
]

logger = logging.getLogger("dingkit.sandbox")

#: Every route of DingTalk's address space takes every method and answers a wrong one itself.
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

_BAD_TOKEN = "不合法的access_token"
#: The rate-limit text of §9.2; the rest of the 90018 errmsg copies the 90002 one seen live
#: (§9.1), as the real 90018 errmsg is not known (§11).
_APP_BANNED = "您的企业应用调用钉钉开放平台当前接口的所有请求都被暂时禁用了"
_BUSY = "系统繁忙"
# Bodies past this are refused as a bad parameter without being read whole.
_READ_LIMIT = 1_000_000
# [I] §9.2 gives no code for HTTP 503; this is the Alibaba Cloud gateways' usual one.
_UNAVAILABLE = ("ServiceUnavailable", "服务暂时不可用，请稍后重试")


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated API call, as a rule sees it."""

    sandbox: Sandbox
    app: AppConfig
    request: Request
    body: Any  # the parsed JSON body; None when the request has none
    request_id: str
    endpoint: Endpoint


#: A rule: a plain function of a call (a coroutine function when it must wait on I/O, as
#: ``register_call_back``'s URL check does). Endpoints without ``auth`` take the raw request.
Handler = Callable[[Call], Any] | Callable[[Request], Awaitable[Response]]


def _gateway_error(sub_code: str, sub_msg: str, request_id: str) -> JSONResponse:
    # /topapi/* wraps gateway-level auth errors in errcode 88 (§0.3).
    return oapi_error(
        88,
        f"ding talk error[subcode={sub_code},submsg={sub_msg}]",
        request_id=request_id,
        sub_code=sub_code,
        sub_msg=sub_msg,
    )


def _topapi(request: Request) -> bool:
    return request.url.path.startswith("/topapi/")


class Gateway:
    """Authentication, limits and failure modes shared by every server-API endpoint.

    Args:
        sandbox: the apps, tokens, clock and settings to check against.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    # -- registering ---------------------------------------------------------------------

    def routes(self, table: Sequence[tuple[Endpoint, Handler]]) -> list[Route]:
        """One route per path (and per alias) serving every endpoint of ``table`` on it,
        each by its method; any other method gets the family's wrong-method answer."""
        by_path: dict[str, dict[str, Callable[[Request], Awaitable[Response]]]] = {}
        for endpoint, handler in table:
            serve = self._serve(endpoint, handler)
            for path in (endpoint.path, *endpoint.aliases):
                methods = by_path.setdefault(path, {})
                for method in endpoint.accepted_methods:
                    if method in methods:
                        raise ValueError(f"{method} {path} is declared twice")
                    methods[method] = serve
        return [self._route(path, methods) for path, methods in by_path.items()]

    def _route(
        self, path: str, methods: dict[str, Callable[[Request], Awaitable[Response]]]
    ) -> Route:
        async def dispatch(request: Request) -> Response:
            serve = methods.get(request.method)
            if serve is None:
                return wrong_method(request, tuple(methods))
            return await serve(request)

        route = Route(path, dispatch, methods=ANY_METHOD)
        route.declared_methods = tuple(methods)  # type: ignore[attr-defined]
        return route

    def _serve(
        self, endpoint: Endpoint, handler: Handler
    ) -> Callable[[Request], Awaitable[Response]]:
        if not endpoint.auth:
            return handler  # type: ignore[return-value]
        rule: Callable[[Call], Any] = handler  # type: ignore[assignment]
        answer = _api_answer if endpoint.family == "api" else _oapi_answer

        async def serve(request: Request) -> Response:
            prepared = await self._prepare(request, endpoint)
            if isinstance(prepared, Response):
                return prepared
            app, request_id = prepared
            try:
                body = _parse_json(await read_body(request))
                outcome = rule(Call(self.sandbox, app, request, body, request_id, endpoint))
                result = await outcome if inspect.isawaitable(outcome) else outcome
            except (ParamError, OapiError, ApiError) as exc:
                return answer(endpoint, request_id, exc)
            return answer(endpoint, request_id, result)

        return serve

    # -- before the rule -----------------------------------------------------------------

    def authenticate(self, request: Request, family: Family) -> AppConfig | Response:
        """The app whose token the request carries, or the family's auth error (§0.3).

        An expired token gets the same answer as an unknown one (40014 / InvalidAuthentication):
        live servers often report expiry that way rather than as 42001 [I, §9.1].
        """
        if family == "api":
            token = request.headers.get(TOKEN_HEADER, "")
            if not token:
                return api_error(
                    400, "AuthenticationFailed.MissingParameter", f"缺少参数：{TOKEN_HEADER}"
                )
            app = self.sandbox.tokens.use(token)
            return app if app is not None else api_error(400, "InvalidAuthentication", _BAD_TOKEN)
        token = request.query_params.get(TOKEN_QUERY_PARAMETER, "")
        if not token:
            if _topapi(request):
                return _gateway_error("40000", "access_token is blank", new_request_id("oapi"))
            # [I] the code of §9.1 for a missing token; the errmsg is a guess.
            return oapi_error(41001, "缺少access_token参数")
        app = self.sandbox.tokens.use(token)
        if app is not None:
            return app
        if _topapi(request):
            return _gateway_error("40014", _BAD_TOKEN, new_request_id("oapi"))
        return oapi_error(40014, _BAD_TOKEN)

    def guard(self, app: AppConfig, endpoint: Endpoint, request_id: str) -> Response | None:
        """The QPS limit and the failure modes other than ``slow-``; ``None`` lets the call on."""
        family, api = endpoint.family, f"{endpoint.method} {endpoint.path}"
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
            return oapi_error(90018, self._qps_errmsg(endpoint), request_id=request_id or None)
        if mode is FailureMode.BUSY or (
            mode is FailureMode.FLAKY and self.sandbox.guard.flaky_fails(app.app_key)
        ):
            if family == "api":
                return api_error(503, *_UNAVAILABLE, request_id=request_id)
            return oapi_error(-1, _BUSY, request_id=request_id or None)
        return None

    def _qps_errmsg(self, endpoint: Endpoint) -> str:
        # The shape of the live 90002 errmsg (§9.1): the window is this second, the ban ends
        # with the next one.
        now = datetime.fromtimestamp(int(self.sandbox.clock()), CHINA)
        start = now.strftime(CHINA_TIME_FORMAT)
        until = (now + timedelta(seconds=1)).strftime(CHINA_TIME_FORMAT)
        return (
            f"{_APP_BANNED}, apiPath({endpoint.path}), 从 {start} 到 {start} "
            f"请求总次数超过了 {self.sandbox.config.qps or 20} 次, 处罚将在 {until} 结束."
        )

    async def _prepare(
        self, request: Request, endpoint: Endpoint
    ) -> tuple[AppConfig, str] | Response:
        """Authenticate, apply limits and failure modes; the app and the request id."""
        family = endpoint.family
        app = self.authenticate(request, family)
        if isinstance(app, Response):
            return app
        request_id = new_request_id(family) if family == "api" or _topapi(request) else ""
        client_ip = request.client.host if request.client else None
        denied = check_grants(app, endpoint, client_ip=client_ip) or check_quota(
            app, endpoint, self.sandbox.apps, now=self.sandbox.clock()
        )
        if denied is not None:
            return _refused(denied, app, family, request_id)
        refusal = self.guard(app, endpoint, request_id)
        if refusal is not None:
            return refusal
        if failure_mode(app.app_key) is FailureMode.SLOW:
            await anyio.sleep(self.sandbox.config.slow_delay)
        return app, request_id


def _oapi_answer(endpoint: Endpoint, request_id: str, outcome: Any) -> Response:
    """An old-family answer: HTTP 200 with ``errcode`` 0 and the result's fields, or the
    failure's errcode; ``request_id`` on ``/topapi/*`` only."""
    rid = request_id or None
    if isinstance(outcome, ParamError):
        code = endpoint.parameter_error
        assert isinstance(code, int), f"{endpoint.path}: an old-family errcode"
        return oapi_error(code, outcome.message, request_id=rid)
    if isinstance(outcome, OapiError):
        return oapi_error(outcome.errcode, outcome.errmsg, request_id=rid, **outcome.extra)
    if isinstance(outcome, ApiError):
        raise TypeError(f"{endpoint.path}: an old-family rule raised a new-family error")
    answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok", **outcome}
    if rid is not None:
        answer["request_id"] = rid
    return JSONResponse(answer)


def _api_answer(endpoint: Endpoint, request_id: str, outcome: Any) -> Response:
    """A new-family answer: the result as the body (or a ready ``Response``), or the
    failure's status and code; the ``x-acs-*`` headers on both."""
    if isinstance(outcome, ParamError):
        code = str(endpoint.parameter_error)
        return api_error(400, code, outcome.message, request_id=request_id)
    if isinstance(outcome, ApiError):
        return api_error(
            outcome.status, outcome.code, outcome.message, request_id=request_id, **outcome.extra
        )
    if isinstance(outcome, OapiError):
        raise TypeError(f"{endpoint.path}: a new-family rule raised an old-family error")
    if isinstance(outcome, Response):
        outcome.headers.update(api_headers(request_id))
        return outcome
    return JSONResponse(outcome, headers=api_headers(request_id))


def _refused(refusal: Refusal, app: AppConfig, family: Family, request_id: str) -> Response:
    """A grant the app lacks, in the family's words (§9.1, §9.2, §13.5)."""
    rid = request_id or None
    if refusal.kind == "ip":
        # The old text is the one §13.5 shows; the new message is [I].
        text = f"访问ip不在白名单之中,request ip={refusal.detail} appKey({app.app_key})"
        if family == "api":
            return api_error(403, "Forbidden.AccessDenied.IpNotInWhiteList", text, request_id=rid)
        return oapi_error(60020, text, request_id=rid)
    if refusal.kind == "scope":
        # The observed wording of a missing permission names it in brackets; the new family
        # also lists it in accessdenieddetail [I], where clients look for it first.
        text = f"应用尚未开通所需的权限：[{refusal.detail}]"
        if family == "api":
            return api_error(
                403,
                "Forbidden.AccessDenied.AccessTokenPermissionDenied",
                text,
                request_id=rid,
                accessdenieddetail={"requiredScopes": [refusal.detail]},
            )
        return oapi_error(60011, text, request_id=rid)
    text = f"企业当月调用量已超过限额：{refusal.detail}次"  # [I] the wording
    if family == "api":
        return api_error(403, "Forbidden.AccessDenied.ApiCountLimitForOrg", text, request_id=rid)
    return oapi_error(90020, text, request_id=rid)


def wrong_method(request: Request, allowed: Sequence[str]) -> Response:
    """A method the path does not take, in the family's shape: 43001 must be GET / 43002 must
    be POST (§9.1) [I: the errmsg], or a JSON 405 [I: the code and message]."""
    if family_of(request.url.path) == "api":
        return api_error(405, "MethodNotAllowed", f"请使用{'/'.join(allowed)}请求")
    code, text = (43001, "需要GET请求") if tuple(allowed) == ("GET",) else (43002, "需要POST请求")
    return oapi_error(code, text, request_id=new_request_id("oapi") if _topapi(request) else None)


async def read_body(request: Request, *, limit: int = _READ_LIMIT, cut: bool = False) -> bytes:
    """The body, at most ``limit`` bytes: past it, cut short (``cut``) or refused as a bad
    parameter without being read whole."""
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            if cut:
                break
            raise ParamError(f"请求体过大：最多{limit}字节")
    return b"".join(chunks)


def _parse_json(raw: bytes) -> Any:
    """The body's JSON; ``None`` when empty. Bad JSON is a parameter error of the family."""
    if not raw.strip():
        return None
    try:
        return parse_json_strict(raw)
    except ValueError as exc:
        raise ParamError(f"请求体不是合法的JSON：{exc}") from None


async def not_found(request: Request, exc: Exception) -> Response:
    """Unknown paths, in the shape of the family whose address space they are in, before any
    token check as the live gateways do (§0.3): errcode 22 under ``/topapi/``, a JSON 404
    under ``/v1.0/``, ``{"errcode":404,"errmsg":"请求的URI地址不存在"}`` for the other old
    paths (§0.3: what api.dingtalk.com answered for a path without ``/v1.0``; [I] that
    oapi.dingtalk.com answers the same), and a JSON 404 on the sandbox's own paths."""
    path = request.url.path
    if path.startswith("/topapi/"):
        api_name = "dingtalk.oapi." + path.removeprefix("/topapi/").strip("/").replace("/", ".")
        sub_msg = f"不合法ApiName，ApiName = {api_name}"
        return oapi_error(
            22,
            f"Invalid method[submsg={sub_msg}]",
            request_id=new_request_id("oapi"),
            sub_msg=sub_msg,
        )
    if path.startswith("/v1.0/"):
        # [I] the code and message of the Alibaba Cloud gateways for an unknown API.
        return api_error(
            404,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        )
    if path.startswith(("/_sandbox/", "/static/")):
        return JSONResponse({"error": f"no such sandbox path: {path}"}, status_code=404)
    return oapi_error(404, "请求的URI地址不存在")


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    """A wrong method on one of the sandbox's own routes: JSON, like the rest of the sandbox
    (DingTalk's own routes answer wrong methods themselves, in their family's shape)."""
    if family_of(request.url.path) == "api" or not request.url.path.startswith("/_sandbox/"):
        return wrong_method(request, ())
    return JSONResponse(
        {"error": f"{request.method} is not allowed on {request.url.path}"}, status_code=405
    )
