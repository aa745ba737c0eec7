"""``dingkit robot send-to-users|send-to-group``: the app's robot (企业机器人) sending on its
own (§12.3), over ``client.robot``.

The message is text, or markdown with ``--title``; the robot code comes from
``--robot-code``, ``DINGTALK_ROBOT_CODE``, else the app key (an internal app's robot has the
app's Client ID as its code [I]).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .._exceptions import ConfigurationError
from ._output import fail, print_json
from ._params import BodyArg, FileOpt, read_body
from ._server import DryRunOpt, JsonResult, open_client, print_dry_run, run

if TYPE_CHECKING:
    from ..robot.messages import RobotMessage

app = typer.Typer(
    help="Send as the app's robot (企业机器人): one-to-one to people (`robot send-to-users`) "
    "or to a group it is in (`robot send-to-group`).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

TitleOpt = Annotated[
    str | None,
    typer.Option("--title", "-t", help="Send markdown with this title (else plain text)."),
]
RobotCodeOpt = Annotated[
    str | None,
    typer.Option(
        "--robot-code",
        envvar="DINGTALK_ROBOT_CODE",
        show_envvar=True,
        help="The robot's code (default: the app key, DINGTALK_APP_KEY).",
    ),
]


def _message(body: str | None, file: Path | None, title: str | None) -> RobotMessage:
    from ..robot.messages import Markdown, Text

    content = read_body(body, file, "markdown" if title is not None else "text")
    if title is not None:
        return Markdown(title=title, text=content)
    return Text(content=content)


def _dry_run_code(robot_code: str | None, as_json: bool) -> str:
    from ..resources.robot_messages import resolve_robot_code

    app_key = os.environ.get("DINGTALK_APP_KEY", "").strip()
    if not robot_code and not app_key:
        fail(
            ConfigurationError(
                "no robot code: pass --robot-code, or set DINGTALK_ROBOT_CODE or "
                "DINGTALK_APP_KEY (an internal app's robot has the app key as its code)"
            ),
            as_json=as_json,
        )
    return resolve_robot_code(robot_code, {}, app_key)


def _show(result: Any, as_json: bool) -> None:
    if as_json:
        print_json(result.model_dump(by_alias=True))
        return
    typer.echo(f"sent: processQueryKey {result.process_query_key}")
    for label, field in (
        ("not in the organisation", "invalid_staff_id_list"),
        ("rate-limited, not sent", "flow_controlled_staff_id_list"),
    ):
        names = getattr(result, field, None)
        if names:
            typer.echo(f"{label}: {', '.join(names)}")


@app.command("send-to-users")
def send_to_users(
    user: Annotated[
        list[str],
        typer.Option("--user", "-u", help="A receiver's userId (repeatable, at most 20)."),
    ],
    body: BodyArg = None,
    file: FileOpt = None,
    title: TitleOpt = None,
    robot_code: RobotCodeOpt = None,
    as_json: JsonResult = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Send one-to-one to people (oToMessages/batchSend); prints the processQueryKey and the
    userIds DingTalk did not deliver to."""
    message = run(lambda: _message(body, file, title), as_json=as_json)
    if dry_run:
        from ..resources import robot_messages

        code = _dry_run_code(robot_code, as_json)
        request = run(
            lambda: robot_messages.send_to_users(user, message, robot_code=code),
            as_json=as_json,
        )
        print_dry_run(request, as_json=as_json)
        return
    with open_client(as_json=as_json) as client:
        result = client.robot.send_to_users(user, message, robot_code=robot_code)
    _show(result, as_json)


@app.command("send-to-group")
def send_to_group(
    conversation: Annotated[
        str,
        typer.Option(
            "--conversation",
            "-c",
            help="The group's openConversationId (cid...==, a received message's conversationId).",
        ),
    ],
    body: BodyArg = None,
    file: FileOpt = None,
    title: TitleOpt = None,
    robot_code: RobotCodeOpt = None,
    as_json: JsonResult = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Send to a group the robot is in (groupMessages/send); prints the processQueryKey."""
    message = run(lambda: _message(body, file, title), as_json=as_json)
    if dry_run:
        from ..resources import robot_messages

        code = _dry_run_code(robot_code, as_json)
        request = run(
            lambda: robot_messages.send_to_group(conversation, message, robot_code=code),
            as_json=as_json,
        )
        print_dry_run(request, as_json=as_json)
        return
    with open_client(as_json=as_json) as client:
        result = client.robot.send_to_group(conversation, message, robot_code=robot_code)
    _show(result, as_json)
