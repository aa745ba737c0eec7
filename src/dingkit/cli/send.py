"""``dingkit send text|markdown|link|action-card|feed-card``: thin over :mod:`dingkit.robot`.

Building and ``--dry-run`` use only the no-I/O core; the HTTP stack is imported when a
message is really sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .._config import rate_limit_file
from .._exceptions import DingTalkError
from .._redact import redact_url
from ._output import fail, print_json
from ._params import BodyArg, FileOpt, read_body

if TYPE_CHECKING:
    from .._ratelimit import RateLimitStore
    from ..robot.messages import At, RobotMessage
    from ..robot.target import RobotTarget, SendResult

# Message models (pydantic) are imported inside the commands: `dingkit --help` never pays
# for them.

app = typer.Typer(
    help="Send a message through a custom group robot.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

RobotOpt = Annotated[
    str | None,
    typer.Option(
        "--robot",
        help="Robot profile from the config file. Default: the "
        "environment (DINGTALK_ROBOT_WEBHOOK/TOKEN/SECRET), then default_robot.",
    ),
]
WebhookOpt = Annotated[
    str | None,
    typer.Option(
        "--webhook",
        metavar="URL",
        help="A robot's webhook URL, for a one-off send without a profile or the environment.",
    ),
]
SecretOpt = Annotated[
    str | None,
    typer.Option(
        "--secret",
        metavar="SEC...",
        help="With --webhook: the robot's signing secret (on a shared machine prefer "
        "DINGTALK_ROBOT_SECRET: arguments show in the process list).",
    ),
]
ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        envvar="DINGKIT_CONFIG",
        show_envvar=True,
        help="Config file with [robots.NAME] profiles.",
    ),
]
KeywordOpt = Annotated[
    str | None, typer.Option("--keyword", help="Keyword the robot requires; added if missing.")
]
DryRunOpt = Annotated[
    bool,
    typer.Option("--dry-run", help="Print the request (token and sign redacted), send nothing."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the raw result as JSON.")]
NoWaitOpt = Annotated[
    bool,
    typer.Option(
        "--no-wait",
        help="Fail at once instead of waiting when the robot has "
        "used its 20 messages of the minute.",
    ),
]
RedisOpt = Annotated[
    str | None,
    typer.Option(
        "--redis",
        envvar="DINGKIT_REDIS_URL",
        show_envvar=True,
        help="Share the robot's 20-a-minute window through Redis (redis://host:6379/0), "
        "across hosts. Default: a file beside the token cache, shared on this host.",
    ),
]
AtMobileOpt = Annotated[
    list[str] | None, typer.Option("--at-mobile", help="Mention by mobile (repeatable).")
]
AtUserOpt = Annotated[
    list[str] | None, typer.Option("--at-user", help="Mention by userId (repeatable).")
]
AtAllOpt = Annotated[bool, typer.Option("--at-all", help="Mention everyone.")]
ViaRelayOpt = Annotated[
    str | None,
    typer.Option(
        "--via-relay",
        metavar="URL",
        envvar="DINGKIT_RELAY_URL",
        help="Queue the message at a running `dingkit relay` (URL/send/ROBOT, --robot naming a "
        "robot of its config) instead of sending it: jobs share the relay's queue and budget.",
    ),
]
SplitOpt = Annotated[
    bool, typer.Option("--split", help="Send an over-long message as several, cut at lines.")
]


def _at(mobiles: list[str] | None, users: list[str] | None, everyone: bool) -> At:
    from ..robot.messages import At

    return At(at_mobiles=tuple(mobiles or ()), at_user_ids=tuple(users or ()), is_at_all=everyone)


def _split_pair(value: str, option: str, parts: int) -> list[str]:
    pieces = [piece.strip() for piece in value.split("|")]
    if not 2 <= len(pieces) <= parts or not all(pieces[:2]):
        shape = "TITLE|URL" if parts == 2 else "TITLE|URL[|PICTURE_URL]"
        raise typer.BadParameter(f"{option} {value!r}: expected {shape}")
    return pieces


def _deliver(
    message: RobotMessage,
    *,
    robot: str | None,
    config: str | None,
    keyword: str | None,
    dry_run: bool,
    webhook: str | None = None,
    secret: str | None = None,
    as_json: bool,
    split: bool = False,
    wait: bool = True,
    redis: str | None = None,
    via_relay: str | None = None,
) -> None:
    from .profiles import resolve_robot

    if via_relay:
        from ._via_relay import send_via_relay

        send_via_relay(message, relay=via_relay, robot=robot, dry_run=dry_run, as_json=as_json)
        return
    try:
        target = resolve_robot(robot, config, keyword, webhook=webhook, secret=secret)
        prepared = target.prepare(message, split=split)
        if dry_run:
            requests = [
                {
                    "method": "POST",
                    "url": redact_url(target.url()),
                    "headers": {"Content-Type": "application/json; charset=utf-8"},
                    "body": part.payload,
                }
                for part in prepared
            ]
            if as_json:
                print_json(requests if len(requests) > 1 else requests[0])
            else:
                for request in requests:
                    print(f"POST {request['url']}")
                    print_json(request["body"])
            return
        result = _send(target, message, split=split, wait=wait, redis=redis)
    except DingTalkError as error:
        fail(error, as_json=as_json)
    if as_json:
        print_json(
            {"ok": True, "msg_uuids": list(result.msg_uuids), "responses": list(result.responses)}
        )
    else:
        parts = f" in {result.parts} parts" if result.parts > 1 else ""
        print(
            f"sent {message.msgtype} message{parts} via robot {target.name!r} "
            f"(msgUuid {result.msg_uuid})"
        )


def _send(
    target: RobotTarget, message: RobotMessage, *, split: bool, wait: bool, redis: str | None
) -> SendResult:
    from ..robot.client import Robot  # the HTTP stack, only when really sending

    # Every dingkit process shares the robot's window: through Redis when asked, else through
    # a file beside the token cache (what the SDK's default would pick too, said explicitly).
    store: RateLimitStore
    if redis:
        from .._redis_rate_store import RedisRateLimitStore

        store = RedisRateLimitStore(redis)
    else:
        from .._file_rate_store import FileRateLimitStore

        store = FileRateLimitStore(rate_limit_file())
    with Robot(target=target, rate_limit=store) as bot:
        return bot.send(message, split=split, wait=wait)


@app.command("text")
def send_text(
    content: BodyArg = None,
    file: FileOpt = None,
    at_mobile: AtMobileOpt = None,
    at_user: AtUserOpt = None,
    at_all: AtAllOpt = False,
    split: SplitOpt = False,
    robot: RobotOpt = None,
    webhook: WebhookOpt = None,
    secret: SecretOpt = None,
    config: ConfigOpt = None,
    keyword: KeywordOpt = None,
    no_wait: NoWaitOpt = False,
    redis: RedisOpt = None,
    via_relay: ViaRelayOpt = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Send a text message."""
    from ..robot.messages import Text

    body = read_body(content, file, "text")
    message = Text(content=body, at=_at(at_mobile, at_user, at_all))
    _deliver(
        message,
        robot=robot,
        webhook=webhook,
        secret=secret,
        config=config,
        keyword=keyword,
        dry_run=dry_run,
        as_json=as_json,
        split=split,
        wait=not no_wait,
        redis=redis,
        via_relay=via_relay,
    )


@app.command("markdown")
def send_markdown(
    title: Annotated[str, typer.Option("--title", "-t", help="Shown in the conversation list.")],
    text: BodyArg = None,
    file: FileOpt = None,
    at_mobile: AtMobileOpt = None,
    at_user: AtUserOpt = None,
    at_all: AtAllOpt = False,
    split: SplitOpt = False,
    robot: RobotOpt = None,
    webhook: WebhookOpt = None,
    secret: SecretOpt = None,
    config: ConfigOpt = None,
    keyword: KeywordOpt = None,
    no_wait: NoWaitOpt = False,
    redis: RedisOpt = None,
    via_relay: ViaRelayOpt = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Send a markdown message (DingTalk's subset: headings, bold, lists, links, images)."""
    from ..robot.messages import Markdown

    body = read_body(text, file, "markdown")
    message = Markdown(title=title, text=body, at=_at(at_mobile, at_user, at_all))
    _deliver(
        message,
        robot=robot,
        webhook=webhook,
        secret=secret,
        config=config,
        keyword=keyword,
        dry_run=dry_run,
        as_json=as_json,
        split=split,
        wait=not no_wait,
        redis=redis,
        via_relay=via_relay,
    )


@app.command("link")
def send_link(
    title: Annotated[str, typer.Option("--title", "-t")],
    url: Annotated[str, typer.Option("--url", help="Opened when the card is tapped.")],
    text: BodyArg = None,
    file: FileOpt = None,
    pic_url: Annotated[str, typer.Option("--pic-url", help="Picture URL or media id.")] = "",
    robot: RobotOpt = None,
    webhook: WebhookOpt = None,
    secret: SecretOpt = None,
    config: ConfigOpt = None,
    keyword: KeywordOpt = None,
    no_wait: NoWaitOpt = False,
    redis: RedisOpt = None,
    via_relay: ViaRelayOpt = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Send a link card."""
    from ..robot.messages import Link

    body = read_body(text, file, "link's text")
    message = Link(title=title, text=body, message_url=url, pic_url=pic_url)
    _deliver(
        message,
        robot=robot,
        webhook=webhook,
        secret=secret,
        config=config,
        keyword=keyword,
        dry_run=dry_run,
        as_json=as_json,
        wait=not no_wait,
        redis=redis,
        via_relay=via_relay,
    )


@app.command("action-card")
def send_action_card(
    title: Annotated[str, typer.Option("--title", "-t")],
    text: BodyArg = None,
    file: FileOpt = None,
    single_title: Annotated[str | None, typer.Option("--single-title")] = None,
    single_url: Annotated[str | None, typer.Option("--single-url")] = None,
    button: Annotated[
        list[str] | None,
        typer.Option("--button", "-b", help="A button as 'TITLE|URL' (repeatable)."),
    ] = None,
    horizontal: Annotated[
        bool, typer.Option("--horizontal/--vertical", help="Button layout (btnOrientation).")
    ] = False,
    hide_avatar: Annotated[bool, typer.Option("--hide-avatar")] = False,
    robot: RobotOpt = None,
    webhook: WebhookOpt = None,
    secret: SecretOpt = None,
    config: ConfigOpt = None,
    keyword: KeywordOpt = None,
    no_wait: NoWaitOpt = False,
    redis: RedisOpt = None,
    via_relay: ViaRelayOpt = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Send an action card with one button (--single-*) or several (--button)."""
    from ..robot.messages import ActionButton, ActionCard

    body = read_body(text, file, "card's markdown")
    if (single_title or single_url) and button:
        raise typer.BadParameter("use --single-title/--single-url or --button, not both")
    buttons = tuple(
        ActionButton(title=pieces[0], action_url=pieces[1])
        for pieces in (_split_pair(value, "--button", 2) for value in button or ())
    )
    if not buttons and not (single_title and single_url):
        raise typer.BadParameter("give --single-title and --single-url, or at least one --button")
    message = ActionCard(
        title=title,
        text=body,
        single_title=single_title,
        single_url=single_url,
        buttons=buttons,
        btn_orientation="1" if horizontal else "0",
        hide_avatar="1" if hide_avatar else "0",
    )
    _deliver(
        message,
        robot=robot,
        webhook=webhook,
        secret=secret,
        config=config,
        keyword=keyword,
        dry_run=dry_run,
        as_json=as_json,
        wait=not no_wait,
        redis=redis,
        via_relay=via_relay,
    )


@app.command("feed-card")
def send_feed_card(
    link: Annotated[
        list[str],
        typer.Option("--link", "-l", help="An entry as 'TITLE|URL[|PICTURE_URL]' (repeatable)."),
    ],
    robot: RobotOpt = None,
    webhook: WebhookOpt = None,
    secret: SecretOpt = None,
    config: ConfigOpt = None,
    keyword: KeywordOpt = None,
    no_wait: NoWaitOpt = False,
    redis: RedisOpt = None,
    via_relay: ViaRelayOpt = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Send a feed card: a list of links, the first shown large."""
    from ..robot.messages import FeedCard, FeedLink

    links = []
    for value in link:
        pieces = _split_pair(value, "--link", 3)
        links.append(
            FeedLink(
                title=pieces[0], message_url=pieces[1], pic_url=pieces[2] if len(pieces) > 2 else ""
            )
        )
    _deliver(
        FeedCard(links=tuple(links)),
        robot=robot,
        webhook=webhook,
        secret=secret,
        config=config,
        keyword=keyword,
        dry_run=dry_run,
        as_json=as_json,
        wait=not no_wait,
        redis=redis,
        via_relay=via_relay,
    )


__all__ = ["app"]
