"""Everything about sending to a robot except the sending itself. No I/O.

:class:`RobotTarget` says where a robot is and how it is secured; :meth:`RobotTarget.prepare`
turns a message into the bodies to post (mentions, keyword, splitting, validation,
``msgUuid``); :meth:`RobotTarget.url` signs one attempt; :func:`parse_response` turns the
answer into a result or an exception. The sync and async clients, the CLI's ``--dry-run``
and the benchmark all go through here.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from .._config import DEFAULT_OAPI_BASE_URL, oapi_base_url
from .._errors import error_from_response
from .._exceptions import APIError, ConfigurationError, ServerError
from .._redact import redact_url
from .._request import Endpoint
from . import compose
from .messages import RobotMessage, to_payload
from .signing import signature_params

__all__ = ["ROBOT_SEND", "PreparedSend", "RobotTarget", "SendResult", "parse_response"]

#: The custom robot's webhook (§2.1): the robot's own token in ``access_token`` (not an app's
#: access token: ``auth=False``), no permission point, a body of at most 20000 bytes (§2.3);
#: a malformed message answers 400402 (§2.5).
ROBOT_SEND = Endpoint(
    "POST",
    "/robot/send",
    auth=False,
    param_error=400402,
    max_body_bytes=compose.MAX_BODY_BYTES,
    quota_exempt=True,
)
ROBOT_SEND_PATH = ROBOT_SEND.path


@dataclass(frozen=True, slots=True)
class PreparedSend:
    """One validated request body, with the ``msgUuid`` every retry of it reuses."""

    msg_uuid: str
    payload: dict[str, Any]
    body: bytes


@dataclass(frozen=True, slots=True)
class SendResult:
    """What DingTalk answered for a send (one entry per part when the message was split)."""

    msg_uuids: tuple[str, ...]
    responses: tuple[dict[str, Any], ...]

    @property
    def msg_uuid(self) -> str:
        return self.msg_uuids[0]

    @property
    def parts(self) -> int:
        return len(self.msg_uuids)


@dataclass(frozen=True)
class RobotTarget:
    """Where a custom robot is and how it is secured.

    Args:
        token: the ``access_token`` value of the robot's webhook URL.
        secret: the ``SEC...`` signing secret, when the robot signs.
        keyword: a keyword the robot requires; added to messages that lack it.
        name: a name for logs and errors (the token never appears in either).
        send_url: the robot endpoint, ``<oapi base>/robot/send``.
    """

    token: str
    secret: str | None = None
    keyword: str | None = None
    name: str = "robot"
    send_url: str = field(default_factory=lambda: oapi_base_url() + ROBOT_SEND_PATH)

    def __post_init__(self) -> None:
        if not self.token or not self.token.strip():
            raise ConfigurationError("the robot token is empty; give the webhook URL or its token")
        if "access_token=" in self.token or self.token.startswith(("http://", "https://")):
            raise ConfigurationError(
                "the token looks like a whole webhook URL; pass it as webhook=..., or only "
                "the value after access_token="
            )

    def __repr__(self) -> str:
        return (
            f"RobotTarget(name={self.name!r}, send_url={self.send_url!r}, "
            f"signed={self.secret is not None}, keyword={self.keyword!r})"
        )

    @classmethod
    def from_webhook(
        cls,
        webhook: str,
        *,
        secret: str | None = None,
        keyword: str | None = None,
        name: str = "robot",
        base_url: str | None = None,
    ) -> RobotTarget:
        """From the webhook URL shown in the group's robot settings.

        A webhook on DingTalk's own host is sent to ``base_url`` instead when one is given (the
        sandbox, a proxy): the URL copied from DingTalk then works unchanged against either. A
        webhook on any other host is taken as it is.
        """
        parts = urlsplit(webhook.strip())
        tokens = parse_qs(parts.query).get("access_token")
        if parts.scheme not in ("http", "https") or not parts.netloc or not tokens:
            raise ConfigurationError(
                f"{redact_url(webhook)!r} is not a robot webhook URL; copy it from the group's "
                "robot settings: https://oapi.dingtalk.com/robot/send?access_token=..."
            )
        send_url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        on_dingtalk = f"{parts.scheme}://{parts.netloc}".lower() == DEFAULT_OAPI_BASE_URL
        if base_url and on_dingtalk:
            send_url = base_url.rstrip("/") + parts.path
        return cls(tokens[0], secret=secret, keyword=keyword, name=name, send_url=send_url)

    @classmethod
    def from_settings(
        cls,
        *,
        webhook: str | None = None,
        token: str | None = None,
        secret: str | None = None,
        keyword: str | None = None,
        name: str | None = None,
        base_url: str | None = None,
        environ: Mapping[str, str],
    ) -> RobotTarget:
        """Arguments first, then ``DINGTALK_ROBOT_WEBHOOK`` / ``DINGTALK_ROBOT_TOKEN`` /
        ``DINGTALK_ROBOT_SECRET`` / ``DINGTALK_ROBOT_KEYWORD``. ``base_url`` (else
        ``DINGTALK_OAPI_BASE_URL``) also redirects a webhook on DingTalk's host."""
        if webhook is None and token is None:
            webhook = environ.get("DINGTALK_ROBOT_WEBHOOK", "").strip() or None
            token = environ.get("DINGTALK_ROBOT_TOKEN", "").strip() or None
        if secret is None:
            secret = environ.get("DINGTALK_ROBOT_SECRET", "").strip() or None
        if keyword is None:
            keyword = environ.get("DINGTALK_ROBOT_KEYWORD", "").strip() or None
        secret, keyword = secret or None, keyword or None  # "" means "none" too
        label = name or "robot"
        if webhook:
            redirect = base_url or environ.get("DINGTALK_OAPI_BASE_URL", "").strip() or None
            return cls.from_webhook(
                webhook, secret=secret, keyword=keyword, name=label, base_url=redirect
            )
        if token:
            base = (base_url or oapi_base_url(environ)).rstrip("/")
            return cls(
                token, secret=secret, keyword=keyword, name=label, send_url=base + ROBOT_SEND_PATH
            )
        raise ConfigurationError(
            "no robot configured: pass webhook= or token=, or set DINGTALK_ROBOT_WEBHOOK "
            "(the full URL) or DINGTALK_ROBOT_TOKEN, plus DINGTALK_ROBOT_SECRET if it signs"
        )

    def prepare(
        self, message: RobotMessage, *, split: bool = False, msg_uuid: str | None = None
    ) -> list[PreparedSend]:
        """Validated bodies for ``message``: one, or several when ``split`` cuts a long one.

        ``msg_uuid`` makes the send idempotent across processes (a relay resending what it
        stored, §2.1): the parts of a split message get ``<msg_uuid>-<n>``; without it each
        part gets a fresh one."""
        if split:
            # ensure_keyword() adds at most "\n\n<keyword>", counted as JSON-escaped UTF-8.
            keyword = f"\n\n{self.keyword}" if self.keyword else ""
            reserve = len(json.dumps(keyword, ensure_ascii=False).encode()) - 2
            parts = compose.split_message(message, reserve_bytes=reserve)
        else:
            parts = [message]
        prepared = []
        for index, part in enumerate(parts, 1):
            # After splitting: the @mention text belongs in the part that carries `at`.
            part = compose.with_mention_text(part)
            part = compose.ensure_keyword(part, self.keyword)
            if msg_uuid is None:
                uuid_ = uuid.uuid4().hex
            else:
                uuid_ = msg_uuid if len(parts) == 1 else f"{msg_uuid}-{index}"
            body = compose.validate_message(part, msg_uuid=uuid_)
            prepared.append(PreparedSend(uuid_, to_payload(part, msg_uuid=uuid_), body))
        return prepared

    def url(self, *, clock: Callable[[], float] = time.time) -> str:
        """The URL for one attempt, signed with a fresh timestamp when the robot signs.

        Query values are URL-encoded here, once; HTTP libraries keep existing escapes.
        """
        params = {"access_token": self.token}
        if self.secret:
            params.update(signature_params(self.secret, clock=clock))
        return f"{self.send_url}?{urlencode(params)}"

    def redacted_url(self, *, clock: Callable[[], float] = time.time) -> str:
        return redact_url(self.url(clock=clock))


def parse_response(
    http_status: int, content: bytes, *, robot: str
) -> tuple[dict[str, Any], APIError | None]:
    """The JSON answer and the error it stands for (``None`` on success)."""
    text = content.decode("utf-8", errors="replace")
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    body = data if isinstance(data, dict) else None
    error = error_from_response(http_status, body, robot=robot, text=text)
    if error is None and body is not None and "errcode" not in body:
        # The robot endpoint always answers with an errcode; `{}` is a proxy, not DingTalk,
        # and the message may not have been delivered.
        error = ServerError(
            f"the answer has no errcode: {text[:120]}", http_status=http_status, robot=robot
        )
    if error is None and body is None:
        # An HTML page or garbage with HTTP 200: a proxy or the IP-ban page (§9.3), not
        # DingTalk's API; worth another try.
        snippet = " ".join(text.split())[:120] or "empty body"
        error = ServerError(
            f"the answer is not DingTalk JSON: {snippet}", http_status=http_status, robot=robot
        )
    return body or {}, error
