"""DingTalk's address space answers in its families' shapes whatever a client sends: an unknown
path, a wrong method, before any token check (§0.3). No plain-text answer anywhere, on the
sandbox's own paths either."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dingkit.resources import all_endpoints
from dingkit.sandbox import Sandbox

pytestmark = pytest.mark.anyio

OpenSandbox = Callable[..., Sandbox]
Connect = Callable[..., Any]
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _path(template: str) -> str:
    return (
        template.replace("{unionId}", "u1")
        .replace("{calendarId}", "primary")
        .replace("{eventId}", "e1")
    )


#: Every method some endpoint takes on each path (several endpoints may share a path).
_TAKEN: dict[str, set[str]] = {}
for _endpoint in all_endpoints():
    for _path_or_alias in (_endpoint.path, *_endpoint.aliases):
        _TAKEN.setdefault(_path_or_alias, set()).update(_endpoint.accepted_methods)
WRONG_METHODS = [
    (endpoint, method)
    for endpoint in all_endpoints()
    for method in METHODS
    if method not in _TAKEN[endpoint.path]
]


@pytest.mark.parametrize(
    ("endpoint", "method"),
    WRONG_METHODS,
    ids=[f"{method} {endpoint.path}" for endpoint, method in WRONG_METHODS],
)
async def test_a_wrong_method_answers_in_the_family_shape(
    open_sandbox: OpenSandbox, connect: Connect, endpoint: Any, method: str
) -> None:
    client = connect(open_sandbox())
    response = await client.http.request(method, _path(endpoint.path))
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    if endpoint.family == "api":
        assert response.status_code == 405
        assert (body["code"], bool(body["requestid"])) == ("MethodNotAllowed", True)
    else:
        assert response.status_code == 200  # the old family's errors are HTTP 200 (§0.3)
        expected = 43001 if _TAKEN[endpoint.path] == {"GET"} else 43002
        assert body["errcode"] == expected, body


@pytest.mark.parametrize(
    ("path", "status", "key", "value"),
    [
        ("/topapi/v2/user/nothing", 200, "errcode", 22),
        ("/topapi/processinstance/nothing", 200, "errcode", 22),
        ("/v1.0/nothing/here", 404, "code", "InvalidAction.NotFound"),
        ("/v1.0/workflow/processInstances/x/y", 404, "code", "InvalidAction.NotFound"),
        ("/attendance/nothing", 200, "errcode", 404),
        ("/call_back/nothing", 200, "errcode", 404),
        ("/robot/nothing", 200, "errcode", 404),
        ("/gettoken/extra", 200, "errcode", 404),
        ("/no/such/page", 200, "errcode", 404),
        ("/_sandbox/nothing", 404, "error", None),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
async def test_unknown_paths_answer_json_in_their_family_shape(
    open_sandbox: OpenSandbox,
    connect: Connect,
    path: str,
    status: int,
    key: str,
    value: Any,
    method: str,
) -> None:
    client = connect(open_sandbox())
    response = await client.http.request(
        method, path, params={"access_token": "x"}, json={} if method == "POST" else None
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert key in body
    if value is not None:
        assert body[key] == value


async def test_a_wrong_method_on_a_sandbox_route_is_json_too(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    client = connect(open_sandbox())
    response = await client.http.put("/_sandbox/messages")
    assert response.status_code == 405
    assert "PUT" in response.json()["error"]
