"""The one exception tree of dingkit.

    DingTalkError
    ├── ConfigurationError          missing/invalid credentials, URLs, config files
    ├── MessageValidationError      a message that DingTalk would refuse, caught before sending
    ├── BotMessageError             a robot push (§8.1) that is not a message: not JSON, bad fields
    ├── APIConnectionError          the request did not get an answer
    │   └── APITimeoutError
    ├── CallbackError               an event push that fails the callback crypto (§7.2)
    │   ├── CallbackKeyError        the aes_key is not 43 letters/digits (also a config error)
    │   ├── CallbackSignatureError  the signature does not match
    │   ├── CallbackReceiverError   decrypted for another corpId/appKey/suiteKey
    │   ├── CallbackDecryptError    not base64, bad length or padding
    │   └── CallbackPayloadError    decrypted, but not an event (not a JSON object)
    └── APIError                    DingTalk answered with an error (errcode / code)
        ├── AuthenticationError     unknown or expired token, bad credentials
        │   └── SessionExpiredError an app robot's sessionWebhook expired (errcode 300001)
        ├── SecurityCheckError      robot security settings: keyword, signature, timestamp, IP
        ├── PermissionDeniedError
        ├── BadRequestError         missing/malformed fields, wrong Content-Type, bad msgtype
        │   └── PayloadTooLargeError
        ├── NotFoundError
        │   └── RobotGoneError      robot disabled or deleted, group dissolved
        ├── RateLimitError          throttled (server side, or the client's own limiter)
        └── ServerError             system busy, 5xx

Every error carries what DingTalk said (``errcode``/``code``, ``message``, ``request_id``,
``http_status``) and, for robots, the robot's *name*: never its token or secret.
"""

from __future__ import annotations

from typing import TypedDict

from typing_extensions import Unpack

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
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
    "DingTalkError",
    "MessageValidationError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RobotGoneError",
    "SecurityCheckError",
    "ServerError",
    "SessionExpiredError",
]


class DingTalkError(Exception):
    """Base class of every error dingkit raises on purpose."""


class ConfigurationError(DingTalkError):
    """Credentials, URLs or config files are missing or invalid; fix the configuration."""


class MessageValidationError(DingTalkError, ValueError):
    """A message DingTalk would refuse; raised before anything is sent.

    Args:
        message: what is wrong and what to change.
        field: the offending field in DingTalk's own naming, e.g. ``markdown.title``.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class BotMessageError(DingTalkError, ValueError):
    """A message pushed to an app robot (§8.1) that cannot be read: not strict JSON, not an
    object, or a field missing or out of shape. A receiver answers it with a 4xx.

    Args:
        message: what is wrong, in DingTalk's field names.
        field: the offending wire field, e.g. ``conversationType`` or ``text.content``.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class APIConnectionError(DingTalkError):
    """The request never got an answer (DNS, refused connection, reset, TLS).

    Args:
        message: what was tried and what happened (no token in it).
        robot: the robot's name, for a robot send.
        setting: the environment variable that sets the base URL the request went to
            (``DINGTALK_API_BASE_URL`` for the new family, ``DINGTALK_OAPI_BASE_URL`` for the
            old one and robots), for a hint that names the right one.
    """

    def __init__(
        self, message: str, *, robot: str | None = None, setting: str | None = None
    ) -> None:
        super().__init__(message)
        self.robot = robot
        self.setting = setting


class APITimeoutError(APIConnectionError):
    """The request timed out; a robot retry reuses the same ``msgUuid`` so nothing doubles."""


class CallbackError(DingTalkError):
    """An event push that cannot be trusted or read (§7.2).

    Args:
        message: what is wrong, without the token, key or payload.
        errcode: the official crypto libraries' code for it (900001-900010).
        reason: a short name for counting rejections: ``signature``, ``aes_key``,
            ``receiver_id``, ``decrypt``.
    """

    errcode = 0
    reason = "callback"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CallbackKeyError(CallbackError, ConfigurationError):
    """The ``aes_key`` is not 43 characters of ``a-z A-Z 0-9`` (official 900004)."""

    errcode = 900004
    reason = "aes_key"


class CallbackSignatureError(CallbackError):
    """The signature does not match the token, timestamp, nonce and payload (900005)."""

    errcode = 900005
    reason = "signature"


class CallbackReceiverError(CallbackError):
    """The payload was encrypted for another receiver id: corpId, appKey or suiteKey (900010)."""

    errcode = 900010
    reason = "receiver_id"


class CallbackDecryptError(CallbackError):
    """The payload is not base64, or decrypts to a wrong length or padding (900008/900009)."""

    errcode = 900008
    reason = "decrypt"


class CallbackPayloadError(CallbackError):
    """The push decrypted, but its message is not an event: not JSON, or not an object."""

    errcode = 900001
    reason = "payload"


class _APIErrorFields(TypedDict, total=False):
    errcode: int | None
    code: str | None
    http_status: int | None
    request_id: str | None
    robot: str | None
    hint: str | None


class APIError(DingTalkError):
    """DingTalk answered, and the answer is an error.

    Old-API family errors carry ``errcode`` (an int); new-API ones carry ``code`` (a string).
    """

    def __init__(
        self,
        message: str,
        *,
        errcode: int | None = None,
        code: str | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
        robot: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errcode = errcode
        self.code = code
        self.http_status = http_status
        self.request_id = request_id
        self.robot = robot
        self.hint = hint

    @property
    def errmsg(self) -> str:
        """The old-API name of :attr:`message`."""
        return self.message

    def __str__(self) -> str:
        parts = []
        if self.robot:
            parts.append(f"robot {self.robot!r}: ")
        if self.errcode is not None:
            parts.append(f"errcode {self.errcode}: ")
        elif self.code is not None:
            parts.append(f"{self.code}: ")
        parts.append(self._detail())
        if self.http_status not in (None, 200):
            parts.append(f" (HTTP {self.http_status})")
        if self.request_id:
            parts.append(f" [request id {self.request_id}]")
        if self.hint:
            parts.append(f". {self.hint}")
        return "".join(parts)

    def _detail(self) -> str:
        """What DingTalk said, as ``str()`` shows it (subclasses add what to do)."""
        return self.message

    def __repr__(self) -> str:
        ident = self.errcode if self.errcode is not None else self.code
        return f"{type(self).__name__}({ident!r}, {self.message!r}, robot={self.robot!r})"


class AuthenticationError(APIError):
    """The token, app key or secret is unknown, invalid or expired."""


class SessionExpiredError(AuthenticationError):
    """An app robot's ``sessionWebhook`` is no longer valid (errcode 300001, "session 不存在").

    A session webhook lives about 90 minutes after the message it came with (§8.1); reply
    through the robot OpenAPI instead (``client.robot.send_to_users`` / ``send_to_group``).
    Older servers also answered 300001 for an unknown custom-robot token, hence the parent
    class.
    """


class SecurityCheckError(APIError):
    """A custom robot's security settings refused the message (errcode 310000).

    ``reason`` is ``"keyword"``, ``"signature"``, ``"timestamp"``, ``"ip"`` or ``None`` when the
    errmsg was not recognisable.
    """

    def __init__(
        self, message: str, *, reason: str | None = None, **fields: Unpack[_APIErrorFields]
    ) -> None:
        super().__init__(message, **fields)
        self.reason = reason


class PermissionDeniedError(APIError):
    """The app lacks a permission, or the caller's IP is not allowed.

    ``scope`` is the missing permission point when DingTalk names it (``Contact.User.Read``,
    ``qyapi_get_member``); grant it to the app in the developer console.
    """

    def __init__(
        self, message: str, *, scope: str | None = None, **fields: Unpack[_APIErrorFields]
    ) -> None:
        super().__init__(message, **fields)
        self.scope = scope

    def _detail(self) -> str:
        if not self.scope:
            return self.message
        return (
            f"the app lacks permission {self.scope}: grant it in the developer console "
            f"(DingTalk: {self.message})"
        )


class BadRequestError(APIError):
    """A field is missing or malformed; fix the request, retrying will not help."""


class PayloadTooLargeError(BadRequestError):
    """The request body is over DingTalk's size limit (20000 bytes for robots)."""


class NotFoundError(APIError):
    """The thing addressed does not exist."""


class RobotGoneError(NotFoundError):
    """The robot was disabled or deleted, or its group was dissolved."""


class RateLimitError(APIError):
    """Throttled; ``retry_after`` says how many seconds to wait (``None`` when unknown).

    Raised both for DingTalk's answers and by the client's own limiter (``wait=False``), in
    which case ``errcode`` is ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        **fields: Unpack[_APIErrorFields],
    ) -> None:
        super().__init__(message, **fields)
        self.retry_after = retry_after


class ServerError(APIError):
    """DingTalk is busy or failing; a retry with backoff may succeed."""
