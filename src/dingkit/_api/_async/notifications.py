"""``client.notifications``: work notifications sent by the app (§12)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...resources import notifications
from ...resources.notifications import NotificationProgress, NotificationResult, WorkMessage

if TYPE_CHECKING:
    from ..._client import AsyncDingTalk


class AsyncNotificationsAPI:
    """Work notifications (工作通知) from the app ``agent_id``.

    Every method takes ``agent_id`` or falls back to ``DINGTALK_AGENT_ID``.
    """

    def __init__(self, client: AsyncDingTalk) -> None:
        self._client = client

    def _agent(self, agent_id: int | None) -> int:
        return notifications.resolve_agent_id(agent_id, self._client.environ)

    async def send(
        self,
        msg: WorkMessage | Mapping[str, Any] | str,
        *,
        userids: Sequence[str] = (),
        dept_ids: Sequence[int] = (),
        to_all_user: bool = False,
        agent_id: int | None = None,
    ) -> int:
        """Send ``msg`` (a string is a text message) to users, departments or everyone;
        returns the ``task_id``."""
        return await self._client.request(
            notifications.send(
                msg,
                agent_id=self._agent(agent_id),
                userids=userids,
                dept_ids=dept_ids,
                to_all_user=to_all_user,
            )
        )

    async def progress(self, task_id: int, *, agent_id: int | None = None) -> NotificationProgress:
        """How far the send ``task_id`` has got."""
        return await self._client.request(
            notifications.progress(task_id, agent_id=self._agent(agent_id))
        )

    async def result(self, task_id: int, *, agent_id: int | None = None) -> NotificationResult:
        """Who got, read or missed the message (within 24 h)."""
        return await self._client.request(
            notifications.result(task_id, agent_id=self._agent(agent_id))
        )

    async def recall(self, task_id: int, *, agent_id: int | None = None) -> None:
        """Take the message back (within 24 h)."""
        await self._client.request(notifications.recall(task_id, agent_id=self._agent(agent_id)))
