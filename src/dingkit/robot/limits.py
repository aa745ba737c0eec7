"""How fast a custom robot may send (§2.3): the one declaration the client and the sandbox
both read. No I/O.

DingTalk allows each robot 20 messages in any minute and blocks it for 10 minutes after a
21st. The sandbox enforces exactly :func:`robot_window`; the client keeps
:func:`client_window`, the same window a little longer.

``DINGKIT_TEST_ROBOT_PERIOD`` (seconds) is for tests: it shortens the window on both sides at
once, so that a test of waiting for a slot need not wait a minute. The sandbox reads it when it
is built, the client when a robot is built, and the client ignores it for a robot that posts to
DingTalk itself: a stray setting must never get a real robot blocked.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .._exceptions import ConfigurationError

__all__ = [
    "CLIENT_MARGIN",
    "ROBOT_LIMIT",
    "ROBOT_PERIOD",
    "TEST_PERIOD_ENV",
    "RobotWindow",
    "client_window",
    "robot_window",
]

logger = logging.getLogger("dingkit.robot")

#: Messages a robot may send in any :data:`ROBOT_PERIOD` seconds (§2.3).
ROBOT_LIMIT = 20
ROBOT_PERIOD = 60.0
#: The client's window is this much longer than DingTalk's: DingTalk counts arrivals, and a
#: 21st message sent exactly a period after the 1st may arrive sooner after it than the 1st did.
CLIENT_MARGIN = 1.0
TEST_PERIOD_ENV = "DINGKIT_TEST_ROBOT_PERIOD"


@dataclass(frozen=True, slots=True)
class RobotWindow:
    """At most ``limit`` messages in any ``period`` seconds."""

    limit: int
    period: float


def _test_period(environ: Mapping[str, str]) -> float | None:
    raw = environ.get(TEST_PERIOD_ENV, "").strip()
    if not raw:
        return None
    try:
        period = float(raw)
    except ValueError:
        period = 0.0
    if not 0 < period <= ROBOT_PERIOD:
        raise ConfigurationError(
            f"{TEST_PERIOD_ENV} must be a number of seconds above 0 and at most "
            f"{ROBOT_PERIOD:g}, not {raw!r} (it is for tests; unset it otherwise)"
        )
    return period


def robot_window(environ: Mapping[str, str] | None = None) -> RobotWindow:
    """DingTalk's window, which the sandbox enforces (shortened by the test setting)."""
    period = _test_period(os.environ if environ is None else environ)
    return RobotWindow(ROBOT_LIMIT, ROBOT_PERIOD if period is None else period)


def _is_dingtalk(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "dingtalk.com" or host.endswith(".dingtalk.com")


def client_window(url: str, environ: Mapping[str, str] | None = None) -> RobotWindow:
    """The window the client keeps for a robot posting to ``url``."""
    window = robot_window(environ)
    if window.period != ROBOT_PERIOD and _is_dingtalk(url):
        logger.warning("%s is ignored for a robot of DingTalk itself", TEST_PERIOD_ENV)
        window = RobotWindow(ROBOT_LIMIT, ROBOT_PERIOD)
    return RobotWindow(window.limit, window.period + CLIENT_MARGIN)
