"""``dingkit callback register|update|get|delete``: the organisation's subscription (§7.1);
``keygen``: a fresh token and aes_key for one."""

from __future__ import annotations

from typing import Annotated

import typer

from ._output import print_json
from ._server import JsonResult, open_client

__all__ = ["delete", "get", "keygen", "register", "update"]

UrlOpt = Annotated[str, typer.Option("--url", help="Where DingTalk should push events.")]
TokenOpt = Annotated[
    str,
    typer.Option(envvar="DINGTALK_CALLBACK_TOKEN", help="The token (6-63 characters)."),
]
AesKeyOpt = Annotated[
    str,
    typer.Option("--aes-key", envvar="DINGTALK_CALLBACK_AES_KEY", help="43 letters and digits."),
]
TagOpt = Annotated[
    list[str],
    typer.Option("--tag", help="An event type to subscribe to (repeatable)."),
]


def keygen(as_json: JsonResult = False) -> None:
    """Print a fresh token and 43-character aes_key for a subscription, as export lines
    (`eval "$(dingkit callback keygen)"` sets them for `serve` and `register`), or --json.
    They are secrets: printing them is this command's whole job."""
    from ..callback.crypto import new_aes_key, new_token

    token, aes_key = new_token(), new_aes_key()
    if as_json:
        print_json({"token": token, "aes_key": aes_key})
        return
    # Letters and digits only, so the lines need no quoting to be evaluated.
    typer.echo(f"export DINGTALK_CALLBACK_TOKEN={token}")
    typer.echo(f"export DINGTALK_CALLBACK_AES_KEY={aes_key}")


def register(
    url: UrlOpt, token: TokenOpt, aes_key: AesKeyOpt, tag: TagOpt, as_json: JsonResult = False
) -> None:
    """Subscribe the organisation's events to --url. DingTalk checks the URL first: start
    `dingkit callback serve` (with the same token and aes_key) before this."""
    with open_client(as_json=as_json) as client:
        client.callbacks.register(url, token, aes_key, tag)
    _done(f"registered {url} for {', '.join(tag)}", as_json)


def update(
    url: UrlOpt, token: TokenOpt, aes_key: AesKeyOpt, tag: TagOpt, as_json: JsonResult = False
) -> None:
    """Replace the subscription (URL, token, aes_key and tags)."""
    with open_client(as_json=as_json) as client:
        client.callbacks.update(url, token, aes_key, tag)
    _done(f"updated: {url} for {', '.join(tag)}", as_json)


def get(
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Also print the token and aes_key.")
    ] = False,
    as_json: JsonResult = False,
) -> None:
    """Show the subscription (its token and aes_key only with --show-secrets)."""
    with open_client(as_json=as_json) as client:
        registration = client.callbacks.get()
    data = {"url": registration.url, "call_back_tag": registration.call_back_tag}
    if show_secrets:
        data |= {"token": registration.token, "aes_key": registration.aes_key}
    if as_json:
        print_json(data)
        return
    typer.echo(f"url:  {registration.url}")
    typer.echo(f"tags: {', '.join(registration.call_back_tag)}")
    if show_secrets:
        typer.echo(f"token:   {registration.token}")
        typer.echo(f"aes_key: {registration.aes_key}")


def delete(as_json: JsonResult = False) -> None:
    """Remove the subscription: DingTalk stops pushing."""
    with open_client(as_json=as_json) as client:
        client.callbacks.delete()
    _done("subscription deleted", as_json)


def _done(message: str, as_json: bool) -> None:
    if as_json:
        print_json({"ok": True, "message": message})
    else:
        typer.echo(message)
