"""``callback serve --exec``: each handler process gets its event as a complete file on
standard input (never a pipe the receiver may die half-way through writing) and runs in a
process group of its own, which the receiver kills when it stops (issue 10, defect 8)."""

from __future__ import annotations

import shlex
import sys

import pytest

from dingkit.callback.events import parse_event
from dingkit.cli.callback_serve import build_handlers, stop_exec_handlers

pytestmark = pytest.mark.anyio

EVENT = parse_event({"EventType": "user_add_org", "eventId": "e1", "userId": ["u1"]})
CHECK = r"""
import json, os, stat, sys
assert stat.S_ISREG(os.fstat(0).st_mode), "stdin is not a complete file"
assert os.getpgid(0) == os.getpid(), "not in a process group of its own"
assert json.load(sys.stdin)["event_id"] == "e1"
"""


def _handler(command: str):  # type: ignore[no-untyped-def]
    handlers = build_handlers(command, None)
    (handler,) = handlers.for_event(EVENT)
    return handler


async def test_the_event_is_a_complete_file_and_the_process_leads_its_own_group() -> None:
    handler = _handler(f"{shlex.quote(sys.executable)} -c {shlex.quote(CHECK)}")
    await handler(EVENT)  # raises with the child's last stderr line if a check failed


async def test_a_failing_check_would_be_seen() -> None:
    handler = _handler(f"{shlex.quote(sys.executable)} -c 'import sys; sys.exit(3)'")
    with pytest.raises(RuntimeError, match="exited with 3"):
        await handler(EVENT)


def test_stopping_kills_what_still_runs() -> None:
    assert stop_exec_handlers() == 0  # nothing running: nothing to kill
