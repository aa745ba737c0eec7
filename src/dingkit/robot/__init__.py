"""Custom group robots (自定义机器人): messages, signing and sending.

``messages``, ``compose``, ``signing`` and ``target`` do no I/O and are shared with the
sandbox; ``client`` holds the sync and async send loops.
"""

from .messages import (
    ActionButton,
    ActionCard,
    At,
    FeedCard,
    FeedLink,
    Link,
    Markdown,
    RobotMessage,
    Text,
)
from .target import RobotTarget, SendResult

__all__ = [
    "ActionButton",
    "ActionCard",
    "At",
    "FeedCard",
    "FeedLink",
    "Link",
    "Markdown",
    "RobotMessage",
    "RobotTarget",
    "SendResult",
    "Text",
]
