"""Which robots a notification goes to, and whom it mentions. No I/O.

Label matchers, used by a route's ``match``, its ``rules`` and by ``[[silence]]`` tables, are
a TOML table of label name to expected value:

=====================  =========================================================
``env = "prod"``       the label equals ``prod``
``env = ["a", "b"]``   the label is one of the values (``~regex`` items allowed)
``env = "~prod-.*"``   the label matches the regex, anchored at both ends
``env = "!dev"``       the label is not ``dev`` (a missing label is not ``dev``)
``env = "!~dev|qa"``   the label does not match the regex
``env = "=!x"``        the label equals ``!x``: a leading ``=`` takes the rest as is
=====================  =========================================================

A missing label is the empty string, as in Alertmanager: ``env = ""`` matches when ``env``
is absent, ``env = "~.+"`` when it is present. Every matcher of a table must hold.
Besides the sender's labels, ``source``, ``event``, ``severity`` and ``status`` are always
there, normalised (``severity`` is one of critical, error, warning, info).

A route's robots, in order:

1. ``events`` (when given) and the route's ``match`` filter what the route sends at all;
2. ``rules`` are tried in order; a matching rule gives its ``robots`` (the route's when it
   names none) and its mentions, and stops the search unless it says ``continue = true``;
3. no rule matched: the route's ``robots``.

    >>> decision = decide(config, config.route("prod"), note)   # doctest: +SKIP
    >>> decision.robots, decision.at.at_user_ids                 # doctest: +SKIP
    (('oncall',), ('manager01', 'u-alice'))
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..robot.compose import MAX_MENTIONS
from ..robot.messages import At
from .notification import Notification

if TYPE_CHECKING:
    from .config import RelayConfig, RouteConfig

__all__ = [
    "MAX_PATTERN",
    "Decision",
    "LabelMatcher",
    "Lookup",
    "Matchers",
    "decide",
    "label_view",
    "matches",
    "mentions_for",
    "parse_matchers",
    "pool_members",
    "pool_siblings",
    "robots_for",
]

#: Longest regex a matcher may hold; longer ones are a config error.
MAX_PATTERN = 512
_MAX_VALUES = 100
_MAX_MATCHERS = 64

#: Turns an owner's name (a label value) into DingTalk userIds, e.g. from contacts.
Lookup = Callable[[str], Iterable[str]]


@dataclasses.dataclass(frozen=True, slots=True)
class LabelMatcher:
    """One label's condition: equal to one of ``values`` or matching one of ``patterns``;
    ``negate`` turns it into "none of them"."""

    name: str
    values: frozenset[str] = frozenset()
    patterns: tuple[re.Pattern[str], ...] = ()
    negate: bool = False

    def __call__(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.name, "")
        hit = value in self.values or any(p.fullmatch(value) for p in self.patterns)
        return hit != self.negate

    def __repr__(self) -> str:
        shown = sorted(self.values) + [f"~{p.pattern}" for p in self.patterns]
        return f"LabelMatcher({self.name!r}, {'not ' if self.negate else ''}{shown})"


Matchers = tuple[LabelMatcher, ...]


def _regex(pattern: str, name: str) -> re.Pattern[str]:
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"{name}: the regex is over {MAX_PATTERN} characters")
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ValueError(f"{name}: {pattern[:60]!r} is not a valid regex ({error})") from None
    except RecursionError:
        raise ValueError(f"{name}: the regex is nested too deeply") from None


def _one(name: str, value: str, *, in_list: bool) -> tuple[set[str], list[re.Pattern[str]], bool]:
    if value.startswith("="):
        return {value[1:]}, [], False
    negate = value.startswith("!")
    if negate:
        if in_list:
            raise ValueError(
                f"{name}: a list means any of its values, so it cannot hold a negation "
                f'{value[:40]!r}; write one string such as "!~(a|b)"'
            )
        value = value[1:]
    if value.startswith("~"):
        return set(), [_regex(value[1:], name)], negate
    return {value}, [], negate


def parse_matchers(table: Any) -> Matchers:
    """A ``match`` table as matchers; :class:`ValueError` naming the label when one is wrong."""
    if not isinstance(table, Mapping):
        raise ValueError(
            'expected a table of label = value, e.g. { severity = "critical", env = "~prod.*" }'
        )
    if len(table) > _MAX_MATCHERS:
        raise ValueError(f"at most {_MAX_MATCHERS} labels in one match table")
    matchers = []
    for name, expected in table.items():
        if not isinstance(name, str) or not name or len(name) > 128:
            raise ValueError("label names are 1 to 128 characters")
        if isinstance(expected, str):
            values, patterns, negate = _one(name, expected, in_list=False)
        elif isinstance(expected, list) and expected and len(expected) <= _MAX_VALUES:
            values, patterns, negate = set(), [], False
            for item in expected:
                if not isinstance(item, str):
                    raise ValueError(f"{name}: list items must be strings, not {_kind(item)}")
                more, regexes, _ = _one(name, item, in_list=True)
                values |= more
                patterns += regexes
        else:
            raise ValueError(
                f"{name}: expected a string or a list of 1 to {_MAX_VALUES} strings, "
                f"not {_kind(expected)}"
            )
        matchers.append(LabelMatcher(name, frozenset(values), tuple(patterns), negate))
    return tuple(matchers)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an empty list" if not value else f"a list of {len(value)}"
    return {dict: "a table", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def label_view(notification: Notification) -> dict[str, str]:
    """The labels matchers see: the notification's, with its normalised ``source``,
    ``event``, ``severity`` and ``status`` on top."""
    return {
        **notification.labels,
        "source": notification.source,
        "event": notification.event,
        "severity": notification.severity,
        "status": notification.status,
    }


def matches(matchers: Matchers, labels: Mapping[str, str]) -> bool:
    """Whether every matcher holds for ``labels`` (an empty table always holds)."""
    return all(matcher(labels) for matcher in matchers)


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """Where a notification goes: robot names (one per pool), the mentions, the indexes of
    the rules that matched, and owners no userId was found for (worth a log line)."""

    robots: tuple[str, ...]
    at: At = dataclasses.field(default_factory=At)
    rules: tuple[int, ...] = ()
    unresolved: tuple[str, ...] = ()


def _matched_rules(route: RouteConfig, labels: Mapping[str, str]) -> list[int]:
    matched = []
    for index, rule in enumerate(route.rules):
        if matches(rule.match, labels):
            matched.append(index)
            if not rule.continue_:
                break
    return matched


def _admitted(route: RouteConfig, notification: Notification, labels: Mapping[str, str]) -> bool:
    if route.events is not None and notification.event not in route.events:
        return False
    return matches(route.match, labels)


def _robots(config: RelayConfig, route: RouteConfig, rules: list[int]) -> tuple[str, ...]:
    names: list[str] = []
    for index in rules:
        chosen = route.rules[index].robots
        names += route.robots if chosen is None else chosen
    if not rules:
        names = list(route.robots)
    kept: list[str] = []
    pools: set[str] = set()
    for name in dict.fromkeys(names):
        # Two rules may pick two robots of one pool: that is one group, sent to once.
        pool = config.robot(name).pool
        if pool is not None and pool in pools:
            continue
        if pool is not None:
            pools.add(pool)
        kept.append(name)
    return tuple(kept)


def robots_for(
    config: RelayConfig, route: RouteConfig, notification: Notification
) -> tuple[str, ...]:
    """The robot names ``notification`` goes to through ``route``; ``()`` when the route's
    ``events``, ``match`` or a rule with ``robots = []`` leaves it out."""
    return decide(config, route, notification).robots


def _owner_names(notification: Notification, label: str) -> list[str]:
    values = [notification.labels.get(label, "")]
    values += [alert.labels.get(label, "") for alert in notification.firing or notification.alerts]
    names = []
    for value in values:
        names += [name for name in re.split(r"[,\s]+", value) if name]
    # The label comes from the sender: a lookup per name is bounded like the mentions.
    return list(dict.fromkeys(names))[:MAX_MENTIONS]


def mentions_for(
    config: RelayConfig,
    route: RouteConfig,
    notification: Notification,
    *,
    rules: Iterable[int] = (),
    lookup: Lookup | None = None,
) -> tuple[At, tuple[str, ...]]:
    """The :class:`At` for ``notification`` and the owner names that found no userId.

    UserIds come from the route's ``at``, the matched ``rules``' ``at``, and the owners named
    by the ``mention_label`` (the route's, else the relay's) of the notification and of its
    firing alerts: each through the ``[owners]`` map, else ``lookup``. ``at_all`` from the
    route or a matched rule mentions everyone. At most 50 userIds, as DingTalk allows.
    """
    user_ids = list(route.at)
    at_all = route.at_all
    for index in rules:
        rule = route.rules[index]
        user_ids += rule.at
        at_all = at_all or rule.at_all
    label = route.mention_label or config.relay.mention_label
    unresolved = []
    if label:
        for owner in _owner_names(notification, label):
            found = config.owners.get(owner)
            if found is None and lookup is not None:
                found = tuple(lookup(owner))
            if found:
                user_ids += found
            else:
                unresolved.append(owner)
    unique = tuple(dict.fromkeys(who.strip() for who in user_ids if who.strip()))
    return At(at_user_ids=unique[:MAX_MENTIONS], is_at_all=at_all), tuple(unresolved)


def decide(
    config: RelayConfig,
    route: RouteConfig,
    notification: Notification,
    *,
    lookup: Lookup | None = None,
) -> Decision:
    """Robots and mentions for ``notification`` on ``route`` (see the module docstring)."""
    labels = label_view(notification)
    if not _admitted(route, notification, labels):
        return Decision(robots=())
    rules = _matched_rules(route, labels)
    robots = _robots(config, route, rules)
    if not robots:
        return Decision(robots=(), rules=tuple(rules))
    at, unresolved = mentions_for(config, route, notification, rules=rules, lookup=lookup)
    return Decision(robots=robots, at=at, rules=tuple(rules), unresolved=unresolved)


def pool_members(config: RelayConfig, pool: str) -> list[str]:
    """Every robot of ``pool``, in config order."""
    return [robot.name for robot in config.robots if robot.pool == pool]


def pool_siblings(config: RelayConfig, robot: str) -> list[str]:
    """The other robots of ``robot``'s pool (``[]`` without a pool), in config order: where
    its queue may go while DingTalk throttles it."""
    pool = config.robot(robot).pool
    if pool is None:
        return []
    return [name for name in pool_members(config, pool) if name != robot]
