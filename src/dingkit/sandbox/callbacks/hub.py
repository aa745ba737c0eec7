"""Event pushes (§7): the sandbox plays DingTalk's side of HTTP callbacks.

    sandbox.callbacks.emit("bpms_task_change", {...})   # queued, never blocks the caller
    sandbox.callbacks.deliver_due()                      # tests: send what is due now
    sandbox.callbacks.start()                            # servers: a worker thread sends

Subscriptions come from the config's ``[[callback]]`` tables (app level, receiver id = the
app's app_key, or the corp_id without ``app``) and from ``register_call_back`` (org level,
receiver id = the corp_id), §7.1. Each push is ``POST <url>?signature=&msg_signature=&
timestamp=&nonce=`` with ``{"encrypt": ...}``; it counts as delivered only when the reply is
HTTP 200 JSON whose ``encrypt`` opens, under the subscription's token, key and receiver id, to
exactly ``success`` (§7.3). A failed push is retried after each of ``callback_retry_delays``
(DingTalk: 10 s, then 30 s, §7.5) and then joins the failed list.

Choices where the reference is silent [I]:

- One ``eventId`` per event: every subscription receives the same id for the same change,
  and retries repeat it; ``EventTime`` is when the change happened.
- Timestamps are milliseconds (§7.3 shows both units); a new nonce and timestamp are used for
  every attempt, the plaintext stays the same.
- Redirects are not followed (§7.1 refuses redirecting URLs): a 3xx reply is a failure.
- The failed list is the organisation's, shared by every subscription, as
  ``get_call_back_failed_result`` names none; events join it at once rather than 3–5
  minutes later (§7.5), so tests need not wait.
- Pushes already queued keep their subscription's URL and keys when it changes or goes away.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from ..._wire import parse_json_strict
from ...callback.crypto import CallbackCrypto
from ...callback.events import parse_event
from ...callback.payloads import to_failed_item, to_payload
from ..config import SandboxConfig
from ..store import Store
from .records import Attempt, CallbackRecords, Push, Registration

__all__ = [
    "CallbackHub",
    "Subscription",
    "UrlCheck",
    "check_reply",
    "check_url",
    "one_line_reason",
    "push_request",
]

logger = logging.getLogger("dingkit.sandbox.callbacks")

#: Longest the worker sleeps between looks at the queue: the sandbox's clock may be a fake
#: that jumps, so it cannot simply sleep until the next push is due.
_WORKER_TICK = 0.2
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


def _error_text(exc: httpx.HTTPError) -> str:
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
        return UrlCheck(None, _error_text(exc))
    hide = (subscription.token, subscription.aes_key)
    status = response.status_code
    return UrlCheck(status, check_reply(crypto, status, response.content, hide=hide))


class CallbackHub:
    """The sandbox's subscriptions, its push queue and the worker that drains it.

    Args:
        config: the subscriptions, the reply timeout and the retry delays.
        store: where registrations, pushes and the failed list are kept.
        clock: wall-clock seconds (the sandbox's, a fake in tests).
    """

    def __init__(self, *, config: SandboxConfig, store: Store, clock: Callable[[], float]) -> None:
        self._config = config
        self._clock = clock
        #: Registrations, pushes and the failed list, in the sandbox's store.
        self.records = CallbackRecords(store)
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def corp_id(self) -> str:
        return self._config.corp_id

    def _now_ms(self) -> int:
        # round, not int: a clock moved by 0.05 must not land a millisecond short
        return round(self._clock() * 1000)

    # -- subscriptions -----------------------------------------------------------------

    def registration(self) -> Registration | None:
        return self.records.registration(self.corp_id)

    def subscriptions(self) -> list[Subscription]:
        """The config's subscriptions, then the API registration."""
        config = self._config
        keys = {app.name: app.app_key for app in config.apps}
        found = [
            Subscription(
                name=f"config:{index + 1}",
                url=callback.url,
                token=callback.token,
                aes_key=callback.aes_key,
                receiver_id=keys.get(callback.app or "", self.corp_id),
                tags=None if callback.tags is None else frozenset(callback.tags),
                style=callback.style,
            )
            for index, callback in enumerate(config.callbacks)
        ]
        registration = self.registration()
        if registration is not None:
            found.append(
                Subscription(
                    name="api",
                    url=registration.url,
                    token=registration.token,
                    aes_key=registration.aes_key,
                    receiver_id=self.corp_id,
                    tags=frozenset(registration.tags),
                )
            )
        return found

    # -- emitting ----------------------------------------------------------------------

    def emit(self, event_type: str, fields: Mapping[str, Any]) -> list[int]:
        """Queue ``event_type`` for every subscription that wants it; the push ids.

        Never raises: a change in the sandbox must not fail because of its pushes.
        """
        try:
            return self._emit(event_type, fields)
        except Exception:
            logger.exception("could not queue a %s push", event_type)
            return []

    def emit_all(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        for event_type, fields in events:
            self.emit(event_type, fields)

    def _emit(self, event_type: str, fields: Mapping[str, Any]) -> list[int]:
        wanted = [s for s in self.subscriptions() if s.wants(event_type)]
        if not wanted:
            return []
        now, event_id = self._now_ms(), uuid.uuid4().hex
        ids = []
        for subscription in wanted:
            payload = to_payload(
                event_type,
                dict(fields),
                style=subscription.style,
                corp_id=self.corp_id,
                event_id=event_id,
                event_time=now,
            )
            ids.append(
                self.records.add_push(
                    event_id=event_id,
                    event_type=event_type,
                    subscription=subscription.name,
                    url=subscription.url,
                    token=subscription.token,
                    aes_key=subscription.aes_key,
                    receiver_id=subscription.receiver_id,
                    style=subscription.style,
                    plaintext=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
                    failed_item=to_failed_item(parse_event(payload)),
                    now_ms=now,
                )
            )
        self._wake.set()
        return ids

    # -- delivering --------------------------------------------------------------------

    def deliver_due(self) -> list[Push]:
        """Send every push due now (by the sandbox's clock), one attempt each; the pushes as
        they stand afterwards. Tests call this; servers run :meth:`start`."""
        with self._send_lock:
            due = self.records.due(self._now_ms())
            if not due:
                return []
            timeout = self._config.callback_timeout
            with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as http:
                for push in due:
                    self._attempt(http, push)
        return [p for p in (self.records.get(push.id) for push in due) if p is not None]

    def _attempt(self, http: httpx.Client, push: Push) -> None:
        crypto = CallbackCrypto(push.token, push.aes_key, push.receiver_id)
        now = self._now_ms()
        params, body = push_request(crypto, push.plaintext, now)
        status: int | None = None
        try:
            response = http.post(
                push.url,
                params=params,
                content=body,
                headers={"Content-Type": "application/json"},
            )
            status = response.status_code
            error = check_reply(crypto, status, response.content, hide=(push.token, push.aes_key))
        except httpx.HTTPError as exc:
            error = _error_text(exc)
        attempts = len(push.attempts) + 1
        delays = self._config.callback_retry_delays
        if error is None:
            state, next_ms = "delivered", None
        elif attempts <= len(delays):
            state, next_ms = "retrying", now + int(delays[attempts - 1] * 1000)
        else:
            state, next_ms = "failed", None
        self.records.record_attempt(
            push, Attempt(now, error is None, status, error), state=state, next_ms=next_ms
        )
        level = logging.INFO if error is None else logging.WARNING
        logger.log(level, "push %s %s to %s: %s", push.id, push.event_type, push.url, error or "ok")

    # -- the worker (servers) ----------------------------------------------------------

    def start(self) -> None:
        """Send due pushes from a background thread until :meth:`stop`."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name="dingkit-callbacks")
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:  # a bug here must not end the worker
                logger.exception("callback worker")
            next_ms = self.records.next_due_ms()
            wait = _WORKER_TICK
            if next_ms is not None:
                wait = min(max((next_ms - self._now_ms()) / 1000, 0.0), _WORKER_TICK)
            self._wake.wait(max(wait, 0.01))
            self._wake.clear()
