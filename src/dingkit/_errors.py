"""Turning DingTalk's answer into an exception: one function for both API families. No I/O.

The old family answers HTTP 200 with a non-zero ``errcode``; the new family answers an HTTP
error status with ``{"code", "message", "requestid"}`` (§0.3). :func:`error_from_response`
reads the status and the body together and picks the class, and the wait of a rate limit,
from the code's row in the error catalogue (:mod:`._errcodes`), so that a row added there
changes the class here too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

from ._errcodes import ErrorCodeInfo, ban_seconds_left, row_for, row_for_status
from ._errcodes._texts import ROBOT_BLOCK_SECONDS
from ._exceptions import (
    APIError,
    DingTalkError,
    PermissionDeniedError,
    RateLimitError,
    SecurityCheckError,
    ServerError,
)

__all__ = [
    "ROBOT_BLOCK_SECONDS",
    "error_from_response",
    "required_scope",
    "security_check_reason",
]


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
    clock: Callable[[], float] = time.time,
) -> APIError | None:
    """The error a response stands for, or ``None`` when it is a success.

    The class, ``retry_after`` and the rest come from the code's row in the error catalogue
    (:mod:`dingkit._errcodes`).

    Args:
        http_status: the HTTP status.
        body: the parsed JSON object, or ``None`` when the body was not a JSON object.
        robot: the robot's name, carried by the error (never its token).
        text: the raw body, used to describe answers that are neither API shape.
        clock: the current time in epoch seconds, for the end of a 900xx ban (tests inject it).
    """
    body = body or {}
    errcode = _as_int(body.get("errcode"))
    request_id = body.get("request_id") or body.get("requestid") or None
    fields = _Fields(http_status=http_status, request_id=request_id, robot=robot)
    if errcode is not None and errcode != 0:
        message = str(body.get("errmsg") or "")
        sub_code = body.get("sub_code")
        if errcode == 88 and sub_code not in (None, ""):
            # /topapi wraps gateway auth errors as 88 + sub_code: read the sub-code (§0.3).
            code = str(sub_code)
            info = row_for(code)
            return _make(info, message, body, clock, errcode=88, code=code, **fields)
        info = row_for(errcode, robot=robot is not None)
        return _make(info, message, body, clock, errcode=errcode, **fields)
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
    new_code = body.get("code")
    if isinstance(new_code, str) and new_code:
        info = row_for(new_code) or row_for_status(http_status)
        message = str(body.get("message") or "")
        return _make(info, message, body, clock, code=new_code, **fields)
    if http_status >= 500:
        message = f"DingTalk answered HTTP {http_status}"
    elif http_status == 429:
        message = "throttled (HTTP 429)"
    else:
        snippet = " ".join(text.split())[:120]
        message = f"unexpected answer (HTTP {http_status}): {snippet or 'empty body'}"
    fields["request_id"] = None
    return _make(row_for_status(http_status), message, body, clock, **fields)


class _Fields(TypedDict):
    http_status: int
    request_id: str | None
    robot: str | None


def _make(
    info: ErrorCodeInfo | None,
    message: str,
    body: Mapping[str, Any],
    clock: Callable[[], float],
    *,
    errcode: int | None = None,
    code: str | None = None,
    http_status: int,
    request_id: str | None,
    robot: str | None,
) -> APIError:
    raises: type[DingTalkError] = info.raises if info is not None else APIError
    # A callback-library row names no answer class; an unknown 5xx is DingTalk failing.
    cls: type[APIError] = raises if issubclass(raises, APIError) else APIError
    if info is None and http_status >= 500:
        cls = ServerError
    fields = _Fields(http_status=http_status, request_id=request_id, robot=robot)
    if issubclass(cls, SecurityCheckError):
        reason = security_check_reason(message)
        return cls(message, reason=reason, errcode=errcode, code=code, **fields)
    if issubclass(cls, RateLimitError):
        retry_after = info.wait if info is not None else None
        if info is not None and info.ban_end_in_message:
            # 900xx bans name their end in China time (§9.1): wait that long, and never
            # less than the row's own wait (90002/90018: at least 1 s, §9.4).
            left = ban_seconds_left(message, clock())
            if left is not None:
                retry_after = max(left, retry_after or 0.0)
        return cls(message, retry_after=retry_after, errcode=errcode, code=code, **fields)
    if issubclass(cls, PermissionDeniedError):
        scope = required_scope(body, message)
        return cls(message, scope=scope, errcode=errcode, code=code, **fields)
    return cls(message, errcode=errcode, code=code, **fields)


# "应用尚未开通所需的权限：[Contact.User.Read]" (the live 403 AccessTokenPermissionDenied text);
# the old family's 60011 is assumed to use the same bracket form [I].
_SCOPE_IN_MESSAGE = re.compile(r"所需的?权限\s*[:：]\s*\[\s*([^\[\]\s]+)\s*\]")


def required_scope(body: Mapping[str, Any], message: str) -> str | None:
    """The permission point a refusal names: ``accessdenieddetail.requiredScopes[0]`` of a
    new-family body, else the bracketed code in the message; ``None`` when neither says."""
    for key in ("accessdenieddetail", "accessDeniedDetail"):
        detail = body.get(key)
        if isinstance(detail, Mapping):
            scopes = detail.get("requiredScopes")
            first = scopes[0] if isinstance(scopes, list) and scopes else None
            if isinstance(first, str) and first.strip():
                return first.strip()
    match = _SCOPE_IN_MESSAGE.search(message)
    return match.group(1) if match else None
