"""``client.robot``: the app's robot sending proactively (§12.3) and replying through a
message's ``sessionWebhook`` (§8.1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...resources import robot_messages
from ...resources.robot_messages import BatchSendResult, GroupSendResult, RobotTemplate
from ...robot.messages import RobotMessage
from ...robot.session import session_reply

if TYPE_CHECKING:
    from ..._client import AsyncDingTalk


class AsyncRobotAPI:
    """The app's robot (企业机器人): one-to-one and group sends, and session replies.

    ``robot_code`` defaults to ``DINGTALK_ROBOT_CODE``, else the app key (an internal app's
    robot has the app's Client ID as its robotCode [I]). A message is a
    :class:`~dingkit.robot.Text`, ``Markdown``, ``Link`` or ``ActionCard`` (sent as DingTalk's
    ``sampleText``... templates), a :class:`~dingkit.resources.robot_messages.RobotTemplate`,
    or a string (a text message).
    """

    def __init__(self, client: AsyncDingTalk) -> None:
        self._client = client

    def _code(self, robot_code: str | None) -> str:
        return robot_messages.resolve_robot_code(
            robot_code, self._client.environ, self._client.app_key
        )

    async def send_to_users(
        self,
        userids: Sequence[str],
        message: RobotMessage | RobotTemplate | str,
        *,
        robot_code: str | None = None,
    ) -> BatchSendResult:
        """Send ``message`` one-to-one to at most 20 people; unknown and rate-limited users
        are listed in the result, not failed."""
        return await self._client.request(
            robot_messages.send_to_users(userids, message, robot_code=self._code(robot_code))
        )

    async def send_to_group(
        self,
        conversation_id: str,
        message: RobotMessage | RobotTemplate | str,
        *,
        robot_code: str | None = None,
        cool_app_code: str | None = None,
    ) -> GroupSendResult:
        """Send ``message`` to the group ``conversation_id`` (``cid...==``) the robot is in."""
        return await self._client.request(
            robot_messages.send_to_group(
                conversation_id,
                message,
                robot_code=self._code(robot_code),
                cool_app_code=cool_app_code,
            )
        )

    async def reply(self, session_webhook: str, message: RobotMessage | str) -> dict[str, Any]:
        """Post ``message`` to a received message's ``sessionWebhook`` (mentions work);
        raises :class:`~dingkit.SessionExpiredError` once it has expired (about 90 min)."""
        return await self._client.request(
            session_reply(session_webhook, message, oapi_base=self._client.oapi_base)
        )
