"""Cards in a bot's replies: ``reply.card(...)`` and ``reply.stream(...)``. No I/O.

    @bot.fallback()
    async def answer(message, reply):
        async with reply.stream(AI_CARD_TEMPLATE, key="content") as card:
            async for chunk in llm(message.text):
                await card.append(chunk)      # the card shows the text so far

The stream follows the official SDK's AI card (``dingtalk_stream/card_instance.py``,
``AIMarkdownCardInstance``: ``ai_start`` → ``ai_streaming`` → ``ai_finish``/``ai_fail``):
the card is created and delivered with ``flowStatus`` 1 (processing), turned to 2 (inputing)
before the first text, and each update streams the *whole* text so far (``isFull``, as
``ai_streaming`` does, so a lost update is repaired by the next); :meth:`CardStream.finish`
streams it with ``isFinalize`` (the card turns 完成), :meth:`CardStream.fail` with
``isError``. Leaving the ``async with`` block finishes the card, or fails it on an exception.

Where a card goes comes from the message answered, as the official SDK's ``CardReplier``
does (``card_replier.py``): a group (``conversationType`` 2) is ``IM_GROUP`` + the
``conversationId``; a 1:1 chat is ``IM_ROBOT`` + the sender's userId (``senderStaffId``).
Its ``outTrackId`` is a SHA-256 of the sender, corp, conversation and message ids and a
random UUID (``CardReplier.gen_card_id``).

A transport implements three hooks of :class:`~dingkit.bot.replies.Reply`
(``_create_card``, ``_update_card``, ``_stream_card``);
:class:`~dingkit.bot.delivery.SessionReply` sends them through ``client.cards``,
:class:`~dingkit.bot.replies.RecordingReply` keeps them as :class:`RecordedCard`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from .._exceptions import MessageValidationError
from ..resources.cards import FLOW_STATUS, card_params

if TYPE_CHECKING:
    from .messages import IncomingMessage
    from .replies import Reply

__all__ = ["CardStream", "CardTarget", "RecordedCard", "card_target", "new_out_track_id"]


@dataclass(frozen=True, slots=True)
class CardTarget:
    """The open space a reply's card goes to, and the robot that sends it."""

    space_type: Literal["IM_GROUP", "IM_ROBOT"]
    space_id: str
    robot_code: str | None


def card_target(message: IncomingMessage) -> CardTarget:
    """Where a card answering ``message`` goes (see the module's docstring).

    Raises:
        MessageValidationError: a 1:1 chat with someone outside the organisation (no userId).
    """
    robot = message.robot_code or None
    if message.conversation.is_group:
        return CardTarget("IM_GROUP", message.conversation.id, robot)
    if not message.sender.staff_id:
        raise MessageValidationError(
            "a card goes to a 1:1 chat by the sender's userId, and this sender has none "
            "(outside the organisation): reply with text instead",
            field="openSpaceId",
        )
    return CardTarget("IM_ROBOT", message.sender.staff_id, robot)


def new_out_track_id(message: IncomingMessage) -> str:
    """A fresh ``outTrackId`` for a card answering ``message`` (``gen_card_id``)."""
    factor = "_".join(
        str(part or "")
        for part in (
            message.sender.id,
            message.sender.corp_id,
            message.conversation.id,
            message.msg_id,
            uuid.uuid4(),
        )
    )
    return hashlib.sha256(factor.encode()).hexdigest()


@dataclass(slots=True)
class RecordedCard:
    """A card a :class:`~dingkit.bot.replies.RecordingReply` was asked to send."""

    template_id: str
    data: dict[str, str]
    key: str | None = None
    finished: bool = False
    failed: bool = False
    #: Every update, in order: ("create" | "update" | "stream", what it carried).
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def content(self) -> str | None:
        """The streamed variable's value (``None`` before any text)."""
        return self.data.get(self.key) if self.key else None


class CardStream:
    """An AI card being written into: see the module's docstring.

    Args:
        reply: the reply whose transport sends the card.
        template_id: the AI card template (its ``flowStatus`` and ``key`` variables).
        key: the variable the text streams into.
        data: the card's other variables.
    """

    def __init__(
        self,
        reply: Reply,
        template_id: str,
        *,
        key: str = "content",
        data: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(key, str) or not key:
            raise MessageValidationError("the streamed variable needs a name (key=)", field="key")
        self.reply = reply
        self.template_id = template_id
        self.key = key
        self.data = card_params(data or {})
        #: The card's ``outTrackId``, once :meth:`start` has created it.
        self.out_track_id: str | None = None
        #: The text streamed so far.
        self.text = ""
        self.done = False
        self._inputing = False

    async def start(self) -> CardStream:
        """Create and deliver the card (processing); :meth:`append` does it when needed."""
        if self.out_track_id is None:
            out_track_id = new_out_track_id(self.reply.message)
            data = {**self.data, self.key: "", "flowStatus": FLOW_STATUS["processing"]}
            await self.reply._create_card(self.template_id, out_track_id, data)
            self.out_track_id = out_track_id
        return self

    async def append(self, text: str) -> None:
        """Add ``text`` to the card's text."""
        await self._send(self.text + text)

    async def replace(self, text: str) -> None:
        """Show ``text`` instead of the text so far."""
        await self._send(text)

    async def finish(self, text: str | None = None) -> None:
        """End the stream (the card turns 完成), with ``text`` as the final text if given."""
        await self._send(self.text if text is None else text, finalize=True)

    async def fail(self, text: str | None = None) -> None:
        """End the stream as failed (the card shows its error state)."""
        await self._send(self.text if text is None else text, error=True)

    async def _send(self, text: str, *, finalize: bool = False, error: bool = False) -> None:
        if self.done:
            raise MessageValidationError(
                "the card's stream has ended: start another reply.stream()", field="isFinalize"
            )
        if not isinstance(text, str):
            raise MessageValidationError(
                f"streamed text is a str, not {type(text).__name__}", field="content"
            )
        await self.start()
        assert self.out_track_id is not None
        if not self._inputing and not (finalize or error):
            await self.reply._update_card(
                self.out_track_id, {"flowStatus": FLOW_STATUS["inputing"]}
            )
            self._inputing = True
        await self.reply._stream_card(
            self.out_track_id, self.key, text, finalize=finalize, error=error
        )
        self.text = text
        self.done = finalize or error

    async def __aenter__(self) -> CardStream:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.done:
            return
        if exc is None:
            await self.finish()
        else:
            await self.fail()
