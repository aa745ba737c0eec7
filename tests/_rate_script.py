"""One scripted run of a rate-limit window, for checking that every store does the arithmetic
of :class:`dingkit.SlidingWindow`: the same steps on the same fake clock, the same delays."""

from __future__ import annotations

from collections.abc import Callable

from dingkit import SlidingWindow

#: (seconds to move the clock first, "reserve" or "try") for a window of 3 per 10 s.
LIMIT, PERIOD = 3, 10.0
SCRIPT: tuple[tuple[float, str], ...] = (
    (0.0, "try"),
    (1.0, "try"),
    (0.5, "reserve"),
    (0.0, "try"),  # full: refused, 8.5 s to go
    (0.0, "reserve"),  # queued behind the 1st: at 10
    (0.0, "reserve"),  # behind the 2nd: at 11
    (2.0, "try"),  # the reservations hold the window: refused
    (6.0, "reserve"),  # behind the 3rd (1.5): at 11.5
    (4.0, "try"),  # at 13.5: the 4th to 6th hold it until 20
    (7.0, "try"),  # at 20.5: free again
    (30.0, "try"),  # long after: free
    (0.0, "reserve"),
    (0.0, "reserve"),
    (0.0, "reserve"),  # the 4th in a row waits the whole period
)

Take = Callable[[str], float]


def run(take: Take, advance: Callable[[float], None]) -> list[float]:
    """The delays ``take("reserve"|"try")`` answers along :data:`SCRIPT`."""
    delays = []
    for step, operation in SCRIPT:
        advance(step)
        delays.append(round(take(operation), 6))
    return delays


def expected() -> list[float]:
    """What a :class:`SlidingWindow` answers."""
    now = [1_700_000_000.0]
    window = SlidingWindow(LIMIT, PERIOD, clock=lambda: now[0])

    def take(operation: str) -> float:
        return window.reserve() if operation == "reserve" else window.try_acquire()

    def advance(seconds: float) -> None:
        now[0] += seconds

    return run(take, advance)
