"""``dingkit errors CODE``: what a DingTalk error code means, whether to retry, what to do."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from .._errcodes import DEFAULT_MAX_WAIT, ErrorCodeInfo, lookup, retry_advice
from ._output import EXIT_USAGE, print_json

_FAMILY = {
    "robot": "custom robot webhook (/robot/send)",
    "oapi": "old server API (oapi.dingtalk.com, errcode in an HTTP 200 body)",
    "api": "new server API (api.dingtalk.com, HTTP status + code)",
    "callback": "callback encryption library",
}


def _describe(info: ErrorCodeInfo) -> list[str]:
    status = f", HTTP {info.http_status}" if info.http_status else ""
    lines = [
        f"{info.code} — {_FAMILY.get(info.api, info.api)}{status}",
        f"  meaning:  {info.meaning}",
        f"  retry:    {retry_advice(info, DEFAULT_MAX_WAIT)}",
        f"  do:       {info.action}",
    ]
    if info.api != "callback" and info.retry != "not-an-error":
        lines.append(f"  raises:   dingkit.{info.raises.__name__}")
    lines += [f"  errmsg:   {example}" for example in info.errmsg_examples[:3]]
    if info.note:
        lines.append(f"  note:     {info.note}")
    if not info.documented:
        lines.append("  source:   not in DingTalk's own documentation (observed or from guides)")
    return lines


def _as_json(info: ErrorCodeInfo) -> dict[str, Any]:
    return {
        **asdict(info),
        "raises": info.raises.__name__,
        "token_rejected": info.token_rejected,
        "retry_advice": retry_advice(info, DEFAULT_MAX_WAIT),
        "known": True,
    }


def errors(
    code: Annotated[
        str,
        typer.Argument(
            help="An errcode such as 310000 or -1, or a new-API code such as InvalidAuthentication."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Explain a DingTalk error code: meaning, whether to retry, what to do."""
    infos = lookup(code)
    if not infos:
        message = (
            f"{code!r} is not an error code dingkit knows; check the errcode in the "
            "answer, or search https://open.dingtalk.com/document/ for it"
        )
        if as_json:
            print_json({"code": code, "known": False, "message": message})
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(EXIT_USAGE)
    if as_json:
        print_json([_as_json(info) for info in infos])
        return
    blocks = ["\n".join(_describe(info)) for info in infos]
    typer.echo("\n\n".join(blocks))
