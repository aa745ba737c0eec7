"""The rule of ``POST /robot/send`` (§2), without HTTP: find the robot by its token, judge
the request (:mod:`.rules`), keep a resent ``msgUuid`` from showing twice, count the message
against the robot's minute, and store it. Every refusal is recorded for the chat page.

    errcode, errmsg = send(sandbox, token=..., content_type="application/json",
                           client_ip="127.0.0.1", query={...}, body=b"...")
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .faults import BUSY
from .rules import robot_error

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = ["GatewayUnavailable", "send"]

logger = logging.getLogger("dingkit.sandbox")

OK = (0, "ok")


class GatewayUnavailable(Exception):
    """A fault asked for by a test (:mod:`.faults`): the send is answered HTTP 503."""


def send(
    sandbox: Sandbox,
    *,
    token: str,
    content_type: str,
    client_ip: str | None,
    query: Mapping[str, str],
    body: bytes,
) -> tuple[int, str]:
    """DingTalk's ``(errcode, errmsg)`` for one webhook request; ``(0, "ok")`` when the
    message was accepted (or was a resend of one already shown).

    Raises:
        GatewayUnavailable: a fault asked for answers this send with HTTP 503.
    """
    robot = sandbox.robot.robot_by_token(token) if token else None
    era = sandbox.config.errcodes

    def refuse(reason: str, details: Mapping[str, str] | None = None) -> tuple[int, str]:
        errcode, errmsg = robot_error(reason, era, **(details or {}))
        sandbox.robot.add_rejection(
            robot=robot, errcode=errcode, errmsg=errmsg, reason=reason, body=body
        )
        _log(robot.name if robot else "(unknown token)", f"{errcode} {reason}")
        return errcode, errmsg

    if robot is None:
        return refuse("unknown_token")
    fault = sandbox.judge.faults.draw(robot.name)
    if fault == "busy":
        _log(robot.name, "-1 busy (a fault asked for)")
        return BUSY
    if fault == "unavailable":
        _log(robot.name, "HTTP 503 (a fault asked for)")
        raise GatewayUnavailable
    outcome = sandbox.judge.check_request(
        robot, content_type=content_type, client_ip=client_ip, query=query, body=body
    )
    if outcome.reason is not None:
        return refuse(outcome.reason, outcome.details)
    assert outcome.payload is not None
    assert outcome.message is not None
    msg_uuid = _msg_uuid(outcome.payload.get("msgUuid"))
    if msg_uuid is not None and sandbox.robot.has_message(robot.name, msg_uuid):
        # A resend after a timeout: DingTalk shows the message once (§2.1, msgUuid).
        _log(robot.name, "0 resend of a message shown once")
        return OK
    limited = sandbox.judge.take_rate_slot(robot)
    if limited is not None and limited.reason is not None:
        return refuse(limited.reason)
    sandbox.robot.add_message(robot, outcome.message.msgtype, msg_uuid, outcome.payload)
    _log(robot.name, f"0 {outcome.message.msgtype}")
    return OK


def _log(robot: str, outcome: str) -> None:
    """One line per webhook request: the robot's name and what became of the message (never
    the token)."""
    logger.info("POST /robot/send %s -> %s", robot, outcome)


def _msg_uuid(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
