"""When to retry and how long to wait: a pure policy, driven by the sync and async clients.

Which answers are retried follows §9.4 of the protocol reference; each branch of
:func:`is_retryable` says which DingTalk behaviour it answers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ._exceptions import (
    APIConnectionError,
    APIError,
    DingTalkError,
    RateLimitError,
    ServerError,
)

__all__ = ["DEFAULT_RETRY", "NO_RETRY", "RetryPolicy", "is_retryable"]

# Named defaults (§9.4 suggests 1 s, 2 s, 4 s, at most 3 tries).
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_INITIAL_DELAY = 1.0
DEFAULT_MAX_DELAY = 8.0
DEFAULT_JITTER = 0.25


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter.

    Args:
        max_attempts: tries in all, the first one included (1 disables retries).
        initial_delay: seconds before the second try.
        max_delay: cap on any single delay.
        jitter: each delay is multiplied by a random factor in ``[1 - jitter, 1 + jitter]``
            so that many clients do not retry in lockstep.
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    initial_delay: float = DEFAULT_INITIAL_DELAY
    max_delay: float = DEFAULT_MAX_DELAY
    jitter: float = DEFAULT_JITTER
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int, error: DingTalkError | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        if attempt == 1 and type(error) is APIConnectionError:
            # A pooled keep-alive connection the server had just closed: the next try opens
            # a fresh one, so waiting gains nothing. Timeouts still back off.
            return 0.0
        base: float = min(self.max_delay, self.initial_delay * 2.0 ** (attempt - 1))
        spread: float = 1 + self.rng.uniform(-self.jitter, self.jitter)
        delay = max(0.0, base * spread)
        if isinstance(error, RateLimitError) and error.retry_after:
            # DingTalk named the wait: jitter may only lengthen it, never cut it short.
            delay = max(delay, error.retry_after * (1 + abs(spread - 1)))
        return delay

    def should_retry(self, attempt: int, error: DingTalkError) -> bool:
        return attempt < self.max_attempts and is_retryable(error)


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(max_attempts=1)

# Old-API errcodes that §9.4 retries: -1 system busy, 15 backend timeout, 90001-90014 and
# 90017 temporary bans, 90002 global QPS, 90018 per-app QPS; 88004 as some guides say.
_RETRYABLE_ERRCODES = frozenset({-1, 15, 88004, 90017, 90018, *range(90001, 90015)})


def is_retryable(error: DingTalkError) -> bool:
    """Whether trying the same request again may succeed."""
    if isinstance(error, APIConnectionError):
        # Network errors and timeouts: safe for robots because msgUuid makes the resend
        # idempotent, and the other APIs dingkit retries are reads or idempotent writes.
        return True
    if not isinstance(error, APIError):
        return False  # validation and configuration errors never get better
    if error.errcode == 88:
        # errcode 88 with an empty sub_code means DingTalk's auth service timed out.
        return not error.code
    if error.errcode in _RETRYABLE_ERRCODES:
        return True
    if isinstance(error, RateLimitError):
        # A custom robot over 20/min is blocked for 10 minutes: hammering it only extends
        # the block. QPS answers of the server APIs (403 *QpsLimit*) are retried.
        # The monthly quota (90020 / ApiCountLimitForOrg) has no retry_after: not retried.
        return (
            error.robot is None
            and error.errcode not in _ROBOT_RATE_LIMIT_ERRCODES
            and error.retry_after is not None
        )
    # HTTP 429/500/502/503/504 (504 is the new-API timeout signal).
    return isinstance(error, ServerError)


_ROBOT_RATE_LIMIT_ERRCODES = frozenset({130101, 410100, 660026})
