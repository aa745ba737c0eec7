"""Work notifications (工作通知), old API, §12 of the protocol reference. No I/O.

A work notification is sent by an app (``agent_id``) to userIds, departments or everyone; the
send is asynchronous and answers a ``task_id`` for progress, result and recall (§12.2).

    >>> send(WorkText(content="build 42 is green"), agent_id=123, userids=["manager0001"])

The message classes (from :mod:`._work_messages`) carry DingTalk's wire names and are checked
when built; :func:`send` checks the receivers and the 2048-byte limit of ``msg`` before
anything is sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field

from .._exceptions import ConfigurationError, MessageValidationError
from .._request import APIRequest, Endpoint
from ._models import DingTalkModel
from ._work_messages import (
    OA,
    ActionCardButton,
    OABody,
    OAFormItem,
    OAHead,
    OARich,
    OAStatusBar,
    WorkActionCard,
    WorkLink,
    WorkMarkdown,
    WorkMessage,
    WorkText,
    message_payload,
)

__all__ = [
    "MAX_DEPT_IDS",
    "MAX_MSG_BYTES",
    "MAX_USERIDS",
    "OA",
    "PROGRESS",
    "RECALL",
    "RESULT",
    "SEND",
    "ActionCardButton",
    "ForbiddenEntry",
    "NotificationProgress",
    "NotificationResult",
    "OABody",
    "OAFormItem",
    "OAHead",
    "OARich",
    "OAStatusBar",
    "WorkActionCard",
    "WorkLink",
    "WorkMarkdown",
    "WorkMessage",
    "WorkText",
    "message_payload",
    "progress",
    "recall",
    "resolve_agent_id",
    "result",
    "send",
]

MAX_USERIDS = 100  # userid_list, per the field table (§12.1; the 5000 receivers need depts)
MAX_DEPT_IDS = 20
MAX_MSG_BYTES = 2048  # the whole `msg`, JSON-encoded (§12.1)
MAX_STATUS_BAR_USERS = 5  # oa.status_bar only works for ≤ 5 userids, no depts, not all
_PATH = "/topapi/message/corpconversation/"

# The endpoints (§12.1, §12.2). Permission point qyapi_base (§12.1, on by default). Bad
# parameters answer 40035 (§12.1's table); recall's page lists 400002 (§12.2).
SEND = Endpoint(
    "POST",
    _PATH + "asyncsend_v2",
    scope="qyapi_base",
    param_error=40035,
    idempotent=False,  # a resend after a lost answer would notify everyone twice
)
PROGRESS = Endpoint("POST", _PATH + "getsendprogress", scope="qyapi_base", param_error=40035)
RESULT = Endpoint("POST", _PATH + "getsendresult", scope="qyapi_base", param_error=40035)
RECALL = Endpoint("POST", _PATH + "recall", scope="qyapi_base")


class NotificationProgress(DingTalkModel):
    """``status``: 0 not started, 1 running, 2 done."""

    progress_in_percent: int = 0
    status: int = 0

    @property
    def done(self) -> bool:
        return self.status == 2


class ForbiddenEntry(DingTalkModel):
    code: str  # e.g. "143105" (daily limit per user); §12.2 lists them
    count: int | None = None  # the threshold that was hit
    userid: str | None = None


class NotificationResult(DingTalkModel):
    """Who got the message. Lists DingTalk leaves out are empty (§12.2)."""

    invalid_user_id_list: list[str] = Field(default_factory=list)
    forbidden_user_id_list: list[str] = Field(default_factory=list)
    failed_user_id_list: list[str] = Field(default_factory=list)
    read_user_id_list: list[str] = Field(default_factory=list)
    unread_user_id_list: list[str] = Field(default_factory=list)
    invalid_dept_id_list: list[int] = Field(default_factory=list)
    forbidden_list: list[ForbiddenEntry] = Field(default_factory=list)


def resolve_agent_id(agent_id: int | str | None, environ: Mapping[str, str]) -> int:
    """``agent_id``, else ``DINGTALK_AGENT_ID``; a :class:`ConfigurationError` without either."""
    source = "agent_id"
    if agent_id is None:
        agent_id, source = environ.get("DINGTALK_AGENT_ID", "").strip() or None, "DINGTALK_AGENT_ID"
    if agent_id is None:
        raise ConfigurationError(
            "no agent id: pass agent_id= or set DINGTALK_AGENT_ID (the app's AgentId from the "
            "developer console)"
        )
    try:
        return int(agent_id)
    except ValueError:
        raise ConfigurationError(f"{source} must be a number, got {agent_id!r}") from None


def _receivers(
    userids: Sequence[str], dept_ids: Sequence[int], to_all_user: bool
) -> dict[str, Any]:
    if isinstance(userids, str):
        userids = [userids]
    userids, dept_ids = list(dict.fromkeys(userids)), list(dict.fromkeys(dept_ids))
    if to_all_user and (userids or dept_ids):
        raise MessageValidationError(
            "to_all_user sends to the whole organisation: leave userids and dept_ids empty",
            field="to_all_user",
        )
    if not (to_all_user or userids or dept_ids):
        raise MessageValidationError(
            "no receivers: give userids, dept_ids, or to_all_user=True", field="userid_list"
        )
    if len(userids) > MAX_USERIDS:
        raise MessageValidationError(
            f"{len(userids)} userids: at most {MAX_USERIDS} per call; split them, or send to "
            "their departments with dept_ids",
            field="userid_list",
        )
    if len(dept_ids) > MAX_DEPT_IDS:
        raise MessageValidationError(
            f"{len(dept_ids)} dept_ids: at most {MAX_DEPT_IDS} per call; split them",
            field="dept_id_list",
        )
    if any("," in userid or not userid for userid in userids):
        raise MessageValidationError("a userid is empty or has a comma", field="userid_list")
    data: dict[str, Any] = {}
    if userids:
        data["userid_list"] = ",".join(userids)
    if dept_ids:
        data["dept_id_list"] = ",".join(str(int(dept)) for dept in dept_ids)
    if to_all_user:
        data["to_all_user"] = True
    return data


def send(
    msg: WorkMessage | Mapping[str, Any] | str,
    *,
    agent_id: int,
    userids: Sequence[str] = (),
    dept_ids: Sequence[int] = (),
    to_all_user: bool = False,
) -> APIRequest[int]:
    """Send a work notification (``asyncsend_v2``); the answer is the ``task_id``.

    Raises:
        MessageValidationError: no receivers, too many, or ``msg`` over 2048 bytes.
    """
    receivers = _receivers(userids, dept_ids, to_all_user)
    payload = message_payload(msg)
    if (
        isinstance(msg, OA)
        and msg.status_bar is not None
        and (
            "userid_list" not in receivers
            or "dept_id_list" in receivers
            or len(receivers["userid_list"].split(",")) > MAX_STATUS_BAR_USERS
        )
    ):
        raise MessageValidationError(
            f"oa.status_bar only shows for at most {MAX_STATUS_BAR_USERS} userids with no "
            "dept_ids: send to fewer users, or drop the status bar",
            field="oa.status_bar",
        )
    size = len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_MSG_BYTES:
        raise MessageValidationError(
            f"msg is {size} bytes, over DingTalk's {MAX_MSG_BYTES}: shorten the text, or link "
            "to the details",
            field="msg",
        )
    return SEND.request(
        json={"agent_id": agent_id, **receivers, "msg": payload},
        parse=lambda d: int(d["task_id"]),
    )


def progress(task_id: int, *, agent_id: int) -> APIRequest[NotificationProgress]:
    """How far a send has got (within 24 hours of it)."""
    return PROGRESS.request(
        json={"agent_id": agent_id, "task_id": task_id},
        parse=lambda d: NotificationProgress.model_validate(d.get("progress") or {}),
    )


def result(task_id: int, *, agent_id: int) -> APIRequest[NotificationResult]:
    """Who got, read or missed the message (within 24 h; not for > 100 receivers)."""
    return RESULT.request(
        json={"agent_id": agent_id, "task_id": task_id},
        parse=lambda d: NotificationResult.model_validate(d.get("send_result") or {}),
    )


def recall(task_id: int, *, agent_id: int) -> APIRequest[None]:
    """Take a sent message back (within 24 h)."""
    return RECALL.request(
        json={"agent_id": agent_id, "msg_task_id": task_id},  # not `task_id` here (§12.2)
        parse=lambda d: None,
    )
