"""dingkit: a Python toolkit for the DingTalk (钉钉) Open Platform.

    >>> from dingkit import Robot
    >>> Robot(token="...", secret="SEC...").send_text("hello")

Public names are imported on first use, so that ``import dingkit`` (and the CLI's start-up)
does not pay for the HTTP stack until something needs it.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# A library logs, the application decides where to: without this, Python's last-resort
# handler would print dingkit's warnings to stderr.
logging.getLogger("dingkit").addHandler(logging.NullHandler())

_EXPORTS = {
    # robot
    "Robot": "dingkit.robot.client",
    "AsyncRobot": "dingkit.robot.client",
    "RobotTarget": "dingkit.robot.target",
    "SendResult": "dingkit.robot.target",
    "Text": "dingkit.robot.messages",
    "Markdown": "dingkit.robot.messages",
    "Link": "dingkit.robot.messages",
    "ActionCard": "dingkit.robot.messages",
    "ActionButton": "dingkit.robot.messages",
    "FeedCard": "dingkit.robot.messages",
    "FeedLink": "dingkit.robot.messages",
    "At": "dingkit.robot.messages",
    # server APIs
    "DingTalk": "dingkit._client",
    "AsyncDingTalk": "dingkit._client",
    "APIRequest": "dingkit._request",
    "AccessToken": "dingkit._auth",
    "MemoryTokenStore": "dingkit._auth",
    "FileTokenStore": "dingkit._auth",
    "RedisTokenStore": "dingkit._redis_store",
    # policies
    "RetryPolicy": "dingkit._retry",
    "NO_RETRY": "dingkit._retry",
    "SlidingWindow": "dingkit._ratelimit",
    "MemoryRateLimitStore": "dingkit._ratelimit",
    "FileRateLimitStore": "dingkit._file_rate_store",
    "RedisRateLimitStore": "dingkit._redis_rate_store",
    # lists: what the list methods return
    "SyncPager": "dingkit._pagination",
    "AsyncPager": "dingkit._pagination",
    "Page": "dingkit._pagination",
    # errors
    "DingTalkError": "dingkit._exceptions",
    "ConfigurationError": "dingkit._exceptions",
    "MessageValidationError": "dingkit._exceptions",
    "BotMessageError": "dingkit._exceptions",
    "APIConnectionError": "dingkit._exceptions",
    "APITimeoutError": "dingkit._exceptions",
    "CallbackError": "dingkit._exceptions",
    "CallbackKeyError": "dingkit._exceptions",
    "CallbackSignatureError": "dingkit._exceptions",
    "CallbackReceiverError": "dingkit._exceptions",
    "CallbackDecryptError": "dingkit._exceptions",
    "CallbackPayloadError": "dingkit._exceptions",
    "APIError": "dingkit._exceptions",
    "AuthenticationError": "dingkit._exceptions",
    "SecurityCheckError": "dingkit._exceptions",
    "PermissionDeniedError": "dingkit._exceptions",
    "BadRequestError": "dingkit._exceptions",
    "PayloadTooLargeError": "dingkit._exceptions",
    "NotFoundError": "dingkit._exceptions",
    "RobotGoneError": "dingkit._exceptions",
    "RateLimitError": "dingkit._exceptions",
    "ServerError": "dingkit._exceptions",
    "SessionExpiredError": "dingkit._exceptions",
}

__all__ = [
    "NO_RETRY",
    "APIConnectionError",
    "APIError",
    "APIRequest",
    "APITimeoutError",
    "AccessToken",
    "ActionButton",
    "ActionCard",
    "AsyncDingTalk",
    "AsyncPager",
    "AsyncRobot",
    "At",
    "AuthenticationError",
    "BadRequestError",
    "BotMessageError",
    "CallbackDecryptError",
    "CallbackError",
    "CallbackKeyError",
    "CallbackPayloadError",
    "CallbackReceiverError",
    "CallbackSignatureError",
    "ConfigurationError",
    "DingTalk",
    "DingTalkError",
    "FeedCard",
    "FeedLink",
    "FileRateLimitStore",
    "FileTokenStore",
    "Link",
    "Markdown",
    "MemoryRateLimitStore",
    "MemoryTokenStore",
    "MessageValidationError",
    "NotFoundError",
    "Page",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RedisRateLimitStore",
    "RedisTokenStore",
    "RetryPolicy",
    "Robot",
    "RobotGoneError",
    "RobotTarget",
    "SecurityCheckError",
    "SendResult",
    "ServerError",
    "SessionExpiredError",
    "SlidingWindow",
    "SyncPager",
    "Text",
    "__version__",
]

if TYPE_CHECKING:
    from ._auth import AccessToken, FileTokenStore, MemoryTokenStore
    from ._client import AsyncDingTalk, DingTalk
    from ._exceptions import (
        APIConnectionError,
        APIError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        BotMessageError,
        CallbackDecryptError,
        CallbackError,
        CallbackKeyError,
        CallbackPayloadError,
        CallbackReceiverError,
        CallbackSignatureError,
        ConfigurationError,
        DingTalkError,
        MessageValidationError,
        NotFoundError,
        PayloadTooLargeError,
        PermissionDeniedError,
        RateLimitError,
        RobotGoneError,
        SecurityCheckError,
        ServerError,
        SessionExpiredError,
    )
    from ._file_rate_store import FileRateLimitStore
    from ._pagination import AsyncPager, Page, SyncPager
    from ._ratelimit import MemoryRateLimitStore, SlidingWindow
    from ._redis_rate_store import RedisRateLimitStore
    from ._redis_store import RedisTokenStore
    from ._request import APIRequest
    from ._retry import NO_RETRY, RetryPolicy
    from .robot.client import AsyncRobot, Robot
    from .robot.messages import (
        ActionButton,
        ActionCard,
        At,
        FeedCard,
        FeedLink,
        Link,
        Markdown,
        Text,
    )
    from .robot.target import RobotTarget, SendResult


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dingkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
