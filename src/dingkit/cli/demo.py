"""``dingkit demo``: the main job. Start the sandbox, send one message of every type to its
demo group through the real SDK over HTTP, and show where to look at them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._config import data_dir as default_data_dir
from .._exceptions import DingTalkError
from ._output import fail

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
        int, typer.Option(help="Sandbox port; a free one if it is taken.", min=0, max=65535)
    ] = 8765,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Sandbox history. Default: <platform data dir>/dingkit/sandbox."
        ),
    ] = None,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--exit", help="Keep the sandbox running after sending (Ctrl-C stops it)."
        ),
    ] = True,
) -> None:
    """Start the sandbox, send every message type to its demo group, print the chat URL."""
    from ..robot.client import Robot
    from ..sandbox.config import demo_config
    from ..sandbox.core import Sandbox
    from ..sandbox.server import SandboxServer

    directory = data_dir or default_data_dir() / "sandbox"
    instance = Sandbox.from_settings(data_dir=directory)
    robots = {robot.name: robot for robot in instance.robot.robots()}
    if "alerts" not in robots or "deploys" not in robots:
        # A data dir from a custom config: add the demo robots beside its own.
        for robot in demo_config().robots:
            if robot.name not in robots:
                instance.add_robot(robot)
        robots = {robot.name: robot for robot in instance.robot.robots()}
    try:
        server = SandboxServer(instance, port=port)
    except OSError:
        server = SandboxServer(instance, port=0)
    with server:
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
        except DingTalkError as error:
            fail(error)
        typer.echo(
            "Sent a text, a markdown, a link, two action cards and a feed card to "
            "the demo group, and a text from a robot with a keyword."
        )
        typer.echo(f"See them in the chat page: {base}/#group={signed.group}")
        typer.echo(f"JSON of what the sandbox received: {base}/_sandbox/messages")
        if serve:
            typer.echo("The sandbox keeps running; press Ctrl-C to stop it.")
            server.wait()
