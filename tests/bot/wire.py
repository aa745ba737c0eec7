"""Robot pushes as DingTalk sends them (§8.1), built from the reference's field table and its
official example values; each test changes only what it is about."""

from __future__ import annotations

import copy
from typing import Any

from dingkit.bot.messages import IncomingMessage, parse_message

ROBOT_DINGTALK_ID = "$:LWCP_v1:$Jh2MBlTKQnC/tN4tDTZB3eOIi+xOatMW"
CREATE_AT = 1600616626487
# Every official example has the session expire about 90 minutes after createAt (§8.1).
EXPIRES_AT = CREATE_AT + 90 * 60 * 1000

COMMON: dict[str, Any] = {
    "msgId": "msgWjYj1k8LPNOBBy+jxNKwQw==",
    "createAt": CREATE_AT,
    "conversationType": "2",
    "conversationId": "cidoAgtPbnu9MyulIyt0kpNYg==",
    "conversationTitle": "群组标题",
    "senderId": "$:LWCP_v1:$9gY0EpfG9gA0e4xnPjDHugeGB0JtdCJV",
    "senderNick": "张三",
    "senderCorpId": "dingb1d0b0ca51c029b24ac5d6980000000",
    "senderStaffId": "2665036700000000",
    "senderUnionId": "union-zhangsan",
    "senderPlatform": "Mac",
    "chatbotCorpId": "dingb1d0b0ca51c029b24ac5d6980000000",
    "chatbotUserId": ROBOT_DINGTALK_ID,
    "robotCode": "dingrobotcode0001",
    "isAdmin": False,
    "isInAtList": True,
    "atUsers": [{"dingtalkId": ROBOT_DINGTALK_ID}],
    "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=b28f49899ea1cba0",
    "sessionWebhookExpiredTime": EXPIRES_AT,
}

BODIES: dict[str, dict[str, Any]] = {
    "text": {"text": {"content": " 1+1"}},
    "richText": {
        "content": {
            "richText": [
                {"text": "看这张图 "},
                {"downloadCode": "rt-pic-1", "pictureDownloadCode": "rt-pic-1b", "type": "picture"},
                {"text": "和这张"},
                {"downloadCode": "rt-pic-2", "type": "picture"},
            ]
        }
    },
    "picture": {"content": {"downloadCode": "pic-code"}},
    "audio": {"content": {"duration": 4000, "downloadCode": "audio-code", "recognition": "你好"}},
    "video": {"content": {"duration": 12, "downloadCode": "video-code", "videoType": "mp4"}},
    "file": {"content": {"downloadCode": "file-code", "fileName": "报表.xlsx"}},
}


def push(kind: str = "text", /, **changes: Any) -> dict[str, Any]:
    """A push of msgtype ``kind``; a change of ``None`` removes the field."""
    data = {**copy.deepcopy(COMMON), "msgtype": kind, **copy.deepcopy(BODIES.get(kind, {}))}
    if kind in ("audio", "video", "file"):  # one-to-one chats only (§8.1)
        data.update(conversationType="1", isInAtList=False, atUsers=[])
        del data["conversationTitle"]
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def text_message(content: str, **changes: Any) -> IncomingMessage:
    return parse_message(push("text", text={"content": content}, **changes))


def private_text(content: str, **changes: Any) -> IncomingMessage:
    changes = {"conversationType": "1", "conversationTitle": None, "atUsers": [], **changes}
    return text_message(content, isInAtList=False, **changes)
