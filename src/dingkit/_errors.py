"""Turning DingTalk's answer into an exception: one function for both API families. No I/O.

The old family answers HTTP 200 with a non-zero ``errcode``; the new family answers an HTTP
error status with ``{"code", "message", "requestid"}`` (§0.3). :func:`error_from_response`
reads the status and the body together and picks the class from the tree in
``_exceptions``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    RobotGoneError,
    SecurityCheckError,
    ServerError,
)

__all__ = ["ROBOT_BLOCK_SECONDS", "error_from_response", "security_check_reason"]

#: A custom robot over its rate limit is blocked for 10 minutes (§2.3).
ROBOT_BLOCK_SECONDS = 600.0

_ERRCODE_CLASSES: dict[int, type[APIError]] = {
    # Custom robot (§2.5)
    310000: SecurityCheckError,
    300001: AuthenticationError,
    300005: AuthenticationError,
    400101: AuthenticationError,
    130101: RateLimitError,
    410100: RateLimitError,
    660026: RateLimitError,
    460101: PayloadTooLargeError,
    101002: PayloadTooLargeError,
    400402: BadRequestError,
    40035: BadRequestError,
    43004: BadRequestError,
    400105: BadRequestError,
    400013: RobotGoneError,
    400102: RobotGoneError,
    400106: RobotGoneError,
    -1: ServerError,
    # Old server API (§9.1)
    15: ServerError,
    88004: ServerError,
    40001: AuthenticationError,
    40014: AuthenticationError,
    40089: AuthenticationError,
    40096: AuthenticationError,
    41001: AuthenticationError,
    42001: AuthenticationError,
    40104: BadRequestError,
    41041: BadRequestError,
    43001: BadRequestError,
    43002: BadRequestError,
    43005: BadRequestError,
    400002: BadRequestError,
    33012: BadRequestError,
    43007: PermissionDeniedError,
    50002: PermissionDeniedError,
    50004: PermissionDeniedError,
    60011: PermissionDeniedError,
    60020: PermissionDeniedError,
    60003: NotFoundError,
    60121: NotFoundError,
    90002: RateLimitError,
    90018: RateLimitError,
    90020: RateLimitError,
}

_ROBOT_RATE_LIMIT_ERRCODES = frozenset({130101, 410100, 660026})

_HTTP_CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
}

_SECURITY_REASONS = (
    # (reason, patterns seen in the three errmsg eras of §2.5)
    ("keyword", re.compile(r"keyword|关键词")),
    ("timestamp", re.compile(r"timestamp|时间戳(?!必须)|过期")),
    ("signature", re.compile(r"\bsign\b|signature|签名")),
    ("ip", re.compile(r"\bip\b|whitelist|白名单", re.IGNORECASE)),
)


def security_check_reason(errmsg: str) -> str | None:
    """``keyword``, ``timestamp``, ``signature`` or ``ip`` from a 310000 errmsg, if recognisable."""
    for reason, pattern in _SECURITY_REASONS:
        if pattern.search(errmsg):
            return reason
    return None


def _as_int(value: Any) -> int | None:
    # Doc examples print numbers as strings (§0.3); accept both.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def error_from_response(
    http_status: int,
    body: Mapping[str, Any] | None,
    *,
    robot: str | None = None,
    text: str = "",
) -> APIError | None:
    """The error a response stands for, or ``None`` when it is a success.

    Args:
        http_status: the HTTP status.
        body: the parsed JSON object, or ``None`` when the body was not a JSON object.
        robot: the robot's name, carried by the error (never its token).
        text: the raw body, used to describe answers that are neither API shape.
    """
    body = body or {}
    errcode = _as_int(body.get("errcode"))
    request_id = body.get("request_id") or body.get("requestid") or None
    if errcode is not None and errcode != 0:
        message = str(body.get("errmsg") or "")
        sub_code = body.get("sub_code")
        if errcode == 88 and sub_code not in (None, ""):
            # /topapi wraps gateway auth errors as 88 + sub_code: read the sub-code (§0.3).
            inner = _as_int(sub_code)
            cls = _ERRCODE_CLASSES.get(inner, APIError) if inner is not None else APIError
            return cls(
                message,
                errcode=88,
                code=str(sub_code),
                http_status=http_status,
                request_id=request_id,
                robot=robot,
            )
        return _make(errcode, message, http_status, request_id, robot)
    if body.get("punish") == "deny":
        # The per-IP ban answers with neither error shape (§9.3), whatever the HTTP status;
        # `wait` is in minutes.
        wait = _as_int(body.get("wait")) or 5
        return RateLimitError(
            f"this IP is banned for {wait} minutes (too many calls)",
            http_status=http_status,
            retry_after=wait * 60.0,
            robot=robot,
        )
    if 200 <= http_status < 300 and (errcode == 0 or "errcode" not in body):
        return None
    code = body.get("code")
    if isinstance(code, str) and code:
        return _from_code(code, str(body.get("message") or ""), http_status, request_id, robot)
    if http_status >= 500:
        return ServerError(
            f"DingTalk answered HTTP {http_status}", http_status=http_status, robot=robot
        )
    if http_status == 429:
        return RateLimitError("throttled (HTTP 429)", retry_after=1.0, http_status=429, robot=robot)
    snippet = " ".join(text.split())[:120]
    cls = _HTTP_CLASSES.get(http_status, APIError)
    return cls(
        f"unexpected answer (HTTP {http_status}): {snippet or 'empty body'}",
        http_status=http_status,
        robot=robot,
    )


def _make(
    errcode: int, message: str, http_status: int, request_id: str | None, robot: str | None
) -> APIError:
    cls = _ERRCODE_CLASSES.get(errcode)
    if cls is None:
        cls = APIError
    if cls is SecurityCheckError:
        return SecurityCheckError(
            message,
            reason=security_check_reason(message),
            errcode=errcode,
            http_status=http_status,
            request_id=request_id,
            robot=robot,
        )
    if cls is RateLimitError:
        # The custom-robot codes mean a 10-minute block whoever parses them (§2.3); the
        # server APIs' QPS codes clear within a second.
        robot_block = errcode in _ROBOT_RATE_LIMIT_ERRCODES or robot is not None
        retry_after: float | None = ROBOT_BLOCK_SECONDS if robot_block else 1.0
        if errcode == 90020:
            retry_after = None  # the monthly quota: not until next month
        return RateLimitError(
            message,
            retry_after=retry_after,
            errcode=errcode,
            http_status=http_status,
            request_id=request_id,
            robot=robot,
        )
    return cls(
        message, errcode=errcode, http_status=http_status, request_id=request_id, robot=robot
    )


def _from_code(
    code: str, message: str, http_status: int, request_id: str | None, robot: str | None
) -> APIError:
    if "QpsLimit" in code or "QpmLimit" in code or code in ("system.busy", "systemBusy"):
        retry_after = 60.0 if "Qpm" in code else 1.0
        return RateLimitError(
            message,
            retry_after=retry_after,
            code=code,
            http_status=http_status,
            request_id=request_id,
            robot=robot,
        )
    if code.endswith("ApiCountLimitForOrg"):
        return RateLimitError(
            message,
            retry_after=None,
            code=code,
            http_status=http_status,
            request_id=request_id,
            robot=robot,
        )
    if code in ("InvalidAuthentication", "invalidClientIdOrSecret", "authFailed") or (
        code.startswith("AuthenticationFailed")
    ):
        cls: type[APIError] = AuthenticationError
    elif http_status >= 500:
        cls = ServerError
    else:
        cls = _HTTP_CLASSES.get(http_status, APIError)
    return cls(message, code=code, http_status=http_status, request_id=request_id, robot=robot)
