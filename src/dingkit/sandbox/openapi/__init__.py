"""DingTalk's server APIs in the sandbox, both families on one address (§0.3): tokens (§1),
approval (§3), calendar (§4), contacts (§5), attendance (§6), event subscription (§7) and work
notifications (§12),
behind a shared :mod:`.gateway`.

    routes = openapi_routes(sandbox)   # mounted by sandbox.app.create_app

Modules: ``gateway`` (auth, errors, QPS, failure modes), ``params`` (typed body fields),
``tokens``, ``contacts``, ``attendance``, ``approval`` (with ``approval_common``,
``approval_old`` and ``approval_views``), ``calendar``, ``notifications``, ``callbacks``
(event subscription) and ``org_admin`` (the sandbox's own actions that change the
organisation). A new concern adds a module with a ``routes(gateway)`` function and joins the
list below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute

from . import (
    approval,
    approval_old,
    attendance,
    calendar,
    callbacks,
    contacts,
    notifications,
    org_admin,
    tokens,
)
from .gateway import Gateway, api_error, new_request_id, oapi_error

if TYPE_CHECKING:
    from ..app import Sandbox

__all__ = ["not_found", "openapi_routes"]


def openapi_routes(sandbox: Sandbox) -> list[BaseRoute]:
    gateway = Gateway(sandbox)
    return [
        *tokens.routes(sandbox),
        *contacts.routes(gateway),
        *attendance.routes(gateway),
        *approval.routes(gateway),
        *approval_old.routes(gateway),
        *calendar.routes(gateway),
        *notifications.routes(gateway),
        *callbacks.routes(gateway),
        *org_admin.routes(gateway),
    ]


async def not_found(request: Request, exc: Exception) -> Response:
    """Unknown paths: errcode 22 under ``/topapi/`` and HTTP 404 under ``/v1.0/``, before
    any token check, as the live gateways do (§0.3)."""
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
    detail = exc.detail if isinstance(exc, HTTPException) else "Not Found"
    return PlainTextResponse(detail, status_code=404)
