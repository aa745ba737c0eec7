"""The sandbox's own bugs: an exception no rule meant to raise. It is answered as what it is,
in the family's shape, with a code that says "sandbox bug" (never DingTalk's ``-1`` "system
busy", which a client would retry and which hides the bug), recorded for ``GET
/_sandbox/errors``, logged once with its traceback, and the connection stays open.

    old family   HTTP 200  {"errcode": 990001, "errmsg": "sandbox bug: ..."}
    new family   HTTP 500  {"code": "SandboxBug", "message": "sandbox bug: ...", "requestid"}
    /_sandbox/*  HTTP 500  {"error": "sandbox bug: ..."}

Every bug is also kept in :data:`RECORDED` (the process's, newest last), which the test suite
checks after every test: a test that provokes one fails.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._wire import family_of
from .gateway.answers import api_error, oapi_error

__all__ = [
    "BUG_CODE",
    "BUG_ERRCODE",
    "RECORDED",
    "Bug",
    "BugCatcher",
    "bug_count",
    "recorded_bugs",
]

logger = logging.getLogger("dingkit.sandbox")

#: The old family's errcode for a sandbox bug; DingTalk uses no 99xxxx codes.
BUG_ERRCODE = 990001
#: The new family's code for a sandbox bug.
BUG_CODE = "SandboxBug"
_KEEP = 200


@dataclass(frozen=True, slots=True)
class Bug:
    at: float
    method: str
    path: str
    error: str
    traceback: str


#: Every bug this process's sandboxes met (the last :data:`_KEEP`).
RECORDED: list[Bug] = []
_LOCK = threading.Lock()
_total = 0


def bug_count() -> int:
    """How many bugs this process's sandboxes met so far (the suite compares it per test)."""
    return _total


def recorded_bugs() -> list[dict[str, Any]]:
    with _LOCK:
        return [asdict(bug) for bug in RECORDED]


def _record(scope: Scope, exc: BaseException) -> Bug:
    bug = Bug(
        at=time.time(),
        method=str(scope.get("method", "")),
        path=str(scope.get("path", "")),
        error=f"{type(exc).__name__}: {exc}"[:500],
        traceback="".join(traceback.format_exception(exc))[-4000:],
    )
    global _total
    with _LOCK:
        RECORDED.append(bug)
        del RECORDED[:-_KEEP]
        _total += 1
    logger.error("sandbox bug while serving %s %s\n%s", bug.method, bug.path, bug.traceback)
    return bug


def _answer(bug: Bug) -> Response:
    text = f"sandbox bug: {bug.error} (GET /_sandbox/errors lists it); please report it"
    if bug.path.startswith("/_sandbox/"):
        return JSONResponse({"error": text}, status_code=500)
    if family_of(bug.path) == "api":
        return api_error(500, BUG_CODE, text)
    return oapi_error(BUG_ERRCODE, text)


class BugCatcher:
    """ASGI middleware around the sandbox's routes: a bug's answer, and the connection lives
    on (Starlette's own error middleware re-raises, and uvicorn then drops the connection)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            bug = _record(scope, exc)
            if started:
                raise  # half an answer went out: nothing sensible can follow it
            await _answer(bug)(scope, receive, send)
