from __future__ import annotations

import copy
import re
import textwrap
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dingkit.relay import parse
from dingkit.relay.config import RelayConfig, RouteConfig, parse_config
from dingkit.relay.notification import Alert, Notification
from dingkit.relay.routing import (
    Decision,
    decide,
    label_view,
    matches,
    mentions_for,
    parse_matchers,
    pool_members,
    pool_siblings,
    robots_for,
)
from dingkit.robot.messages import At

from .payloads import load

ROBOTS = """
[[robot]]
name = "team"
token = "teamteam01"

[[robot]]
name = "dev"
token = "devdevdev01"

[[robot]]
name = "oncall"
token = "oncalltok01"
pool = "ops"

[[robot]]
name = "oncall-2"
token = "oncalltok02"
pool = "ops"

[[robot]]
name = "oncall-3"
token = "oncalltok03"
pool = "ops"

[[robot]]
name = "y"
token = "yyyyyyyy01"
"""


def config(routes: str, extra: str = "") -> RelayConfig:
    return parse_config(textwrap.dedent(ROBOTS + routes + extra), environ={})


def note(**labels: str) -> Notification:
    return Notification(
        source=labels.pop("source", "generic"),
        event=labels.pop("event", "event"),
        title="t",
        severity=labels.pop("severity", "warning"),
        status=labels.pop("status", "firing"),
        labels=labels,
    )


def only(text: str) -> tuple[RelayConfig, RouteConfig]:
    relay = config(text)
    return relay, relay.routes[0]


@pytest.mark.parametrize(
    ("table", "labels", "expected"),
    [
        ({"env": "prod"}, {"env": "prod"}, True),
        ({"env": "prod"}, {"env": "production"}, False),
        ({"env": "prod"}, {}, False),
        ({"env": ""}, {}, True),
        ({"env": ""}, {"env": "x"}, False),
        ({"env": ["a", "b"]}, {"env": "b"}, True),
        ({"env": ["a", "b"]}, {"env": "c"}, False),
        ({"env": ["a", "~pr.*"]}, {"env": "prod"}, True),
        ({"env": "~prod-.*"}, {"env": "prod-eu"}, True),
        ({"env": "~prod"}, {"env": "production"}, False),  # anchored at both ends
        ({"env": "~prod"}, {"env": "my-prod"}, False),
        ({"env": "~.+"}, {}, False),
        ({"env": "~.+"}, {"env": "x"}, True),
        ({"env": "!dev"}, {"env": "prod"}, True),
        ({"env": "!dev"}, {"env": "dev"}, False),
        ({"env": "!dev"}, {}, True),
        ({"env": "!~dev|qa"}, {"env": "qa"}, False),
        ({"env": "!~dev|qa"}, {"env": "prod"}, True),
        ({"env": "=!x"}, {"env": "!x"}, True),
        ({"env": "=!x"}, {"env": "x"}, False),
        ({"env": "=~x"}, {"env": "~x"}, True),
        ({"env": "=~x"}, {"env": "x"}, False),
        ({"env": "prod", "team": "db"}, {"env": "prod", "team": "db"}, True),
        ({"env": "prod", "team": "db"}, {"env": "prod", "team": "web"}, False),
        ({}, {"anything": "x"}, True),
        ({"env": "~日本.*"}, {"env": "日本語"}, True),
    ],
)
def test_matcher_semantics(table: dict[str, Any], labels: dict[str, str], expected: bool) -> None:
    assert matches(parse_matchers(table), labels) is expected


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"env": "~("}, "env: '(' is not a valid regex"),
        ({"env": ["!a"]}, "cannot hold a negation"),
        ({"env": []}, "a list of 1 to 100 strings, not an empty list"),
        ({"env": True}, "not a boolean"),
        ({"env": [1]}, "list items must be strings, not a number"),
        ({"": "x"}, "label names are 1 to 128 characters"),
        ({"env": "~" + "(" * 300 + ")" * 300}, "env:"),
        ("env=prod", "expected a table of label = value"),
    ],
)
def test_bad_matchers_say_which_label(table: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_matchers(table)


def test_label_view_puts_the_normalised_fields_over_the_labels() -> None:
    n = note(severity="critical", status="firing", event="alert", source="alertmanager")
    n = Notification(
        source=n.source,
        event=n.event,
        title="t",
        severity="critical",
        status="firing",
        labels={"severity": "P1", "team": "db", "source": "spoofed"},
    )
    view = label_view(n)
    assert view["severity"] == "critical"
    assert view["source"] == "alertmanager"
    assert view["team"] == "db"
    assert view["event"] == "alert"
    assert view["status"] == "firing"


CRITICAL_TO_ONCALL = """
[[route]]
name = "prod"
source = "alertmanager"
robots = ["team"]
rules = [{ match = { severity = "critical" }, robots = ["oncall"] }]
"""


def test_critical_to_oncall_the_rest_to_the_team_with_a_real_alert_group() -> None:
    relay, route = only(CRITICAL_TO_ONCALL)
    body = load("alertmanager/mixed-firing-resolved.json")
    critical = parse("alertmanager", {}, body)
    assert critical.severity == "critical"
    assert robots_for(relay, route, critical) == ("oncall",)
    calm = copy.deepcopy(body)
    for alert in calm["alerts"]:
        alert["labels"]["severity"] = "warning"
    calm["commonLabels"]["severity"] = "warning"
    warning = parse("alertmanager", {}, calm)
    assert robots_for(relay, route, warning) == ("team",)


def test_repo_main_failures_to_one_robot_the_rest_to_the_route() -> None:
    relay, route = only(
        """
        [[route]]
        name = "ci"
        source = "github"
        robots = ["dev"]
        rules = [{ match = { repository = "octo-org/octo-repo", branch = "master", status = "failure" }, robots = ["y"] }]
        """  # noqa: E501
    )
    body = load("github/workflow_run-completed-success.json")
    headers = {"X-GitHub-Event": "workflow_run"}
    assert robots_for(relay, route, parse("github", headers, body)) == ("dev",)
    failed = copy.deepcopy(body)
    failed["workflow_run"]["conclusion"] = "failure"
    assert robots_for(relay, route, parse("github", headers, failed)) == ("y",)
    other_branch = copy.deepcopy(failed)
    other_branch["workflow_run"]["head_branch"] = "feature"
    assert robots_for(relay, route, parse("github", headers, other_branch)) == ("dev",)


def test_the_first_matching_rule_wins_unless_it_continues() -> None:
    relay, route = only(
        """
        [[route]]
        name = "r"
        source = "generic"
        robots = ["team"]
        rules = [
          { match = { team = "db" }, robots = ["dev"], continue = true },
          { match = { severity = "critical" }, robots = ["oncall"] },
          { match = { team = "db" }, robots = ["y"] },
        ]
        """
    )
    assert robots_for(relay, route, note(team="db", severity="critical")) == ("dev", "oncall")
    assert robots_for(relay, route, note(team="db")) == ("dev", "y")
    assert robots_for(relay, route, note(severity="critical")) == ("oncall",)
    assert robots_for(relay, route, note(team="web")) == ("team",)
    decision = decide(relay, route, note(team="db", severity="critical"))
    assert decision.rules == (0, 1)


def test_a_rule_without_robots_keeps_the_routes_and_adds_mentions() -> None:
    relay, route = only(
        """
        [[route]]
        name = "r"
        source = "generic"
        robots = ["team", "dev"]
        at = ["lead"]
        rules = [{ match = { severity = "critical" }, at_all = true, at = ["boss"] }]
        """
    )
    critical = decide(relay, route, note(severity="critical"))
    assert critical.robots == ("team", "dev")
    assert critical.at == At(at_user_ids=("lead", "boss"), is_at_all=True)
    calm = decide(relay, route, note(severity="info"))
    assert calm.robots == ("team", "dev")
    assert calm.at == At(at_user_ids=("lead",))


def test_a_rule_with_no_robots_sends_nowhere() -> None:
    relay, route = only(
        """
        [[route]]
        name = "r"
        source = "generic"
        robots = ["team"]
        rules = [{ match = { status = "success" }, robots = [] }]
        """
    )
    assert robots_for(relay, route, note(status="success")) == ()
    assert robots_for(relay, route, note(status="failure")) == ("team",)
    assert decide(relay, route, note(status="success")) == Decision(robots=(), rules=(0,))


def test_events_and_the_route_match_filter_what_is_sent() -> None:
    relay, route = only(
        """
        [[route]]
        name = "r"
        source = "github"
        robots = ["team"]
        events = ["workflow_run"]
        match = { status = ["failure", "cancelled"] }
        """
    )
    assert robots_for(relay, route, note(event="workflow_run", status="failure")) == ("team",)
    assert robots_for(relay, route, note(event="workflow_run", status="success")) == ()
    assert robots_for(relay, route, note(event="push", status="failure")) == ()


def test_pools_list_siblings_in_config_order() -> None:
    relay = config(CRITICAL_TO_ONCALL)
    assert pool_members(relay, "ops") == ["oncall", "oncall-2", "oncall-3"]
    assert pool_siblings(relay, "oncall-2") == ["oncall", "oncall-3"]
    assert pool_siblings(relay, "team") == []
    assert pool_members(relay, "nope") == []
    with pytest.raises(KeyError):
        pool_siblings(relay, "nobody")


def test_two_rules_choosing_robots_of_one_pool_send_to_the_group_once() -> None:
    relay, route = only(
        """
        [[route]]
        name = "r"
        source = "generic"
        robots = ["team"]
        rules = [
          { match = { a = "1" }, robots = ["oncall"], continue = true },
          { match = { b = "1" }, robots = ["oncall-2", "team"] },
        ]
        """
    )
    assert robots_for(relay, route, note(a="1", b="1")) == ("oncall", "team")
    assert robots_for(relay, route, note(b="1")) == ("oncall-2", "team")


OWNERS = """
[[route]]
name = "r"
source = "alertmanager"
robots = ["team"]
mention_label = "owner"
at = ["lead"]
"""


def group(*owners: tuple[str, str], common: str = "") -> Notification:
    """An alert group whose alerts carry (owner, status)."""
    alerts = tuple(
        Alert(
            name="A",
            status=status,
            severity="warning",
            fingerprint=str(i),
            labels={"owner": owner} if owner else {},
        )
        for i, (owner, status) in enumerate(owners)
    )
    return Notification(
        source="alertmanager",
        event="alert",
        title="t",
        severity="warning",
        status="firing",
        labels={"owner": common} if common else {},
        alerts=alerts,
    )


def test_owners_are_mentioned_through_the_static_map() -> None:
    relay = config(OWNERS, '[owners]\nalice = "u-alice"\ndb = ["u-ann", "u-bob"]\n')
    route = relay.routes[0]
    decision = decide(relay, route, group(("alice", "firing"), ("db", "firing"), ("", "firing")))
    assert decision.at.at_user_ids == ("lead", "u-alice", "u-ann", "u-bob")
    assert decision.unresolved == ()
    # A comma- or space-separated label names several owners.
    at, unresolved = mentions_for(relay, route, group(common="alice, db carol"))
    assert at.at_user_ids == ("lead", "u-alice", "u-ann", "u-bob")
    assert unresolved == ("carol",)


def test_only_firing_alerts_name_owners_when_some_fire() -> None:
    relay = config(OWNERS, '[owners]\nalice = "u-alice"\nbob = "u-bob"\n')
    route = relay.routes[0]
    at, _ = mentions_for(relay, route, group(("alice", "firing"), ("bob", "resolved")))
    assert at.at_user_ids == ("lead", "u-alice")
    at, _ = mentions_for(relay, route, group(("alice", "resolved"), ("bob", "resolved")))
    assert at.at_user_ids == ("lead", "u-alice", "u-bob")


def test_unmapped_owners_go_to_the_lookup_and_the_rest_are_reported() -> None:
    relay = config(OWNERS, '[owners]\nalice = "u-alice"\n')
    route = relay.routes[0]
    asked: list[str] = []

    def lookup(name: str) -> list[str]:
        asked.append(name)
        return {"bob": ["u-bob"]}.get(name, [])

    decision = decide(
        relay,
        route,
        group(("alice", "firing"), ("bob", "firing"), ("zed", "firing")),
        lookup=lookup,
    )
    assert decision.at.at_user_ids == ("lead", "u-alice", "u-bob")
    assert decision.unresolved == ("zed",)
    assert asked == ["bob", "zed"]  # the static map is asked first


def test_the_relay_mention_label_is_the_default_and_a_route_overrides_it() -> None:
    routes = OWNERS.replace('mention_label = "owner"\n', "")
    extra = '[relay]\nmention_label = "team"\n[owners]\ndb = "u-db"\nalice = "u-alice"\n'
    relay = config(routes, extra)
    n = note(team="db", owner="alice", source="alertmanager", event="alert")
    assert mentions_for(relay, relay.routes[0], n)[0].at_user_ids == ("lead", "u-db")
    relay = config(OWNERS, extra)
    assert mentions_for(relay, relay.routes[0], n)[0].at_user_ids == ("lead", "u-alice")


def test_at_most_fifty_people_are_mentioned() -> None:
    owners = "".join(f'o{i} = "u{i}"\n' for i in range(80))
    relay = config(OWNERS, "[owners]\n" + owners)
    n = group(common=",".join(f"o{i}" for i in range(80)))
    at, _ = mentions_for(relay, relay.routes[0], n)
    assert len(at.at_user_ids) == 50
    assert at.at_user_ids[:2] == ("lead", "u0")


def test_a_sender_naming_many_owners_gets_at_most_fifty_lookups() -> None:
    relay = config(OWNERS)
    asked: list[str] = []

    def lookup(name: str) -> list[str]:
        asked.append(name)
        return []

    n = group(common=",".join(f"o{i}" for i in range(1000)))
    at, unresolved = mentions_for(relay, relay.routes[0], n, lookup=lookup)
    assert len(asked) == 50
    assert len(unresolved) == 50
    assert at.at_user_ids == ("lead",)


def test_no_mentions_when_nothing_is_sent() -> None:
    relay, route = only(
        """
        [[route]]
        name = "r"
        source = "generic"
        robots = ["team"]
        at_all = true
        match = { env = "prod" }
        """
    )
    assert decide(relay, route, note(env="dev")) == Decision(robots=())
    assert decide(relay, route, note(env="prod")).at == At(is_at_all=True)


match_values = st.recursive(
    st.text(max_size=12)
    | st.sampled_from(["~(", "~a|", "!~x", "=", "!", "~", "~.*", "!~.+", "~[", "~a{2,1}"])
    | st.integers()
    | st.booleans()
    | st.none(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)


@settings(derandomize=True, deadline=None, max_examples=300, database=None)
@given(
    table=st.dictionaries(st.text(max_size=6), match_values, max_size=4) | match_values,
    labels=st.dictionaries(st.text(max_size=6), st.text(max_size=12), max_size=4),
)
def test_any_match_table_is_matchers_or_a_value_error(table: Any, labels: dict[str, str]) -> None:
    try:
        matchers = parse_matchers(table)
    except ValueError as error:
        matchers = None
        message = str(error)
    if matchers is None:
        assert message
    else:
        assert isinstance(matches(matchers, labels), bool)
