"""How the sandbox judges a ``POST /robot/send``, in the order DingTalk is believed to (§2.5).

The check order is not documented; the reference suggests token → IP → timestamp/sign →
keyword → rate → size. Body checks that need a parsed message sit between sign and keyword.
The rules themselves (signing, keyword scan, body limit, required fields, the sliding window)
are the client's own code from :mod:`dingkit.robot`, so the two cannot drift apart.

Not judged here: more than 50 mentions. §2.1 documents the limit but no errcode or behaviour
for a 51st, so the sandbox accepts what DingTalk's answer is unknown for, and the client
refuses a 51st mention before sending (``dingkit.robot.compose``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..._errcodes._texts import ROBOT_BLOCK_SECONDS
from ..._exceptions import MessageValidationError
from ..._ratelimit import LimiterRegistry
from ..._wire import parse_json_strict
from ...robot import compose
from ...robot.limits import RobotWindow, robot_window
from ...robot.messages import RobotMessage, message_from_payload
from ...robot.signing import verify_signature
from ..allowlists import allows
from ..config import ErrcodeEra
from .faults import RobotFaults
from .records import StoredRobot

__all__ = ["Outcome", "RobotJudge", "check_body", "robot_error"]

_DOC_LINK = "https://open.dingtalk.com/document/orgapp/custom-robots-send-group-messages"

# reason -> (doc errcode, observed-2026 errcode, description, solution). Codes per §2.5/§10;
# the errmsg follows the current "错误描述:...; 解决方案:...;参考链接:..." style.
_ERRORS: dict[str, tuple[int, int, str, str]] = {
    "unknown_token": (400101, 300005, "token is not exist", "请确认机器人 access_token 正确"),
    "robot_disabled": (400102, 400102, "机器人已停用", "请在群设置中启用此机器人"),
    "group_dissolved": (400013, 400013, "群已被解散", "请将机器人添加到其他群"),
    "content_type": (
        43004,
        43004,
        "无效的HTTP HEADER Content-Type",
        "请使用 Content-Type: application/json",
    ),
    "ip": (310000, 310000, "ip {ip} 不在白名单中", "请联系对应群的管理员，设置机器人安全ip地址段"),
    "timestamp": (
        310000,
        310000,
        "invalid timestamp, 时间戳无效或与服务器时间相差超过1小时",
        "请使用当前毫秒时间戳生成签名",
    ),
    "signature": (
        310000,
        310000,
        "sign not match, 机器人发送签名不匹配",
        "请确认签名和生成签名的时间戳必须都放在调用的网址中，请确认机器人的密钥加密和填写正确",
    ),
    "body_missing": (40035, 40035, "缺少参数 json", "请在请求体中发送 JSON 消息"),
    "too_large": (460101, 460101, "body 大小不合法", "请保持大小在 20000bytes 以内"),
    "malformed": (400402, 400402, "参数 {field} 缺失，或者参数格式不正确", "请填充上对应参数"),
    "msgtype": (
        400105,
        400105,
        "不支持的消息类型 {msgtype}",
        "msgtype 请使用 text, markdown, link, actionCard 或 feedCard",
    ),
    "keyword": (
        310000,
        310000,
        "keywords not in content, 关键词不匹配",
        "请联系群管理员查看此机器人的关键词，并在发送的信息中包含此关键词",
    ),
    "rate_limited": (
        410100,
        660026,
        "sending too many messages per minute, 发送速度太快而限流",
        "每个机器人每分钟最多发送20条消息，超过后将被限流10分钟",
    ),
}


def robot_error(reason: str, era: ErrcodeEra, **details: str) -> tuple[int, str]:
    """The ``(errcode, errmsg)`` the sandbox answers for a rejection ``reason``."""
    doc_code, observed_code, description, solution = _ERRORS[reason]
    errcode = doc_code if era == "doc" else observed_code
    errmsg = f"错误描述:{description.format(**details)}; 解决方案:{solution};参考链接:{_DOC_LINK}"
    return errcode, errmsg


@dataclass(frozen=True, slots=True)
class Outcome:
    """Accepted (``reason is None``, with the parsed payload) or rejected with a reason."""

    reason: str | None = None
    details: Mapping[str, str] | None = None
    payload: dict[str, Any] | None = None
    message: RobotMessage | None = None


#: Over the limit, DingTalk blocks the robot for 10 minutes (§2.3).
BLOCK_SECONDS = ROBOT_BLOCK_SECONDS


class RobotJudge:
    """The sandbox's checks for one request; owns the per-robot rate windows and blocks.

    Args:
        clock: wall-clock seconds since the epoch (signatures compare against it, and the
            rate windows run on it); tests pass a fake.
        limits: ``False`` switches the rate limit off (benchmarks).
        window: the robots' window; default DingTalk's, as :func:`robot_window` reads it
            (tests may shorten it for the sandbox and their clients at once).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        limits: bool = True,
        window: RobotWindow | None = None,
    ) -> None:
        self.clock = clock
        self.limits = limits
        self.window = window or robot_window()
        self._windows = LimiterRegistry(self.window.limit, self.window.period, clock=clock)
        self._blocked_until: dict[str, float] = {}
        #: Faults tests ask of robots (busy answers, 503s).
        self.faults = RobotFaults()

    def check_request(
        self,
        robot: StoredRobot,
        *,
        content_type: str,
        client_ip: str | None,
        query: Mapping[str, str],
        body: bytes,
    ) -> Outcome:
        if robot.disabled:
            return Outcome("robot_disabled")
        if robot.group_dissolved:
            return Outcome("group_dissolved")
        if content_type.split(";")[0].strip().lower() != "application/json":
            return Outcome("content_type")
        if robot.ip_allowlist and not allows(robot.ip_allowlist, client_ip):
            return Outcome("ip", {"ip": client_ip or "unknown"})
        if robot.secret:
            check = verify_signature(
                robot.secret,
                query.get("timestamp"),
                query.get("sign"),
                now_ms=int(self.clock() * 1000),
            )
            if not check.ok:
                return Outcome("timestamp" if check.reason == "timestamp" else "signature")
        return self._check_body(robot, body)

    def _check_body(self, robot: StoredRobot, body: bytes) -> Outcome:
        return check_body(body, keywords=robot.keywords)

    def take_rate_slot(self, robot: StoredRobot) -> Outcome | None:
        """Count an accepted message against the robot's minute; a rejection when over."""
        if not self.limits:
            return None
        now = self.clock()
        if self._blocked_until.get(robot.token, 0.0) > now:
            return Outcome("rate_limited")
        if self._windows.window(robot.token).try_acquire() > 0:
            self._blocked_until[robot.token] = now + BLOCK_SECONDS
            return Outcome("rate_limited")
        return None


def check_body(body: bytes, *, keywords: Sequence[str] = ()) -> Outcome:
    """The checks of a message body (§2.1, §2.5): present, at most 20000 bytes, strict JSON, a
    known msgtype with its required fields, one of ``keywords`` when there are any. Also what
    an app robot's session webhook holds a reply to (``sandbox.bots``)."""
    if not body.strip():
        return Outcome("body_missing")
    if len(body) > compose.MAX_BODY_BYTES:
        return Outcome("too_large")
    try:
        # NaN, Infinity, 1e999, deep nesting, lone surrogates: not JSON to DingTalk, and
        # a stored NaN would break every view of the group (issue 10).
        payload = parse_json_strict(body)
    except ValueError:
        return Outcome("malformed", {"field": "json"})
    if not isinstance(payload, dict):
        return Outcome("malformed", {"field": "json"})
    try:
        message = message_from_payload(payload)
    except MessageValidationError as exc:
        if exc.field == "msgtype" and payload.get("msgtype"):
            return Outcome("msgtype", {"msgtype": str(payload.get("msgtype"))})
        return Outcome("malformed", {"field": _arrow(exc.field or "msgtype")})
    missing = compose.missing_required_field(message)
    if missing is not None:
        return Outcome("malformed", {"field": _arrow(missing)})
    if keywords:
        text = compose.searchable_text(message)
        if not any(keyword in text for keyword in keywords):
            return Outcome("keyword")
    return Outcome(payload=payload, message=message)


def _arrow(field: str) -> str:
    # DingTalk writes nested fields as "markdown --》 title" (§2.5, 400402).
    return " --》 ".join(field.split("."))
