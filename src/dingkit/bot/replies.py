"""Answering a message: reply builders, and the :class:`Reply` a transport implements. No I/O.

A reply has the shapes of a custom-robot message (§2.1): an HTTP-mode robot may return one as
its response body, and the ``sessionWebhook`` takes the same bodies (§8.1), so the builders
return :mod:`dingkit.robot.messages` objects and check them with the robot's own rules
(:func:`dingkit.robot.compose.validate_message`).

    @bot.command("/status")
    async def status(reply):
        await reply.markdown("Status", "**all green**", at_sender=True)

A transport (HTTP response, session webhook, robot OpenAPI) subclasses :class:`Reply` and
implements :meth:`Reply.send`; :class:`RecordingReply` keeps what was sent, for tests.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar

from ..resources.cards import card_params
from ..robot.compose import validate_message, with_mention_text
from ..robot.messages import (
    ActionButton,
    ActionCard,
    At,
    FeedCard,
    FeedLink,
    Markdown,
    RobotMessage,
    Text,
    to_payload,
)
from .cards import CardStream, RecordedCard, new_out_track_id
from .messages import IncomingMessage

__all__ = [
    "RecordingReply",
    "Reply",
    "action_card_reply",
    "feed_card_reply",
    "markdown_reply",
    "text_reply",
]

M = TypeVar("M", Text, Markdown, ActionCard, FeedCard)
ButtonSpec = ActionButton | tuple[str, str]
FeedLinkSpec = FeedLink | tuple[str, str] | tuple[str, str, str]


def text_reply(content: str, *, at_user_ids: Sequence[str] = (), at_all: bool = False) -> Text:
    """A text message mentioning ``at_user_ids`` (written into the text too: DingTalk shows a
    mention only when the body has it, §2.1)."""
    message = with_mention_text(
        Text(content=content, at=At(at_user_ids=tuple(at_user_ids), is_at_all=at_all))
    )
    assert isinstance(message, Text)
    return _checked(message)


def markdown_reply(
    title: str, text: str, *, at_user_ids: Sequence[str] = (), at_all: bool = False
) -> Markdown:
    """A markdown message; ``title`` is what the conversation list shows."""
    message = with_mention_text(
        Markdown(title=title, text=text, at=At(at_user_ids=tuple(at_user_ids), is_at_all=at_all))
    )
    assert isinstance(message, Markdown)
    return _checked(message)


def action_card_reply(
    title: str,
    text: str,
    *,
    single_title: str | None = None,
    single_url: str | None = None,
    buttons: Sequence[ButtonSpec] = (),
    orientation: Literal["vertical", "horizontal"] = "vertical",
    hide_avatar: bool = False,
    at_user_ids: Sequence[str] = (),
) -> ActionCard:
    """An action card with one button (``single_title`` + ``single_url``) or several
    (``buttons``: :class:`ActionButton` or ``(title, url)`` pairs).

    An action card has no ``at`` field: a mention is ``@userId`` written in ``text`` (§2.1),
    which is what ``at_user_ids`` does.
    """
    mentions = " ".join(f"@{user}" for user in at_user_ids if f"@{user}" not in text)
    message = ActionCard(
        title=title,
        text=f"{text}\n\n{mentions}" if mentions else text,
        single_title=single_title,
        single_url=single_url,
        buttons=tuple(
            button if isinstance(button, ActionButton) else _button(*button) for button in buttons
        ),
        btn_orientation="1" if orientation == "horizontal" else "0",
        hide_avatar="1" if hide_avatar else "0",
    )
    return _checked(message)


def feed_card_reply(links: Sequence[FeedLinkSpec]) -> FeedCard:
    """A feed card: :class:`FeedLink` or ``(title, url[, picture url])`` entries, the first
    shown large. Feed cards cannot mention anyone (§2.1)."""
    return _checked(
        FeedCard(
            links=tuple(link if isinstance(link, FeedLink) else _link(*link) for link in links)
        )
    )


def _button(title: str, url: str) -> ActionButton:
    return ActionButton(title=title, action_url=url)


def _link(title: str, url: str, picture_url: str = "") -> FeedLink:
    return FeedLink(title=title, message_url=url, pic_url=picture_url)


def _checked(message: M) -> M:
    # Fail in the handler, where the mistake is, rather than in the transport later. The
    # session webhook is the /robot/send service (§8.1 [I]), so the custom-robot rules hold.
    validate_message(message)
    return message


class Reply(abc.ABC):
    """How a handler answers the message it was given.

    Subclasses implement :meth:`send`; the shape methods build a message and send it. With
    ``at_sender=True`` the sender is mentioned by userId, as the official SDK's
    ``reply_text`` does; a sender outside the org has no userId and is then not mentioned.

    Args:
        message: the message being answered.
    """

    def __init__(self, message: IncomingMessage) -> None:
        self.message = message

    @abc.abstractmethod
    async def send(self, message: RobotMessage) -> None:
        """Send one message to the conversation ``self.message`` came from."""

    async def text(
        self,
        content: str,
        *,
        at_sender: bool = False,
        at_user_ids: Sequence[str] = (),
        at_all: bool = False,
    ) -> None:
        await self.send(
            text_reply(content, at_user_ids=self._mentions(at_sender, at_user_ids), at_all=at_all)
        )

    async def markdown(
        self,
        title: str,
        text: str,
        *,
        at_sender: bool = False,
        at_user_ids: Sequence[str] = (),
        at_all: bool = False,
    ) -> None:
        await self.send(
            markdown_reply(
                title, text, at_user_ids=self._mentions(at_sender, at_user_ids), at_all=at_all
            )
        )

    async def action_card(
        self,
        title: str,
        text: str,
        *,
        single_title: str | None = None,
        single_url: str | None = None,
        buttons: Sequence[ButtonSpec] = (),
        orientation: Literal["vertical", "horizontal"] = "vertical",
        hide_avatar: bool = False,
        at_sender: bool = False,
        at_user_ids: Sequence[str] = (),
    ) -> None:
        await self.send(
            action_card_reply(
                title,
                text,
                single_title=single_title,
                single_url=single_url,
                buttons=buttons,
                orientation=orientation,
                hide_avatar=hide_avatar,
                at_user_ids=self._mentions(at_sender, at_user_ids),
            )
        )

    async def feed_card(self, links: Sequence[FeedLinkSpec]) -> None:
        await self.send(feed_card_reply(links))

    async def card(self, template_id: str, data: Mapping[str, Any]) -> str:
        """Send an interactive card of ``template_id`` with variables ``data`` (non-strings
        go as JSON) into the conversation; its ``outTrackId`` (:mod:`dingkit.bot.cards`)."""
        out_track_id = new_out_track_id(self.message)
        await self._create_card(template_id, out_track_id, card_params(data))
        return out_track_id

    def stream(
        self, template_id: str, *, key: str = "content", data: Mapping[str, Any] | None = None
    ) -> CardStream:
        """An AI card whose variable ``key`` shows text as it is streamed: ``async with
        reply.stream(tpl) as card: await card.append(chunk)`` (:mod:`dingkit.bot.cards`)."""
        return CardStream(self, template_id, key=key, data=data)

    # Card transport hooks (:mod:`dingkit.bot.cards`); a transport without cards refuses.
    async def _create_card(self, template_id: str, out_track_id: str, data: dict[str, str]) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot send cards")

    async def _update_card(self, out_track_id: str, data: dict[str, str]) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot send cards")

    async def _stream_card(
        self, out_track_id: str, key: str, content: str, *, finalize: bool, error: bool
    ) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot send cards")

    def _mentions(self, at_sender: bool, at_user_ids: Sequence[str]) -> tuple[str, ...]:
        sender = self.message.sender.staff_id
        mentions = [*at_user_ids, sender] if at_sender and sender else list(at_user_ids)
        return tuple(dict.fromkeys(mentions))


class RecordingReply(Reply):
    """A :class:`Reply` that keeps what it is asked to send, in :attr:`sent`.

    Usage::

        reply = RecordingReply(message)
        await bot.handle(message, reply)
        assert reply.payloads() == [{"msgtype": "text", "text": {"content": "pong"}}]
    """

    def __init__(self, message: IncomingMessage) -> None:
        super().__init__(message)
        self.sent: list[RobotMessage] = []
        #: Cards sent, by outTrackId, as they are now.
        self.cards: dict[str, RecordedCard] = {}

    async def send(self, message: RobotMessage) -> None:
        self.sent.append(message)

    async def _create_card(self, template_id: str, out_track_id: str, data: dict[str, str]) -> None:
        card = RecordedCard(template_id, dict(data))
        card.calls.append(("create", dict(data)))
        self.cards[out_track_id] = card

    async def _update_card(self, out_track_id: str, data: dict[str, str]) -> None:
        card = self.cards[out_track_id]
        card.data.update(data)
        card.calls.append(("update", dict(data)))

    async def _stream_card(
        self, out_track_id: str, key: str, content: str, *, finalize: bool, error: bool
    ) -> None:
        card = self.cards[out_track_id]
        card.key, card.data[key] = key, content
        card.finished, card.failed = finalize or error, error
        card.calls.append(("stream", {key: content, "isFinalize": finalize, "isError": error}))

    def payloads(self) -> list[dict[str, Any]]:
        """What was sent, as the JSON bodies DingTalk would receive."""
        return [to_payload(message) for message in self.sent]
