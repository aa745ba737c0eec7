"""Shared by the server-API commands: the client, and rows printed as a table, JSON or CSV.

The client reads ``DINGTALK_APP_KEY`` / ``DINGTALK_APP_SECRET`` (and the base-URL variables)
and keeps its token in a file under the platform's data dir (mode 0600), so consecutive
commands reuse one token instead of fetching a new one each time.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from .._config import data_dir
from .._exceptions import DingTalkError
from ._output import fail

if TYPE_CHECKING:
    from .._client import DingTalk

__all__ = ["Format", "FormatOpt", "emit", "open_client", "progress", "to_row"]

T = TypeVar("T")


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOpt = Annotated[
    Format,
    typer.Option("--format", "-o", help="table (default), json or csv."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Same as --format json.")]
CsvFlag = Annotated[bool, typer.Option("--csv", help="Same as --format csv.")]


def choose_format(output: Format, as_json: bool, as_csv: bool) -> Format:
    if as_json and as_csv:
        raise typer.BadParameter("choose one of --json and --csv")
    return Format.json if as_json else Format.csv if as_csv else output


@contextmanager
def open_client(*, as_json: bool = False) -> Iterator[DingTalk]:
    """A sync client with a file token store; expected failures end in one ``error:`` line."""
    from .._auth import FileTokenStore
    from .._client import DingTalk

    try:
        with DingTalk(token_store=FileTokenStore(data_dir() / "tokens.json")) as client:
            yield client
    except DingTalkError as error:
        fail(error, as_json=as_json)


def to_row(item: Any) -> dict[str, Any]:
    """A flat mapping for printing: pydantic models and mappings alike."""
    if hasattr(item, "model_dump"):
        data: Any = item.model_dump(mode="json")
    elif isinstance(item, Mapping):
        data = dict(item)
    else:
        data = {"value": item}
    return dict(data)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def emit(rows: Iterable[Any], output: Format, *, columns: Sequence[str] | None = None) -> int:
    """Print rows in the chosen format; returns how many were printed.

    JSON is one array (streamed, so long exports start printing at once); CSV has a header
    row; the table is drawn by rich once all rows are in.
    """
    count = 0
    if output is Format.json:
        sys.stdout.write("[")
        for row in rows:
            sys.stdout.write(("," if count else "") + "\n  ")
            sys.stdout.write(json.dumps(to_row(row), ensure_ascii=False))
            count += 1
        sys.stdout.write("\n]\n" if count else "]\n")
        return count
    materialised = [to_row(row) for row in rows]
    names = list(columns or _columns(materialised))
    if output is Format.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(names)
        for row in materialised:
            writer.writerow([_cell(row.get(name)) for name in names])
        sys.stdout.write(buffer.getvalue())
        return len(materialised)
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for name in names:
        table.add_column(name, overflow="fold")
    for row in materialised:
        table.add_row(*(_cell(row.get(name)) for name in names))
    Console().print(table)
    return len(materialised)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for row in rows[:50]:
        names.extend(key for key in row if key not in names)
    return names


def progress(items: Iterable[T], description: str) -> Iterator[T]:
    """Items, with a rich progress counter on stderr when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield from items
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} rows"),
        TimeElapsedColumn(),
    )
    from rich.console import Console

    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)
        for item in items:
            bar.advance(task)
            yield item


def run(action: Callable[[], T], *, as_json: bool = False) -> T:
    """Run ``action``, turning expected failures into one ``error:`` line and exit 1/2."""
    try:
        return action()
    except DingTalkError as error:
        fail(error, as_json=as_json)
