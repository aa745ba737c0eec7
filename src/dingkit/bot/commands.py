"""The command syntax: ``/deploy prod "release 2"`` at the start of a message. No I/O.

A command is the message's first word, after any leading mentions of other people, compared
exactly (case-sensitive, the whole word); its arguments are the rest, split like a shell
does: quotes group words, and a backslash is an ordinary character (Windows paths survive).
"""

from __future__ import annotations

import re
import shlex

from .messages import IncomingMessage

__all__ = ["check_command_name", "command_args", "split_words"]

# DingTalk clients type a full-width space after a CJK input method; it separates words too.
_WHITESPACE = " \t\r\n\u3000"
_LEADING_MENTION = re.compile(rf"@[^{_WHITESPACE}]+[{_WHITESPACE}]+")


def check_command_name(name: str) -> str:
    """``name``, or ``ValueError`` when it cannot match a first word."""
    if not name or any(ch in _WHITESPACE for ch in name):
        raise ValueError(f"a command is one word, like '/deploy'; got {name!r}")
    return name


def split_words(text: str) -> list[str]:
    """``text`` split into words, shell-like; an unclosed quote is kept as a character.

    ``don't`` is common in chat and would be an unclosed quote to a shell: rather than fail,
    such text falls back to a split on whitespace.
    """
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace = _WHITESPACE
    lexer.whitespace_split = True
    lexer.escape = ""  # keep backslashes: "C:\\build" is a path, not an escape
    lexer.commenters = ""  # "#42" is an issue number, not a comment
    try:
        return list(lexer)
    except ValueError:
        return text.split()


def command_args(message: IncomingMessage, name: str) -> list[str] | None:
    """The arguments when ``message`` is the command ``name``, else ``None``."""
    text = _after_mentions(message)
    if not text.startswith(name):
        return None
    rest = text[len(name) :]
    if rest and rest[0] not in _WHITESPACE:
        return None  # "/deployment" is not "/deploy"
    return split_words(rest)


def _after_mentions(message: IncomingMessage) -> str:
    """The text without the mentions of other people it starts with.

    DingTalk removes the robot's own mention from the text (§8.1), but "@robot @Alice /deploy"
    arrives as "@Alice /deploy" [I]: at most as many leading ``@word``s as the message has
    mentions are skipped, so a first word that only looks like one is kept.
    """
    text = message.text
    for _ in message.at_users:
        match = _LEADING_MENTION.match(text)
        if match is None:
            break
        text = text[match.end() :]
    return text
