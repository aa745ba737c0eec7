"""App robots that answer messages (§8): typed messages, filters, routers, replies and the
HTTP-mode signature, none of which does I/O; the two transports that receive pushes and send
replies (HTTP mode, Stream mode) build on them.

    from dingkit.bot import Bot, group, mentioned

    bot = Bot()

    @bot.command("/deploy", group)
    async def deploy(args, reply):
        await reply.text(f"deploying {' '.join(args)}", at_sender=True)

    messages.py  what DingTalk pushes, one class per msgtype; parse_message
    filters.py   mentioned, private, group, text_matches, ... combined with & | ~
    commands.py  the command syntax ("/deploy prod" -> ["prod"])
    handlers.py  which arguments a handler asks for, read from its signature once
    router.py    Router: which handler answers a message
    replies.py   reply builders and the Reply a transport implements
    cards.py     cards in replies: reply.card(), reply.stream() (an AI card's CardStream)
    app.py       Bot: the root router, run in order per conversation
    signing.py   the timestamp/sign headers of an HTTP-mode push
    http.py      HTTP mode: BotHTTPApp (``dingkit bot serve``)
    stream.py    Stream mode: StreamClient (``dingkit bot run``, ``bot.run()``)

Names are imported on first use, like the rest of dingkit.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Bot": "dingkit.bot.app",
    "Router": "dingkit.bot.router",
    "Match": "dingkit.bot.router",
    "Filter": "dingkit.bot.filters",
    "command": "dingkit.bot.filters",
    "from_users": "dingkit.bot.filters",
    "group": "dingkit.bot.filters",
    "in_conversations": "dingkit.bot.filters",
    "mentioned": "dingkit.bot.filters",
    "private": "dingkit.bot.filters",
    "text_matches": "dingkit.bot.filters",
    "IncomingMessage": "dingkit.bot.messages",
    "TextMessage": "dingkit.bot.messages",
    "RichTextMessage": "dingkit.bot.messages",
    "RichTextPart": "dingkit.bot.messages",
    "PictureMessage": "dingkit.bot.messages",
    "AudioMessage": "dingkit.bot.messages",
    "VideoMessage": "dingkit.bot.messages",
    "FileMessage": "dingkit.bot.messages",
    "WithheldMessage": "dingkit.bot.messages",
    "Conversation": "dingkit.bot.messages",
    "Sender": "dingkit.bot.messages",
    "AtUser": "dingkit.bot.messages",
    "parse_message": "dingkit.bot.messages",
    "Reply": "dingkit.bot.replies",
    "CardStream": "dingkit.bot.cards",
    "RecordedCard": "dingkit.bot.cards",
    "RecordingReply": "dingkit.bot.replies",
    "HeaderSignatureCheck": "dingkit.bot.signing",
    "StreamClient": "dingkit.bot.stream",
    "sign": "dingkit.bot.signing",
    "verify": "dingkit.bot.signing",
}

__all__ = [
    "AtUser",
    "AudioMessage",
    "Bot",
    "CardStream",
    "Conversation",
    "FileMessage",
    "Filter",
    "HeaderSignatureCheck",
    "IncomingMessage",
    "Match",
    "PictureMessage",
    "RecordedCard",
    "RecordingReply",
    "Reply",
    "RichTextMessage",
    "RichTextPart",
    "Router",
    "Sender",
    "StreamClient",
    "TextMessage",
    "VideoMessage",
    "WithheldMessage",
    "command",
    "from_users",
    "group",
    "in_conversations",
    "mentioned",
    "parse_message",
    "private",
    "sign",
    "text_matches",
    "verify",
]

if TYPE_CHECKING:
    from .app import Bot
    from .cards import CardStream, RecordedCard
    from .filters import (
        Filter,
        command,
        from_users,
        group,
        in_conversations,
        mentioned,
        private,
        text_matches,
    )
    from .messages import (
        AtUser,
        AudioMessage,
        Conversation,
        FileMessage,
        IncomingMessage,
        PictureMessage,
        RichTextMessage,
        RichTextPart,
        Sender,
        TextMessage,
        VideoMessage,
        WithheldMessage,
        parse_message,
    )
    from .replies import RecordingReply, Reply
    from .router import Match, Router
    from .signing import HeaderSignatureCheck, sign, verify
    from .stream import StreamClient


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dingkit.bot' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
