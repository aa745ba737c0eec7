"""Rate-limit windows in one small file, shared by every process of a user on one host.

    >>> robot = Robot(token="...", rate_limit=FileRateLimitStore("/tmp/dingkit-rate.json"))

The file is JSON, ``{key: {"period": seconds, "times": [epoch seconds, ...]}}``: the slots each
window has granted, reservations in the future included. Every call opens it, takes an
exclusive ``flock``, reads, runs :func:`dingkit._ratelimit.take_slot`, writes it back in place
and closes it (which unlocks), so processes and threads queue on the lock and never hand out
one slot twice. Times are wall-clock seconds, the only clock processes share.

What does not parse (an empty file, a torn write, someone's edit) counts as no slots taken and
is rewritten. When the file cannot be used at all (a read-only home, no ``flock`` on Windows)
the store says so once in the log and keeps its windows in this process instead: sends go on,
limited per process as before.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from pathlib import Path

from ._ratelimit import Clock, MemoryRateLimitStore, forget_old, take_slot

if sys.platform != "win32":
    import fcntl

__all__ = ["FileRateLimitStore"]

logger = logging.getLogger("dingkit.robot.ratelimit")

# A window file holds a few robots' twenty-odd times; anything much bigger is not ours.
_MAX_BYTES = 1 << 20

#: key -> (period, ascending slot times)
_Windows = dict[str, tuple[float, list[float]]]


def _parse(raw: bytes) -> _Windows:
    """The windows in ``raw``; whatever is not a well-formed window is left out."""
    if len(raw) > _MAX_BYTES:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:  # empty, torn or not JSON (UnicodeDecodeError is a ValueError)
        return {}
    if not isinstance(data, dict):
        return {}
    windows: _Windows = {}
    for key, entry in data.items():
        if not isinstance(entry, dict):
            continue
        period, times = entry.get("period"), entry.get("times")
        if not isinstance(period, int | float) or not isinstance(times, list):
            continue
        valid = [float(t) for t in times if isinstance(t, int | float) and math.isfinite(t)]
        if math.isfinite(period) and period > 0:
            windows[key] = (float(period), sorted(valid))
    return windows


def _dump(windows: _Windows) -> bytes:
    data = {key: {"period": period, "times": times} for key, (period, times) in windows.items()}
    return json.dumps(data, separators=(",", ":")).encode()


class FileRateLimitStore:
    """Rate-limit windows in a JSON file, locked with ``flock`` for each call.

    Args:
        path: the file (created with mode 0600, its folder as needed). The CLI and the SDK's
            default use ``<data dir>/rate-limits.json``, beside the CLI's token cache.
        clock: wall-clock seconds since the epoch; injectable for tests.
    """

    def __init__(self, path: str | os.PathLike[str], *, clock: Clock = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._fallback: MemoryRateLimitStore | None = None

    def __repr__(self) -> str:
        return f"FileRateLimitStore({str(self.path)!r})"

    def reserve(self, key: str, limit: int, period: float) -> float:
        return self._take(key, limit, period, wait=True)

    def try_acquire(self, key: str, limit: int, period: float) -> float:
        return self._take(key, limit, period, wait=False)

    def _take(self, key: str, limit: int, period: float, *, wait: bool) -> float:
        if self._fallback is None:
            try:
                return self._take_in_file(key, limit, period, wait=wait)
            except OSError as error:
                logger.warning(
                    "cannot share robot rate limits through %s (%s); this process keeps its own",
                    self.path,
                    error.strerror or error,
                )
                self._fallback = MemoryRateLimitStore(clock=self.clock)
        if wait:
            return self._fallback.reserve(key, limit, period)
        return self._fallback.try_acquire(key, limit, period)

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        try:
            return os.open(self.path, flags, 0o600)
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, flags, 0o600)

    def _take_in_file(self, key: str, limit: int, period: float, *, wait: bool) -> float:
        if sys.platform == "win32":
            raise OSError("no flock on Windows")
        with os.fdopen(self._open(), "r+b") as handle:
            # Held until the file is closed. Written in place, not replaced by a rename: a
            # rename would leave waiting processes holding a lock on the old file.
            fcntl.flock(handle, fcntl.LOCK_EX)
            now = self.clock()  # after the lock: the wait for it may have taken a while
            windows = _parse(handle.read(_MAX_BYTES + 1))
            _, granted = windows.get(key, (period, []))
            delay = take_slot(granted, now, limit, period, wait=wait)
            windows[key] = (period, granted)
            kept: _Windows = {}
            for name, (length, times) in windows.items():
                forget_old(times, now, length)
                if times:
                    kept[name] = (length, times)
            handle.seek(0)
            handle.write(_dump(kept))
            handle.truncate()
        return delay
