"""Facts of DingTalk's wire that the client and the sandbox both need, written once. No I/O.

The two server-API families (§0.3 of the protocol reference) differ in host, where the access
token goes and how errors come back; which family an endpoint belongs to follows from its
path alone. Dates and ``yyyy-MM-dd HH:mm:ss`` strings on the wire are China time.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any, Literal

__all__ = [
    "CHINA",
    "CHINA_TIME_FORMAT",
    "CHINA_ZONE_NAME",
    "MAX_JSON_DEPTH",
    "TOKEN_HEADER",
    "TOKEN_QUERY_PARAMETER",
    "Family",
    "china_midnight_ms",
    "family_of",
    "parse_json_strict",
]

Family = Literal["oapi", "api"]

#: New family: the access token travels in this request header (§0.3).
TOKEN_HEADER = "x-acs-dingtalk-access-token"
#: Old family: the access token travels in this query parameter (§0.3).
TOKEN_QUERY_PARAMETER = "access_token"
#: China Standard Time, UTC+8 without daylight saving: DingTalk's dates and the old APIs'
#: time strings are read in it (§3.5, §6).
CHINA = dt.timezone(dt.timedelta(hours=8), "CST")
#: China time's IANA name, for APIs that take a time-zone name (the calendar, §4.1).
CHINA_ZONE_NAME = "Asia/Shanghai"
#: The old APIs' time format (``"2026-10-01 09:00:00"``, China time).
CHINA_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

_NEW_FAMILY_PATH = re.compile(r"^/v\d+\.\d+/")


def family_of(path: str) -> Family:
    """``"api"`` for new-family paths (``/v1.0/...`` on api.dingtalk.com), ``"oapi"`` for the
    rest (``/topapi/...``, ``/gettoken``, ``/attendance/...``, ``/robot/send`` on
    oapi.dingtalk.com)."""
    return "api" if _NEW_FAMILY_PATH.match(path) else "oapi"


def china_midnight_ms(ms: int) -> int:
    """The start of the China day that the epoch milliseconds ``ms`` fall in (DingTalk's
    per-day limits count China days)."""
    day = dt.datetime.fromtimestamp(ms / 1000, CHINA).date()
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=CHINA).timestamp() * 1000)


def parse_json_strict(raw: bytes | str) -> Any:
    """JSON as DingTalk's servers read it: ``NaN``, ``Infinity`` and numbers too large for a
    double (``1e999``) are not JSON, nor is nesting past :data:`MAX_JSON_DEPTH`, an integer of
    more digits than Python converts, text that is not UTF-8 or a string with a lone
    surrogate.

    Raises:
        ValueError: the text is not JSON DingTalk would take (the message says why).
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        text.encode("utf-8")  # a lone surrogate cannot travel as UTF-8
        value = json.loads(text, parse_constant=_not_json, parse_float=_finite)
        if "\\u" in text:  # an escaped lone surrogate ("\ud800") parses, but is no text
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        return value
    except UnicodeError:
        raise ValueError("the body is not UTF-8 text (or holds a lone surrogate)") from None
    except RecursionError:
        raise ValueError(f"the JSON nests deeper than {MAX_JSON_DEPTH} levels") from None


#: Python's parser gives up (RecursionError) somewhere near here; DingTalk's limit is unknown.
MAX_JSON_DEPTH = 900


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value
