"""Work-notification codes (``topapi/message/corpconversation/*``, protocol §12.1, §12.2)."""

from __future__ import annotations

from .._exceptions import APIError, BadRequestError, PermissionDeniedError, RateLimitError
from . import Api, ErrorCodeInfo, Retry

_PER_MINUTE_NOTE = (
    "The retry class is dingkit's choice; the reference gives none. Going over the sending "
    "limits usually does not fail the call: the users are listed as forbidden instead (§12.1)."
)

_NEXT_MINUTE = "Resend to the filtered users in the next minute, spreading large sends out."
_TOMORROW = "Resend tomorrow; each user gets at most 500 messages a day from one app."
_CHANGE = "Change the content, or do not send the same message to a user twice a day."

# Work notifications (topapi/message/corpconversation/*), protocol §12.1 and §12.2.
ROWS: tuple[ErrorCodeInfo, ...] = (
    ErrorCodeInfo(
        code="1",
        api=Api.OAPI,
        raises=APIError,
        meaning="A generic platform error; seen when agent_id and userid_list were both empty.",
        retry=Retry.NO,
        action="Check that agent_id and a receiver list are filled in.",
        errmsg_examples=("Platform System error",),
        note="Observed once (2020), not documented.",
        documented=False,
    ),
    ErrorCodeInfo(
        code="40056",
        api=Api.OAPI,
        errmsg_examples=("不合法的agentid",),
        raises=BadRequestError,
        meaning="The agent_id is invalid.",
        retry=Retry.NO,
        action="Use the app's AgentId from the developer console.",
    ),
    ErrorCodeInfo(
        code="41011",
        api=Api.OAPI,
        errmsg_examples=("缺少agentid",),
        raises=BadRequestError,
        meaning="The agent_id is missing.",
        retry=Retry.NO,
        action="Pass the app's AgentId as agent_id.",
    ),
    ErrorCodeInfo(
        code="40008",
        api=Api.OAPI,
        errmsg_examples=("不合法的消息类型",),
        raises=BadRequestError,
        meaning="The msgtype is invalid.",
        retry=Retry.NO,
        action="Use text, image, voice, file, link, oa, markdown or action_card.",
    ),
    ErrorCodeInfo(
        code="40007",
        api=Api.OAPI,
        errmsg_examples=("不合法的媒体文件id",),
        raises=BadRequestError,
        meaning="The media_id is invalid.",
        retry=Retry.NO,
        action="Upload the file with /media/upload and use the media_id it returns.",
    ),
    ErrorCodeInfo(
        code="41006",
        api=Api.OAPI,
        errmsg_examples=("缺少media_id参数",),
        raises=BadRequestError,
        meaning="The media_id is missing.",
        retry=Retry.NO,
        action="Upload the file with /media/upload and pass the media_id it returns.",
    ),
    ErrorCodeInfo(
        code="40031",
        api=Api.OAPI,
        errmsg_examples=("不合法的UserID列表",),
        raises=BadRequestError,
        meaning="A userId in the receiver list is not in the organisation.",
        retry=Retry.NO,
        action="Remove or correct the userIds that are not members of the organisation.",
    ),
    ErrorCodeInfo(
        code="40032",
        api=Api.OAPI,
        errmsg_examples=("不合法的UserID列表长度",),
        raises=BadRequestError,
        meaning="A receiver list has an invalid length.",
        retry=Retry.NO,
        action="Send at most 100 userIds in userid_list and at most 20 IDs in dept_id_list.",
    ),
    ErrorCodeInfo(
        code="40048",
        api=Api.OAPI,
        errmsg_examples=("url中包含不合法domain",),
        raises=BadRequestError,
        meaning="A URL in the message points to an unsafe domain.",
        retry=Retry.NO,
        action="Remove or replace the flagged link.",
    ),
    ErrorCodeInfo(
        code="41028",
        api=Api.OAPI,
        raises=PermissionDeniedError,
        meaning="Sending to the whole organisation is not allowed (third-party apps may not).",
        retry=Retry.NO,
        action="Send to userid_list or dept_id_list instead of to_all_user.",
    ),
    ErrorCodeInfo(
        code="41029",
        api=Api.OAPI,
        raises=BadRequestError,
        meaning="Too many receivers in one call (internal app 5000, third-party app 1000).",
        retry=Retry.NO,
        action="Split the receivers over several calls.",
    ),
    ErrorCodeInfo(
        code="41044",
        api=Api.OAPI,
        raises=PermissionDeniedError,
        meaning="Sending is forbidden.",
        retry=Retry.NO,
        action="Check the app's status and its work-notification permission (qyapi_base).",
        note="The reference gives no further detail.",
    ),
    ErrorCodeInfo(
        code="41045",
        api=Api.OAPI,
        raises=RateLimitError,
        meaning="The daily limit of whole-organisation sends was reached (3 per day).",
        retry=Retry.NO,
        action="Wait until tomorrow, or send to departments or user lists instead.",
    ),
    ErrorCodeInfo(
        code="41046",
        api=Api.OAPI,
        raises=RateLimitError,
        meaning="The per-minute limit of whole-organisation sends was reached.",
        retry=Retry.AFTER_BAN,
        action="Wait for the next minute before sending to the whole organisation again.",
        note=_PER_MINUTE_NOTE,
    ),
    ErrorCodeInfo(
        code="41047",
        api=Api.OAPI,
        raises=RateLimitError,
        meaning="The per-minute limit of receivers was reached (1500/min internal, 200/min ISV).",
        retry=Retry.AFTER_BAN,
        action="Wait for the next minute and spread large sends over several minutes.",
        note=_PER_MINUTE_NOTE + " The send page says 5000 receivers per minute instead (§14.3).",
    ),
    ErrorCodeInfo(
        code="41048",
        api=Api.OAPI,
        raises=RateLimitError,
        meaning="A per-minute sending limit was reached.",
        retry=Retry.AFTER_BAN,
        action="Wait for the next minute and spread large sends over several minutes.",
        note=_PER_MINUTE_NOTE + " The reference pairs it with 41047 without naming the limit.",
    ),
    ErrorCodeInfo(
        code="41049",
        api=Api.OAPI,
        raises=BadRequestError,
        meaning="The message contains prohibited content.",
        retry=Retry.NO,
        action="Remove or reword the prohibited content.",
    ),
    ErrorCodeInfo(
        code="41052",
        api=Api.OAPI,
        raises=BadRequestError,
        meaning="The task had too many receivers, so send results are no longer returned.",
        retry=Retry.NO,
        action="Do not query results for tasks with more than 100 receivers.",
        errmsg_examples=("本次发送人数过多,不再返回发送结果",),
        note=(
            "Listed for status_bar/update, though its wording fits getsendresult better (§12.2)."
        ),
    ),
    # getsendresult forbidden_list[].code (§12.2): why a receiver was filtered out. They are
    # entries of a successful answer, never an errcode; the class is for completeness.
    *(
        ErrorCodeInfo(
            code=str(code),
            api=Api.OAPI,
            raises=APIError,
            meaning=f"A receiver was filtered out (getsendresult forbidden_list): {what}.",
            retry=Retry.NO,
            action=action,
            note="A forbidden_list code in a successful answer, not an errcode (§12.2).",
        )
        for code, what, action in (
            (143103, "the app's per-minute receiver limit", _NEXT_MINUTE),
            (143104, "the organisation's per-minute receiver limit", _NEXT_MINUTE),
            (143105, "the app's daily limit for this user", _TOMORROW),
            (143106, "the same content was already sent to this user today", _CHANGE),
            (143203, "the ISV's per-organisation per-minute limit", _NEXT_MINUTE),
            (143204, "the ISV's all-organisation per-minute limit", _NEXT_MINUTE),
            (143205, "the ISV app's daily limit for this user", _TOMORROW),
            (143206, "the ISV app sent the same content to this user today", _CHANGE),
            (1430000, "there were no receivers", "Check userid_list and dept_id_list."),
            (1430001, "an unknown grantType", "Check the app type and how it was authorised."),
            (1430002, "prohibited content", "Remove or reword the prohibited content."),
            (1430003, "OAPI self-protection", "Send less at once and retry later."),
            (1430004, "executive protection (超级高管保护)", "Do not message this person."),
        )
    ),
)
