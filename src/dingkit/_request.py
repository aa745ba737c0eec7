"""Server-API requests as data, for both API families (§0.3). No I/O.

Every endpoint of the SDK is a function that returns an :class:`APIRequest`: method, path,
parameters, body, and how to read the answer. The sync and async clients execute the same
descriptions, so building requests and parsing answers exists once.

The family follows from the path: ``/v1.0/...`` is the new family (``api.dingtalk.com``, token
in the ``x-acs-dingtalk-access-token`` header, errors as HTTP status + ``code``); everything
else is the old one (``oapi.dingtalk.com``, token as ``access_token`` query parameter, errors as
HTTP 200 + ``errcode``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from ._errors import error_from_response
from ._exceptions import ServerError

__all__ = ["APIRequest", "Family", "HTTPCall", "build_call", "family_of", "parse_answer"]

T = TypeVar("T")
Family = Literal["oapi", "api"]

_NEW_FAMILY_PATH = re.compile(r"^/v\d+\.\d+/")
TOKEN_HEADER = "x-acs-dingtalk-access-token"


def family_of(path: str) -> Family:
    """``"api"`` for new-family paths (``/v1.0/...``), ``"oapi"`` for the rest."""
    return "api" if _NEW_FAMILY_PATH.match(path) else "oapi"


def _as_is(data: Any) -> Any:
    return data


@dataclass(frozen=True, slots=True)
class APIRequest(Generic[T]):
    """One call to a DingTalk server API.

    Args:
        method: HTTP method.
        path: the path on the family's host, e.g. ``/topapi/v2/user/get``.
        params: query parameters (the access token is added by the client).
        json: the JSON body, if any.
        parse: turns the decoded JSON answer into the result.
        parse_json: optionally, a faster way to the result of a *successful* answer, straight
            from its bytes (a pydantic model of the whole answer validates JSON in one pass,
            without building the dicts ``parse`` reads). It raises ``ValueError`` for
            anything else, which then takes the general path: error mapping, then ``parse``.
            Worth it only for bulk answers (user lists).
        auth: whether the call needs an access token (the token endpoints do not).
        idempotent: whether repeating it after a lost answer is harmless; non-idempotent
            calls are not retried after network errors, only after answers that say
            DingTalk did nothing (throttled, busy).
        api: the name the client-side QPS limit counts under (default: the path; paths with
            ids in them give a template here, e.g. ``/v1.0/calendar/users/{unionId}/...``).
    """

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    parse: Callable[[Any], T] = field(default=_as_is)
    parse_json: Callable[[bytes], T] | None = None
    auth: bool = True
    idempotent: bool = True
    api: str | None = None

    @property
    def family(self) -> Family:
        return family_of(self.path)

    @property
    def api_name(self) -> str:
        return self.api or self.path


@dataclass(frozen=True, slots=True)
class HTTPCall:
    """What to hand to an HTTP client for one attempt of a request."""

    method: str
    url: str
    params: dict[str, Any]
    headers: dict[str, str]
    content: bytes | None


def build_call(
    request: APIRequest[Any], *, token: str | None, oapi_base: str, api_base: str
) -> HTTPCall:
    """The HTTP call for ``request``, carrying ``token`` where its family wants it."""
    params = {key: value for key, value in (request.params or {}).items() if value is not None}
    headers = {"Accept": "application/json"}
    if request.family == "api":
        base = api_base
        if request.auth and token is not None:
            headers[TOKEN_HEADER] = token
    else:
        base = oapi_base
        if request.auth and token is not None:
            params["access_token"] = token
    content = None
    if request.json is not None:
        content = json.dumps(request.json, ensure_ascii=False, separators=(",", ":")).encode()
        headers["Content-Type"] = "application/json; charset=utf-8"
    return HTTPCall(request.method, base + request.path, params, headers, content)


def parse_answer(
    request: APIRequest[T],
    http_status: int,
    content: bytes,
    *,
    clock: Callable[[], float] = time.time,
) -> T:
    """The parsed result of an answer.

    ``clock`` (epoch seconds) dates the end of a 900xx ban for ``RateLimitError.retry_after``.

    Raises:
        APIError: the error the answer stands for, in either family's shape.
    """
    if request.parse_json is not None and 200 <= http_status < 300:
        try:
            return request.parse_json(content)
        except ValueError:
            pass  # an error answer, or a shape the fast path does not know: see below
    text = content.decode("utf-8", errors="replace")
    data: Any = None
    if text.strip():
        try:
            data = json.loads(text)
        except ValueError:
            data = None
    body = data if isinstance(data, dict) else None
    error = error_from_response(http_status, body, text=text, clock=clock)
    if error is not None:
        raise error
    if data is None and text.strip():
        # HTTP 2xx but not JSON: a proxy or the per-IP ban page (§9.3), not the API.
        snippet = " ".join(text.split())[:120]
        raise ServerError(f"the answer is not DingTalk JSON: {snippet}", http_status=http_status)
    try:
        return request.parse(data)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ServerError(
            f"unexpected answer shape from {request.path}: {exc!r}", http_status=http_status
        ) from None
