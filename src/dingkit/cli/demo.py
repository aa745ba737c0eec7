"""``dingkit demo``: the main job. Start the sandbox, send one message of every type to its
demo group through the real SDK over HTTP, and show where to look at them."""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .._config import data_dir as default_data_dir
from .._exceptions import ConfigurationError, DingTalkError
from ._output import fail

if TYPE_CHECKING:  # the sandbox is imported when the demo runs, not when the CLI starts
    from ..sandbox.core import Sandbox
    from ..sandbox.robot.records import StoredRobot

_MARKDOWN = """# Deploy finished
**api-gateway** `v2.4.1` is live in *production*.

> Rolled out to 12 of 12 pods, no errors.

- duration: 3 min 12 s
- triggered by: @{mobile}

1. build
2. test
3. deploy

[Open the pipeline](https://example.com/pipelines/42)
"""


def demo(
    port: Annotated[
        int, typer.Option(help="Sandbox port (0: any free port).", min=0, max=65535)
    ] = 8765,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Keep the history here (and keep what is there). Default: the demo's own "
            "directory, <platform data dir>/dingkit/demo, emptied at each start.",
        ),
    ] = None,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--exit", help="Keep the sandbox running after sending (Ctrl-C stops it)."
        ),
    ] = True,
    relay_port: Annotated[
        int,
        typer.Option(
            help="Port of the relay started beside the sandbox (0: any free port).",
            min=0,
            max=65535,
        ),
    ] = 8767,
) -> None:
    """Start the sandbox, send every message type to its demo group, print the chat URL and
    the settings that point your code and the CLI at it."""
    from ..robot.client import Robot
    from ..sandbox.config import demo_config
    from ..sandbox.core import Sandbox
    from ..sandbox.server import SandboxServer

    directory = data_dir or _fresh_demo_dir()
    try:
        instance = Sandbox.from_settings(data_dir=directory)
    except ConfigurationError as error:
        fail(error)
    robots = {robot.name: robot for robot in instance.robot.robots()}
    if "alerts" not in robots or "deploys" not in robots:
        # A data dir from a custom config: add the demo robots beside its own.
        for robot in demo_config().robots:
            if robot.name not in robots:
                instance.add_robot(robot)
        robots = {robot.name: robot for robot in instance.robot.robots()}
    try:
        server = SandboxServer(instance, port=port)
    except OSError as error:
        instance.close()
        # Another port would change every URL the user may have pasted: say so instead.
        fail(
            ConfigurationError(
                f"cannot serve on 127.0.0.1:{port}: {error.strerror or error} (another sandbox "
                "or demo?); stop it, or pass --port N (--port 0: any free port)"
            )
        )
    with server, contextlib.ExitStack() as stack:
        base = server.url
        signed, keyworded = robots["alerts"], robots["deploys"]
        mobile = "13800000000"
        try:
            with Robot(
                token=signed.token, secret=signed.secret, name="alerts", base_url=base
            ) as alerts:
                alerts.send_text("Disk usage on db-1 is above 90%", at_mobiles=[mobile])
                alerts.send_markdown(
                    "Deploy finished", _MARKDOWN.format(mobile=mobile), at_mobiles=[mobile]
                )
                alerts.send_link(
                    "Incident report: elevated latency",
                    "Latency was 3x normal for 14 minutes; read the timeline.",
                    "https://example.com/incidents/17",
                    pic_url=f"{base}/static/demo-picture.svg",
                )
                alerts.send_action_card(
                    "Release 2.4.1",
                    "### Release 2.4.1\nReady to ship to production.",
                    single_title="Open the release",
                    single_url="https://example.com/r/241",
                )
                alerts.send_action_card(
                    "Approve the rollback?",
                    "### Rollback of api-gateway\n**Who**: on-call",
                    buttons=[
                        ("Approve", "https://example.com/yes"),
                        ("Refuse", "https://example.com/no"),
                    ],
                    btn_orientation="1",
                )
                alerts.send_feed_card(
                    [
                        (
                            "Weekly report: 99.98% uptime",
                            "https://example.com/w/48",
                            f"{base}/static/demo-picture.svg",
                        ),
                        ("Three incidents closed", "https://example.com/w/48#incidents"),
                        ("Next week's maintenance windows", "https://example.com/w/48#next"),
                    ]
                )
            with Robot(
                token=keyworded.token, keyword="deploy", name="deploys", base_url=base
            ) as deploys:
                deploys.send_text("Nightly build passed (this robot needs the keyword)")
            relay_url = stack.enter_context(
                _relay_beside(instance, base, signed, relay_port, directory)
            )
        except DingTalkError as error:
            fail(error)
        typer.echo(
            "Sent a text, a markdown, a link, two action cards and a feed card to "
            "the demo group, and a text from a robot with a keyword."
        )
        typer.echo(
            f"An Alertmanager alert went through the relay at {relay_url} to the same group "
            f"(its page: {relay_url}/; POST webhooks to {relay_url}/alertmanager/demo)."
        )
        typer.echo(f"See them in the chat page: {base}/#group={signed.group}")
        typer.echo(f"JSON of what the sandbox received: {base}/_sandbox/messages")
        typer.echo("")
        typer.echo("Point your code and the dingkit CLI at the sandbox (paste into a shell):")
        for line in exports(instance, base, signed):
            typer.echo(line)
        typer.echo("try: dingkit send text hello")
        typer.echo("")
        if serve:
            typer.echo("The sandbox keeps running; press Ctrl-C to stop it.")
            server.wait()
        else:
            typer.echo(f"The sandbox has stopped; its history is kept in {directory}.")
            again = f"dingkit sandbox --data-dir {shlex.quote(str(directory))} --port {server.port}"
            typer.echo(f"View it again (the lines above then work too): {again}")
    instance.close()


@contextlib.contextmanager
def _relay_beside(
    instance: Sandbox, base: str, robot: StoredRobot, port: int, directory: Path
) -> Iterator[str]:
    """A relay delivering to ``robot`` of the sandbox at ``base``, with one route
    (``/alertmanager/demo``), serving on ``port`` while the demo runs; one sample alert is
    posted to it and delivered before this yields the relay's URL."""
    import httpx

    from ..relay.config import validate_config
    from ..relay.outbox import SQLiteOutbox
    from ..relay.samples import sample_body
    from ..relay.server import RelayServer
    from ..relay.service import Relay

    robot_table = {"name": robot.name, "token": robot.token}
    if robot.secret:
        robot_table["secret"] = robot.secret
    config = validate_config(
        {
            "robot": [robot_table],
            "route": [{"name": "demo", "source": "alertmanager", "robots": [robot.name]}],
        },
        environ={},
    )
    for stale in directory.glob("relay-outbox.sqlite3*"):
        stale.unlink()  # as the sandbox's history: each demo starts clean
    outbox = SQLiteOutbox(directory / "relay-outbox.sqlite3")
    relay = Relay(config, outbox, base_url=base)
    try:
        server = RelayServer(relay, port=port)
    except OSError as error:
        outbox.close()
        raise ConfigurationError(
            f"cannot serve the relay on 127.0.0.1:{port}: {error.strerror or error}; pass "
            "--relay-port N (0: any free port)"
        ) from None
    try:
        with server:
            headers, body = sample_body("alertmanager", "alert")
            answer = httpx.post(f"{server.url}/alertmanager/demo", json=body, headers=headers)
            if answer.status_code != 200:
                raise ConfigurationError(f"the relay refused the demo alert: {answer.text}")
            deadline = time.monotonic() + 30
            while outbox.backlog(time.time()):
                if time.monotonic() > deadline:
                    raise ConfigurationError("the relay did not deliver the demo alert in 30 s")
                time.sleep(0.05)
            yield server.url
    finally:
        outbox.close()


def exports(instance: Sandbox, base: str, robot: StoredRobot) -> list[str]:
    """``export`` lines for the sandbox at ``base``: both base URLs, ``robot``'s webhook and
    secret, the demo app's credentials and the organisation's corp id (the sandbox's
    credentials are fake: printing them is the point)."""
    from ..sandbox.tokens.issuer import failure_mode

    apps = [app for app in instance.apps.all() if failure_mode(app.app_key) is None]
    app = next((app for app in apps if app.name == "demo"), apps[0])
    settings = {
        "DINGTALK_OAPI_BASE_URL": base,
        "DINGTALK_API_BASE_URL": base,
        "DINGTALK_ROBOT_WEBHOOK": f"{base}/robot/send?access_token={robot.token}",
        "DINGTALK_ROBOT_SECRET": robot.secret or "",
        "DINGTALK_APP_KEY": app.app_key,
        "DINGTALK_APP_SECRET": app.app_secret,
        "DINGTALK_AGENT_ID": str(app.agent_id),
        "DINGTALK_CORP_ID": instance.org.corp_id,
    }
    return [f"export {name}={shlex.quote(value)}" for name, value in settings.items()]


def _fresh_demo_dir() -> Path:
    """The demo's own directory, emptied of an earlier run's history: each demo starts clean.
    Only the sandbox's own files are removed (whatever else is there stays)."""
    directory = default_data_dir() / "demo"
    for stale in directory.glob("sandbox.sqlite3*"):
        stale.unlink()
    return directory
