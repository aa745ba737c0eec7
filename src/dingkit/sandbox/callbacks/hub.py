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

import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from ...callback.crypto import CallbackCrypto
from ...callback.events import parse_event
from ...callback.payloads import to_failed_item, to_payload
from ...callback.stream_events import stream_data_from_plaintext
from ..config import SandboxConfig
from ..store import Store
from .exchange import Subscription, check_reply, error_text, push_request
from .records import Attempt, CallbackRecords, Push, Registration

if TYPE_CHECKING:
    from ..stream.hub import StreamHub

__all__ = ["CallbackHub"]

logger = logging.getLogger("dingkit.sandbox.callbacks")

#: Longest the worker sleeps between looks at the queue: the sandbox's clock may be a fake
#: that jumps, so it cannot simply sleep until the next push is due.
_WORKER_TICK = 0.2


class CallbackHub:
    """The sandbox's subscriptions, its push queue and the worker that drains it.

    Args:
        config: the subscriptions, the reply timeout and the retry delays.
        store: where registrations, pushes and the failed list are kept.
        clock: wall-clock seconds (the sandbox's, a fake in tests).
    """

    def __init__(
        self,
        *,
        config: SandboxConfig,
        store: Store,
        clock: Callable[[], float],
        stream: StreamHub | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        #: Apps whose events go over Stream (``events = "stream"``) get them there.
        self._stream = stream
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
        now, event_id = self._now_ms(), uuid.uuid4().hex
        self._emit_over_stream(event_type, fields, event_id, now)
        wanted = [s for s in self.subscriptions() if s.wants(event_type)]
        if not wanted:
            return []
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

    def _emit_over_stream(
        self, event_type: str, fields: Mapping[str, Any], event_id: str, now: int
    ) -> None:
        if self._stream is None:
            return
        message = to_payload(
            event_type, dict(fields), style="new", corp_id=self.corp_id, event_id=event_id,
            event_time=now,
        )  # fmt: skip
        data = stream_data_from_plaintext(message)
        for app in self._config.apps:
            if app.events == "stream":  # one EVENT frame, re-pushed until acked (§8.2)
                self._stream.push_event(app.app_key, event_type, data, event_id=event_id,
                                        corp_id=self.corp_id, born_ms=now)  # fmt: skip

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
            error = error_text(exc)
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
