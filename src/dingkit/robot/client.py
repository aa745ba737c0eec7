"""``Robot`` and ``AsyncRobot``: the two send loops; everything else lives in the core.

Only the loop that does I/O (wait for a rate-limit slot, post, maybe sleep and retry) is
written twice. Building, signing, validating and parsing are in :mod:`.target`, and the
convenience ``send_*`` methods are written once in :class:`_RobotBase`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any, Generic, Literal, TypedDict, TypeVar

import httpx
from typing_extensions import Unpack

from .._exceptions import APIConnectionError, APITimeoutError, DingTalkError, RateLimitError
from .._ratelimit import LimiterRegistry, SlidingWindow
from .._redact import redact_http_logs, redact_url
from .._retry import DEFAULT_RETRY, RetryPolicy
from .messages import ActionButton, ActionCard, At, FeedCard, FeedLink, Link, Markdown, Text
from .messages import RobotMessage as RobotMessage
from .target import PreparedSend, RobotTarget, SendResult, parse_response

__all__ = ["AsyncRobot", "Robot", "RobotSettings"]

logger = logging.getLogger("dingkit.robot")
# Its own logger, so that the CLI can show waits without showing every retry.
wait_logger = logging.getLogger("dingkit.robot.ratelimit")

#: DingTalk allows each robot 20 messages in a minute, then blocks it for 10 minutes (§2.3).
ROBOT_MESSAGES_PER_MINUTE = 20
#: One window per robot token, shared by every client, thread and task of the process.
# The window is a second longer than DingTalk's minute: DingTalk counts arrivals, and a
# 21st message sent exactly 60 s after the 1st may arrive sooner after it than the 1st did.
ROBOT_LIMITERS = LimiterRegistry(ROBOT_MESSAGES_PER_MINUTE, 61.0)
DEFAULT_TIMEOUT = 10.0
_HEADERS = {"Content-Type": "application/json; charset=utf-8"}

_R = TypeVar("_R")
ButtonSpec = ActionButton | tuple[str, str]
FeedLinkSpec = FeedLink | tuple[str, str] | tuple[str, str, str]


class RobotSettings(TypedDict, total=False):
    """The constructor arguments shared by :class:`Robot` and :class:`AsyncRobot`."""

    token: str | None
    secret: str | None
    keyword: str | None
    name: str | None
    base_url: str | None
    rate_limit: bool | SlidingWindow
    retry: RetryPolicy
    timeout: float
    environ: Mapping[str, str] | None
    target: RobotTarget | None


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
        rate_limit: bool | SlidingWindow = True,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout: float = DEFAULT_TIMEOUT,
        environ: Mapping[str, str] | None = None,
        target: RobotTarget | None = None,
    ) -> None:
        self.target = target or RobotTarget.from_settings(
            webhook=webhook,
            token=token,
            secret=secret,
            keyword=keyword,
            name=name,
            base_url=base_url,
            environ=os.environ if environ is None else environ,
        )
        if rate_limit is True:
            self.limiter: SlidingWindow | None = ROBOT_LIMITERS.window(self.target.token)
        else:
            self.limiter = rate_limit or None
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
                    f"minute; DingTalk would block it for 10 minutes. Retry in {delay:.1f} s",
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

    def send(self, message: RobotMessage, *, split: bool = False, wait: bool = True) -> _R:
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
        rate_limit: ``True`` keeps this robot under 20 messages a minute process-wide;
            ``False`` turns that off; a ``SlidingWindow`` uses your own.
        retry: when and how long to retry (§9.4); ``NO_RETRY`` disables it.
        timeout: seconds per HTTP request.
        http_client: an ``httpx.Client`` to use (its transport, proxies...).
        sleep: how to wait (tests inject a fake clock).
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

    def send(self, message: RobotMessage, *, split: bool = False, wait: bool = True) -> SendResult:
        """Send ``message``; with ``split=True`` an over-long text/markdown goes in parts.

        Raises:
            MessageValidationError: before sending, if DingTalk would refuse the message.
            RateLimitError: with ``wait=False``, when the robot has no free slot.
            APIError: a subclass per family of DingTalk error codes.
            APIConnectionError: no answer after the retries.
        """
        prepared = self.target.prepare(message, split=split)
        responses = tuple(self._send_one(part, wait) for part in prepared)
        return SendResult(tuple(p.msg_uuid for p in prepared), responses)

    def _send_one(self, prepared: PreparedSend, wait: bool) -> dict[str, Any]:
        attempt = 0
        while True:
            attempt += 1
            delay = self._slot_delay(wait)
            if delay:
                self._sleep(delay)
            error: DingTalkError
            try:
                response = self._http.post(
                    self.target.url(), content=prepared.body, headers=_HEADERS
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
        self, message: RobotMessage, *, split: bool = False, wait: bool = True
    ) -> SendResult:
        """Send ``message``; see :meth:`Robot.send`."""
        prepared = self.target.prepare(message, split=split)
        responses = [await self._send_one(part, wait) for part in prepared]
        return SendResult(tuple(p.msg_uuid for p in prepared), tuple(responses))

    async def _send_one(self, prepared: PreparedSend, wait: bool) -> dict[str, Any]:
        attempt = 0
        while True:
            attempt += 1
            delay = self._slot_delay(wait)
            if delay:
                await self._sleep(delay)
            error: DingTalkError
            try:
                response = await self._http.post(
                    self.target.url(), content=prepared.body, headers=_HEADERS
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
