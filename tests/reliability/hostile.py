"""Hostile requests, for the property tests of every inbound route (issue 10, part 2).

The strategies draw what an attacker or a broken client sends: bodies that are not JSON,
JSON that Python accepts and DingTalk does not (NaN, Infinity, 1e999), nesting thousands
deep, integers past 2⁶³ or with 5,000 digits, lone surrogates, Unicode digits, wrong types
in every field; query strings and headers of the same; any content type. Routes are read
from the apps themselves (:func:`routes_of`), so a new route is fuzzed by being declared.

The case count per route is :func:`examples` (``DINGKIT_FUZZ_EXAMPLES``; ``pytest --slow``
raises it to 2,000); seeds are fixed (``derandomize``), so CI runs the same cases every time.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st
from starlette.routing import Route

#: Cases per route in an ordinary run; ``--slow`` (tests/conftest.py) makes it 2,000.
DEFAULT_EXAMPLES = 200


def examples() -> int:
    return int(os.environ.get("DINGKIT_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))


@dataclass(frozen=True)
class RouteUnderTest:
    path: str  # a template: /v1.0/calendar/users/{unionId}/...
    methods: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{'|'.join(self.methods)} {self.path}"


def routes_of(app: Any) -> list[RouteUnderTest]:
    """Every route an app serves (Starlette routes), with the methods it declares."""
    found = []
    for route in app.routes:
        if isinstance(route, Route):
            methods = tuple(sorted(set(route.methods or ("GET",)) - {"HEAD", "OPTIONS"}))
            found.append(RouteUnderTest(route.path, methods))
    return found


# ---- values ------------------------------------------------------------------------------

_LONE_SURROGATE = "\ud800"
_NASTY_TEXT = [
    "",
    " ",
    "０１２",  # full-width digits: int() accepts them, DingTalk does not
    "١٢٣",  # Arabic-Indic digits
    "9" * 5000,  # past Python's int-string limit
    str(2**63),
    str(-(2**63) - 1),
    "-1",
    "1e999",
    "NaN",
    "null",
    "<script>alert(1)</script>",
    "javascript:alert(1)",
    "'; DROP TABLE robots; --",
    "../../etc/passwd",
    "%00",
    "\x00",
    "a" * 70_000,
    "😀" * 100,
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**80),
    st.integers(max_value=-(2**63) + 1, min_value=-(2**80)),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(_NASTY_TEXT),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


_KNOWN_FIELDS = [
    "msgtype", "text", "content", "markdown", "title", "at", "atMobiles", "atUserIds",
    "isAtAll", "link", "actionCard", "feedCard", "btns", "messageUrl", "picUrl", "msgUuid",
    "appkey", "appsecret", "appKey", "appSecret", "corpid", "corpsecret",
    "dept_id", "userid", "userid_list", "mobile", "cursor", "size", "offset", "length",
    "language", "parent_id", "name", "order", "workDateFrom", "workDateTo", "userIdList",
    "userIds", "checkDateFrom", "checkDateTo", "isI18n", "processCode", "process_code",
    "originatorUserId", "originator_user_id", "deptId", "formComponentValues",
    "form_component_values", "approvers", "ccList", "process_instance_id",
    "processInstanceId", "taskId", "result", "remark", "actionerUserId", "startTime",
    "endTime", "maxResults", "nextToken", "summary", "description", "start", "end",
    "dateTime", "timeZone", "date", "isAllDay", "attendees", "location", "reminders",
    "agent_id", "msg", "to_all_user", "task_id", "msg_task_id", "url", "token", "aes_key",
    "call_back_tag", "enabled", "disabled", "action", "department", "dept_id_list",
    "position", "title", "email", "hired_date", "signature", "timestamp", "nonce", "encrypt",
]  # fmt: skip

# The names DingTalk's bodies use, so that hostile values reach the rules behind them.
field_names = st.one_of(st.sampled_from(_KNOWN_FIELDS), st.text(max_size=12))
objects = st.dictionaries(field_names, json_values, max_size=8)


bodies = st.one_of(
    objects.map(lambda value: json.dumps(value).encode()),
    # Raw UTF-8 (lone surrogates written as such): what a careless client's encoder sends.
    objects.map(
        lambda value: json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    ),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.sampled_from(
        [
            b"",
            b"{",
            b"null",
            b"[]",
            b'{"msgtype": NaN}',
            b'{"size": Infinity}',
            b'{"size": 1e999}',
            b'{"a": -Infinity}',
            b"[" * 5000 + b"]" * 5000,
            b'{"a":' * 3000 + b"1" + b"}" * 3000,
            b'{"text": {"content": "\\ud800"}}',
            b'{"encrypt": "\\udfff"}',
            b'{"dept_id": ' + b"9" * 5000 + b"}",
            b"\xff\xfe\x00garbage",
            b'{"a": 1, "a": 2}',
            '{"msgtype": "text", "text": {"content": "١٢٣"}}'.encode(),
        ]
    ),
    st.binary(max_size=200),
)

content_types = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=gbk",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
            "application/json; charset=\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
        ]
    ),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
).map(str.strip)  # h11, on the client side, sends no header with edge whitespace


def _query_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


queries = st.dictionaries(
    st.one_of(
        st.sampled_from([*_KNOWN_FIELDS, "access_token", "robot", "after", "limit", "group"]),
        st.text(max_size=10),
    ),
    # Under 8,000 characters: httpx refuses a URL over 65,536, and the point is the server.
    st.one_of(scalars.map(_query_value), st.sampled_from(_NASTY_TEXT[:15])).filter(
        lambda value: len(value) < 8000
    ),
    max_size=5,
)  # fmt: skip


def encode_query(params: dict[str, str]) -> str:
    return "&".join(
        f"{quote(k.encode('utf-8', 'surrogatepass'), safe='')}="
        f"{quote(v.encode('utf-8', 'surrogatepass'), safe='')}"
        for k, v in params.items()
    )


path_parts = st.one_of(
    st.text(max_size=20).filter(lambda t: "/" not in t),
    st.sampled_from(["1", "0", "-1", str(2**63), "9" * 5000, "０", "%00", "..", "demo"]),
)


def fill(template: str, values: Iterable[str]) -> str:
    """``/a/{x}/{y:int}`` with each placeholder replaced, URL-quoted."""
    parts = iter(values)
    return re.sub(
        r"\{[^}]+\}",
        lambda _: quote(next(parts).encode("utf-8", "surrogatepass"), safe="") or "x",
        template,
    )


header_values = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=60),
    st.sampled_from(["", "0", "-1", "9" * 400, "null"]),
).map(str.strip)
header_names = st.sampled_from(
    [
        "x-acs-dingtalk-access-token",
        "Origin",
        "X-Forwarded-For",
        "Content-Length-Not",
        "Accept",
        "Authorization",
        "X-Dingkit-Admin-Token",
        "Cookie",
    ]
)
headers = st.dictionaries(header_names, header_values, max_size=3)
