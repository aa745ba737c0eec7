"""Server-API endpoints and requests as data, for both API families (§0.3). No I/O.

An :class:`Endpoint` declares one DingTalk endpoint once, next to its request builder in
``dingkit.resources``: method, path, the permission point it needs, the parameter error its
family answers, its limits. The client builds :class:`APIRequest` descriptions from it; the
sandbox registers its route from the same declaration, so the two cannot disagree::

    USER_GET = Endpoint("POST", "/topapi/v2/user/get", scope="qyapi_get_member")

    def user(userid: str) -> APIRequest[User]:
        return USER_GET.request(json={"userid": userid}, parse=...)

The sync and async clients execute the same descriptions, so building requests and parsing
answers exists once. The family follows from the path (:func:`dingkit._wire.family_of`):
``/v1.0/...`` is the new family (``api.dingtalk.com``, token header, errors as HTTP status +
``code``); everything else is the old one (``oapi.dingtalk.com``, token as ``access_token``
query parameter, errors as HTTP 200 + ``errcode``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from ._errors import error_from_response
from ._exceptions import ServerError
from ._wire import TOKEN_HEADER, TOKEN_QUERY_PARAMETER, Family, family_of

__all__ = [
    "APIRequest",
    "Endpoint",
    "Family",
    "HTTPCall",
    "build_call",
    "family_of",
    "parse_answer",
]

T = TypeVar("T")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _as_is(data: Any) -> Any:
    return data


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One DingTalk server endpoint, declared once for the client and the sandbox.

    Args:
        method: the HTTP method the client uses.
        path: the path on the family's host; ``{name}`` marks a path parameter, e.g.
            ``/v1.0/calendar/users/{unionId}/calendars/{calendarId}/events``.
        scope: the permission point (权限点) an app must be granted in the developer console
            to call it; ``None`` when every app may (tokens, the robot webhook).
        param_error: what the family answers for a malformed parameter: an ``errcode`` (old
            family, 400002 unless the endpoint's page says otherwise) or a ``code`` (new
            family, ``invalidParameter``).
        page_size: the largest page the endpoint serves, for paged lists.
        max_body_bytes: the largest request body DingTalk accepts, where documented.
        auth: whether the call carries an access token (the token endpoints do not).
        idempotent: whether repeating it after a lost answer is harmless.
        methods: every method the server accepts on this path for this endpoint, when the
            reference leaves it open (default: ``method`` alone).
        aliases: other spellings of the path the server also accepts.
        quota_exempt: exempt from the monthly call quota (tokens, identity and contacts
            APIs, §9.3).
    """

    method: str
    path: str
    scope: str | None = None
    param_error: int | str | None = None
    page_size: int | None = None
    max_body_bytes: int | None = None
    auth: bool = True
    idempotent: bool = True
    methods: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    quota_exempt: bool = False

    @property
    def family(self) -> Family:
        return family_of(self.path)

    @property
    def accepted_methods(self) -> tuple[str, ...]:
        return self.methods or (self.method,)

    @property
    def parameter_error(self) -> int | str:
        """The answer to a malformed parameter: ``param_error`` or the family's default."""
        if self.param_error is not None:
            return self.param_error
        return "invalidParameter" if self.family == "api" else 400002

    @property
    def path_parameters(self) -> tuple[str, ...]:
        return tuple(_PLACEHOLDER.findall(self.path))

    def url_path(self, **path_params: str) -> str:
        """The path with its parameters filled in, each quoted as one path segment."""
        missing = set(self.path_parameters) - set(path_params)
        if missing:
            raise ValueError(f"{self.path}: missing path parameters {sorted(missing)}")
        return _PLACEHOLDER.sub(lambda m: quote(str(path_params[m[1]]), safe=""), self.path)

    def request(
        self,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        parse: Callable[[Any], T] = _as_is,
        parse_json: Callable[[bytes], T] | None = None,
        idempotent: bool | None = None,
    ) -> APIRequest[T]:
        """A call to this endpoint; the QPS limit counts it under the path template."""
        return APIRequest(
            self.method,
            self.url_path(**(path_params or {})),
            params=params,
            json=json,
            parse=parse,
            parse_json=parse_json,
            auth=self.auth,
            idempotent=self.idempotent if idempotent is None else idempotent,
            api=self.path if self.path_parameters else None,
        )


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
            params[TOKEN_QUERY_PARAMETER] = token
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
