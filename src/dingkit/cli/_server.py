"""Shared by the server-API commands: the client, and rows printed as a table, JSON or CSV.

The client reads ``DINGTALK_APP_KEY`` / ``DINGTALK_APP_SECRET`` (and the base-URL variables)
and keeps its token in a file under the platform's data dir (mode 0600), so consecutive
commands reuse one token instead of fetching a new one each time.

Output: a table for people (the columns a command picks), every field for scripts: ``--json``
is one JSON value (an array for lists, streamed), ``--csv`` one row per item under a header.
Fields carry DingTalk's own names (``userid``, ``timeResult``), as in its answers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import urlencode

import typer

from .._config import data_dir
from .._exceptions import ConfigurationError, DingTalkError
from ._output import fail
from ._params import china_time

if TYPE_CHECKING:
    from .._client import DingTalk
    from .._request import APIRequest

__all__ = [
    "CsvFlag",
    "DryRunOpt",
    "Format",
    "FormatOpt",
    "JsonFlag",
    "JsonResult",
    "YesOpt",
    "choose_format",
    "confirm",
    "emit",
    "emit_one",
    "open_client",
    "print_dry_run",
    "progress",
    "run",
    "to_row",
]

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
#: For commands that print a short confirmation rather than data.
JsonResult = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
#: For every command that changes something in DingTalk.
DryRunOpt = Annotated[
    bool,
    typer.Option("--dry-run", help="Print the request (token redacted) and send nothing."),
]


def choose_format(output: Format, as_json: bool, as_csv: bool) -> Format:
    if as_json and as_csv:
        raise typer.BadParameter("choose one of --json and --csv")
    return Format.json if as_json else Format.csv if as_csv else output


_CREDENTIALS = ("DINGTALK_APP_KEY", "DINGTALK_APP_SECRET")


class _Stdout:
    """Whether a JSON document has started on stdout: a failure after that point must not
    print a second JSON value into it."""

    started = False


@contextmanager
def open_client(*, as_json: bool = False) -> Iterator[DingTalk]:
    """A sync client with a file token store; expected failures end in one ``error:`` line.

    ``ValueError`` is what the SDK's request builders raise for arguments DingTalk would
    refuse (a range that ends before it starts, too many users): a usage error, exit 2.
    """
    missing = [name for name in _CREDENTIALS if not os.environ.get(name, "").strip()]
    if missing:
        # Said here, before the HTTP stack is imported, in the command line's own terms.
        fail(
            ConfigurationError(
                f"no app credentials: set {' and '.join(missing)} (the app's Client ID and "
                "Client Secret, from the DingTalk developer console)"
            ),
            as_json=as_json,
        )
    from .._client import DingTalk
    from .._token_store import FileTokenStore

    try:
        with DingTalk(token_store=FileTokenStore(data_dir() / "tokens.json")) as client:
            yield client
    except DingTalkError as error:
        fail(error, as_json=as_json and not _Stdout.started)
    except ValueError as error:
        fail(ConfigurationError(str(error)), as_json=as_json and not _Stdout.started)


YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def confirm(question: str, *, yes: bool) -> None:
    """Ask before something that cannot be undone, on a terminal only (a script or a cron job
    has no one to answer, and passing --yes there is noise); "no" ends the command, exit 1."""
    if yes or not sys.stdin.isatty():
        return
    if not typer.confirm(question, default=False):
        typer.echo("cancelled: nothing was changed", err=True)
        raise SystemExit(1)


def print_dry_run(
    request: APIRequest[Any], *, as_json: bool = False, hidden: Sequence[str] = ()
) -> None:
    """What ``request`` would send, where the base-URL variables point, the token shown as
    ``***``, and so are the body's ``hidden`` fields (a subscription's keys); nothing is
    sent."""
    from .._config import api_base_url, oapi_base_url
    from .._request import build_call

    token = "***" if request.auth else None
    call = build_call(request, token=token, oapi_base=oapi_base_url(), api_base=api_base_url())
    query = urlencode(call.params, safe="*")
    url = f"{call.url}?{query}" if query else call.url
    shown_body = request.json
    if isinstance(shown_body, dict) and hidden:
        shown_body = {k: "***" if k in hidden else v for k, v in shown_body.items()}
    shown = {k: v for k, v in call.headers.items() if k.lower() not in ("accept",)}
    if as_json:
        print(
            json.dumps(
                {
                    "dry_run": True,
                    "method": call.method,
                    "url": url,
                    "headers": shown,
                    "body": shown_body,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    print(f"{call.method} {url}")
    for name, value in shown.items():
        print(f"{name}: {value}")
    if shown_body is not None:
        print(json.dumps(shown_body, ensure_ascii=False, indent=2))
    print("(dry run: nothing was sent)", file=sys.stderr)


def to_row(item: Any) -> dict[str, Any]:
    """A flat mapping for printing, with DingTalk's field names (pydantic models' aliases)."""
    if hasattr(item, "model_dump"):
        data: Any = item.model_dump(mode="json", by_alias=True)
    elif isinstance(item, Mapping):
        data = dict(item)
    else:
        data = {"value": item}
    return dict(data)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # as in the JSON output
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def emit(
    rows: Iterable[Any],
    output: Format,
    *,
    columns: Sequence[str] | None = None,
    table: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None,
) -> int:
    """Print rows in the chosen format; returns how many were printed.

    JSON is one array, streamed so long exports start printing at once (the first row is
    fetched before anything is written, so an early failure leaves stdout empty). CSV has a
    header row with every field seen. The table shows ``columns`` (default: every field),
    after ``table`` has turned each row into what people read (dates, names).
    """
    if output is Format.json:
        return _emit_json(rows)
    materialised = [to_row(row) for row in rows]
    if output is Format.csv:
        names = _columns(materialised)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(names)
        for row in materialised:
            writer.writerow([_cell(row.get(name)) for name in names])
        sys.stdout.write(buffer.getvalue())
        return len(materialised)
    shown = [dict(table(row)) if table else row for row in materialised]
    _print_table(shown, list(columns or _columns(shown)))
    return len(materialised)


def _emit_json(rows: Iterable[Any]) -> int:
    # On a terminal, rows written while the progress bar (stderr) is drawn would tangle
    # with it; stream only to pipes and files, where long exports go.
    iterator = iter(list(rows) if sys.stdout.isatty() else rows)
    count = 0
    for row in iterator:
        if not count:
            _Stdout.started = True
            sys.stdout.write("[")
        sys.stdout.write(("," if count else "") + "\n  ")
        sys.stdout.write(json.dumps(to_row(row), ensure_ascii=False))
        sys.stdout.flush()
        count += 1
    sys.stdout.write("\n]\n" if count else "[]\n")
    return count


def emit_one(
    item: Any,
    output: Format,
    *,
    fields: Sequence[str] | None = None,
    table: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None,
) -> None:
    """Print one object: a field/value table (``fields``, default every non-empty one), a
    JSON object, or a CSV header and row."""
    row = to_row(item)
    if output is Format.json:
        print(json.dumps(row, ensure_ascii=False, indent=2))
        return
    if output is Format.csv:
        emit([row], output)
        return
    shown = dict(table(row)) if table else row
    names = list(fields) if fields else [k for k, v in shown.items() if v not in (None, "", [])]
    _print_table(
        [{"field": name, "value": _shown(name, shown.get(name))} for name in names],
        ["field", "value"],
        header=False,
    )


#: Fields that hold a moment (``hired_date``, ``createTime``, ``workDate``...); a table shows
#: epoch milliseconds in them as China wall-clock time (``--json``/``--csv`` keep DingTalk's).
_MOMENT = re.compile(r"(?i)(time|date)$")
#: Epoch milliseconds from 1973 on: smaller numbers in a date field are not moments.
_EPOCH_MS_FROM = 10**11


def _shown(name: str, value: Any) -> str:
    """A cell as people read it: a moment in a time or date field as China wall-clock time
    (a date field's midnight as the date alone)."""
    moment = _MOMENT.search(name)
    digits = not isinstance(value, bool) and str(value).isdigit()
    if moment and digits and int(value) >= _EPOCH_MS_FROM:
        text = china_time(value)
        date_only = moment[1].lower() == "date" and text.endswith(" 00:00")
        return text[:10] if date_only else text
    return _cell(value)


def _print_table(rows: list[dict[str, Any]], names: list[str], *, header: bool = True) -> None:
    """One style everywhere; no cell is ever broken across lines (an id, a time). When the
    table is wider than the terminal (or than ``COLUMNS``), each row is printed as a list of
    ``name  value`` lines instead. Piped output without ``COLUMNS`` is as wide as it needs."""
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table

    cells = [[_shown(name, row.get(name)) for name in names] for row in rows]
    widths = [
        max([cell_len(name) if header else 0, *(_width(line[i]) for line in cells)])
        for i, name in enumerate(names)
    ]
    natural = sum(width + 3 for width in widths) + 1  # "│ " before each cell, " " after, "│"
    limit = _terminal_width()
    if limit is not None and natural > limit:
        _print_list(names, cells)
        return
    grid = Table(show_header=header, show_lines=False)
    for name in names:
        grid.add_column(name, no_wrap=True, overflow="ignore")
    for line in cells:
        grid.add_row(*line)
    Console(width=max(natural, limit or 0), soft_wrap=False).print(grid)


def _width(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.splitlines()), default=0)


def _terminal_width() -> int | None:
    """``COLUMNS``, else the terminal's width, else ``None`` (a pipe or a file)."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def _print_list(names: list[str], cells: list[list[str]]) -> None:
    """Rows too wide for the terminal: one ``name  value`` line per field, a blank line
    between rows, values whole."""
    pad = max(len(name) for name in names)
    blocks = [
        "\n".join(f"{name.ljust(pad)}  {value}" for name, value in zip(names, line, strict=True))
        for line in cells
    ]
    sys.stdout.write("\n\n".join(blocks) + ("\n" if blocks else ""))


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return list(names)


def progress(items: Iterable[T], description: str) -> Iterator[T]:
    """Items, with a rich progress counter on stderr when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield from items
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} rows"),
        TimeElapsedColumn(),
    )
    # Rows go on being written to stdout meanwhile: rich must not redirect them to the bar.
    bar = Progress(
        *columns,
        console=Console(stderr=True),
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    with bar:
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
