"""Filters: which messages a handler is for, composable with ``&``, ``|`` and ``~``. No I/O.

    @bot.message(group & mentioned & ~from_users("bot-admin"))
    @bot.message(text_matches(r"^ping\\b") | command("/ping"))

A filter is any ``callable(message) -> bool``; :class:`Filter` wraps one to give it the
operators and a readable ``repr``. Filters are plain functions of the message: they run on
the event loop, so they must not block.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .commands import check_command_name, command_args
from .messages import IncomingMessage

__all__ = [
    "Filter",
    "command",
    "from_users",
    "group",
    "in_conversations",
    "mentioned",
    "private",
    "text_matches",
]

Predicate = Callable[[IncomingMessage], bool]


class Filter:
    """A predicate on messages that combines with ``&`` (both), ``|`` (either), ``~`` (not).

    Args:
        predicate: ``callable(message) -> bool``.
        name: what ``repr`` shows, e.g. ``text_matches('^ping')``.
    """

    __slots__ = ("_name", "_predicate")

    def __init__(self, predicate: Predicate, name: str | None = None) -> None:
        self._predicate = predicate
        self._name: str = name or str(getattr(predicate, "__name__", repr(predicate)))

    def __call__(self, message: IncomingMessage) -> bool:
        return bool(self._predicate(message))

    def __and__(self, other: Predicate) -> Filter:
        right = as_filter(other)
        return Filter(lambda m: self(m) and right(m), f"({self!r} & {right!r})")

    def __or__(self, other: Predicate) -> Filter:
        right = as_filter(other)
        return Filter(lambda m: self(m) or right(m), f"({self!r} | {right!r})")

    def __rand__(self, other: Predicate) -> Filter:
        return as_filter(other) & self

    def __ror__(self, other: Predicate) -> Filter:
        return as_filter(other) | self

    def __invert__(self) -> Filter:
        return Filter(lambda m: not self(m), f"~{self!r}")

    def __repr__(self) -> str:
        return self._name


def as_filter(predicate: Predicate) -> Filter:
    """``predicate`` as a :class:`Filter`; ``TypeError`` when it is not callable."""
    if isinstance(predicate, Filter):
        return predicate
    if not callable(predicate):
        raise TypeError(f"a filter is a callable(message) -> bool, not {predicate!r}")
    return Filter(predicate)


#: The robot was @-mentioned. In groups DingTalk only pushes messages that mention the robot
#: (§8.1), so this mostly tells them from one-to-one chats, where nobody types the @.
mentioned = Filter(lambda m: m.is_in_at_list, "mentioned")
#: A one-to-one chat with the robot.
private = Filter(lambda m: m.conversation.type == "single", "private")
#: A group chat.
group = Filter(lambda m: m.conversation.type == "group", "group")


def text_matches(pattern: str | re.Pattern[str], flags: int = 0) -> Filter:
    """The message's :attr:`~IncomingMessage.text` contains a match of ``pattern``
    (``re.search``; anchor it with ``^`` for the start)."""
    regex = re.compile(pattern, flags)
    return Filter(lambda m: regex.search(m.text) is not None, f"text_matches({regex.pattern!r})")


def from_users(*userids: str) -> Filter:
    """The sender's userId (``senderStaffId``) is one of ``userids``; people outside the org
    have none and never match."""
    wanted = frozenset(userids)
    return Filter(
        lambda m: m.sender.staff_id is not None and m.sender.staff_id in wanted,
        f"from_users({', '.join(map(repr, userids))})",
    )


def in_conversations(*conversation_ids: str) -> Filter:
    """The message was written in one of these conversations (``cid...==`` ids)."""
    wanted = frozenset(conversation_ids)
    return Filter(
        lambda m: m.conversation.id in wanted,
        f"in_conversations({', '.join(map(repr, conversation_ids))})",
    )


def command(name: str) -> Filter:
    """The message is the command ``name`` (see :mod:`.commands`): its first word after
    mentions, exactly."""
    check_command_name(name)
    return Filter(lambda m: command_args(m, name) is not None, f"command({name!r})")
