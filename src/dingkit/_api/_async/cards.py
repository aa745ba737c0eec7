"""``client.cards``: interactive cards and AI cards' streaming (``dingkit.resources.cards``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...resources import cards, robot_messages
from ...resources.cards import CardResult, SpaceType

if TYPE_CHECKING:
    from ..._client import AsyncDingTalk


class AsyncCardsAPI:
    """Cards the app's robot puts into a group (``IM_GROUP``, its openConversationId) or a
    person's chat with it (``IM_ROBOT``, their userId), updated later by ``out_track_id``.

    Usage::

        await client.cards.create_and_deliver(tpl, "t-1", {"content": ""}, "IM_GROUP", cid)
        await client.cards.stream("t-1", "content", "Hello", finalize=True)

    ``robot_code`` defaults to ``DINGTALK_ROBOT_CODE``, else the app key, as for
    ``client.robot``. Variables that are not strings go as JSON.
    """

    def __init__(self, client: AsyncDingTalk) -> None:
        self._client = client

    def _code(self, robot_code: str | None) -> str:
        return robot_messages.resolve_robot_code(
            robot_code, self._client.environ, self._client.app_key
        )

    async def create(
        self, template_id: str, out_track_id: str, data: Mapping[str, Any]
    ) -> CardResult:
        """Create a card instance without delivering it (see :meth:`deliver`)."""
        return await self._client.request(cards.create(template_id, out_track_id, data))

    async def deliver(
        self,
        out_track_id: str,
        space_type: SpaceType,
        space_id: str,
        *,
        robot_code: str | None = None,
    ) -> CardResult:
        """Deliver a created card into a group or a 1:1 chat with the robot."""
        return await self._client.request(
            cards.deliver(out_track_id, space_type, space_id, robot_code=self._code(robot_code))
        )

    async def create_and_deliver(
        self,
        template_id: str,
        out_track_id: str,
        data: Mapping[str, Any],
        space_type: SpaceType,
        space_id: str,
        *,
        robot_code: str | None = None,
    ) -> CardResult:
        """Create a card from ``template_id`` with ``data`` and deliver it, in one call."""
        return await self._client.request(
            cards.create_and_deliver(
                template_id,
                out_track_id,
                data,
                space_type,
                space_id,
                robot_code=self._code(robot_code),
            )
        )

    async def update(
        self, out_track_id: str, data: Mapping[str, Any], *, by_key: bool = True
    ) -> bool:
        """Set the variables in ``data`` (all of them replaced when ``by_key`` is false)."""
        return await self._client.request(cards.update(out_track_id, data, by_key=by_key))

    async def stream(
        self,
        out_track_id: str,
        key: str,
        content: str,
        *,
        full: bool = True,
        finalize: bool = False,
        error: bool = False,
        guid: str | None = None,
    ) -> bool:
        """Stream into variable ``key``: ``content`` replaces it (``full``) or is appended;
        ``finalize`` ends the stream, ``error`` marks it failed. A fresh ``guid`` names each
        update unless given (give the same one to resend an update safely)."""
        return await self._client.request(
            cards.stream(
                out_track_id,
                key,
                content,
                guid=guid or uuid.uuid4().hex,
                full=full,
                finalize=finalize,
                error=error,
            )
        )
