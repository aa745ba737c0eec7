"""The catalogue of DingTalk error codes: one row per code and family, read by everything.

A row (:class:`ErrorCodeInfo`) says what a code means, what to do, whether and how to retry,
the exception class dingkit raises for it, whether it means "the token was rejected: refresh
it once and retry", and (new family) its HTTP status. :func:`dingkit._errors.error_from_response`
picks the class from it, :func:`dingkit._retry.is_retryable` the retry decision,
:func:`dingkit._auth.is_token_rejection` the token refresh, and ``dingkit errors CODE`` prints
it; a row added here changes all of them together. Pure data and decisions, no I/O.

The rows live in one module per family (``robot``, ``oapi`` with ``limits``,
``notifications``, ``callback``, ``api`` with ``approval``), loaded on the first lookup so
that ``import dingkit`` stays cheap. A number can mean different things in different
families, so a lookup returns every row for the code::

    >>> [info.api.value for info in lookup(40035)]
    ['robot', 'oapi']
    >>> lookup("InvalidAuthentication")[0].retry
    <Retry.REFRESH_TOKEN: 'refresh-token'>
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from enum import StrEnum

from .._exceptions import (
    APIError,
    DingTalkError,
    RateLimitError,
    ServerError,
)
from .._wire import CHINA, CHINA_TIME_FORMAT

__all__ = [
    "DEFAULT_MAX_WAIT",
    "Api",
    "ErrorCodeInfo",
    "Retry",
    "all_codes",
    "ban_seconds_left",
    "catalogue_message",
    "info_for_error",
    "lookup",
    "may_retry",
    "retry_advice",
    "retry_class",
    "row_for",
    "row_for_status",
]

#: The longest wait DingTalk may name (a ban's end, a robot's block) that dingkit sits out
#: before retrying; :class:`dingkit.RetryPolicy` ``max_wait`` defaults to it.
DEFAULT_MAX_WAIT = 60.0


class Retry(StrEnum):
    """Whether and how a failed call may be retried (the policy of protocol §9.4)."""

    NO = "no"  # never retry: fix the request/config
    BACKOFF = "backoff"  # retry with exponential backoff + jitter (§9.4)
    AFTER_1S = "after-1s"  # QPS limits: sleep ≥ 1 s (the row's `wait`) then back off
    REFRESH_TOKEN = "refresh-token"  # invalidate the cached access token, retry once
    AFTER_BAN = "after-ban"  # banned for a period (robot 10-minute block, 900xx bans, IP ban)
    NOT_AN_ERROR = "not-an-error"  # code 0


class Api(StrEnum):
    """The DingTalk API family a code belongs to (protocol §0.3)."""

    ROBOT = "robot"  # custom group robot webhook (oapi /robot/send)
    OAPI = "oapi"  # old server API family (errcode in an HTTP 200 body)
    API = "api"  # new server API family (HTTP status + string `code`)
    CALLBACK = "callback"  # callback crypto library codes (9000xx)


@dataclass(frozen=True, slots=True)
class ErrorCodeInfo:
    """One DingTalk error code in one API family.

    Usage::

        for info in lookup(310000):
            print(info.meaning, info.action, info.raises.__name__)

    Args:
        code: the code as DingTalk sends it: ``"310000"``, ``"-1"``,
            ``"InvalidAuthentication"``; HTTP-status-only rows are ``"HTTP 503"``.
        api: the family the code belongs to.
        meaning: one English sentence.
        retry: whether and how to retry; :func:`may_retry` turns it into the decision.
        action: what the user should do, imperative.
        raises: the exception class dingkit raises for the code.
        http_status: the HTTP status of a new-API (``Api.API``) error.
        errmsg_examples: ``errmsg``/``message`` texts, verbatim from DingTalk unless the
            note says they are inferred; the first one is what :func:`catalogue_message`
            (and so the sandbox) answers with.
        note: caveats: observed only, not in DingTalk's own table, sources disagreeing.
        documented: False when the code was only observed or only appears in
            third-party guides.
        wait: the seconds the limit behind the code lasts when the answer does not say
            (QPS 1 s, QPM 60 s, a robot's block 600 s): ``RateLimitError.retry_after``.
        ban_end_in_message: the errmsg may say when the ban ends ("处罚将在 <China time>
            结束", §9.1); dingkit then reads ``retry_after`` from it.
    """

    code: str
    api: Api
    meaning: str
    retry: Retry
    action: str
    raises: type[DingTalkError]
    http_status: int | None = None
    errmsg_examples: tuple[str, ...] = ()
    note: str = ""
    documented: bool = True
    wait: float | None = None
    ban_end_in_message: bool = False

    @property
    def token_rejected(self) -> bool:
        """DingTalk rejected the access token: drop it, fetch a new one, retry once."""
        return self.retry is Retry.REFRESH_TOKEN


# -- the table --------------------------------------------------------------------------

_Index = dict[str, tuple[ErrorCodeInfo, ...]]


@functools.cache
def _catalogue() -> tuple[tuple[ErrorCodeInfo, ...], _Index, _Index]:
    # Imported here: the family modules import this package's row type, and loading the
    # rows waits until a code is first looked up.
    from . import api, approval, callback, cards, limits, notifications, oapi, robot, robot_api

    rows: tuple[ErrorCodeInfo, ...] = (
        *robot.ROWS,
        *oapi.ROWS,
        *limits.ROWS,
        *notifications.ROWS,
        *callback.ROWS,
        *api.ROWS,
        *approval.ROWS,
        *robot_api.ROWS,
        *cards.ROWS,
    )
    exact: dict[str, list[ErrorCodeInfo]] = {}
    folded: dict[str, list[ErrorCodeInfo]] = {}
    for info in rows:
        exact.setdefault(info.code, []).append(info)
        folded.setdefault(info.code.casefold(), []).append(info)
    return (
        rows,
        {code: tuple(infos) for code, infos in exact.items()},
        {code: tuple(infos) for code, infos in folded.items()},
    )


def _reload() -> None:
    """Forget the loaded rows (tests that add a row call it)."""
    _catalogue.cache_clear()


_INTEGER = re.compile(r"[+-]?\d+")


def lookup(code: str | int) -> tuple[ErrorCodeInfo, ...]:
    """All entries for a code (a number can mean different things in the robot and the
    old-API families, e.g. 40035). Accepts ints, numeric strings with surrounding spaces, and
    new-API codes case-sensitively first then case-insensitively. Empty tuple when unknown.
    """
    if isinstance(code, bool) or not isinstance(code, int | str):
        raise TypeError(f"an error code is a str or an int, not {type(code).__name__}")
    key = str(code).strip()
    if _INTEGER.fullmatch(key):
        key = str(int(key))
    _, exact, folded = _catalogue()
    return exact.get(key) or folded.get(key.casefold(), ())


def all_codes() -> tuple[ErrorCodeInfo, ...]:
    """Every entry, grouped by family: robot, old API, work notifications, callback, new API,
    approval."""
    return _catalogue()[0]


def catalogue_message(code: str | int, family: Api | str) -> str:
    """The ``errmsg`` (old family) or ``message`` (new family) DingTalk sends with ``code``.

    The row's first errmsg example, or its English meaning when none is recorded. The sandbox
    answers with it, so that its texts and ``dingkit errors`` agree::

        catalogue_message(60003, "oapi")  # '未找到对应部门'

    Raises:
        KeyError: the family has no row for the code.
    """
    for info in lookup(code):
        if info.api == family:
            return info.errmsg_examples[0] if info.errmsg_examples else info.meaning
    raise KeyError(f"no {family} row for error code {code!r}")


# -- which row an answer stands for -----------------------------------------------------

_ROBOT_ORDER = (Api.ROBOT, Api.OAPI, Api.CALLBACK, Api.API)
_SERVER_ORDER = (Api.OAPI, Api.API, Api.CALLBACK, Api.ROBOT)


def row_for(code: str | int, *, robot: bool = False) -> ErrorCodeInfo | None:
    """The row a code in an answer stands for: the robot's reading for a robot's answer,
    the server APIs' otherwise (40035, -1 and 43004 mean different things per family).

    A new-family code with no row of its own falls back to its prefix
    (``invalidParameter.robotCode.empty`` reads as ``invalidParameter``).
    """
    key = str(code).strip()
    while key:
        infos = lookup(key)
        for api in _ROBOT_ORDER if robot else _SERVER_ORDER:
            for info in infos:
                if info.api is api:
                    return info
        key = key.rpartition(".")[0]
    return None


def row_for_status(http_status: int | None) -> ErrorCodeInfo | None:
    """The ``HTTP <status>`` row of an answer that carries no code (§0.3's generic list)."""
    if http_status is None:
        return None
    return row_for(f"HTTP {http_status}")


def info_for_error(error: APIError) -> ErrorCodeInfo | None:
    """The row an error was raised for, or ``None`` (unknown code, dingkit's own limiter)."""
    if error.errcode == 88 and error.code:
        # /topapi/ gateway errors: the sub_code is the real code (§0.3).
        return row_for(error.code)
    if error.errcode is not None:
        return row_for(error.errcode, robot=error.robot is not None)
    if error.code:
        return row_for(error.code) or row_for_status(error.http_status)
    return row_for_status(error.http_status)


def retry_class(error: APIError) -> Retry:
    """The retry advice for an error: its row's, or for codes without a row the advice its
    class implies (server errors back off, rate limits wait, the rest are not retried)."""
    info = info_for_error(error)
    if info is not None:
        return info.retry
    if isinstance(error, RateLimitError):
        return Retry.AFTER_BAN
    if isinstance(error, ServerError):
        return Retry.BACKOFF
    return Retry.NO


def may_retry(retry: Retry, retry_after: float | None, max_wait: float) -> bool:
    """The retry rule, for the SDK and for ``dingkit errors`` alike.

    Args:
        retry: the row's advice.
        retry_after: the seconds DingTalk named (a ban's end, a robot's block), if any.
        max_wait: the longest such wait the caller sits out (``RetryPolicy.max_wait``).
    """
    if retry_after is not None and retry_after > max_wait:
        # Waiting that long inside a call helps nobody: raise RateLimitError with
        # retry_after set and let the caller schedule the retry.
        return False
    if retry is Retry.AFTER_BAN:
        # Calling during a ban extends it (§9.1): only once its end is known and near.
        return retry_after is not None
    return retry in (Retry.BACKOFF, Retry.AFTER_1S)


_RETRY_TEXT = {
    Retry.NO: "no — fix the request or the configuration first",
    Retry.BACKOFF: "yes, with exponential backoff and jitter",
    Retry.AFTER_1S: "yes, after at least {wait:g} s, then with backoff",
    Retry.REFRESH_TOKEN: "once, after fetching a new access token (dingkit does this for you)",
    Retry.AFTER_BAN: "only after the block or ban ends; retrying earlier extends it",
    Retry.NOT_AN_ERROR: "not an error",
}


def retry_advice(info: ErrorCodeInfo, max_wait: float = DEFAULT_MAX_WAIT) -> str:
    """What dingkit does about a code, in one sentence, from the rule of :func:`may_retry`
    (``dingkit errors`` prints it, so it cannot drift from what the SDK does)."""
    text = _RETRY_TEXT[info.retry].format(wait=info.wait or 1.0)
    if info.retry in (Retry.BACKOFF, Retry.AFTER_1S, Retry.AFTER_BAN) and not (
        info.retry is Retry.AFTER_BAN and info.wait is None
    ):
        if may_retry(info.retry, info.wait, max_wait):
            text += " (dingkit does this for you)"
        else:
            text += (
                f"; it lasts {info.wait:g} s, longer than dingkit waits (RetryPolicy.max_wait, "
                f"{max_wait:g} s), so dingkit raises RateLimitError with retry_after="
                f"{info.wait:g} without calling again"
            )
    if info.ban_end_in_message:
        text += (
            "; when DingTalk's message says when the ban ends, dingkit waits and retries if "
            f"that is within {max_wait:g} s (RetryPolicy.max_wait), otherwise it raises "
            "RateLimitError with retry_after set to the seconds left, without calling again"
        )
        if info.retry is Retry.AFTER_BAN:
            text += "; with no end time in the message it does not retry"
    elif info.retry is Retry.AFTER_BAN and info.wait is None:
        text += "; DingTalk does not say when it ends, so dingkit does not retry"
    return text


# -- bans -------------------------------------------------------------------------------

#: China Standard Time, the zone of the times in DingTalk's messages.
# "…, 处罚将在 2019-02-13 20:40:05 结束." (§9.1, the live 90002 text).
_BAN_END = re.compile(r"处罚将在\s*(\d{4}-\d{1,2}-\d{1,2}\s+\d{1,2}:\d{2}:\d{2})\s*结束")


def ban_seconds_left(message: str, now: float) -> float | None:
    """Seconds from ``now`` (epoch seconds) until the ban a 900xx errmsg announces ends;
    ``None`` when the message names no end. Never negative."""
    match = _BAN_END.search(message)
    if match is None:
        return None
    try:
        ends = dt.datetime.strptime(" ".join(match.group(1).split()), CHINA_TIME_FORMAT)
    except ValueError:
        return None
    return max(0.0, ends.replace(tzinfo=CHINA).timestamp() - now)
