"""``dingkit token``: fetch (or reuse) the app's access token and say when it expires."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import typer

from ._output import print_json
from ._server import open_client


def token(
    show: Annotated[bool, typer.Option("--show", help="Print the token itself.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Get the app's access token (from DINGTALK_APP_KEY / DINGTALK_APP_SECRET).

    Only its expiry is printed unless you pass --show: tokens are credentials.
    """
    with open_client(as_json=as_json) as client:
        value = client.access_token()
        cached = client.tokens.cached()
        expires_at = cached.expires_at if cached else time.time()
    expires = datetime.fromtimestamp(expires_at, UTC).isoformat(timespec="seconds")
    seconds = max(0, int(expires_at - time.time()))
    if as_json:
        payload = {"app_key": client.app_key, "expires_at": expires, "expires_in": seconds}
        if show:
            payload["access_token"] = value
        print_json(payload)
        return
    typer.echo(f"app {client.app_key}: token valid until {expires} ({seconds // 60} min left)")
    if show:
        typer.echo(value)
