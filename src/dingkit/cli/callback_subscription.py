"""``dingkit callback register|update|get|delete``: the organisation's subscription (§7.1);
``keygen``: a fresh token and aes_key for one."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from .._exceptions import ConfigurationError
from ._output import fail, print_json
from ._server import DryRunOpt, JsonResult, YesOpt, confirm, open_client, print_dry_run

if TYPE_CHECKING:
    from .._request import APIRequest

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
    url: UrlOpt,
    token: TokenOpt,
    aes_key: AesKeyOpt,
    tag: TagOpt,
    as_json: JsonResult = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Subscribe the organisation's events to --url. DingTalk checks the URL first: start
    `dingkit callback serve` (with the same token and aes_key) before this."""
    if dry_run:
        from ..resources import callbacks

        _dry_run(lambda: callbacks.register(url, token, aes_key, tag), as_json)
        return
    with open_client(as_json=as_json) as client:
        client.callbacks.register(url, token, aes_key, tag)
    _done(f"registered {url} for {', '.join(tag)}", as_json)


def update(
    url: UrlOpt,
    token: TokenOpt,
    aes_key: AesKeyOpt,
    tag: TagOpt,
    as_json: JsonResult = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Replace the subscription (URL, token, aes_key and tags)."""
    if dry_run:
        from ..resources import callbacks

        _dry_run(lambda: callbacks.update(url, token, aes_key, tag), as_json)
        return
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


def delete(as_json: JsonResult = False, yes: YesOpt = False, dry_run: DryRunOpt = False) -> None:
    """Remove the subscription: DingTalk stops pushing (asks first on a terminal)."""
    if dry_run:
        from ..resources import callbacks

        print_dry_run(callbacks.delete(), as_json=as_json)
        return
    confirm("Delete the subscription? DingTalk stops pushing events.", yes=yes)
    with open_client(as_json=as_json) as client:
        client.callbacks.delete()
    _done("subscription deleted", as_json)


def _dry_run(request: Callable[[], APIRequest[None]], as_json: bool) -> None:
    """The request a registration would send, its token and aes_key hidden."""
    try:
        built = request()
    except ValueError as error:  # a token or key DingTalk would refuse
        fail(ConfigurationError(str(error)), as_json=as_json)
    print_dry_run(built, as_json=as_json, hidden=("token", "aes_key"))


def _done(message: str, as_json: bool) -> None:
    if as_json:
        print_json({"ok": True, "message": message})
    else:
        typer.echo(message)
