"""How a bot's replies reach DingTalk, whatever brought the message (HTTP or Stream).

A reply goes through the message's ``sessionWebhook`` while it is valid (§8.1, "How to reply"
item 2: mentions work there); once it has expired (``sessionWebhookExpiredTime``, or DingTalk
answering 300001 :class:`~dingkit.SessionExpiredError`) it goes through the robot OpenAPI
instead: ``/v1.0/robot/groupMessages/send`` to a group, ``/v1.0/robot/oToMessages/batchSend``
to the sender of a 1:1 chat (item 3; those APIs cannot mention anyone, so the mentions are
dropped there and said in a log line).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._exceptions import SessionExpiredError
from ..robot.messages import At, Markdown, Text
from .cards import card_target
from .replies import Reply

if TYPE_CHECKING:
    from .._async_client import AsyncDingTalk
    from ..robot.messages import RobotMessage
    from .messages import IncomingMessage
    from .session_post import SessionPoster

__all__ = ["SessionReply"]

logger = logging.getLogger("dingkit.bot")


class SessionReply(Reply):
    """Replies to ``message`` through its session webhook, then the robot OpenAPI.

    Args:
        message: the message being answered.
        client: the app's client (its base URLs point replies at DingTalk or the sandbox).
        clock: epoch milliseconds, for the session's expiry.
        poster: the transport's :class:`~.session_post.SessionPoster` for session-webhook
            replies (``client.robot.reply`` without one).
    """

    def __init__(
        self,
        message: IncomingMessage,
        client: AsyncDingTalk,
        *,
        clock: Callable[[], float] = lambda: time.time() * 1000,
        poster: SessionPoster | None = None,
    ) -> None:
        super().__init__(message)
        self.client = client
        self.clock = clock
        self.poster = poster
        #: How each reply went out: "session", "openapi" or "card" (tests and logs read it).
        self.routes: list[str] = []

    async def send(self, message: RobotMessage) -> None:
        incoming = self.message
        if incoming.session_webhook and incoming.session_valid(int(self.clock())):
            try:
                if self.poster is not None:
                    await self.poster.reply(incoming.session_webhook, message)
                else:
                    await self.client.robot.reply(incoming.session_webhook, message)
            except SessionExpiredError:
                logger.info(
                    "the session webhook of %s has expired: via the OpenAPI", incoming.msg_id
                )
            else:
                self.routes.append("session")
                return
        await self._through_openapi(message)
        self.routes.append("openapi")

    # Cards go through the card API whatever the session's state (``client.cards``); where
    # to comes from the message (:func:`dingkit.bot.cards.card_target`).
    async def _create_card(self, template_id: str, out_track_id: str, data: dict[str, str]) -> None:
        target = card_target(self.message)
        await self.client.cards.create_and_deliver(
            template_id,
            out_track_id,
            data,
            target.space_type,
            target.space_id,
            robot_code=target.robot_code,
        )
        self.routes.append("card")

    async def _update_card(self, out_track_id: str, data: dict[str, str]) -> None:
        await self.client.cards.update(out_track_id, data)

    async def _stream_card(
        self, out_track_id: str, key: str, content: str, *, finalize: bool, error: bool
    ) -> None:
        await self.client.cards.stream(
            out_track_id, key, content, full=True, finalize=finalize, error=error
        )

    async def _through_openapi(self, message: RobotMessage) -> None:
        incoming = self.message
        robot_code = incoming.robot_code or None
        if isinstance(message, Text | Markdown) and message.at != At():
            # The OpenAPI cannot mention anyone (§8.1 item 3): the text still names them.
            logger.info("reply to %s via the OpenAPI: its mentions are dropped", incoming.msg_id)
            message = dataclasses.replace(message, at=At())
        if incoming.conversation.is_group:
            await self.client.robot.send_to_group(
                incoming.conversation.id, message, robot_code=robot_code
            )
            return
        sender = incoming.sender.staff_id
        if not sender:
            # Someone outside the organisation: the OpenAPI addresses people by userId only.
            raise SessionExpiredError(
                "the session webhook has expired and the sender has no userId (outside the "
                "organisation): the reply cannot be delivered",
                errcode=300001,
            )
        await self.client.robot.send_to_users([sender], message, robot_code=robot_code)
