"""How each server-API family answers, and the failures a rule raises to get that answer.

Old family (``oapi``): HTTP 200 always, ``{"errcode", "errmsg"}`` plus ``request_id`` on
``/topapi/*`` (§0.3). New family (``api``): the HTTP status with ``{"requestid", "code",
"message"}`` and ``x-acs-request-id``/``x-acs-trace-id`` headers (§0.3).

A rule raises :class:`OapiError` or :class:`ApiError` (or :class:`~.params.ParamError`, which
becomes the endpoint's parameter error); the gateway turns it into the family's answer.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from starlette.responses import JSONResponse, Response

from ..._wire import Family

__all__ = [
    "ApiError",
    "OapiError",
    "api_error",
    "api_headers",
    "new_request_id",
    "oapi_error",
]


class OapiError(Exception):
    """An old-family failure: ``errcode``/``errmsg`` in an HTTP 200 body."""

    def __init__(self, errcode: int, errmsg: str, **extra: Any) -> None:
        super().__init__(f"errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.extra = extra


class ApiError(Exception):
    """A new-family failure: an HTTP status with ``code`` and ``message``."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


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


def api_error(
    status: int, code: str, message: str, *, request_id: str | None = None, **extra: Any
) -> Response:
    """A new-family error: the status, the body and the ``x-acs-*`` headers."""
    request_id = request_id or new_request_id("api")
    return JSONResponse(
        {"requestid": request_id, "code": code, "message": message, **extra},
        status_code=status,
        headers=api_headers(request_id),
    )


def api_headers(request_id: str) -> dict[str, str]:
    return {"x-acs-request-id": request_id, "x-acs-trace-id": secrets.token_hex(16)}
