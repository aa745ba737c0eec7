"""``dingkit relay``: the bridge from monitoring and CI webhooks to robots.

    dingkit relay serve --config relay.toml [--host 127.0.0.1 --port 8767 --data-dir DIR]
                        [--redis URL]
    dingkit relay preview SOURCE PAYLOAD.json [--route R --config relay.toml] [--header K:V]
    dingkit relay dlq list|replay [ID] [--data-dir DIR | --redis URL]

Messages go to DingTalk, or to ``DINGTALK_OAPI_BASE_URL`` (the sandbox) when it is set. Robot
windows are counted where ``dingkit send`` counts them (a file on this host, or Redis with
``--redis`` / ``DINGKIT_REDIS_URL``), so sends from both share each robot's 20 a minute.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Any

import typer

from .._exceptions import ConfigurationError, DingTalkError
from ._output import fail, print_json
from ._serving import bind, log_to_stderr, serve_forever

__all__ = ["app"]

app = typer.Typer(
    help="Relay monitoring and CI webhooks (Alertmanager, Grafana, GitHub, GitLab, Jenkins, "
    "any JSON) into robot messages, durably and within each robot's budget.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
dlq = typer.Typer(help="Dead letters: messages out of retries.", no_args_is_help=True)
app.add_typer(dlq, name="dlq")

DEFAULT_PORT = 8767
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where the outbox is kept (default: the platform's)."),
]
RedisURL = Annotated[
    str | None,
    typer.Option(
        "--redis",
        metavar="URL",
        help="Share the outbox and robot budgets with other instances through Redis "
        "(default: DINGKIT_REDIS_URL when set).",
    ),
]


def _data_dir(given: Path | None) -> Path:
    from .._config import data_dir

    return (given or data_dir() / "relay").expanduser()


def _redis(given: str | None) -> str | None:
    from .._config import redis_url

    return given or redis_url()


@app.command("serve")
def serve(
    config: Annotated[Path, typer.Option("--config", help="The relay's TOML config.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port to listen on (0: any free port).", min=0, max=65535)
    ] = DEFAULT_PORT,
    data_dir: DataDir = None,
    redis: RedisURL = None,
    lease: Annotated[
        float,
        typer.Option(
            help="Seconds a message being sent stays with this instance: after a crash, it is "
            "sent again this long after (more than a send takes).",
            min=0.5,
            max=3600,
        ),
    ] = 30.0,
) -> None:
    """Take webhooks at http://HOST:PORT/SOURCE/ROUTE and deliver them to the robots."""
    from .._admin_guard import LOOPBACK_NAMES, is_loopback
    from .._config import oapi_base_url
    from ..relay.app import create_app
    from ..relay.config import load_config
    from ..relay.delivery import Policy
    from ..relay.outbox import open_outbox
    from ..relay.service import Relay

    redis_url = _redis(redis)
    try:
        relay_config = load_config(config)
        outbox = open_outbox(_data_dir(data_dir), redis_url)
        listener = bind(host, port)
    except (DingTalkError, OSError) as error:
        fail(error if isinstance(error, DingTalkError) else ConfigurationError(str(error)))
    base = oapi_base_url()
    loopback = is_loopback(host)
    admin_token = None if loopback else secrets.token_urlsafe(24)
    send_token = os.environ.get("DINGKIT_RELAY_SEND_TOKEN") or None
    relay = Relay(
        relay_config,
        outbox,
        budget=_budget(redis_url),
        config_path=config,
        send_token=send_token,
        base_url=None if base == "https://oapi.dingtalk.com" else base,
        policy=Policy(lease=lease),
    )
    every = host in ("0.0.0.0", "::", "")
    allowed = None if every else {*LOOPBACK_NAMES, host}
    web = create_app(relay, allowed_hosts=allowed, admin_token=admin_token, reload_on_sighup=True)
    log_to_stderr("dingkit.relay")
    where = f"http://{host}:{listener.getsockname()[1]}"
    typer.echo(
        f"relay taking webhooks at {where}/SOURCE/ROUTE; page at {where}/"
        f"{'' if admin_token is None else '#admin=' + admin_token} (Ctrl-C stops it)",
        err=True,
    )
    warning = getattr(outbox, "durability_warning", lambda: None)()
    if warning:
        typer.echo(f"warning: {warning}", err=True)
    if not loopback and send_token is None:
        typer.echo(
            "warning: listening beyond loopback without DINGKIT_RELAY_SEND_TOKEN: anyone who "
            "can reach the port may post to /send/ROBOT",
            err=True,
        )
    serve_forever(web, listener)


def _budget(redis_url: str | None) -> Any:
    if redis_url:
        from .._redis_rate_store import RedisRateLimitStore

        return RedisRateLimitStore(redis_url)
    from ..robot.client import default_rate_limit_store

    return default_rate_limit_store()


@app.command("preview")
def preview(
    source: Annotated[
        str, typer.Argument(help="alertmanager, grafana, github, gitlab, jenkins or generic.")
    ],
    payload: Annotated[Path, typer.Argument(help="The webhook's JSON body, in a file.")],
    route: Annotated[str | None, typer.Option("--route", help="Render as this route does.")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="The relay's TOML config.")
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option("--header", metavar="NAME:VALUE", help="A header the sender adds (repeat)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The robot message as JSON.")] = False,
) -> None:
    """Render a webhook as the relay would send it, without sending anything."""
    from .._wire import parse_json_strict
    from ..relay.config import load_config
    from ..relay.render import render
    from ..relay.routing import decide
    from ..relay.sources import SOURCES, parse
    from ..robot.messages import to_payload

    try:
        if source not in SOURCES:
            raise ConfigurationError(f"no source {source!r}: one of {', '.join(SOURCES)}")
        headers = dict(_header(h) for h in header or ())
        try:
            body = parse_json_strict(payload.read_bytes())
        except OSError as error:
            raise ConfigurationError(f"cannot read {payload}: {error.strerror}") from None
        except ValueError as error:
            raise ConfigurationError(f"{payload} is not JSON: {error}") from None
        note = parse(source, headers, body)
        template, zone, at = None, "Asia/Shanghai", None
        robots: tuple[str, ...] = ()
        if route is not None:
            if config is None:
                raise ConfigurationError("--route needs --config, the file that defines it")
            relay_config = load_config(config)
            found = relay_config.route(route, source)
            if found is None:
                raise ConfigurationError(f"no {source} route named {route!r} in {config}")
            decision = decide(relay_config, found, note)
            template, zone, at = found.compiled_template, relay_config.time_zone(found), decision.at
            robots = decision.robots
        message = render(note, template=template, time_zone=zone, mentions=at or ())
    except DingTalkError as error:
        fail(error, as_json=as_json)
    if as_json:
        print_json({"robots": list(robots), "message": to_payload(message)})
        return
    if route is not None:
        typer.echo(f"to: {', '.join(robots) or '(no robot: the route leaves it out)'}")
    typer.echo(f"title: {message.title}\n")
    typer.echo(message.text)


def _header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise ConfigurationError(f"--header {text!r}: write it as NAME:VALUE")
    return name.strip(), value.strip()


@dlq.command("list")
def dlq_list(
    data_dir: DataDir = None,
    redis: RedisURL = None,
    as_json: Annotated[bool, typer.Option("--json", help="As JSON.")] = False,
) -> None:
    """The dead letters, newest first."""
    from ..relay.outbox import open_outbox

    try:
        outbox = open_outbox(_data_dir(data_dir), _redis(redis))
        letters = outbox.dead_letters(1000)
    except DingTalkError as error:
        fail(error, as_json=as_json)
    except Exception as error:  # OutboxUnavailable and friends: say what, exit 1
        fail(ConfigurationError(str(error)), as_json=as_json)
    if as_json:
        print_json(
            [
                {
                    "id": e.id,
                    "robot": e.robot,
                    "route": e.route,
                    "attempts": e.attempts,
                    "error": e.last_error,
                }
                for e in letters
            ]
        )
        return
    if not letters:
        typer.echo("no dead letters")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "robot", "route", "attempts", "last error")
    for e in letters:
        table.add_row(e.id, e.robot, e.route, str(e.attempts), e.last_error or "")
    Console(soft_wrap=True).print(table)


@dlq.command("replay")
def dlq_replay(
    envelope_id: Annotated[str, typer.Argument(metavar="ID", help="A dead letter's id.")],
    data_dir: DataDir = None,
    redis: RedisURL = None,
) -> None:
    """Put a dead letter back in the outbox: the running relay sends it again."""
    import time

    from ..relay.outbox import open_outbox

    try:
        outbox = open_outbox(_data_dir(data_dir), _redis(redis))
        found = outbox.replay(envelope_id, now=time.time())
    except DingTalkError as error:
        fail(error)
    except Exception as error:
        fail(ConfigurationError(str(error)))
    if not found:
        fail(ConfigurationError(f"no dead letter {envelope_id!r} (dingkit relay dlq list)"))
    typer.echo(f"{envelope_id} is back in the outbox")
