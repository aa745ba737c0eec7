"""A notification as one DingTalk markdown message that fits the robot body limit. No I/O.

    >>> from dingkit.relay import parse, render
    >>> note = parse("generic", {}, {"title": "Backup done", "severity": "info"})
    >>> render(note).title
    '🔵 Backup done'

The alert (or commit, failed job) list is what gives way when a message is too big: the
largest number of items that fits is kept, most important first, and the template says
"… and N more". A line is never cut in the middle unless a single line alone is too long
for a message, which only a route's own template can produce.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2

from .._exceptions import ConfigurationError
from ..robot.compose import MAX_BODY_BYTES, MAX_MENTIONS, encode_body, with_mention_text
from ..robot.messages import At, Markdown, to_payload
from .errors import SourceError
from .markdown import clip
from .notification import Notification
from .templating import environment

__all__ = ["DEFAULT_TIME_ZONE", "RESERVE_BYTES", "default_template", "load_template", "render"]

DEFAULT_TIME_ZONE = "Asia/Shanghai"
#: Room left under DingTalk's 20000 bytes for what is added after rendering: the
#: ``"msgUuid"`` of an idempotent send (~50 bytes), a robot's keyword, a digest's part number.
RESERVE_BYTES = 512
_TITLE_LIMIT = 100
# Every default template spends more than this on one alert or entry: a first guess at how
# many could possibly fit, so 100000 alerts are not all rendered to learn that they don't.
_MIN_ITEM_BYTES = 32
_ROUTE_ERRORS = (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, RecursionError)


@functools.cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"time zone {name!r} is unknown; use an IANA name such as {DEFAULT_TIME_ZONE!r}"
        ) from None


def default_template(notification: Notification) -> jinja2.Template:
    """The packaged template for the notification's source and event
    (``github_ping.md.j2`` before ``github.md.j2``)."""
    source, event = notification.source, notification.event
    return environment().select_template(
        [f"{source}_{event}.md.j2", f"{source}.md.j2", "generic.md.j2"]
    )


def _at(mentions: At | Iterable[str]) -> At:
    if isinstance(mentions, At):
        return mentions
    user_ids = tuple(dict.fromkeys(who.strip() for who in mentions if who.strip()))
    return At(at_user_ids=user_ids[:MAX_MENTIONS])


def _title(value: Any, fallback: str) -> str:
    text = " ".join(str(value).split()) if isinstance(value, str) else ""
    text = "".join(ch for ch in (text or " ".join(fallback.split())) if ch.isprintable())
    return clip(text or "Notification", _TITLE_LIMIT)


class _Renderer:
    """Renders one notification with a given number of its items shown."""

    def __init__(
        self, notification: Notification, template: jinja2.Template, zone: ZoneInfo, at: At
    ) -> None:
        self.n = notification
        self.template = template
        self.zone = zone
        self.at = at
        self.items: Sequence[Any] = notification.alerts or notification.entries

    def message(self, shown: int, raw: Any = None) -> Markdown:
        alerts = self.n.alerts[:shown]
        entries = self.n.entries[:shown]
        module = self.template.make_module(
            {
                "n": self.n,
                "alerts": alerts,
                "entries": entries,
                "more": len(self.items) - shown,
                "raw": self.n.raw if raw is None else raw,
                "zone": self.zone,
            }
        )
        text = str(module).strip()
        title = _title(getattr(module, "title", None), self.n.title)
        return _mentioned(Markdown(title=title, text=text or title, at=self.at))


def _mentioned(message: Markdown) -> Markdown:
    """The message with its mentions written into the body (DingTalk needs both, §2.1)."""
    result = with_mention_text(message)
    assert isinstance(result, Markdown)
    return result


def _size(message: Markdown) -> int:
    return len(encode_body(to_payload(message)))


_SHORTENED = "…(shortened)"


def _fit_lines(message: Markdown, limit: int) -> Markdown:
    """Keep as many whole lines from the top as fit; cut a line only if the first one alone
    is too long. A binary search: a route template may write 100000 lines."""

    def keeping(lines: list[str]) -> Markdown:
        # The mention text may be among the dropped lines: it is written in again.
        return _mentioned(message.replace(text="\n".join([*lines, _SHORTENED])))

    lines = message.text.splitlines()
    low, high = 0, len(lines)  # keeping `low` lines fits (checked below), `high` does not
    while low < high - 1:
        middle = (low + high) // 2
        if _size(keeping(lines[:middle])) <= limit:
            low = middle
        else:
            high = middle
    if low:
        return keeping(lines[:low])
    first = lines[0] if lines else ""
    while first:
        candidate = keeping([first])
        if _size(candidate) <= limit:
            return candidate
        weight = _size(message.replace(text=first)) - _size(message.replace(text=""))
        keep = weight - (_size(candidate) - limit)  # bytes of this line that can stay
        # Characters are 1 to 6 bytes as JSON: keep the same share of characters.
        first = first[: max(len(first) * keep // weight - 1, 0)]
    return keeping([])


def render(
    notification: Notification,
    *,
    template: jinja2.Template | str | None = None,
    time_zone: str = DEFAULT_TIME_ZONE,
    mentions: At | Iterable[str] = (),
    max_bytes: int = MAX_BODY_BYTES - RESERVE_BYTES,
) -> Markdown:
    """The DingTalk markdown message for ``notification``, at most ``max_bytes`` as sent.

    Args:
        template: a route's template (from :func:`load_template`, or its text); None for the
            packaged default of the source and event.
        time_zone: the IANA zone times are shown in.
        mentions: userIds to @ (written into the body too, as DingTalk requires, §2.1), or
            an :class:`~dingkit.robot.messages.At` for mobiles or everyone.
        max_bytes: the limit on the encoded robot request body.

    Raises:
        SourceError: a route template cannot render this notification (a field it needs is
            missing from this body): the sender's input does not fit the route.
        ConfigurationError: ``time_zone`` is unknown, or ``template`` text does not compile.
    """
    own = template is None
    if template is None:
        compiled = default_template(notification)
    elif isinstance(template, str):
        compiled = load_template(template)
    else:
        compiled = template
    renderer = _Renderer(notification, compiled, _zone(time_zone), _at(mentions))
    try:
        return _fit(renderer, max_bytes)
    except _ROUTE_ERRORS as error:
        if own:
            raise  # a packaged template failing is a dingkit bug, not bad input
        raise SourceError(
            f"the route's template cannot render this {notification.source} body: "
            f"{clip(str(error), 200)}",
            field="template",
        ) from None


def _fit(renderer: _Renderer, limit: int) -> Markdown:
    total = len(renderer.items)
    high = min(total, limit // _MIN_ITEM_BYTES)
    best = renderer.message(high)
    if _size(best) <= limit:
        return best
    low = 0  # the largest count known to fit, once checked
    smallest = renderer.message(0)
    if _size(smallest) > limit:
        return _fit_lines(smallest, limit)
    best = smallest
    while low < high - 1:
        middle = (low + high) // 2
        candidate = renderer.message(middle)
        if _size(candidate) <= limit:
            low, best = middle, candidate
        else:
            high = middle
    return best


class _Anything:
    """Any JSON value, for checking a generic route's template: every attribute, item and
    call gives another, so the only undefined names left are typos outside ``raw``."""

    def __getattr__(self, name: str) -> _Anything:
        return self

    def __getitem__(self, key: Any) -> _Anything:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> _Anything:
        return self

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __str__(self) -> str:
        return "…"


def load_template(
    text: str,
    *,
    source: str | None = None,
    events: Iterable[str] | None = None,
    name: str = "route template",
) -> jinja2.Template:
    """Compile a route's template, and try it on the source's samples so typos fail now.

    A template written for one kind of event may fail on others (one for pull requests finds
    no ``raw.pull_request`` in a push), so it must render one of the samples of ``source``
    (restricted to ``events`` when the route only takes those), not all of them. For the
    generic source, ``raw`` stands for any body, so only names outside it are checked.

    Raises:
        ConfigurationError: a syntax error, or an error on every sample, with the first
            errors' messages.
    """
    try:
        compiled = environment().from_string(text)
    except jinja2.TemplateSyntaxError as error:
        raise ConfigurationError(f"{name}: line {error.lineno}: {error.message}") from None
    if source is None:
        return compiled
    from .samples import sample_notifications

    errors = []
    for sample in sample_notifications(source, events):
        renderer = _Renderer(sample, compiled, _zone(DEFAULT_TIME_ZONE), At())
        try:
            if source == "generic":
                renderer.message(len(renderer.items), raw=_Anything())
            else:
                _fit(renderer, MAX_BODY_BYTES)
        except (jinja2.UndefinedError, jinja2.exceptions.SecurityError) as error:
            errors.append(f"{sample.event}: {error}")
        except _ROUTE_ERRORS as error:
            if source != "generic":
                errors.append(f"{sample.event}: {error}")
            else:
                return compiled  # arithmetic on a stand-in value proves nothing
        else:
            return compiled
    if errors:
        raise ConfigurationError(f"{name} fails on every {source} sample: {'; '.join(errors[:3])}")
    return compiled
