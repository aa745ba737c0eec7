"""The two token endpoints (§1) and the sandbox's views of apps and token requests.

``GET /gettoken`` and ``POST /v1.0/oauth2/accessToken`` hand out the same token for an app.
They are exempt from the QPS limit and from the failure modes, so a client can always get a
token and then meet the failure on the call it makes with it.

Sandbox-only:
``GET /_sandbox/apps``; ``GET /_sandbox/tokens`` → ``{"requests": {"<app name>": n}, "issued":
{...}, "total": n}``; ``DELETE /_sandbox/tokens`` resets the counts; ``POST
/_sandbox/tokens/expire`` expires every token now.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..._auth import NEW_TOKEN, OLD_TOKEN
from ..._wire import parse_json_strict
from ..config import AppConfig
from ..gateway.answers import api_error, new_request_id, oapi_error
from ..gateway.pipeline import Gateway
from .issuer import failure_mode

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = ["routes"]

_BAD_CREDENTIALS_OLD = "不合法的appKey或appSecret"  # 40096, observed (§1.1)
_BAD_CREDENTIALS_NEW = "无效的clientId或者clientSecret"  # invalidClientIdOrSecret (§1.2)


def _check(sandbox: Sandbox, key: str, secret: str) -> AppConfig | None:
    """The app if the credentials match; every request naming a known app is counted."""
    app = sandbox.apps.by_key(key)
    if app is None:
        sandbox.tokens.count_unknown()
        return None
    sandbox.tokens.count_request(app)
    return app if hmac.compare_digest(app.app_secret.encode(), secret.encode()) else None


def routes(gateway: Gateway) -> list[Route]:
    sandbox = gateway.sandbox

    async def gettoken(request: Request) -> Response:
        key = request.query_params.get("appkey", "")
        secret = request.query_params.get("appsecret", "")
        if not key:
            # The live answer, also to a form body on a GET (§1.1).
            return oapi_error(40035, "缺少参数 corpid or appkey")
        if not secret:
            _check(sandbox, key, "")
            return oapi_error(40035, "缺少参数 appsecret")  # [I] the errmsg
        app = _check(sandbox, key, secret)
        if app is None:
            return oapi_error(40096, _BAD_CREDENTIALS_OLD)
        issued = sandbox.tokens.issue(app)
        return JSONResponse(
            {
                "errcode": 0,
                "errmsg": "ok",
                "access_token": issued.token,
                "expires_in": sandbox.tokens.ttl,
            }
        )

    async def access_token(request: Request) -> Response:
        request_id = new_request_id("api")
        body = await request.body()
        try:
            payload: Any = parse_json_strict(body) if body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict):
            return api_error(
                400, "invalidParameter", "请求体不是合法的JSON对象", request_id=request_id
            )
        key, secret = payload.get("appKey"), payload.get("appSecret")
        for name, value in (("appKey", key), ("appSecret", secret)):
            if not isinstance(value, str) or not value:
                # [I] the code for a missing field; §9.2 lists invalidParameter for bad input.
                return api_error(400, "invalidParameter", f"缺少参数 {name}", request_id=request_id)
        assert isinstance(key, str)
        assert isinstance(secret, str)
        app = _check(sandbox, key, secret)
        if app is None:
            return api_error(
                400, "invalidClientIdOrSecret", _BAD_CREDENTIALS_NEW, request_id=request_id
            )
        issued = sandbox.tokens.issue(app)
        return JSONResponse(
            {"accessToken": issued.token, "expireIn": sandbox.tokens.ttl},
            headers={"x-acs-request-id": request_id},
        )

    async def apps(request: Request) -> Response:
        return JSONResponse(
            {
                "apps": [
                    {
                        "name": app.name,
                        "app_key": app.app_key,
                        "app_secret": app.app_secret,
                        "agent_id": app.agent_id,
                        "failure_mode": mode.value if (mode := failure_mode(app.app_key)) else None,
                        # None: every permission / the whole organisation / no cap.
                        "scopes": None if app.scopes is None else list(app.scopes),
                        "visible_depts": (
                            None if app.visible_depts is None else list(app.visible_depts)
                        ),
                        "ip_allowlist": list(app.ip_allowlist),
                        "monthly_quota": app.monthly_quota,
                    }
                    for app in sandbox.apps.all()
                ]
            }
        )

    async def tokens(request: Request) -> Response:
        if request.method == "DELETE":
            sandbox.tokens.reset_counts()
        return JSONResponse(sandbox.tokens.summary())

    async def expire_tokens(request: Request) -> Response:
        return JSONResponse({"expired": sandbox.tokens.expire_all()})

    return [
        *gateway.routes([(OLD_TOKEN, gettoken), (NEW_TOKEN, access_token)]),
        Route("/_sandbox/apps", apps, methods=["GET"]),
        Route("/_sandbox/tokens", tokens, methods=["GET", "DELETE"]),
        Route("/_sandbox/tokens/expire", expire_tokens, methods=["POST"]),
    ]
