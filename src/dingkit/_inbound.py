"""What every server dingkit runs (the callback receiver, the bots' HTTP app, and the relay to
come) does with a request it will not take: refuse it with a 4xx and a one-line reason, and
log that once per reason a minute, however many arrive (issue 10, defects 3 and 10). Also the
body read they share: bounded in size and in time.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

__all__ = ["BODY_TIMEOUT", "REFUSAL_LOG_INTERVAL", "RefusalLog", "Refused", "read_body"]

#: Seconds a client has to send the body it declared; a stalled upload is then let go (408).
BODY_TIMEOUT = 30.0
#: Seconds between two log lines for refused requests of the same reason.
REFUSAL_LOG_INTERVAL = 60.0


class Refused(Exception):
    """A request refused: its HTTP status, a short reason to count it by, and one line saying
    what was wrong (never a secret, never the body)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message

    def response(self) -> JSONResponse:
        # A slow body's connection is let go: it may still hold the rest of that body.
        close = {"Connection": "close"} if self.status == 408 else None
        return JSONResponse(
            {"error": self.reason, "message": self.message}, status_code=self.status, headers=close
        )


class RefusalLog:
    """Logs a refusal once per reason per :data:`REFUSAL_LOG_INTERVAL`, with how many were left
    out since: a flood of bad requests must not flood the log."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger = logger
        self.what = what  # "a push", "a message"
        self._logged: dict[str, float] = {}
        self._quiet: Counter[str] = Counter()

    def log(self, refused: Refused, client: str) -> None:
        now = time.monotonic()
        last = self._logged.get(refused.reason)
        if last is not None and now - last < REFUSAL_LOG_INTERVAL:
            self._quiet[refused.reason] += 1
            return
        quiet = self._quiet.pop(refused.reason, 0)
        self._logged[refused.reason] = now
        more = f" ({quiet} more like it not logged)" if quiet else ""
        self.logger.warning("refused %s from %s: %s%s", self.what, client, refused.message, more)


async def read_body(request: Request, *, max_body: int, within: float) -> bytes:
    """The whole body, at most ``max_body`` bytes, arriving within ``within`` seconds.

    Raises:
        Refused: 413 too big (declared or sent), 408 too slow, 400 the client went away.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > max_body:
        raise Refused(413, "size", f"the body is over {max_body} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        with anyio.fail_after(within):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_body:
                    raise Refused(413, "size", f"the body is over {max_body} bytes")
                chunks.append(chunk)
    except ClientDisconnect:
        raise Refused(400, "disconnect", "the client went away mid-body") from None
    except TimeoutError:
        raise Refused(408, "slow", f"the body did not arrive within {within:g} s") from None
    return b"".join(chunks)
