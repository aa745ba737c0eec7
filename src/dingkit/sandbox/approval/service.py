"""What both approval families share (§3): starting an instance after checking its
parameters and form, finding one, and the id list's 120-day window and paging (§3.3, §3.5).

The new API's endpoints are in :mod:`.routes`, the old API's in :mod:`.routes_old`; a refusal
here is an ``ApiError`` with the new API's code, which the old family turns into its errcode.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from ..._wire import CHINA
from ...resources import approval as api
from ..contacts.org import ROOT_DEPT_ID, User
from ..gateway.answers import ApiError
from ..gateway.params import ParamError
from .callback_events import approval_events
from .instances import ApprovalError, Instance, new_instance
from .instances import default_flow as template_flow
from .template_config import ProcessConfig
from .templates import FormError, check_form, processes_of

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = [
    "MAX_IDS",
    "MAX_ID_PAGE",
    "WindowError",
    "bad",
    "base_url",
    "change",
    "id_window",
    "load",
    "new_task_id",
    "now_ms",
    "page_ids",
    "start",
]

MAX_ID_PAGE = api.MAX_INSTANCE_PAGE  # maxResults / size (§3.3, §3.5)
MAX_IDS = api.MAX_IDS  # in total, by paging (§3.3)
_DAY_MS = 86_400_000
_WINDOW_MS = 120 * _DAY_MS
_LOOKBACK_MS = 365 * _DAY_MS
_TASK_ID_BASE = 60_000_000_000  # task ids are 11-digit numbers


def now_ms(sandbox: Sandbox) -> int:
    return int(sandbox.clock() * 1000)


def bad(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def _user(sandbox: Sandbox, userid: str, role: str) -> User:
    user = sandbox.org.user(userid)
    if user is None:
        raise bad("processInstanceInvalidParameter", f"{role}userId无效：{userid}")
    return user


def new_task_id(sandbox: Sandbox) -> int:
    return _TASK_ID_BASE + sandbox.approvals.next_values("task_id")[0]


def _publish(sandbox: Sandbox, before: Instance | None, after: Instance, base: str) -> None:
    """Queue the events (§7.6) of the change from ``before`` to ``after`` for subscribers."""
    url = f"{base}/#approvals?instance={after.instance_id}"
    sandbox.callbacks.emit_all(approval_events(before, after, url=url))


def change(sandbox: Sandbox, instance: Instance, base: str, action: Callable[[], object]) -> None:
    """Run ``action`` (which changes ``instance`` or raises), store the instance, and queue
    the events the change causes."""
    before = copy.deepcopy(instance)
    action()
    sandbox.approvals.save(instance)
    _publish(sandbox, before, instance, base)


def load(sandbox: Sandbox, instance_id: str) -> Instance:
    """The stored instance, or :class:`ApprovalError` ``processInstanceNotExist``."""
    instance = sandbox.approvals.get(instance_id)
    if instance is None:
        raise ApprovalError("not_found")
    return instance


def start(
    sandbox: Sandbox,
    *,
    agent_id_of_app: int,
    base: str,
    process_code: str,
    originator_userid: str,
    dept_id: int | None,
    steps: Sequence[tuple[Any, Sequence[str]]] | None,
    cc_userids: Sequence[str],
    cc_position: str,
    form: Any,
    agent_id: int | None,
) -> Instance:
    """Check a new instance's parameters and form, store it started and queue its events;
    both families. ``agent_id_of_app`` is the calling app's, ``base`` the sandbox's URL (the
    instance's page in the events).

    Raises:
        ApiError: the §3.1 code (``processCodeError``, ``processInstanceInvalidParameter``,
            ``formConverterError``, ``invalidAgentId``).
        ParamError: a malformed parameter.
    """
    org = sandbox.org
    process = processes_of(sandbox.config).get(process_code)
    if process is None:
        raise bad("processCodeError", f"审批模板不存在：{process_code}")
    originator = _user(sandbox, originator_userid, "发起人")
    if dept_id is None:
        if not steps:
            raise ParamError("缺少参数 deptId（不传 approvers 时必填）")
        dept_id = originator.dept_ids[0]
    if dept_id in (-1, ROOT_DEPT_ID):
        dept_name = org.root.name
    else:
        dept = org.department(dept_id)
        if dept is None:
            raise bad("processInstanceInvalidParameter", f"部门不存在：{dept_id}")
        if dept_id not in originator.dept_ids:
            raise bad("processInstanceInvalidParameter", f"发起人不在部门 {dept_id} 中")
        dept_name = dept.name
    if steps:
        for _, userids in steps:
            for userid in userids:
                _user(sandbox, userid, "审批人")
        cc = list(dict.fromkeys(cc_userids))
        for userid in cc:
            _user(sandbox, userid, "抄送人")
    else:
        steps, cc = template_flow(org, originator), []  # the template's cc: none [I]
    if agent_id is not None and agent_id != agent_id_of_app:
        raise bad("invalidAgentId", f"microappAgentId 与调用应用不符：{agent_id}")
    try:
        values = check_form(process, form)
    except FormError as exc:
        raise bad("formConverterError", exc.message) from None
    except ValueError as exc:
        raise ParamError(str(exc)) from None
    return _store_new(
        sandbox,
        agent_id_of_app,
        base,
        process,
        originator,
        dept_id,
        dept_name,
        steps,
        cc,
        cc_position,
        values,
    )


def _store_new(
    sandbox: Sandbox,
    agent_id: int,
    base: str,
    process: ProcessConfig,
    originator: User,
    dept_id: int,
    dept_name: str,
    steps: Sequence[tuple[Any, Sequence[str]]],
    cc: list[str],
    cc_position: str,
    values: list[dict[str, Any]],
) -> Instance:
    records, now = sandbox.approvals, now_ms(sandbox)
    count = sum(len(userids) for _, userids in steps)
    minute = datetime.fromtimestamp(now / 1000, CHINA).strftime("%Y%m%d%H%M")
    instance = new_instance(
        instance_id=str(uuid.uuid4()),
        process_code=process.code,
        process_name=process.name,
        title=f"{originator.name}提交的{process.name}",
        business_id=f"{minute}{records.next_values('business_id')[0] % 1_000_000:06d}",
        originator=originator.userid,
        dept_id=-1 if dept_id == ROOT_DEPT_ID else dept_id,
        dept_name=dept_name,
        form=values,
        steps=steps,
        task_ids=[_TASK_ID_BASE + n for n in records.next_values("task_id", count)],
        now=now,
        cc_userids=cc,
        cc_position=cc_position,
        agent_id=agent_id,
    )
    records.add(instance)
    _publish(sandbox, None, instance, base)
    return instance


class WindowError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def id_window(start_ms: int, end_ms: int | None, now: int) -> tuple[int, int]:
    """The ``[start, end]`` an id list covers, by §3.3's rules (``end`` defaults to now).

    Raises:
        WindowError: ``invalidInstanceListIdsStartTime`` or ``invalidEndTime``.
    """
    if end_ms is None:
        if start_ms < now - _WINDOW_MS:
            raise WindowError(
                "invalidInstanceListIdsStartTime", "不传 endTime 时 startTime 须在最近120天内"
            )
        return start_ms, now
    if end_ms < start_ms:
        raise WindowError("invalidEndTime", "endTime 不能早于 startTime")
    if end_ms - start_ms > _WINDOW_MS:
        raise WindowError("invalidEndTime", "startTime 与 endTime 相差不能超过120天")
    if start_ms < now - _LOOKBACK_MS:
        raise WindowError("invalidInstanceListIdsStartTime", "startTime 须在最近365天内")
    return start_ms, end_ms


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def page_ids(
    sandbox: Sandbox,
    code: str,
    window: tuple[int, int],
    userids: Sequence[str],
    statuses: Sequence[str],
    offset: int,
    size: int,
) -> tuple[list[str], bool]:
    """One page of ids and whether there are more (never past :data:`MAX_IDS`)."""
    size = min(size, MAX_IDS - offset)
    found = sandbox.approvals.ids(
        code, *window, originators=userids, statuses=statuses, offset=offset, limit=size + 1
    )
    more = len(found) > size and offset + size < MAX_IDS
    return found[:size], more
