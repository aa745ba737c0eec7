"""One push over HTTP, as DingTalk makes it (§7.3, §7.4): where a subscription's events go
and how they are sealed, the request of one attempt, what the receiver's reply says (the
encrypted ``success``, or its own reason for refusing), and the URL check a registration
starts with. The hub (``hub.py``) decides what to push and when; this is the exchange."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from ..._wire import parse_json_strict
from ...callback.crypto import CallbackCrypto

__all__ = [
    "REASON_KEEP",
    "Subscription",
    "UrlCheck",
    "check_reply",
    "check_url",
    "error_text",
    "one_line_reason",
    "push_request",
]

_ERROR_KEEP = 300
#: Characters of a receiver's own reason for a refusal kept (its reply body's first line).
REASON_KEEP = 200
_REASON_FIELDS = ("message", "errmsg", "detail", "error")
_JSON_KEEP = 64 * 1024  # a refusal's JSON is a line or two; a larger body is read as text
# Control characters and line separators, and the bidi marks that could make the errmsg
# read differently from what it holds.
_UNPRINTABLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]+"
)


@dataclass(frozen=True, slots=True)
class Subscription:
    """Where one subscription's events go and how they are sealed."""

    name: str  # "api" for the registration, else "config:<n>" (the n-th [[callback]])
    url: str
    token: str
    aes_key: str
    receiver_id: str
    tags: frozenset[str] | None  # None: every event
    style: Literal["new", "classic"] = "new"

    def wants(self, event_type: str) -> bool:
        return self.tags is None or event_type in self.tags

    def crypto(self) -> CallbackCrypto:
        return CallbackCrypto(self.token, self.aes_key, self.receiver_id)


def push_request(crypto: CallbackCrypto, plaintext: str, now_ms: int) -> tuple[dict[str, str], str]:
    """The query parameters and the JSON body of one push of ``plaintext`` (§7.3).

    ``signature`` is what the docs name; ``msg_signature`` (same value) is what some official
    samples read first.
    """
    envelope = crypto.seal(plaintext, timestamp=str(now_ms))
    params = {
        "signature": envelope.signature,
        "msg_signature": envelope.signature,
        "timestamp": envelope.timestamp,
        "nonce": envelope.nonce,
    }
    return params, json.dumps({"encrypt": envelope.encrypt})


def one_line_reason(content: bytes, hide: tuple[str, ...] = ()) -> str:
    """A receiver's own reason for a refusal: from a JSON body its ``message`` (dingkit's
    receiver), ``errmsg``, ``detail`` (FastAPI) or ``error``, else the body's first non-blank
    line. Control and bidi characters become spaces, ``hide`` (the subscription's token and
    key) is blanked, and at most :data:`REASON_KEEP` characters are kept; ``""`` when the
    body says nothing."""
    text = content[: REASON_KEEP * 8].decode("utf-8", errors="replace")
    data: Any = None
    if len(content) <= _JSON_KEEP:
        with contextlib.suppress(ValueError):
            data = parse_json_strict(content)
    if isinstance(data, Mapping):
        found = [data.get(name) for name in _REASON_FIELDS]
        text = next((v for v in found if isinstance(v, str) and v.strip()), text)
    elif isinstance(data, str):
        text = data
    line = next((line for line in text.splitlines() if line.strip()), "")
    line = " ".join(_UNPRINTABLE.sub(" ", line).split())
    for secret in hide:
        if secret:
            line = line.replace(secret, "(hidden)")
    return line if len(line) <= REASON_KEEP else line[: REASON_KEEP - 1] + "…"


def check_reply(
    crypto: CallbackCrypto, status: int, content: bytes, *, hide: tuple[str, ...] = ()
) -> str | None:
    """Why a receiver's reply does not acknowledge a push; ``None`` when it does (§7.3). A
    refusal carries the receiver's own one-line reason (:func:`one_line_reason`)."""
    if 300 <= status < 400:
        return f"HTTP {status}: redirects are not followed"
    if status != 200:
        reason = one_line_reason(content, hide)
        return f"HTTP {status}: {reason}" if reason else f"HTTP {status}"
    try:
        reply = parse_json_strict(content)
    except ValueError:
        return "the reply is not JSON"
    if not isinstance(reply, Mapping):
        return "the reply is not a JSON object"
    fields = {}
    for name in ("msg_signature", "timeStamp", "nonce", "encrypt"):
        value = reply.get(name)
        if not isinstance(value, str) or not value:
            return f"the reply has no {name}"
        fields[name] = value
    try:
        text = crypto.open(
            fields["msg_signature"], fields["timeStamp"], fields["nonce"], fields["encrypt"]
        )
    except Exception as exc:  # every crypto failure means "not acknowledged"
        return f"the reply does not open: {exc}"
    if text != b"success":
        shown = text[:40].decode("utf-8", errors="replace")
        return f"the reply says {shown!r}, not 'success'"
    return None


def error_text(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "no reply within the timeout"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {exc}"[:_ERROR_KEEP]
    return f"{type(exc).__name__}: {exc}"[:_ERROR_KEEP]


@dataclass(frozen=True, slots=True)
class UrlCheck:
    """How a URL check went: ``reason`` ``None`` when it passed; ``http_status`` ``None``
    when no reply came at all (refused connection, timeout)."""

    http_status: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.reason is None


async def check_url(subscription: Subscription, *, within: float, now_ms: int) -> UrlCheck:
    """The URL check of §7.4: push ``{"EventType":"check_url"}`` and require the encrypted
    ``success`` within ``within`` seconds."""
    crypto = subscription.crypto()
    params, body = push_request(crypto, json.dumps({"EventType": "check_url"}), now_ms)
    try:
        async with httpx.AsyncClient(
            timeout=within, follow_redirects=False, trust_env=False
        ) as http:
            response = await http.post(
                subscription.url,
                params=params,
                content=body,
                headers={"Content-Type": "application/json"},
            )
    except httpx.HTTPError as exc:
        return UrlCheck(None, error_text(exc))
    hide = (subscription.token, subscription.aes_key)
    status = response.status_code
    return UrlCheck(status, check_reply(crypto, status, response.content, hide=hide))
