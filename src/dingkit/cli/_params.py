"""Values the server-API commands take: dates, times, ``KEY=VALUE`` pairs, JSON documents.

Parsers raise :class:`typer.BadParameter`, so a bad value is a usage error (exit 2) naming the
option. No I/O beyond reading a file or standard input the user named.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .._wire import CHINA

__all__ = [
    "BodyArg",
    "FileOpt",
    "aware",
    "china_time",
    "parse_date",
    "parse_moment",
    "parse_pairs",
    "read_body",
    "read_json",
]

#: DingTalk's wall clock: attendance and the old APIs speak China Standard Time [I, §6].


def parse_date(value: str) -> dt.date:
    """``YYYY-MM-DD``."""
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value)
    except ValueError:
        pass
    raise typer.BadParameter(f"{value!r} is not a date: use YYYY-MM-DD, e.g. 2024-05-31")


def parse_moment(value: str) -> dt.date | dt.datetime:
    """A date (``YYYY-MM-DD``) or an ISO-8601 time (``2024-05-31T09:30``, ``...+08:00``)."""
    text = value.strip()
    if len(text) == 10:
        return parse_date(text)
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date or time: use YYYY-MM-DD or YYYY-MM-DDTHH:MM[+08:00]"
        ) from None


def aware(moment: dt.datetime, zone: str | None) -> dt.datetime:
    """``moment`` with a time zone: its own, else ``zone`` (an IANA name), else this
    machine's."""
    if moment.tzinfo is not None:
        return moment
    if zone:
        return moment.replace(tzinfo=zone_info(zone))
    return moment.astimezone()


def zone_info(zone: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(
            f"unknown time zone {zone!r}: use a name like Asia/Shanghai"
        ) from None


def china_time(ms: Any) -> str:
    """Epoch milliseconds as DingTalk's wall-clock time, for tables."""
    if ms in (None, ""):
        return ""
    try:
        moment = dt.datetime.fromtimestamp(int(ms) / 1000, CHINA)
    except (TypeError, ValueError, OverflowError):
        return str(ms)
    return (
        moment.strftime("%Y-%m-%d %H:%M:%S") if moment.second else moment.strftime("%Y-%m-%d %H:%M")
    )


def parse_pairs(values: list[str] | None, option: str) -> list[tuple[str, str]]:
    """``KEY=VALUE`` items (the value may hold ``=``), in order."""
    pairs: list[tuple[str, str]] = []
    for value in values or ():
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{option} {value!r}: expected KEY=VALUE")
        pairs.append((key.strip(), rest))
    return pairs


#: How every command that sends a message takes its body (:func:`read_body`): the argument...
BodyArg = Annotated[
    str | None,
    typer.Argument(
        metavar="[TEXT]",
        help="The message; '-' or a pipe reads standard input.",
        show_default=False,
    ),
]
#: ... or a file.
FileOpt = Annotated[
    Path | None,
    typer.Option("--file", "-f", help="Read the message from a file ('-': standard input)."),
]


def read_body(text: str | None, file: Path | None, what: str) -> str:
    """A message body, the same way in every command: the argument, ``--file PATH``, ``-``
    (as either) for standard input, or standard input by itself when it is piped and neither
    is given. The newline that ends a file or a piped line is not part of the message."""
    if text is not None and file is not None:
        raise typer.BadParameter(f"give the {what} as an argument or with --file, not both")
    if file is not None:
        if str(file) == "-":
            return sys.stdin.read().rstrip("\r\n")
        try:
            return file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise typer.BadParameter(f"cannot read {file}: {exc}") from None
    if text == "-":
        return sys.stdin.read().rstrip("\r\n")
    if text is not None:
        return text
    if not sys.stdin.isatty():
        piped = sys.stdin.read().rstrip("\r\n")
        if piped:
            return piped
    raise typer.BadParameter(
        f"give the {what} as an argument, with --file PATH, or on standard input ('-' or a pipe)"
    )


def read_json(source: str, option: str) -> Any:
    """JSON from a file, or from standard input when ``source`` is ``-``."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"{option}: cannot read {source}: {exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        where = "standard input" if source == "-" else source
        raise typer.BadParameter(f"{option}: {where} is not valid JSON ({exc})") from None
