"""The rule of sending a work notification (§12.1), without HTTP: check the message, find its
receivers, hold back what a person already got today, and keep the task for progress, result,
recall and the chat page.

    task_id = send_work_notification(sandbox, app, msg, userids=[...], dept_ids=[], to_all=False)

A refusal raises :class:`~.model.NoticeError` with the old family's errcode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..._wire import china_midnight_ms
from ...resources import notifications as api
from ..config import AppConfig
from .model import NoticeError, check_msg, msg_digest, msg_size, receivers

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = ["send_work_notification"]

_TASK_ID_BASE = 256_000_000_000  # real task ids are 12-digit numbers


def send_work_notification(
    sandbox: Sandbox,
    app: AppConfig,
    msg: dict[str, Any],
    *,
    userids: Sequence[str],
    dept_ids: Sequence[int],
    to_all: bool,
) -> int:
    """Send ``msg`` as ``app``; the task id.

    The same content from the same app reaches a person once per China day: later sends
    list them as forbidden (143106, §12.2) unless ``limits = false``. Unknown userIds and
    departments do not fail the send; ``getsendresult`` lists them.
    """
    if not (userids or dept_ids or to_all):
        raise NoticeError(40035, "不合法的参数：userid_list、dept_id_list、to_all_user 至少填一个")
    msgtype = check_msg(msg)
    size = msg_size(msg)
    if size > api.MAX_MSG_BYTES:
        raise NoticeError(40035, f"不合法的参数：msg 为{size}字节，最多{api.MAX_MSG_BYTES}字节")
    people, invalid_users, invalid_depts = receivers(
        sandbox.org, userids, dept_ids, to_all_user=to_all
    )
    now, digest = sandbox.now_ms(), msg_digest(msg)
    records = sandbox.notifications
    seen = records.delivered_since(app.agent_id, digest, china_midnight_ms(now))
    if not sandbox.config.limits:
        seen = set()
    task_id = _TASK_ID_BASE + records.next_values("work_notification")[0]
    records.add(
        task_id,
        app_key=app.app_key,
        agent_id=app.agent_id,
        sent_ms=now,
        digest=digest,
        data={
            "msgtype": msgtype,
            "msg": msg,
            "userid_list": list(userids),
            "dept_id_list": list(dept_ids),
            "to_all_user": to_all,
            "delivered": [userid for userid in people if userid not in seen],
            "forbidden": [userid for userid in people if userid in seen],
            "invalid_user_id_list": invalid_users,
            "invalid_dept_id_list": invalid_depts,
        },
    )
    return task_id
