"""When to retry and how long to wait: a pure policy, driven by the sync and async clients.

Which answers are retried is the error catalogue's call (:mod:`._errcodes`, after §9.4 of
the protocol reference): each code's row carries its retry advice, and
:func:`dingkit._errcodes.may_retry` is the one rule that turns advice into a decision, for
the SDK and for ``dingkit errors`` alike.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ._errcodes import DEFAULT_MAX_WAIT, may_retry, retry_class
from ._exceptions import (
    APIConnectionError,
    APIError,
    DingTalkError,
    RateLimitError,
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
        max_wait: the longest wait DingTalk may name that is sat out before trying again:
            the end of a 900xx ban read from its message, a robot's 10-minute block, the
            per-IP ban. A longer one raises :class:`RateLimitError` at once, with
            ``retry_after`` set, without calling again. The tries stay bounded by
            ``max_attempts`` either way.
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    initial_delay: float = DEFAULT_INITIAL_DELAY
    max_delay: float = DEFAULT_MAX_DELAY
    jitter: float = DEFAULT_JITTER
    max_wait: float = DEFAULT_MAX_WAIT
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
        return attempt < self.max_attempts and is_retryable(error, max_wait=self.max_wait)


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(max_attempts=1)


def is_retryable(error: DingTalkError, *, max_wait: float = DEFAULT_MAX_WAIT) -> bool:
    """Whether trying the same request again may succeed, waiting at most ``max_wait``
    seconds for a wait DingTalk names."""
    if isinstance(error, APIConnectionError):
        # Network errors and timeouts: safe for robots because msgUuid makes the resend
        # idempotent, and the other APIs dingkit retries are reads or idempotent writes.
        return True
    if not isinstance(error, APIError):
        return False  # validation and configuration errors never get better
    retry_after = error.retry_after if isinstance(error, RateLimitError) else None
    return may_retry(retry_class(error), retry_after, max_wait)
