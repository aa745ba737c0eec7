"""What ``DingTalk`` and ``AsyncDingTalk`` share: configuration and every decision that needs
no I/O (request building and answer parsing live in :mod:`._request`, the token flow in
:mod:`._auth`, retry decisions in :mod:`._retry`, the QPS arithmetic in :mod:`._ratelimit`).
Only the send loop is written twice, in ``_client.py`` and ``_async_client.py``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypedDict, TypeVar

import httpx

from ._auth import TokenEndpoint, TokenManager, TokenStore
from ._config import api_base_url, oapi_base_url
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConfigurationError,
    DingTalkError,
)
from ._ratelimit import LimiterRegistry
from ._redact import redact_http_logs, redact_url
from ._request import APIRequest, HTTPCall, build_call
from ._retry import DEFAULT_RETRY, RetryPolicy
from ._wire import family_of

__all__ = ["DEFAULT_QPS", "DEFAULT_TIMEOUT", "ClientSettings"]

T = TypeVar("T")
logger = logging.getLogger("dingkit.client")
#: One line per request and its answer (``dingkit -v`` shows them): method, path (never the
#: query, which may hold the token), HTTP status, errcode or code, milliseconds.
http_logger = logging.getLogger("dingkit.http")

#: DingTalk allows each app 20 calls per second per API on the standard edition (§9.3).
DEFAULT_QPS = 20.0
#: Seconds added to the client's QPS window (see _limiters): 0.1 let a burst on a busy machine
#: (the sandbox in the same process, its thread waiting for the GIL) land 21 calls in one
#: second in a suite run; 0.2 keeps 16.7 calls a second of the 20 allowed.
QPS_MARGIN = 0.2
DEFAULT_TIMEOUT = 10.0

_LIMITERS: dict[tuple[float, Callable[[], float] | None], LimiterRegistry] = {}
_LIMITERS_LOCK = threading.Lock()


def _limiters(qps: float, clock: Callable[[], float] | None = None) -> LimiterRegistry:
    """The process-wide limiter registry for a QPS setting: shared by every client on the same
    clock (``None``: the real, monotonic one; a test's fake clock gets a registry of its own,
    so that the waits its fake ``sleep`` takes are measured on the clock they move)."""
    with _LIMITERS_LOCK:
        registry = _LIMITERS.get((qps, clock))
        if registry is None:
            # At most `qps` calls in any window of a second and a little, counted per (app,
            # API): DingTalk counts arrivals, and calls sent just inside one second that land
            # a few milliseconds apart would otherwise make 21 in its second (90018, seen
            # against the sandbox) — the robot window keeps such a margin too.
            registry = _LIMITERS[(qps, clock)] = LimiterRegistry(
                max(1, int(qps)), 1.0 + QPS_MARGIN, clock=clock or time.monotonic
            )
        return registry


class ClientSettings(TypedDict, total=False):
    """The keyword arguments shared by :class:`DingTalk` and :class:`AsyncDingTalk`."""

    token_endpoint: TokenEndpoint
    token_store: TokenStore | None
    oapi_base: str | None
    api_base: str | None
    retry: RetryPolicy
    qps: float | None
    timeout: float
    environ: Mapping[str, str] | None
    clock: Callable[[], float]


class _ClientBase:
    """Configuration and the decisions shared by both clients."""

    def __init__(
        self,
        app_key: str | None = None,
        app_secret: str | None = None,
        *,
        token_endpoint: TokenEndpoint = "new",
        token_store: TokenStore | None = None,
        oapi_base: str | None = None,
        api_base: str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        qps: float | None = DEFAULT_QPS,
        timeout: float = DEFAULT_TIMEOUT,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        env = os.environ if environ is None else environ
        #: Where settings come from; resources read theirs here too (``DINGTALK_AGENT_ID``).
        self.environ: Mapping[str, str] = env
        app_key = app_key or env.get("DINGTALK_APP_KEY", "").strip() or None
        app_secret = app_secret or env.get("DINGTALK_APP_SECRET", "").strip() or None
        if not app_key or not app_secret:
            raise ConfigurationError(
                "no app credentials: pass app_key= and app_secret=, or set DINGTALK_APP_KEY "
                "and DINGTALK_APP_SECRET (the app's Client ID and Client Secret)"
            )
        if token_endpoint not in ("new", "old"):
            raise ConfigurationError("token_endpoint must be 'new' or 'old'")
        self.oapi_base = (oapi_base or oapi_base_url(env)).rstrip("/")
        self.api_base = (api_base or api_base_url(env)).rstrip("/")
        self.tokens = TokenManager(
            app_key,
            app_secret,
            endpoint=token_endpoint,
            store=token_store,
            clock=clock,
            base_url=self.api_base if token_endpoint == "new" else self.oapi_base,
        )
        self.retry = retry
        self.timeout = timeout
        #: Epoch seconds now: token expiry, and the end of a 900xx ban in ``retry_after``.
        self.clock = clock
        self._limits = _limiters(qps, None if clock is time.time else clock) if qps else None
        redact_http_logs()

    @property
    def app_key(self) -> str:
        return self.tokens.app_key

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(app_key={self.app_key!r}, oapi={self.oapi_base!r}, "
            f"api={self.api_base!r})"
        )

    def _slot_delay(self, request: APIRequest[Any]) -> float:
        if self._limits is None or not request.auth:
            return 0.0
        return self._limits.window(f"{self.app_key} {request.api_name}").reserve()

    def _call(self, request: APIRequest[Any], token: str | None) -> HTTPCall:
        return build_call(request, token=token, oapi_base=self.oapi_base, api_base=self.api_base)

    def _connection_error(
        self, exc: httpx.HTTPError, request: APIRequest[Any]
    ) -> APIConnectionError:
        cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
        detail = redact_url(str(exc)) or type(exc).__name__
        if family_of(request.path) == "api":
            base, setting = self.api_base, "DINGTALK_API_BASE_URL"
        else:
            base, setting = self.oapi_base, "DINGTALK_OAPI_BASE_URL"
        return cls(
            f"{request.method} {request.path}: could not reach {base}: {detail}", setting=setting
        )

    @staticmethod
    def _log_exchange(
        request: APIRequest[Any], status: int | None, error: DingTalkError | None, started: float
    ) -> None:
        if not http_logger.isEnabledFor(logging.DEBUG):
            return
        ms = (time.monotonic() - started) * 1000
        if status is None:
            outcome = f"no answer ({type(error).__name__})"
        elif isinstance(error, APIError) and error.errcode is not None:
            outcome = f"{status} errcode {error.errcode}"
        elif isinstance(error, APIError):
            outcome = f"{status} {error.code}"
        elif error is not None:
            outcome = f"{status} {type(error).__name__}"
        else:
            outcome = f"{status} ok"
        http_logger.debug("%s %s -> %s (%.0f ms)", request.method, request.path, outcome, ms)

    def _may_retry(
        self, attempt: int, error: DingTalkError, request: APIRequest[Any], sent: bool
    ) -> bool:
        if isinstance(error, APIConnectionError) and sent and not request.idempotent:
            # The request may have been carried out; repeating it could do it twice.
            return False
        return self.retry.should_retry(attempt, error)

    def _log_retry(
        self, request: APIRequest[Any], attempt: int, error: DingTalkError, delay: float
    ) -> None:
        logger.warning(
            "%s %s: try %d failed (%s); retrying in %.2f s",
            request.method,
            request.path,
            attempt,
            error,
            delay,
        )


def _sent(exc: httpx.HTTPError) -> bool:
    """Whether the request may have reached DingTalk (not for connect failures)."""
    return not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
