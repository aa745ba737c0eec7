"""The approval (workflow) API's codes: HTTP 400 with a string ``code`` (protocol §3.1–§3.4,
and the form-schema endpoint's, ``D:obtain-the-form-schema``).

The task codes (``taskNotExist`` and the three after it) are the sandbox's names for answers
the reference does not spell out [I].
"""

from __future__ import annotations

from .._exceptions import BadRequestError, NotFoundError, PermissionDeniedError
from . import Api, ErrorCodeInfo, Retry

_FIX_PARAMETER = "Fix the parameter the message names."
_INFERRED = "The code is inferred: the reference names no code for this case [I]."
# [I] The reference gives codes, not messages (§3.1 quotes formConverterError's only): the
# other examples are the sandbox's wording, except the form-schema page's, which it quotes.
_WORDING = "The example message is inferred (the reference quotes none) [I]."
_QUOTED = ("formConverterError", "formNotExist", "noPermission", "aflowProcessCodeIsError")
_FORMAT_ADDED = "The sandbox adds the format the field expects after DingTalk's text [I]."

_ROWS: tuple[ErrorCodeInfo, ...] = tuple(
    ErrorCodeInfo(
        code=code,
        api=Api.API,
        raises=raises,
        http_status=400,
        meaning=meaning,
        retry=Retry.NO,
        action=action,
        errmsg_examples=(example,),
        note=" ".join(
            text
            for text in (
                _INFERRED if inferred else "",
                "" if code in _QUOTED else _WORDING,
                _FORMAT_ADDED if code == "formConverterError" else "",
            )
            if text
        ),
        documented=not inferred,
    )
    for code, raises, meaning, action, example, inferred in (
        # Create (§3.1).
        (
            "processInstanceInvalidParameter",
            BadRequestError,
            "An initiator, approver or cc userId, or the department, is invalid.",
            "Check the userIds and that the initiator belongs to deptId.",
            "发起人不在部门 1 中",
            False,
        ),
        (
            "processCodeError",
            BadRequestError,
            "The approval template (processCode) does not exist or was deleted.",
            "Copy the processCode (PROC-...) from the template in the approval admin page.",
            "审批模板不存在：PROC-XXXX",
            False,
        ),
        (
            "formConverterError",
            BadRequestError,
            "A form field value does not fit the template; the message names the field.",
            "Send each value as a string in the shape its component expects (§3.1): "
            "`dingkit approval template CODE` (client.approval.template) shows every field's "
            "type, options and format.",
            "表单数据校验失败，失败控件：%s",
            False,
        ),
        (
            "invalidAgentId",
            BadRequestError,
            "The microappAgentId does not belong to the calling app.",
            "Pass the app's own AgentId, or leave microappAgentId out.",
            "microappAgentId 与调用应用不符",
            False,
        ),
        # Get, withdraw, tasks (§3.2, §3.4).
        (
            "processInstanceIdError",
            BadRequestError,
            "The processInstanceId is missing or malformed.",
            "Pass the processInstanceId the create call returned.",
            "缺少参数 processInstanceId",
            False,
        ),
        (
            "processInstanceNotExist",
            NotFoundError,
            "The approval instance does not exist.",
            "Check the processInstanceId; it belongs to one organisation.",
            "审批实例不存在",
            False,
        ),
        (
            "aflowProcessInstStatusException",
            BadRequestError,
            "The instance's state does not allow this (finished, or withdrawn within 15 s).",
            "Read the instance's status first; wait 15 s after creating before withdrawing.",
            "审批实例已结束，不能再操作",
            False,
        ),
        (
            "taskNotExist",
            NotFoundError,
            "The approval task does not exist.",
            "Read the instance again and use a taskId from its tasks.",
            "审批任务不存在",
            True,
        ),
        (
            "taskStatusException",
            BadRequestError,
            "The approval task is no longer pending.",
            "Read the instance again: someone already acted on the task.",
            "审批任务已处理",
            True,
        ),
        (
            "actionerUserIdNotMatch",
            PermissionDeniedError,
            "The actionerUserId is not the task's approver.",
            "Act as the userId the task is assigned to.",
            "actionerUserId 不是该审批任务的处理人",
            True,
        ),
        (
            "taskRedirectInvalid",
            BadRequestError,
            "The task cannot be handed to that user (for example its current approver).",
            "Hand the task to another member of the organisation.",
            "不能转交给任务当前的处理人",
            True,
        ),
        # A template's form (D:obtain-the-form-schema).
        (
            "formNotExist",
            NotFoundError,
            "The approval form (processCode) does not exist.",
            "Copy the processCode (PROC-...) from the template in the approval admin page.",
            "审批表单模板不存在",
            False,
        ),
        (
            "aflowProcessCodeIsError",
            NotFoundError,
            "The approval template could not be read, or was deleted.",
            "Check the processCode; the template may have been deleted.",
            "获取审批模板失败或审批模板已被删除",
            False,
        ),
        (
            "noPermission",
            PermissionDeniedError,
            "The app may not read this form (third-party apps may not read an org's forms).",
            "Use an internal app of the organisation, granted Workflow.Form.Read.",
            "没有权限访问当前表单",
            False,
        ),
        # List instance IDs (§3.3).
        (
            "invalidProcessCode",
            BadRequestError,
            "The processCode is invalid.",
            "Copy the processCode (PROC-...) from the template.",
            "processCode 无效",
            False,
        ),
        (
            "invalidInstanceListIdsStartTime",
            BadRequestError,
            "startTime is missing or too old (within 120 days without endTime, else 365).",
            "Pass a startTime in milliseconds within the last 120 days.",
            "不传 endTime 时 startTime 须在最近120天内",
            False,
        ),
        (
            "invalidEndTime",
            BadRequestError,
            "endTime is before startTime, or the window is longer than 120 days.",
            "Query windows of at most 120 days.",
            "startTime 与 endTime 相差不能超过120天",
            False,
        ),
        (
            "invalidNextToken",
            BadRequestError,
            "The nextToken is not one this query returned.",
            "Start with 0 and pass back the nextToken of the previous page.",
            "nextToken 无效",
            False,
        ),
        (
            "invalidMaxResults",
            BadRequestError,
            "maxResults is out of range (1 to 20).",
            "Ask for at most 20 results per page.",
            "maxResults 须在1到20之间",
            False,
        ),
        (
            "invalidUserIds",
            BadRequestError,
            "Too many userIds (at most 10).",
            "Filter by at most 10 initiators per query.",
            "userIds 最多10个",
            False,
        ),
    )
)

ROWS: tuple[ErrorCodeInfo, ...] = (
    *_ROWS,
    ErrorCodeInfo(
        code="internalError",
        api=Api.API,
        raises=BadRequestError,
        http_status=400,
        meaning="The approval service could not handle the request.",
        retry=Retry.NO,
        action=_FIX_PARAMETER,
        note="Listed with HTTP 400 for create and list (§3.1, §3.3); not retried.",
    ),
)
