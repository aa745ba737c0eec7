"""Printing results and failures for people (default) or scripts (``--json``).

Plain ``print``: the send path must start fast, and one line per outcome needs no styling.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from .._exceptions import (
    APIConnectionError,
    APIError,
    ConfigurationError,
    DingTalkError,
    MessageValidationError,
    PermissionDeniedError,
    RateLimitError,
    SecurityCheckError,
)

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "fail", "print_json"]

EXIT_OK = 0
#: DingTalk refused, or the network failed.
EXIT_FAILED = 1
#: Bad usage or configuration.
EXIT_USAGE = 2


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _explain(error: APIError) -> str:
    """One line: who refused, the code, DingTalk's own words, then the catalogue's English
    meaning and what to do (the same row the SDK chose the error class from)."""
    from .._errcodes import info_for_error

    if error.errcode is None and error.code is None and error.http_status is None:
        # Refused by the client itself (its rate limiter): the message says it all, and the
        # wait is also given as `retry_after`, the name scripts find in --json output.
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            return f"{error.message} (retry_after={error.retry_after:.1f})"
        return str(error.message)
    info = info_for_error(error)
    where = f"robot {error.robot!r}: " if error.robot else ""
    if error.errcode is not None:
        ident = f"errcode {error.errcode}: "
    else:
        ident = f"{error.code}: " if error.code else ""  # a bare HTTP status: said in the text
    if isinstance(error, SecurityCheckError) and error.reason:
        ident = f"{ident[:-2]} ({error.reason}): "
    said = " ".join(error.message.split())
    if isinstance(error, PermissionDeniedError) and error.scope:
        said = (
            f"the app lacks permission {error.scope}: grant it in the developer console "
            f"(DingTalk: {said})"
        )
    if info is None:
        return f"{where}{ident}{said}"
    action = info.action
    if isinstance(error, SecurityCheckError) and error.reason in _SECURITY_ADVICE:
        action = _SECURITY_ADVICE[error.reason]
    if isinstance(error, RateLimitError) and error.retry_after:
        action += f" Retry in {error.retry_after:.0f} s at the earliest."
    said = f"{said} — " if said else ""
    return f"{where}{ident}{said}{info.meaning} {action}"


_SECURITY_ADVICE = {
    "keyword": "Put one of the robot's keywords in the message, or pass --keyword.",
    "signature": "Check the robot's secret (DINGTALK_ROBOT_SECRET or the profile's secret).",
    "timestamp": "Check this machine's clock: it must be within an hour of DingTalk's.",
    "ip": "Send from an address in the robot's IP allow-list, or add this one to it.",
}


def fail(error: DingTalkError, *, as_json: bool = False) -> NoReturn:
    """Report an expected failure in one line and exit with its code (1 or 2)."""
    usage = isinstance(error, ConfigurationError | MessageValidationError)
    code = EXIT_USAGE if usage else EXIT_FAILED
    if isinstance(error, APIError):
        line = _explain(error)
    elif isinstance(error, APIConnectionError):
        setting = error.setting or "DINGTALK_OAPI_BASE_URL"
        # A base URL points at the sandbox; other settings (DINGKIT_REDIS_URL) do not.
        sandbox = " if you use the sandbox" if setting.endswith("_BASE_URL") else ""
        line = f"{error} — check the network, or {setting}{sandbox}"
    else:
        line = str(error)
    if as_json:
        payload: dict[str, Any] = {"ok": False, "error": type(error).__name__, "message": line}
        if isinstance(error, APIError):
            payload.update(errcode=error.errcode, code=error.code, errmsg=error.message)
        if isinstance(error, RateLimitError):
            payload["retry_after"] = error.retry_after
        print_json(payload)
    print(f"error: {line}", file=sys.stderr)
    raise SystemExit(code)
