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
    from .._errcodes import lookup

    if error.errcode is None and error.code is None:
        # Refused by the client itself (its rate limiter): the message says it all.
        return str(error.message)
    code = error.errcode if error.errcode is not None else error.code
    infos = lookup(code) if code is not None else ()
    # A number can mean different things per family (40035): prefer the robot's reading
    # for robot errors, the server APIs' otherwise.
    preferred = [info for info in infos if (info.api == "robot") == (error.robot is not None)]
    candidates = preferred or list(infos)
    info = candidates[0] if candidates else None
    where = f"robot {error.robot!r}: " if error.robot else ""
    ident = f"errcode {error.errcode}" if error.errcode is not None else f"{error.code}"
    reason = f" ({error.reason})" if isinstance(error, SecurityCheckError) and error.reason else ""
    if info is None:
        return f"{where}{ident}{reason}: {error.message}"
    action = info.action
    if isinstance(error, SecurityCheckError) and error.reason in _SECURITY_ADVICE:
        action = _SECURITY_ADVICE[error.reason]
    return f"{where}{ident}{reason}: {info.meaning} {action}"


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
        line = f"{error} — check the network, or DINGTALK_OAPI_BASE_URL if you use the sandbox"
    else:
        line = str(error)
    if as_json:
        payload: dict[str, Any] = {"ok": False, "error": type(error).__name__, "message": line}
        if isinstance(error, APIError):
            payload.update(errcode=error.errcode, code=error.code, errmsg=error.message)
        print_json(payload)
    print(f"error: {line}", file=sys.stderr)
    raise SystemExit(code)
