"""The rules of an app robot's proactive sends (§12.3), without HTTP: one-to-one
(``oToMessages/batchSend``) and to a group (``groupMessages/send``). A refusal raises
:class:`~..gateway.answers.ApiError` with the code of the pages' shared error table.

Choices where the reference is silent [I]:

- A robotCode is valid when it is an app's ``app_key`` (an internal app's robot has the
  app's Client ID as its code, §8.1); one of no app answers ``invalidParameter.robotCode.empty``
  (its page's explanation: "机器人robotCode无效"), another app's ``...robotCode.auth``.
- Checks run robotCode → receivers → msgKey → msgParam.
- ``msgParam`` must be a JSON string of an object holding the template's fields (each present
  and not empty; ``picUrl`` of ``sampleLink`` may be left out); otherwise
  ``invalidParameter.msgParam.invalid``. Over 15000 bytes: ``...msgParam.tooLong``.
- userIds that are not in the organisation are listed in ``invalidStaffIdList`` (not failed);
  ``flowControlledStaffIdList`` stays empty: no per-user limit is modelled.
- A group send needs a ``group`` conversation the robot is in; an unknown one, a one-to-one
  chat or a group without the robot answer ``invalid.openConversationId``.
"""

from __future__ import annotations

import base64
import secrets
from typing import TYPE_CHECKING, Any

from ..._wire import parse_json_strict
from ...resources.robot_messages import MAX_MSG_PARAM_BYTES, MAX_USERIDS, MSG_KEYS
from ..config import AppConfig
from ..gateway.answers import ApiError
from .conversations import single_conversation

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = ["send_to_group", "send_to_users"]

_OPTIONAL = {"sampleLink": {"picUrl"}}


def bad(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def _process_query_key() -> str:
    # [I] real keys are opaque base64 strings.
    return base64.b64encode(secrets.token_bytes(24)).decode()


def _robot_code(sandbox: Sandbox, app: AppConfig, body: dict[str, Any]) -> str:
    code = body.get("robotCode")
    if not isinstance(code, str) or not code.strip():
        raise bad("invalidParameter.robotCode.empty", "机器人robotCode为空")
    if code != app.app_key:
        if sandbox.apps.by_key(code) is None:
            raise bad("invalidParameter.robotCode.empty", f"机器人robotCode无效：{code[:64]}")
        raise bad(
            "invalidParameter.robotCode.auth",
            "该应用的appkey和机器人robotCode不匹配，请使用机器人所属应用的appkey",
        )
    return code


def _template(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    key = body.get("msgKey")
    if key is None or key == "":
        raise bad("invalidParameter.msgKey.empty", "msgKey为空")
    if not isinstance(key, str) or key not in MSG_KEYS:
        raise bad("invalidParameter.msgKey.invalid", f"msgKey无效：{str(key)[:64]}")
    text = body.get("msgParam")
    if not isinstance(text, str):
        raise bad("invalidParameter.msgParam.invalid", "msgParam必须是json格式")
    if len(text.encode("utf-8", errors="surrogatepass")) > MAX_MSG_PARAM_BYTES:
        raise bad(
            "invalidParameter.msgParam.tooLong", f"msgParam长度超过限制{MAX_MSG_PARAM_BYTES}字节"
        )
    try:
        param = parse_json_strict(text)
    except ValueError:
        raise bad("invalidParameter.msgParam.invalid", "msgParam必须是json格式") from None
    if not isinstance(param, dict):
        raise bad("invalidParameter.msgParam.invalid", "msgParam必须是json格式")
    optional = _OPTIONAL.get(key, set())
    for name in MSG_KEYS[key]:
        if name not in optional and param.get(name) in (None, ""):
            raise bad("invalidParameter.msgParam.invalid", f"msgParam缺少参数 {name}")
    return key, param


def send_to_users(sandbox: Sandbox, app: AppConfig, body: dict[str, Any]) -> dict[str, Any]:
    """``oToMessages/batchSend``: the message in each person's chat with the robot."""
    robot_code = _robot_code(sandbox, app, body)
    userids = body.get("userIds")
    if not isinstance(userids, list) or not userids:
        raise bad("invalidParameter.userIds.empty", "用户userId列表为空")
    if not all(isinstance(userid, str) and userid for userid in userids):
        raise bad("invalidParameter.userIds.empty", "用户userId列表含有空值")
    userids = list(dict.fromkeys(userids))
    if len(userids) > MAX_USERIDS:
        raise bad("invalidParameter.userIds.overMax", f"用户userId列表超过最大限制{MAX_USERIDS}")
    key, param = _template(body)
    org, query_key, now = sandbox.org, _process_query_key(), sandbox.now_ms()
    invalid = [userid for userid in userids if org.user(userid) is None]
    for userid in userids:
        if userid in invalid:
            continue
        conversation = single_conversation(sandbox, robot_code, userid)
        sandbox.bots.add_message(
            conversation.id,
            robot_code=robot_code,
            via="oto",
            sent_ms=now,
            process_query_key=query_key,
            data={"msgKey": key, "msgParam": param},
        )
    return {
        "processQueryKey": query_key,
        "invalidStaffIdList": invalid,
        "flowControlledStaffIdList": [],
    }


def send_to_group(sandbox: Sandbox, app: AppConfig, body: dict[str, Any]) -> dict[str, Any]:
    """``groupMessages/send``: the message in a group the robot is in."""
    robot_code = _robot_code(sandbox, app, body)
    conversation_id = body.get("openConversationId")
    conversation = (
        sandbox.bots.conversation(conversation_id)
        if isinstance(conversation_id, str) and conversation_id
        else None
    )
    if (
        conversation is None
        or conversation.type != "group"
        or robot_code not in conversation.robot_codes
    ):
        raise bad("invalid.openConversationId", "无效的openConversationId")
    key, param = _template(body)
    query_key = _process_query_key()
    sandbox.bots.add_message(
        conversation.id,
        robot_code=robot_code,
        via="group",
        sent_ms=sandbox.now_ms(),
        process_query_key=query_key,
        data={"msgKey": key, "msgParam": param},
    )
    return {"processQueryKey": query_key}
