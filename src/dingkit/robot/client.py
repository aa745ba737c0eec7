"""``Robot`` and ``AsyncRobot``: the two send loops; everything else lives in the core.

Only the loop that does I/O (wait for a rate-limit slot, post, maybe sleep and retry) is
written twice. Building, signing, validating and parsing are in :mod:`.target`, and the
convenience ``send_*`` methods are written once in :class:`_RobotBase`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any, Generic, Literal, TypedDict, TypeVar

import httpx
from typing_extensions import Unpack

from .._config import rate_limit_file, redis_url
from .._exceptions import APIConnectionError, APITimeoutError, DingTalkError, RateLimitError
from .._ratelimit import KeyedWindow, MemoryRateLimitStore, RateLimitStore, SlidingWindow, Window
from .._redact import redact_http_logs, redact_url
from .._retry import DEFAULT_RETRY, RetryPolicy
from .limits import client_window
from .messages import ActionButton, ActionCard, At, FeedCard, FeedLink, Link, Markdown, Text
from .messages import RobotMessage as RobotMessage
from .target import PreparedSend, RobotTarget, SendResult, parse_response

__all__ = ["AsyncRobot", "Robot", "RobotSettings"]

logger = logging.getLogger("dingkit.robot")
# Its own logger, so that the CLI can show waits without showing every retry.
wait_logger = logging.getLogger("dingkit.robot.ratelimit")

DEFAULT_TIMEOUT = 10.0
#: The stores ``rate_limit=True`` picked, one per Redis URL (one connection pool) or file (if
#: the file is unusable, one in-process window for all the process's clients of a robot).
_DEFAULT_STORES: dict[tuple[str, str], RateLimitStore] = {}
_DEFAULT_STORES_LOCK = threading.Lock()
_HEADERS = {"Content-Type": "application/json; charset=utf-8"}

_R = TypeVar("_R")
ButtonSpec = ActionButton | tuple[str, str]
FeedLinkSpec = FeedLink | tuple[str, str] | tuple[str, str, str]


def default_rate_limit_store(environ: Mapping[str, str] | None = None) -> RateLimitStore:
    """The store ``rate_limit=True`` keeps robots' windows in: Redis when ``DINGKIT_REDIS_URL``
    is set, else the file beside the CLI's token cache, so that by default every dingkit
    process of the user on this host (the CLI's and the SDK's) shares each robot's window."""
    url = redis_url(environ)
    where = ("redis", url) if url else ("file", str(rate_limit_file(environ)))
    with _DEFAULT_STORES_LOCK:
        store = _DEFAULT_STORES.get(where)
        if store is None:
            if url:
                from .._redis_rate_store import RedisRateLimitStore

                store = RedisRateLimitStore(url)
            else:
                from .._file_rate_store import FileRateLimitStore

                store = FileRateLimitStore(where[1])
            _DEFAULT_STORES[where] = store
        return store


def window_key(token: str) -> str:
    """A robot's window name in a store: a hash of its token, which a key or file must not
    show."""
    return "robot:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def _limiter(
    rate_limit: bool | SlidingWindow | RateLimitStore | None,
    target: RobotTarget,
    environ: Mapping[str, str],
) -> Window | None:
    if rate_limit is False or rate_limit is None:
        return None
    if isinstance(rate_limit, SlidingWindow):
        return rate_limit
    store = default_rate_limit_store(environ) if rate_limit is True else rate_limit
    window = client_window(target.send_url, environ)
    return KeyedWindow(store, window_key(target.token), window.limit, window.period)


class RobotSettings(TypedDict, total=False):
    """The constructor arguments shared by :class:`Robot` and :class:`AsyncRobot`."""

    token: str | None
    secret: str | None
    keyword: str | None
    name: str | None
    base_url: str | None
    rate_limit: bool | SlidingWindow | RateLimitStore
    retry: RetryPolicy
    timeout: float
    environ: Mapping[str, str] | None
    target: RobotTarget | None
    clock: Callable[[], float]


class _RobotBase(Generic[_R]):
    """Configuration, rate limiting and the ``send_*`` helpers common to both clients."""

    def __init__(
        self,
        webhook: str | None = None,
        *,
        token: str | None = None,
        secret: str | None = None,
        keyword: str | None = None,
        name: str | None = None,
        base_url: str | None = None,
        rate_limit: bool | SlidingWindow | RateLimitStore = True,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout: float = DEFAULT_TIMEOUT,
        environ: Mapping[str, str] | None = None,
        target: RobotTarget | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        env = os.environ if environ is None else environ
        # Epoch seconds for the signature's timestamp (a relay under a test's fake clock).
        self._clock = clock
        self.target = target or RobotTarget.from_settings(
            webhook=webhook,
            token=token,
            secret=secret,
            keyword=keyword,
            name=name,
            base_url=base_url,
            environ=env,
        )
        self.limiter = _limiter(rate_limit, self.target, env)
        #: Whether taking a slot may block on I/O (a file lock, Redis): the async client then
        #: takes it in a worker thread.
        self._limiter_blocks = isinstance(self.limiter, KeyedWindow) and not isinstance(
            self.limiter.store, MemoryRateLimitStore
        )
        self.retry = retry
        self.timeout = timeout
        redact_http_logs()

    @property
    def name(self) -> str:
        return self.target.name

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.target.name!r}, url={self.target.send_url!r}, "
            f"signed={self.target.secret is not None}, keyword={self.target.keyword!r})"
        )

    def _slot_delay(self, wait: bool) -> float:
        """Seconds to wait before the next post; raises instead when ``wait`` is false."""
        if self.limiter is None:
            return 0.0
        if not wait:
            delay = self.limiter.try_acquire()
            if delay > 0:
                raise RateLimitError(
                    f"robot {self.name!r} has sent {self.limiter.limit} messages in the last "
                    f"minute, the most DingTalk allows before blocking it for 10 minutes; not "
                    f"sent. Retry in {delay:.1f} s",
                    retry_after=delay,
                    robot=self.name,
                )
            return 0.0
        delay = self.limiter.reserve()
        if delay > 0:
            wait_logger.info(
                "robot %r waits %.1f s for a send slot (DingTalk allows %d messages a minute)",
                self.name,
                delay,
                self.limiter.limit,
            )
        return delay

    def _connection_error(self, exc: httpx.HTTPError) -> APIConnectionError:
        cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
        detail = redact_url(str(exc)) or type(exc).__name__
        return cls(f"could not reach {self.target.send_url}: {detail}", robot=self.name)

    def _log_retry(self, attempt: int, error: DingTalkError, delay: float) -> None:
        logger.warning(
            "robot %r: try %d failed (%s); retrying in %.1f s", self.name, attempt, error, delay
        )

    # The send_* helpers: written once, returning whatever ``send`` returns.

    def send(
        self,
        message: RobotMessage,
        *,
        split: bool = False,
        wait: bool = True,
        msg_uuid: str | None = None,
    ) -> _R:
        raise NotImplementedError

    def send_text(
        self,
        content: str,
        *,
        at_mobiles: Sequence[str] = (),
        at_user_ids: Sequence[str] = (),
        at_all: bool = False,
        split: bool = False,
        wait: bool = True,
    ) -> _R:
        """Send a text message; mentions are also written into the text when missing."""
        at = At(at_mobiles=tuple(at_mobiles), at_user_ids=tuple(at_user_ids), is_at_all=at_all)
        return self.send(Text(content=content, at=at), split=split, wait=wait)

    def send_markdown(
        self,
        title: str,
        text: str,
        *,
        at_mobiles: Sequence[str] = (),
        at_user_ids: Sequence[str] = (),
        at_all: bool = False,
        split: bool = False,
        wait: bool = True,
    ) -> _R:
        """Send a markdown message (DingTalk's subset, §2.2); ``title`` shows in the list."""
        at = At(at_mobiles=tuple(at_mobiles), at_user_ids=tuple(at_user_ids), is_at_all=at_all)
        return self.send(Markdown(title=title, text=text, at=at), split=split, wait=wait)

    def send_link(
        self, title: str, text: str, message_url: str, *, pic_url: str = "", wait: bool = True
    ) -> _R:
        """Send a link card."""
        link = Link(title=title, text=text, message_url=message_url, pic_url=pic_url)
        return self.send(link, wait=wait)

    def send_action_card(
        self,
        title: str,
        text: str,
        *,
        single_title: str | None = None,
        single_url: str | None = None,
        buttons: Iterable[ButtonSpec] = (),
        btn_orientation: Literal["0", "1"] = "0",
        hide_avatar: bool = False,
        wait: bool = True,
    ) -> _R:
        """Send an action card with one button (``single_*``) or several (``buttons``)."""
        card = ActionCard(
            title=title,
            text=text,
            single_title=single_title,
            single_url=single_url,
            buttons=tuple(
                b if isinstance(b, ActionButton) else ActionButton(title=b[0], action_url=b[1])
                for b in buttons
            ),
            btn_orientation=btn_orientation,
            hide_avatar="1" if hide_avatar else "0",
        )
        return self.send(card, wait=wait)

    def send_feed_card(self, links: Iterable[FeedLinkSpec], *, wait: bool = True) -> _R:
        """Send a feed card; each link is a ``FeedLink`` or ``(title, url[, picture url])``."""
        entries = tuple(
            link
            if isinstance(link, FeedLink)
            else FeedLink(title=link[0], message_url=link[1], pic_url=(link[2:] or ("",))[0])
            for link in links
        )
        return self.send(FeedCard(links=entries), wait=wait)


class Robot(_RobotBase[SendResult]):
    """A custom group robot (自定义机器人), synchronous.

        >>> robot = Robot("https://oapi.dingtalk.com/robot/send?access_token=...",
        ...               secret="SEC...")
        >>> robot.send_markdown("Deploy", "## Deploy done\\n**api** is live")

    Args:
        webhook: the webhook URL from the group's robot settings; or give ``token``.
            Without either, ``DINGTALK_ROBOT_WEBHOOK`` or ``DINGTALK_ROBOT_TOKEN`` is read.
        token: the ``access_token`` value alone; the URL base is ``base_url`` or
            ``DINGTALK_OAPI_BASE_URL`` (default ``https://oapi.dingtalk.com``).
        secret: the signing secret (``SEC...``), default ``DINGTALK_ROBOT_SECRET``.
        keyword: a keyword the robot requires; added to messages that lack it.
        name: a name for logs and errors; the token never appears in either.
        rate_limit: ``True`` keeps this robot under 20 messages a minute, counted with every
            other dingkit process of the user on this host (a file beside the CLI's token
            cache), or across hosts through Redis when ``DINGKIT_REDIS_URL`` is set;
            a ``FileRateLimitStore``, ``RedisRateLimitStore`` or ``MemoryRateLimitStore``
            chooses the store; a ``SlidingWindow`` is a window of your own; ``False`` turns
            the limit off.
        retry: when and how long to retry (§9.4); ``NO_RETRY`` disables it.
        timeout: seconds per HTTP request.
        http_client: an ``httpx.Client`` to use (its transport, proxies...).
        sleep: how to wait (tests inject a fake clock).
        clock: epoch seconds, for the signature's timestamp (tests inject a fake clock).
        target: a ready :class:`RobotTarget`, instead of the arguments above.
    """

    def __init__(
        self,
        webhook: str | None = None,
        *,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **settings: Unpack[RobotSettings],
    ) -> None:
        super().__init__(webhook, **settings)
        self._owns_client = http_client is None
        self._http = http_client or httpx.Client(timeout=self.timeout)
        self._sleep = sleep

    def __enter__(self) -> Robot:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_client:
            self._http.close()

    def send(
        self,
        message: RobotMessage,
        *,
        split: bool = False,
        wait: bool = True,
        msg_uuid: str | None = None,
    ) -> SendResult:
        """Send ``message``; with ``split=True`` an over-long text/markdown goes in parts.

        ``msg_uuid``: the idempotency key, for a message you may send again after a crash
        (DingTalk posts a ``msgUuid`` once, §2.1); a fresh one per call otherwise.

        Raises:
            MessageValidationError: before sending, if DingTalk would refuse the message.
            RateLimitError: with ``wait=False``, when the robot has no free slot.
            APIError: a subclass per family of DingTalk error codes.
            APIConnectionError: no answer after the retries.
        """
        prepared = self.target.prepare(message, split=split, msg_uuid=msg_uuid)
        responses = tuple(self.send_prepared(part, wait=wait) for part in prepared)
        return SendResult(tuple(p.msg_uuid for p in prepared), responses)

    def send_prepared(self, prepared: PreparedSend, *, wait: bool = True) -> dict[str, Any]:
        """Post one body made by :meth:`RobotTarget.prepare` (a part of a split message, say),
        with this robot's rate limit and retries; DingTalk's answer."""
        attempt = 0
        while True:
            attempt += 1
            delay = self._slot_delay(wait)
            if delay:
                self._sleep(delay)
            error: DingTalkError
            try:
                response = self._http.post(
                    self.target.url(clock=self._clock), content=prepared.body, headers=_HEADERS
                )
            except httpx.HTTPError as exc:
                error = self._connection_error(exc)
            else:
                data, api_error = parse_response(
                    response.status_code, response.content, robot=self.name
                )
                if api_error is None:
                    return data
                error = api_error
            if not self.retry.should_retry(attempt, error):
                raise error
            delay = self.retry.delay(attempt, error)
            self._log_retry(attempt, error, delay)
            self._sleep(delay)


class AsyncRobot(_RobotBase[Coroutine[Any, Any, SendResult]]):
    """A custom group robot (自定义机器人), asynchronous; the same arguments as :class:`Robot`.

    >>> async with AsyncRobot(token="...", secret="SEC...") as robot:
    ...     await robot.send_text("deploy done", at_mobiles=["13800000000"])
    """

    def __init__(
        self,
        webhook: str | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **settings: Unpack[RobotSettings],
    ) -> None:
        super().__init__(webhook, **settings)
        self._owns_client = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=self.timeout)
        self._sleep = sleep

    async def __aenter__(self) -> AsyncRobot:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._http.aclose()

    async def send(
        self,
        message: RobotMessage,
        *,
        split: bool = False,
        wait: bool = True,
        msg_uuid: str | None = None,
    ) -> SendResult:
        """Send ``message``; see :meth:`Robot.send`."""
        prepared = self.target.prepare(message, split=split, msg_uuid=msg_uuid)
        responses = [await self.send_prepared(part, wait=wait) for part in prepared]
        return SendResult(tuple(p.msg_uuid for p in prepared), tuple(responses))

    async def send_prepared(self, prepared: PreparedSend, *, wait: bool = True) -> dict[str, Any]:
        """Post one body made by :meth:`RobotTarget.prepare`; see :meth:`Robot.send_prepared`."""
        attempt = 0
        while True:
            attempt += 1
            if self._limiter_blocks:
                delay = await asyncio.to_thread(self._slot_delay, wait)
            else:
                delay = self._slot_delay(wait)
            if delay:
                await self._sleep(delay)
            error: DingTalkError
            try:
                response = await self._http.post(
                    self.target.url(clock=self._clock), content=prepared.body, headers=_HEADERS
                )
            except httpx.HTTPError as exc:
                error = self._connection_error(exc)
            else:
                data, api_error = parse_response(
                    response.status_code, response.content, robot=self.name
                )
                if api_error is None:
                    return data
                error = api_error
            if not self.retry.should_retry(attempt, error):
                raise error
            delay = self.retry.delay(attempt, error)
            self._log_retry(attempt, error, delay)
            await self._sleep(delay)
