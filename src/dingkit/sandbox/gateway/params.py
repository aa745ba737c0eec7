"""Reading typed fields from a request body. A missing or malformed field raises
:class:`ParamError`, which the gateway turns into the endpoint family's parameter error
(an ``errcode`` such as 400002 or 40035, or HTTP 400 ``invalidParameter``).

Numbers may come as JSON numbers or as digit strings [I: the official doc examples write
numbers as strings (§0.3), and the old gateway reads parameters as text]; booleans likewise.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..._wire import CHINA, CHINA_TIME_FORMAT

__all__ = [
    "ParamError",
    "boolean",
    "choice",
    "integer",
    "obj",
    "string",
    "string_list",
    "timestamp",
]

#: The time format of the attendance APIs (§6).
TIME_FORMAT = CHINA_TIME_FORMAT


class ParamError(Exception):
    """A bad parameter; ``message`` names it (the errmsg / message the caller sees)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def obj(body: Any) -> dict[str, Any]:
    """The body as a JSON object (an empty body counts as ``{}``)."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ParamError("请求体必须是JSON对象")
    return body


def _missing(name: str) -> ParamError:
    return ParamError(f"缺少参数 {name}")


def integer(
    body: dict[str, Any],
    name: str,
    *,
    default: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    value = body.get(name)
    if value is None:
        if default is None:
            raise _missing(name)
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().removeprefix("-").isdigit():
        number = int(value)
    else:
        raise ParamError(f"参数 {name} 必须是整数")
    if minimum is not None and number < minimum:
        raise ParamError(f"参数 {name} 不能小于 {minimum}")
    if maximum is not None and number > maximum:
        raise ParamError(f"参数 {name} 不能大于 {maximum}")
    return number


def string(
    body: dict[str, Any], name: str, *, default: str | None = None, max_length: int = 1024
) -> str:
    value = body.get(name)
    if value is None or value == "":
        if default is None:
            raise _missing(name)
        return default
    if not isinstance(value, str) or len(value) > max_length:
        raise ParamError(f"参数 {name} 必须是不超过{max_length}个字符的字符串")
    return value


def boolean(body: dict[str, Any], name: str, *, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ParamError(f"参数 {name} 必须是布尔值")


def choice(body: dict[str, Any], name: str, options: Sequence[str], *, default: str) -> str:
    value = string(body, name, default=default)
    if value not in options:
        raise ParamError(f"参数 {name} 必须是 {'、'.join(options)} 之一")
    return value


def string_list(body: dict[str, Any], name: str, *, max_items: int) -> list[str]:
    """A required, non-empty list of strings, at most ``max_items`` long."""
    value = body.get(name)
    if value is None or value == []:
        raise _missing(name)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ParamError(f"参数 {name} 必须是字符串列表")
    if len(value) > max_items:
        raise ParamError(f"参数 {name} 最多{max_items}个，实际{len(value)}个")
    return value


def timestamp(body: dict[str, Any], name: str) -> datetime:
    """A ``yyyy-MM-dd HH:mm:ss`` time, read in China time."""
    value = string(body, name, max_length=32)
    try:
        return datetime.strptime(value.strip(), TIME_FORMAT).replace(tzinfo=CHINA)
    except ValueError:
        raise ParamError(f"参数 {name} 的格式必须是 yyyy-MM-dd HH:mm:ss") from None
