"""``dingkit api METHOD PATH``: a raw call to either API family, with auth and retries."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from .._exceptions import ConfigurationError
from ._output import fail, print_json
from ._server import open_client


class Method(StrEnum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    DELETE = "DELETE"


def _parse_pairs(values: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for value in values or ():
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"--param {value!r}: expected KEY=VALUE")
        params[key] = rest
    return params


def _read_data(data: str) -> str:
    if data == "-":
        return sys.stdin.read()
    if data.startswith("@"):
        try:
            return Path(data[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(ConfigurationError(f"--data: cannot read {data[1:]}: {exc}"))
    return data


def api(
    method: Annotated[Method, typer.Argument(case_sensitive=False, help="HTTP method.")],
    path: Annotated[str, typer.Argument(help="/topapi/... (old family) or /v1.0/... (new).")],
    data: Annotated[
        str | None,
        typer.Option("--data", help="JSON body; @FILE reads a file, - standard input."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="Query parameter KEY=VALUE (repeatable)."),
    ] = None,
) -> None:
    """Call any DingTalk server API with the app's token; prints the JSON answer."""
    if not path.startswith("/"):
        raise typer.BadParameter("PATH must start with /, e.g. /topapi/v2/user/get")
    body: Any = None
    if data is not None:
        text = _read_data(data)
        try:
            body = json.loads(text)
        except ValueError as exc:
            fail(ConfigurationError(f"--data is not valid JSON: {exc}"))
    with open_client() as client:
        answer = client.call(method.value, path, json=body, params=_parse_pairs(param) or None)
    print_json(answer)
